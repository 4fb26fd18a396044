"""The inspection bodies' uploads (归集检验数据): which units the codes name, which report
numbers are on file, and the clean-up list of reports for units the register lacks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

import msgspec

from equipment.storage.tables import Equipment, Inspection, InspectionCleanup

_CHUNK = 500


class CleanupRow(msgspec.Struct, frozen=True):
    id: int
    report_no: str
    unit_code: str
    inspection_body: int | None
    report: Any
    reason: str
    state: str
    received_at: datetime
    actor: str
    resolved_at: datetime | None
    resolved_by: str
    equipment: int | None
    note: str  # why it was dismissed


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    wanted = sorted(set(values))
    for start in range(0, len(wanted), _CHUNK):
        yield wanted[start : start + _CHUNK]


class InspectionFeedRepository:
    async def units_by_code(self, codes: Iterable[str]) -> dict[str, int]:
        """code → unit id, by any of the unit's codes (shown, registration, equipment)."""
        found: dict[str, int] = {}
        for chunk in _chunks(codes):
            rows = await Equipment.select(
                Equipment.id, Equipment.code, Equipment.registration_code, Equipment.equipment_code
            ).where(
                Equipment.code.is_in(chunk)
                | Equipment.registration_code.is_in(chunk)
                | Equipment.equipment_code.is_in(chunk)
            )
            wanted = set(chunk)
            for r in rows:
                for key in (r["code"], r["registration_code"], r["equipment_code"]):
                    if key in wanted:
                        found[key] = r["id"]
        return found

    async def reports_on_file(self, numbers: Iterable[str]) -> set[str]:
        """The report numbers already filed (the upload's idempotency key)."""
        found: set[str] = set()
        for chunk in _chunks(numbers):
            rows = await Inspection.select(Inspection.report_no).where(
                Inspection.report_no.is_in(chunk)
            )
            found.update(r["report_no"] for r in rows)
        return found

    async def keep(self, values: dict[str, Any]) -> int:
        """Put a report on the clean-up list, or refresh the open entry of its number
        (a re-upload); answers the entry's id. A resolved or dismissed one stays as it is."""
        existing = (
            await InspectionCleanup.select(InspectionCleanup.id, InspectionCleanup.state)
            .where(InspectionCleanup.report_no == values["report_no"])
            .first()
        )
        if existing is None:
            [row] = await InspectionCleanup.insert(InspectionCleanup(**values)).returning(
                InspectionCleanup.id
            )
            return cast(int, row["id"])
        if existing["state"] == "open":
            await InspectionCleanup.update(
                {
                    InspectionCleanup.unit_code: values["unit_code"],
                    InspectionCleanup.report: values["report"],
                    InspectionCleanup.received_at: values["received_at"],
                    InspectionCleanup.actor: values["actor"],
                }
            ).where(InspectionCleanup.id == existing["id"])
        return cast(int, existing["id"])

    async def listing(self, *, state: str | None, body: int | None, limit: int) -> list[CleanupRow]:
        """Oldest first; ``body``: one inspection body's entries only."""
        query = InspectionCleanup.select().output(load_json=True)
        if state:
            query = query.where(InspectionCleanup.state == state)
        if body is not None:
            query = query.where(InspectionCleanup.inspection_body == body)
        rows = await query.order_by(InspectionCleanup.id).limit(limit)
        return [msgspec.convert(r, CleanupRow, strict=False) for r in rows]

    async def get(self, entry_id: int) -> CleanupRow | None:
        row = (
            await InspectionCleanup.select()
            .where(InspectionCleanup.id == entry_id)
            .output(load_json=True)
            .first()
        )
        return None if row is None else msgspec.convert(row, CleanupRow, strict=False)

    async def close(
        self,
        entry_id: int,
        *,
        state: str,
        by: str,
        at: datetime,
        equipment: int | None,
        note: str = "",
    ) -> bool:
        """Resolve or dismiss an open entry; False when it is no longer open (conditional:
        of two concurrent closes, the second waits on the row and then finds it closed)."""
        rows = await (
            InspectionCleanup.update(
                {
                    InspectionCleanup.state: state,
                    InspectionCleanup.resolved_by: by,
                    InspectionCleanup.resolved_at: at,
                    InspectionCleanup.equipment: equipment,
                    InspectionCleanup.note: note,
                }
            )
            .where(InspectionCleanup.id == entry_id, InspectionCleanup.state == "open")
            .returning(InspectionCleanup.id)
        )
        return bool(rows)
