"""The append-only audit trail's statements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from equipment.storage.tables import AuditEntry


class AuditRow(msgspec.Struct, frozen=True):
    id: int
    recorded_at: datetime
    actor: str
    entity: str
    entity_id: int
    action: str
    before: Any
    after: Any


class NewAuditEntry(msgspec.Struct, frozen=True):
    """One entry to write; ``before`` and ``after`` are already JSON-ready."""

    recorded_at: datetime
    actor: str
    entity: str
    entity_id: int
    action: str
    before: Any
    after: Any


def _table_row(entry: NewAuditEntry) -> AuditEntry:
    return AuditEntry(
        recorded_at=entry.recorded_at,
        actor=entry.actor,
        entity=entry.entity,
        entity_id=entry.entity_id,
        action=entry.action,
        before=entry.before,
        after=entry.after,
    )


class AuditRepository:
    async def add(self, entry: NewAuditEntry) -> None:
        await AuditEntry.insert(_table_row(entry))

    async def add_many(self, entries: Sequence[NewAuditEntry], *, batch: int = 500) -> None:
        """In batches: a bulk change is audited item by item without a statement each."""
        rows = [_table_row(e) for e in entries]
        for start in range(0, len(rows), batch):
            await AuditEntry.insert(*rows[start : start + batch])

    async def trail(self, entity: str, entity_id: int) -> list[AuditRow]:
        rows = (
            await AuditEntry.select()
            .where(AuditEntry.entity == entity, AuditEntry.entity_id == entity_id)
            .order_by(AuditEntry.id)
            .output(load_json=True)
        )
        return [msgspec.convert(r, AuditRow, strict=False) for r in rows]
