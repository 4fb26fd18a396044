"""The working-day calendar: public holidays and 调休 working weekends, as imported, in
every working-day count; without entries, Monday to Friday."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.domain import workdays
from equipment.domain.errors import InvalidValue
from equipment.domain.workdays import WEEKDAYS, CalendarEntry, WorkCalendar

# An example year-end: the week of 2027-02-08 off (a Monday to Friday), the Saturday and
# Sunday around it worked in its place (调休).
FILE = """\ufeff# 春节 (example)
2027-02-08,holiday,春节
2027-02-09,holiday,春节
2027-02-10, Holiday ,春节
2027-02-11,holiday
2027-02-12,holiday,春节

2027-02-06,workday,春节调休  # a Saturday
2027-02-14,workday,春节调休
2027-02-08,holiday,春节
"""


def test_the_file_is_read_into_a_calendar() -> None:
    entries = workdays.parse_calendar(FILE)
    assert [e.day.isoformat() for e in entries][:2] == ["2027-02-06", "2027-02-08"]
    assert len(entries) == 7  # the repeated 02-08 once
    assert entries[3] == CalendarEntry(date(2027, 2, 10), "holiday", "春节")
    calendar = WorkCalendar.of(entries)
    assert calendar.is_working(date(2027, 2, 6))  # a Saturday worked
    assert not calendar.is_working(date(2027, 2, 9))  # a Tuesday off
    assert not calendar.is_working(date(2027, 2, 13))  # an ordinary Saturday
    assert calendar.is_working(date(2027, 2, 15))  # an ordinary Monday
    # Friday 2027-02-05 + 3 working days: Sat 6 (worked), then the week off, Sun 14
    # (worked), Mon 15; Monday to Friday alone says Wed 10.
    assert workdays.working_days_after(date(2027, 2, 5), 3, calendar) == date(2027, 2, 15)
    assert workdays.working_days_after(date(2027, 2, 5), 3) == date(2027, 2, 10)
    assert workdays.working_days_late(date(2027, 2, 5), date(2027, 2, 15), calendar) == 3
    assert workdays.working_days_late(date(2027, 2, 5), date(2027, 2, 15)) == 6


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("2027-02-08", "line 1: write a day as date,kind"),
        ("# x\n2027-02-30,holiday", "line 2: '2027-02-30' is not a date"),
        ("2027-02-08,vacation", "line 1: the kind is holiday or workday, not 'vacation'"),
        ("2027-02-08,holiday\n2027-02-08,workday", "line 2: 2027-02-08 is listed as both"),
        ("2027-02-08,holiday," + "节" * 101, "line 1: a note holds at most 100 characters"),
    ],
)
def test_a_bad_line_is_refused_by_its_number(text: str, found: str) -> None:
    with pytest.raises(InvalidValue, match=found):
        workdays.parse_calendar(text)


DAYS = st.dates(date(2020, 1, 1), date(2030, 12, 31))


@given(
    start=DAYS,
    days=st.integers(0, 40),
    holidays=st.frozensets(DAYS, max_size=40),
    weekends=st.frozensets(DAYS, max_size=10),
)
def test_late_is_the_inverse_of_after_on_any_calendar(
    start: date, days: int, holidays: frozenset[date], weekends: frozenset[date]
) -> None:
    calendar = WorkCalendar(holidays - weekends, frozenset(d for d in weekends if d.weekday() > 4))
    deadline = workdays.working_days_after(start, 20, calendar)
    assert workdays.working_days_late(deadline, deadline, calendar) == 0
    later = workdays.working_days_after(deadline, days, calendar)
    assert workdays.working_days_late(deadline, later, calendar) == days
    assert calendar.is_working(deadline)


def test_without_entries_every_weekday_works() -> None:
    monday = date(2026, 12, 7)
    week = [monday + timedelta(days=i) for i in range(7)]
    assert [WEEKDAYS.is_working(d) for d in week] == [True] * 5 + [False] * 2
    assert WorkCalendar.of([]) == WEEKDAYS
