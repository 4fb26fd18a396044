"""People's accounts, their server-side sessions and the login throttle.

Passwords are kept only as argon2id hashes (argon2-cffi). A session is a random id in an
HttpOnly cookie whose SHA-256 is a ``web_session`` row, so every worker knows it and a
worker's restart loses none. Each request reads the session together with its account, so
ending the session or disabling the account shuts the door on the next request.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from equipment.domain.access import (
    ROLE_ORG_KIND,
    ROLES_NEEDING_ORG,
    Jurisdiction,
    Permission,
    Principal,
    Role,
    check_jurisdiction,
)
from equipment.domain.errors import (
    Conflict,
    InvalidValue,
    NotFound,
    TooManyAttempts,
    Unauthenticated,
)
from equipment.services import audit
from equipment.services.organisations import require_kind
from equipment.settings import PasswordSettings
from equipment.storage import db
from equipment.tables import Account, LoginFailure, Organisation, WebSession

USERNAME = re.compile(r"[A-Za-z0-9_.@-]{3,64}")
PASSWORD_MIN = 10
SESSION_HOURS = 12
# Five failed logins within a minute for one user name, or from one address, hold further
# tries for that name or address until the minute has passed.
THROTTLE_FAILURES = 5
THROTTLE_WINDOW = timedelta(minutes=1)

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile
# Verified when the user name is unknown, so a wrong name costs as long as a wrong
# password and the answer's timing does not tell which names exist. Made at the first
# login (not at import: every CLI command would pay a hash), at the hasher's costs.
_dummy_hash: str | None = None


def use_password_costs(settings: PasswordSettings) -> None:
    """Hash new passwords at ``settings``' argon2id costs (installed by the bootstrap).

    The dummy hash follows the same costs, so an unknown user name still costs a login
    as long as a known one."""
    global _hasher, _dummy_hash
    costs = (settings.time_cost, settings.memory_kib, settings.parallelism)
    if costs == (_hasher.time_cost, _hasher.memory_cost, _hasher.parallelism):
        return
    _hasher = PasswordHasher(
        time_cost=settings.time_cost,
        memory_cost=settings.memory_kib,
        parallelism=settings.parallelism,
    )
    _dummy_hash = None


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hash


_PUBLIC_COLUMNS = (
    Account.id,
    Account.username,
    Account.role,
    Account.organisation,
    Account.jurisdiction,
    Account.created_at,
    Account.disabled_at,
)


def digest(session_id: str) -> str:
    # 256 random bits need no slow hash: there is nothing to brute-force.
    return hashlib.sha256(session_id.encode()).hexdigest()


def new_password() -> str:
    """A password to hand out (demo accounts): 16 characters, about 95 bits."""
    return secrets.token_urlsafe(12)


@dataclass(frozen=True)
class Session:
    """A live session as a request sees it."""

    principal: Principal
    username: str
    csrf: str


async def create_account(
    principal: Principal,
    *,
    username: str,
    password: str,
    role: Role,
    organisation_id: int | None,
    jurisdiction: Jurisdiction | None,
    now: datetime,
) -> dict[str, Any]:
    principal.require(Permission.ACCOUNT_MANAGE)
    if not USERNAME.fullmatch(username):
        raise InvalidValue("a user name is 3 to 64 letters, digits or . _ @ -", field="username")
    if len(password) < PASSWORD_MIN:
        raise InvalidValue(f"a password has at least {PASSWORD_MIN} characters", field="password")
    if role in ROLES_NEEDING_ORG and organisation_id is None:
        raise InvalidValue(f"a {role.value} account must name its organisation", field="org")
    if organisation_id is not None:
        expected_kind = ROLE_ORG_KIND[role]
        if expected_kind is None:
            raise InvalidValue(f"an {role.value} account belongs to no organisation", field="org")
        await require_kind(organisation_id, expected_kind, field="org")
    check_jurisdiction(role, jurisdiction)
    if await Account.exists().where(Account.username == username):
        raise Conflict(f"the user name {username} is taken", field="username")
    # argon2 takes tens of milliseconds of CPU on purpose: off the event loop.
    password_hash = await asyncio.to_thread(_hasher.hash, password)
    async with db.transaction():
        [row] = await Account.insert(
            Account(
                username=username,
                password_hash=password_hash,
                role=role.value,
                organisation=organisation_id,
                jurisdiction=str(jurisdiction) if jurisdiction else "",
                created_at=now,
            )
        ).returning(*_PUBLIC_COLUMNS)
        await audit.record(
            principal,
            entity="account",
            entity_id=row["id"],
            action="create",
            at=now,
            before=None,
            after=row,
        )
    return row


async def disable_account(principal: Principal, username: str, *, now: datetime) -> None:
    """Disable the account and end its sessions: its next request is refused."""
    principal.require(Permission.ACCOUNT_MANAGE)
    async with db.transaction():
        updated = (
            await Account.update({Account.disabled_at: now})
            .where(Account.username == username, Account.disabled_at.is_null())
            .returning(Account.id)
        )
        if not updated:
            raise NotFound(f"no active account named {username}")
        account_id = updated[0]["id"]
        await WebSession.update({WebSession.ended_at: now}).where(
            WebSession.account == account_id, WebSession.ended_at.is_null()
        )
        await audit.record(
            principal,
            entity="account",
            entity_id=account_id,
            action="disable",
            at=now,
            before=None,
            after={"disabled_at": now},
        )


async def list_accounts(principal: Principal) -> list[dict[str, Any]]:
    principal.require(Permission.ACCOUNT_MANAGE)
    return await Account.select(
        *_PUBLIC_COLUMNS, Account.organisation.name.as_alias("org_name")
    ).order_by(Account.username)


def _principal(row: dict[str, Any]) -> Principal:
    return Principal(
        Role(row["role"]),
        row["organisation"],
        jurisdiction=Jurisdiction.parse(row["jurisdiction"]),
        account_id=row["id"],
    )


async def _throttled(username: str, client: str, now: datetime) -> bool:
    since = now - THROTTLE_WINDOW
    for clause in (LoginFailure.username == username, LoginFailure.client == client):
        failures = await LoginFailure.count().where(clause, LoginFailure.at > since)
        if failures >= THROTTLE_FAILURES:
            return True
    return False


async def login(username: str, password: str, *, client: str, now: datetime) -> tuple[str, Session]:
    """A new session for the right user name and password: its id (for the cookie) and
    what it stands for. Always a new id, whatever session the browser had (no fixation)."""
    username = username.strip()[:64]
    if await _throttled(username, client, now):
        raise TooManyAttempts(
            "too many failed logins for this account or address; wait a minute and retry",
            retry_after=int(THROTTLE_WINDOW.total_seconds()),
        )
    row = (
        await Account.select(
            Account.id,
            Account.password_hash,
            Account.role,
            Account.organisation,
            Account.jurisdiction,
            Account.disabled_at,
        )
        .where(Account.username == username)
        .first()
    )
    if (
        not await asyncio.to_thread(_verify, row["password_hash"] if row else None, password)
        or row is None
        or row["disabled_at"] is not None
    ):
        async with db.transaction():
            await LoginFailure.delete().where(LoginFailure.at <= now - THROTTLE_WINDOW)
            await LoginFailure.insert(LoginFailure(username=username, client=client, at=now))
        raise Unauthenticated("the user name or the password is wrong")
    if _hasher.check_needs_rehash(row["password_hash"]):
        new_hash = await asyncio.to_thread(_hasher.hash, password)
        await Account.update({Account.password_hash: new_hash}).where(Account.id == row["id"])
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    await WebSession.insert(
        WebSession(
            id_hash=digest(session_id),
            account=row["id"],
            csrf=csrf,
            created_at=now,
            expires_at=now + timedelta(hours=SESSION_HOURS),
        )
    )
    return session_id, Session(_principal(row), username, csrf)


def _verify(password_hash: str | None, password: str) -> bool:
    """In a worker thread; None (no such user) verifies against the dummy hash."""
    try:
        return _hasher.verify(password_hash or _dummy(), password)
    except (VerificationError, InvalidHashError):
        return False


async def session(session_id: str, *, now: datetime) -> Session | None:
    """The live session of a cookie's id, or None (unknown, ended, expired, or its account
    disabled). One indexed read per request: a disabled account is out at once."""
    if not session_id or len(session_id) > 128:
        return None
    row = (
        await WebSession.select(
            WebSession.csrf,
            WebSession.account.id.as_alias("id"),
            WebSession.account.username.as_alias("username"),
            WebSession.account.role.as_alias("role"),
            WebSession.account.organisation.as_alias("organisation"),
            WebSession.account.jurisdiction.as_alias("jurisdiction"),
        )
        .where(
            WebSession.id_hash == digest(session_id),
            WebSession.ended_at.is_null(),
            WebSession.expires_at > now,
            WebSession.account.disabled_at.is_null(),
        )
        .first()
    )
    if row is None:
        return None
    return Session(_principal(row), row["username"], row["csrf"])


async def end_session(session_id: str, *, now: datetime) -> None:
    await WebSession.update({WebSession.ended_at: now}).where(
        WebSession.id_hash == digest(session_id), WebSession.ended_at.is_null()
    )


async def organisations_for_forms() -> list[dict[str, Any]]:
    """Every organisation's id, kind and name (the account form's choice)."""
    return await Organisation.select(
        Organisation.id, Organisation.kind, Organisation.name
    ).order_by(Organisation.kind, Organisation.name)
