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

import msgspec
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
from equipment.storage import reads, unit_of_work
from equipment.storage.accounts import (
    AccountListing,
    AccountRecord,
    NewAccount,
    NewSession,
    OrganisationChoice,
)

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
) -> AccountRecord:
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
    if await reads().accounts.username_taken(username):
        raise Conflict(f"the user name {username} is taken", field="username")
    # argon2 takes tens of milliseconds of CPU on purpose: off the event loop.
    password_hash = await asyncio.to_thread(_hasher.hash, password)
    async with unit_of_work() as uow:
        row = await uow.accounts.add(
            NewAccount(
                username=username,
                password_hash=password_hash,
                role=role.value,
                organisation=organisation_id,
                jurisdiction=str(jurisdiction) if jurisdiction else "",
                created_at=now,
            )
        )
        await audit.record(
            principal,
            entity="account",
            entity_id=row.id,
            action="create",
            at=now,
            before=None,
            after=msgspec.structs.asdict(row),
        )
    return row


async def disable_account(principal: Principal, username: str, *, now: datetime) -> None:
    """Disable the account and end its sessions: its next request is refused."""
    principal.require(Permission.ACCOUNT_MANAGE)
    async with unit_of_work() as uow:
        account_id = await uow.accounts.disable(username, now)
        if account_id is None:
            raise NotFound(f"no active account named {username}")
        await uow.sessions.end_all_of(account_id, now)
        await audit.record(
            principal,
            entity="account",
            entity_id=account_id,
            action="disable",
            at=now,
            before=None,
            after={"disabled_at": now},
        )


async def list_accounts(principal: Principal) -> list[AccountListing]:
    principal.require(Permission.ACCOUNT_MANAGE)
    return await reads().accounts.listing()


def _principal(
    account_id: int, role: str, organisation: int | None, jurisdiction: str
) -> Principal:
    return Principal(
        Role(role),
        organisation,
        jurisdiction=Jurisdiction.parse(jurisdiction),
        account_id=account_id,
    )


async def _throttled(username: str, client: str, now: datetime) -> bool:
    since = now - THROTTLE_WINDOW
    failures = reads().login_failures
    # The address is counted only when the name is not already held: one read, mostly.
    if await failures.count_for_username(username, since) >= THROTTLE_FAILURES:
        return True
    return await failures.count_from_client(client, since) >= THROTTLE_FAILURES


async def login(username: str, password: str, *, client: str, now: datetime) -> tuple[str, Session]:
    """A new session for the right user name and password: its id (for the cookie) and
    what it stands for. Always a new id, whatever session the browser had (no fixation)."""
    username = username.strip()[:64]
    if await _throttled(username, client, now):
        raise TooManyAttempts(
            "too many failed logins for this account or address; wait a minute and retry",
            retry_after=int(THROTTLE_WINDOW.total_seconds()),
        )
    row = await reads().accounts.for_login(username)
    if (
        not await asyncio.to_thread(_verify, row.password_hash if row else None, password)
        or row is None
        or row.disabled_at is not None
    ):
        async with unit_of_work() as uow:
            await uow.login_failures.add(username, client, now, forget_before=now - THROTTLE_WINDOW)
        raise Unauthenticated("the user name or the password is wrong")
    if _hasher.check_needs_rehash(row.password_hash):
        new_hash = await asyncio.to_thread(_hasher.hash, password)
        await reads().accounts.set_password_hash(row.id, new_hash)
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    await reads().sessions.add(
        NewSession(
            id_hash=digest(session_id),
            account=row.id,
            csrf=csrf,
            created_at=now,
            expires_at=now + timedelta(hours=SESSION_HOURS),
        )
    )
    principal = _principal(row.id, row.role, row.organisation, row.jurisdiction)
    return session_id, Session(principal, username, csrf)


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
    row = await reads().sessions.live(digest(session_id), now)
    if row is None:
        return None
    principal = _principal(row.id, row.role, row.organisation, row.jurisdiction)
    return Session(principal, row.username, row.csrf)


async def end_session(session_id: str, *, now: datetime) -> None:
    await reads().sessions.end(digest(session_id), now)


async def organisations_for_forms() -> list[OrganisationChoice]:
    """Every organisation's id, kind and name (the account form's choice)."""
    return await reads().accounts.organisation_choices()
