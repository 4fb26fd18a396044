"""Working days: Monday to Friday, except the State Council's public holidays, plus the
weekend days it makes working days in their place (调休). The bureau keeps the calendar
(``sereg calendar holidays import FILE``); without entries every weekday works.

The import file: one day a line, ``date,kind[,note]`` (``2027-02-07,workday,春节调休``),
kind ``holiday`` or ``workday``; blank lines and ``#`` comments are skipped. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from equipment.domain.errors import InvalidValue

KINDS: Final = ("holiday", "workday")
MAX_NOTE = 100
MAX_LINES = 10_000


@dataclass(frozen=True)
class CalendarEntry:
    day: date
    kind: str  # holiday | workday
    note: str = ""


@dataclass(frozen=True)
class WorkCalendar:
    """Days off on a weekday (``holidays``) and weekend days worked (``workdays``)."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    @classmethod
    def of(cls, entries: Iterable[CalendarEntry]) -> WorkCalendar:
        listed = list(entries)
        return cls(
            frozenset(e.day for e in listed if e.kind == "holiday"),
            frozenset(e.day for e in listed if e.kind == "workday"),
        )

    def is_working(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


WEEKDAYS: Final = WorkCalendar()


def working_days_after(start: date, days: int, calendar: WorkCalendar = WEEKDAYS) -> date:
    """The day ``days`` working days after ``start``: a publication deadline."""
    day = start
    left = days
    while left > 0:
        day += timedelta(days=1)
        if calendar.is_working(day):
            left -= 1
    return day


def working_days_late(deadline: date, today: date, calendar: WorkCalendar = WEEKDAYS) -> int:
    """Working days from the day after ``deadline`` up to ``today`` (0 when not past it);
    the inverse of :func:`working_days_after`."""
    late = 0
    day = deadline + timedelta(days=1)
    while day <= today:
        if calendar.is_working(day):
            late += 1
        day += timedelta(days=1)
    return late


def parse_calendar(text: str) -> list[CalendarEntry]:
    """The entries of an import file; InvalidValue naming the first bad line."""
    entries: dict[date, CalendarEntry] = {}
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise InvalidValue(f"a calendar file holds at most {MAX_LINES} lines", field="file")
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip().lstrip("\ufeff")
        if not line:
            continue
        parts = [p.strip() for p in line.split(",", 2)]
        if len(parts) < 2:
            raise InvalidValue(
                f"line {number}: write a day as date,kind[,note], e.g. 2027-02-07,workday",
                field="file",
            )
        try:
            day = date.fromisoformat(parts[0])
        except ValueError:
            raise InvalidValue(
                f"line {number}: {parts[0]!r} is not a date like 2027-01-01", field="file"
            ) from None
        kind = parts[1].lower()
        if kind not in KINDS:
            raise InvalidValue(
                f"line {number}: the kind is holiday or workday, not {parts[1]!r}", field="file"
            )
        note = parts[2] if len(parts) > 2 else ""
        if len(note) > MAX_NOTE:
            raise InvalidValue(
                f"line {number}: a note holds at most {MAX_NOTE} characters", field="file"
            )
        if day in entries and entries[day].kind != kind:
            raise InvalidValue(
                f"line {number}: {day} is listed as both a holiday and a workday", field="file"
            )
        entries[day] = CalendarEntry(day, kind, note)
    return sorted(entries.values(), key=lambda e: e.day)
