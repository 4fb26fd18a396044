"""Calendar subscriptions: a secret, revocable URL per account that calendar apps fetch
without a header (they cannot send one), answering the account's due dates as iCalendar.

The URL is the credential, so it is treated like a password: 256 random bits, only its
SHA-256 stored, shown once when made, one live secret per account (a new one revokes the
old), and it answers only while the account is enabled, with the account's own scope
(an inspector bound to a district gets that district's units).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from equipment.domain.access import Jurisdiction, Permission, Principal, Role
from equipment.domain.errors import Forbidden
from equipment.services import audit
from equipment.storage import db
from equipment.tables import CalendarFeed

PATH = "/feeds/calendar"
# A secret is token_urlsafe(32): 43 characters. Anything much longer is not one of ours.
MAX_SECRET_LENGTH = 64


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _account_of(principal: Principal) -> int:
    principal.require(Permission.DUE_READ)
    if principal.account_id is None:
        raise Forbidden("a calendar feed belongs to a person's account, not to a token")
    return principal.account_id


async def feed_of(principal: Principal) -> dict[str, Any] | None:
    """The account's live feed (when it was made), or None; never the secret."""
    if principal.account_id is None:
        return None
    return (
        await CalendarFeed.select(CalendarFeed.created_at)
        .where(
            CalendarFeed.account == principal.account_id,
            CalendarFeed.revoked_at.is_null(),
        )
        .first()
    )


async def regenerate(principal: Principal, *, now: datetime) -> str:
    """A new secret for the account; the previous one stops answering. Returns the
    secret (the only time it is seen)."""
    account = _account_of(principal)
    secret = secrets.token_urlsafe(32)
    async with db.transaction():
        await CalendarFeed.update({CalendarFeed.revoked_at: now}).where(
            CalendarFeed.account == account, CalendarFeed.revoked_at.is_null()
        )
        await CalendarFeed.insert(
            CalendarFeed(secret_hash=digest(secret), account=account, created_at=now)
        )
        await audit.record(
            principal,
            entity="account",
            entity_id=account,
            action="calendar_feed_created",
            at=now,
            before=None,
            after=None,
        )
    return secret


async def revoke(principal: Principal, *, now: datetime) -> None:
    """The account's feed stops answering."""
    account = _account_of(principal)
    async with db.transaction():
        await CalendarFeed.update({CalendarFeed.revoked_at: now}).where(
            CalendarFeed.account == account, CalendarFeed.revoked_at.is_null()
        )
        await audit.record(
            principal,
            entity="account",
            entity_id=account,
            action="calendar_feed_revoked",
            at=now,
            before=None,
            after=None,
        )


async def principal_of(secret: str) -> Principal | None:
    """Whose feed ``secret`` is, as that account acts (role, organisation, jurisdiction);
    None when it is unknown, revoked, or its account is disabled."""
    if not secret or len(secret) > MAX_SECRET_LENGTH:
        return None
    row = (
        await CalendarFeed.select(
            CalendarFeed.account.id.as_alias("id"),
            CalendarFeed.account.role.as_alias("role"),
            CalendarFeed.account.organisation.as_alias("organisation"),
            CalendarFeed.account.jurisdiction.as_alias("jurisdiction"),
        )
        .where(
            CalendarFeed.secret_hash == digest(secret),
            CalendarFeed.revoked_at.is_null(),
            CalendarFeed.account.disabled_at.is_null(),
        )
        .first()
    )
    if row is None:
        return None
    return Principal(
        Role(row["role"]),
        row["organisation"],
        jurisdiction=Jurisdiction.parse(row["jurisdiction"]),
        account_id=row["id"],
    )
