"""The changes feed's reads: the audit trail's register, inspection, hazard and status
entries in an order no later commit can slip behind (互联互通).

Why not the audit entry's id alone: PostgreSQL hands out ids at insert time, and the
transaction that took id 10 may commit after the one that took id 11. A reader that saw
11 and moved its cursor past it would never see 10. So on PostgreSQL every entry carries
its writing transaction's id (``txid``, set by a trigger) and the feed reads only the
entries of transactions older than the oldest one still running
(``pg_snapshot_xmin(pg_current_snapshot())``): those transactions have all finished, so
no entry can appear below that horizon any more, and the feed is ordered by
(txid, id). A long-running writing transaction holds the feed back until it ends; it
never makes it skip.

SQLite has one writer at a time: a writing transaction holds the database's write lock
from its first write (sereg opens them IMMEDIATE) to its commit, and the ids it takes are
above every id committed before it, so every id below the highest committed one is final
and the id alone is the commit order (the cursor's txid part stays 0).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from equipment.domain.access import EquipmentScope, ScopeKind
from equipment.storage import db, jurisdiction
from equipment.storage.bulk import Bulk

# The audit entities the feed carries; the others (accounts, tokens, webhooks…) are the
# bureau's administration, not the register.
ENTITIES = ("equipment", "hazard")
# Past every id: a cursor that has read everything below a horizon.
LAST_ID = 2**63 - 1


class Position(msgspec.Struct, frozen=True, order=True):
    """Where a reader stands: after (txid, id). ``txid`` is 0 on SQLite."""

    txid: int = 0
    id: int = 0


class ChangeRecord(msgspec.Struct, frozen=True):
    txid: int
    id: int
    recorded_at: datetime
    actor: str
    entity: str
    entity_id: int
    action: str
    before: Any
    after: Any
    equipment_id: int
    equipment_code: str
    registration_code: str | None
    district_code: str


def _scope_sql(scope: EquipmentScope, first: int) -> tuple[str, list[Any]]:
    if scope.jurisdiction is not None:
        return jurisdiction.numbered_clause(
            scope.jurisdiction, unit_id="e.id", district="e.district_code", first=first
        )
    if scope.kind is ScopeKind.ALL:
        return "", []
    return f" AND e.{scope.kind.value} = ${first}", [scope.org_id]


def _decode(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return msgspec.json.decode(value)
        except msgspec.DecodeError:
            return value
    return value


class ChangeRepository:
    async def horizon(self, bulk: Bulk) -> Position:
        """Everything at or below this position is final (see the module's docstring)."""
        if bulk.postgres:
            [row] = await bulk.fetch(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin"
            )
            return Position(int(row["xmin"]) - 1, LAST_ID)
        [row] = await bulk.fetch("SELECT COALESCE(MAX(id), 0) AS top FROM audit_entry")
        return Position(0, int(row["top"]))

    async def page(
        self, scope: EquipmentScope, after: Position, *, limit: int
    ) -> tuple[list[ChangeRecord], Position]:
        """Up to ``limit`` changes inside ``scope`` after ``after``, oldest first, and the
        position to read on from: the last change's, or, when the page is not full, the
        horizon (nothing below it can come any more, so a narrow scope does not rescan
        the entries it skipped)."""
        async with db.reading() as bulk:
            top = await self.horizon(bulk)
            if bulk.postgres:
                order = "a.txid, a.id"
                window = "(a.txid, a.id) > ($1, $2) AND (a.txid, a.id) <= ($3, $4)"
                args: list[Any] = [after.txid, after.id, top.txid, top.id]
            else:
                order = "a.id"
                window = "a.id > $1 AND a.id <= $2"
                args = [after.id, top.id]
            scope_sql, scope_args = _scope_sql(scope, len(args) + 1)
            args += scope_args
            rows = await bulk.fetch(
                "SELECT a.id, COALESCE(a.txid, 0) AS txid, a.recorded_at, a.actor, a.entity,"
                " a.entity_id, a.action, a.before, a.after, e.id AS equipment_id,"
                " e.code AS equipment_code, e.registration_code, e.district_code"
                " FROM audit_entry a"
                " LEFT JOIN hazard h ON a.entity = 'hazard' AND h.id = a.entity_id"
                " JOIN equipment e ON e.id ="
                " (CASE WHEN a.entity = 'equipment' THEN a.entity_id ELSE h.equipment END)"
                f" WHERE a.entity IN ('equipment', 'hazard') AND {window}{scope_sql}"
                f" ORDER BY {order} LIMIT ${len(args) + 1}",
                *args,
                limit,
            )
        found = [
            ChangeRecord(
                txid=int(r["txid"]),
                id=int(r["id"]),
                recorded_at=_instant(r["recorded_at"]),
                actor=r["actor"],
                entity=r["entity"],
                entity_id=int(r["entity_id"]),
                action=r["action"],
                before=_decode(r["before"]),
                after=_decode(r["after"]),
                equipment_id=int(r["equipment_id"]),
                equipment_code=r["equipment_code"],
                registration_code=r["registration_code"],
                district_code=r["district_code"],
            )
            for r in rows
        ]
        if len(found) == limit:
            return found, Position(found[-1].txid, found[-1].id)
        return found, max(after, top)

    async def head(self) -> Position:
        """The position a new subscriber starts from: after everything final now."""
        async with db.reading() as bulk:
            return await self.horizon(bulk)


def _instant(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
