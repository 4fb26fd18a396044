"""The bureau's working-day calendar: public holidays and 调休 working weekends, imported
by the admin (``sereg calendar holidays import FILE``) and read by every working-day
count (the random inspections' publication deadline and lateness, services/draws.py).
Without entries a working day is Monday to Friday."""

from __future__ import annotations

from datetime import datetime

from equipment.domain import workdays
from equipment.domain.access import Permission, Principal
from equipment.domain.workdays import CalendarEntry, WorkCalendar
from equipment.services import audit
from equipment.storage import reads, unit_of_work
from equipment.storage.work_calendar import CalendarDayRecord


async def calendar() -> WorkCalendar:
    """The calendar as stored now."""
    rows = await reads().work_calendar.all()
    return WorkCalendar.of(CalendarEntry(r.day, r.kind, r.note) for r in rows)


async def listed() -> list[CalendarDayRecord]:
    return await reads().work_calendar.all()


async def import_days(principal: Principal, text: str, *, now: datetime) -> int:
    """List the file's days (``date,kind[,note]`` lines), replacing what was listed on the
    same dates; all or nothing (InvalidValue naming the first bad line). How many days."""
    principal.require(Permission.DRAW_MANAGE)
    entries = workdays.parse_calendar(text)
    days = [CalendarDayRecord(e.day, e.kind, e.note) for e in entries]
    async with unit_of_work() as uow:
        await uow.work_calendar.put(days)
        if days:
            await audit.record(
                principal,
                entity="work_calendar",
                entity_id=0,
                action="import",
                at=now,
                before=None,
                after={"days": [[str(d.day), d.kind, d.note] for d in days]},
            )
    return len(days)
