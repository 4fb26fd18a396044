"""The append-only audit trail: who changed what, when, from what to what."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from equipment.domain.access import Principal
from equipment.storage import reads
from equipment.storage.audit import AuditRow, NewAuditEntry


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The changed keys only, old values and new values."""
    changed = [k for k in after if before.get(k) != after[k]]
    return (
        {k: jsonable(before.get(k)) for k in changed},
        {k: jsonable(after[k]) for k in changed},
    )


async def record(
    principal: Principal,
    *,
    entity: str,
    entity_id: int,
    action: str,
    at: datetime,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> None:
    await reads().audit.add(
        NewAuditEntry(
            recorded_at=at,
            actor=principal.actor,
            entity=entity,
            entity_id=entity_id,
            action=action,
            before=jsonable(before) if before is not None else None,
            after=jsonable(after) if after is not None else None,
        )
    )


async def trail(entity: str, entity_id: int) -> list[AuditRow]:
    return await reads().audit.trail(entity, entity_id)


async def record_many(
    principal: Principal, entries: list[dict[str, Any]], *, at: datetime, batch: int = 500
) -> None:
    """One entry per dict (entity, entity_id, action, before, after), written in batches:
    a bulk change (an area import) is audited item by item without a statement each."""
    rows = [
        NewAuditEntry(
            recorded_at=at,
            actor=principal.actor,
            entity=e["entity"],
            entity_id=e["entity_id"],
            action=e["action"],
            before=jsonable(e["before"]) if e.get("before") is not None else None,
            after=jsonable(e["after"]) if e.get("after") is not None else None,
        )
        for e in entries
    ]
    await reads().audit.add_many(rows, batch=batch)
