"""Calendar feed secrets (only their SHA-256 digest is kept), one live per account:
every table access of equipment.services.calendar_feeds."""

from __future__ import annotations

from datetime import datetime

import msgspec

from equipment.storage import db
from equipment.storage.tables import CalendarFeed

_LIVE_FEED_SQL = (
    "SELECT created_at FROM calendar_feed WHERE account = $1 AND revoked_at IS NULL LIMIT 1"
)


class LiveFeed(msgspec.Struct, frozen=True):
    """An account's live feed, never its secret."""

    created_at: datetime


class FeedOwner(msgspec.Struct, frozen=True):
    """The enabled account a live feed secret belongs to, as that account acts."""

    id: int
    role: str
    organisation: int | None
    jurisdiction: str


class CalendarFeedRepository:
    async def live(self, account: int) -> LiveFeed | None:
        """A fixed statement text (prepared once per connection): the due page asks on
        every view."""
        async with db.reader() as bulk:
            rows = await bulk.rows(_LIVE_FEED_SQL, account)
        return None if not rows else msgspec.convert(dict(rows[0]), LiveFeed, strict=False)

    async def revoke_live(self, account: int, now: datetime) -> None:
        await CalendarFeed.update({CalendarFeed.revoked_at: now}).where(
            CalendarFeed.account == account, CalendarFeed.revoked_at.is_null()
        )

    async def add(self, account: int, secret_hash: str, now: datetime) -> None:
        await CalendarFeed.insert(
            CalendarFeed(secret_hash=secret_hash, account=account, created_at=now)
        )

    async def owner(self, secret_hash: str) -> FeedOwner | None:
        """The account of a live feed with this digest, None when the feed is unknown or
        revoked or its account disabled: one statement."""
        row = (
            await CalendarFeed.select(
                CalendarFeed.account.id.as_alias("id"),
                CalendarFeed.account.role.as_alias("role"),
                CalendarFeed.account.organisation.as_alias("organisation"),
                CalendarFeed.account.jurisdiction.as_alias("jurisdiction"),
            )
            .where(
                CalendarFeed.secret_hash == secret_hash,
                CalendarFeed.revoked_at.is_null(),
                CalendarFeed.account.disabled_at.is_null(),
            )
            .first()
        )
        return None if row is None else msgspec.convert(row, FeedOwner, strict=False)
