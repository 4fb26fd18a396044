"""The ingest's dead letters: what devices sent that sereg could not accept, and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from equipment.domain.access import Permission, Principal
from equipment.services.register import Page
from equipment.storage import reads


async def list_dead_letters(
    principal: Principal,
    *,
    reason: str | None,
    unit_code: str | None,
    since: datetime | None,
    before_id: int | None,
    limit: int,
) -> Page:
    principal.require(Permission.INGEST_READ)
    rows = await reads().dead_letters.newest_first(
        reason=reason, unit_code=unit_code, since=since, before_id=before_id, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, str(rows[-1].id) if more and rows else None)


async def summary(principal: Principal, *, since: datetime | None) -> dict[str, Any]:
    """Dead letters counted by reason, and the unknown unit codes counted per code (the
    register's clean-up list: devices reporting under codes nobody registered)."""
    principal.require(Permission.INGEST_READ)

    store = reads().dead_letters
    by_reason = await store.count_by_reason(since=since)
    unknown = await store.count_unknown_codes(since=since)
    return {
        "by_reason": by_reason,
        "unknown_codes": sorted(
            ({"code": code, "count": count} for code, count in unknown.items()),
            key=lambda r: (-r["count"], r["code"] or ""),
        ),
    }
