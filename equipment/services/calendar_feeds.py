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

from equipment.domain.access import Jurisdiction, Permission, Principal, Role
from equipment.domain.errors import Forbidden
from equipment.services import audit
from equipment.storage import reads, unit_of_work
from equipment.storage.calendar_feeds import LiveFeed

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


async def feed_of(principal: Principal) -> LiveFeed | None:
    """The account's live feed (when it was made), or None; never the secret."""
    if principal.account_id is None:
        return None
    return await reads().calendar_feeds.live(principal.account_id)


async def regenerate(principal: Principal, *, now: datetime) -> str:
    """A new secret for the account; the previous one stops answering. Returns the
    secret (the only time it is seen)."""
    account = _account_of(principal)
    secret = secrets.token_urlsafe(32)
    async with unit_of_work() as uow:
        await uow.calendar_feeds.revoke_live(account, now)
        await uow.calendar_feeds.add(account, digest(secret), now)
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
    async with unit_of_work() as uow:
        await uow.calendar_feeds.revoke_live(account, now)
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
    owner = await reads().calendar_feeds.owner(digest(secret))
    if owner is None:
        return None
    return Principal(
        Role(owner.role),
        owner.organisation,
        jurisdiction=Jurisdiction.parse(owner.jurisdiction),
        account_id=owner.id,
    )
