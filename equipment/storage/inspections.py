"""Inspection reports: appended, never edited; a correction is a new report naming the one
it corrects."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, cast

import msgspec

from equipment.storage.tables import Inspection


class InspectionRow(msgspec.Struct, frozen=True):
    """An inspection report as stored (``of_unit`` builds it positionally from a select
    of these columns in this order)."""

    id: int
    equipment: int
    kind: str
    inspected_on: date
    conclusion: str
    reason: str
    inspection_body: int | None
    report_no: str
    findings: str
    next_due_stated: date | None
    safety_grade: int | None
    answered_due_on: date | None
    on_time: bool | None
    corrects: int | None
    actor: str
    recorded_at: datetime


_COLUMNS = tuple(getattr(Inspection, name) for name in InspectionRow.__struct_fields__)


class InspectionRepository:
    async def add(self, values: Mapping[str, Any]) -> InspectionRow:
        [row] = await Inspection.insert(Inspection(**values)).returning(*Inspection.all_columns())
        return InspectionRow(**row)

    async def unit_of(self, inspection_id: int) -> int | None:
        """The unit an inspection report belongs to, or None when there is no such report."""
        row = (
            await Inspection.select(Inspection.equipment)
            .where(Inspection.id == inspection_id)
            .first()
        )
        return None if row is None else cast(int, row["equipment"])

    async def is_corrected(self, inspection_id: int) -> bool:
        return bool(await Inspection.exists().where(Inspection.corrects == inspection_id))

    async def of_unit(self, equipment_id: int, *, as_recorded: bool = False) -> list[InspectionRow]:
        """In the order they were made (then recorded), or as recorded."""
        order = (Inspection.id,) if as_recorded else (Inspection.inspected_on, Inspection.id)
        rows = (
            await Inspection.select(*_COLUMNS)
            .where(Inspection.equipment == equipment_id)
            .order_by(*order)
        )
        return [InspectionRow(*r.values()) for r in rows]
