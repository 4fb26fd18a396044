"""The working-day calendar's table (``work_calendar_day``): public holidays and 调休
working weekends, as the bureau imports them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import msgspec

from equipment.storage.tables import WorkCalendarDay


class CalendarDayRecord(msgspec.Struct, frozen=True):
    day: date
    kind: str  # holiday | workday
    note: str


class WorkCalendarRepository:
    async def all(self) -> list[CalendarDayRecord]:
        """Every listed day, by date (a few dozen a year: read whole)."""
        rows = await WorkCalendarDay.select(
            WorkCalendarDay.day, WorkCalendarDay.kind, WorkCalendarDay.note
        ).order_by(WorkCalendarDay.day)
        return [msgspec.convert(r, CalendarDayRecord) for r in rows]

    async def put(self, days: Sequence[CalendarDayRecord]) -> None:
        """List ``days``, replacing what was listed on the same dates (call it in a unit
        of work: the delete and the insert commit together)."""
        if not days:
            return
        await WorkCalendarDay.delete().where(WorkCalendarDay.day.is_in([d.day for d in days]))
        await WorkCalendarDay.insert(
            *(WorkCalendarDay(day=d.day, kind=d.kind, note=d.note) for d in days)
        )
