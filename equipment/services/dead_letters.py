"""The ingest's dead letters: what devices sent that sereg could not accept, and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from piccolo.query.functions.aggregate import Count

from equipment.domain.access import Permission, Principal
from equipment.services.register import Page
from equipment.tables import DeadLetter


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
    clauses = []
    if reason:
        clauses.append(DeadLetter.reason == reason)
    if unit_code:
        clauses.append(DeadLetter.unit_code == unit_code)
    if since:
        clauses.append(DeadLetter.received_at >= since)
    if before_id is not None:
        clauses.append(DeadLetter.id < before_id)
    query = DeadLetter.select().order_by(DeadLetter.id, ascending=False).limit(limit + 1)
    if clauses:
        query = query.where(*clauses)
    rows = await query
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, str(rows[-1]["id"]) if more and rows else None)


async def summary(principal: Principal, *, since: datetime | None) -> dict[str, Any]:
    """Dead letters counted by reason, and the unknown unit codes counted per code (the
    register's clean-up list: devices reporting under codes nobody registered)."""
    principal.require(Permission.INGEST_READ)

    by_reason = DeadLetter.select(DeadLetter.reason, Count(DeadLetter.id, alias="count"))
    unknown = DeadLetter.select(DeadLetter.unit_code, Count(DeadLetter.id, alias="count")).where(
        DeadLetter.reason == "unknown_unit"
    )
    if since:
        by_reason = by_reason.where(DeadLetter.received_at >= since)
        unknown = unknown.where(DeadLetter.received_at >= since)
    by_reason = await by_reason.group_by(DeadLetter.reason)
    unknown = await unknown.group_by(DeadLetter.unit_code)
    return {
        "by_reason": {r["reason"]: r["count"] for r in by_reason},
        "unknown_codes": sorted(
            ({"code": r["unit_code"], "count": r["count"]} for r in unknown),
            key=lambda r: (-r["count"], r["code"] or ""),
        ),
    }
