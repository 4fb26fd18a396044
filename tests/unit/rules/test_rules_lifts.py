"""Lifts: TSG T7001-2023 year set, due month, early window, major repair, suspension."""

from __future__ import annotations

from datetime import date

import pytest

from equipment.domain.errors import InvalidValue
from equipment.domain.rules import Inspection, Schedule, Suspension, UnitHistory, schedule

INSTALLED = date(2015, 3, 12)


def supervisory(on: date, reason: str = "", conclusion: str = "pass") -> Inspection:
    return Inspection(on, "supervisory", conclusion, reason=reason)


def periodic(on: date, conclusion: str = "pass") -> Inspection:
    return Inspection(on, "periodic", conclusion)


def self_test(on: date) -> Inspection:
    return Inspection(on, "self_test", "pass")


def lift(*inspections: Inspection, **fields: object) -> UnitHistory:
    fields.setdefault("category", "3110")
    return UnitHistory(inspections=(supervisory(INSTALLED), *inspections), **fields)


def due(result: Schedule, kind: str) -> date | None:
    item = result.for_kind(kind)
    return item.due_on if item is not None else None


# (case, unit, today, periodic due, self-test due)
CASES = [
    (
        "new lift: year 1 in the installation month, last day",
        lift(),
        date(2016, 2, 1),
        date(2016, 3, 31),
        date(2017, 3, 31),
    ),
    (
        "year 1 done: next periodic is year 4, self-test years 2-3",
        lift(periodic(date(2016, 3, 20))),
        date(2016, 4, 1),
        date(2019, 3, 31),
        date(2017, 3, 31),
    ),
    (
        "self-test year 2 done: next self-test year 3",
        lift(periodic(date(2016, 3, 20)), self_test(date(2017, 3, 2))),
        date(2017, 4, 1),
        date(2019, 3, 31),
        date(2018, 3, 31),
    ),
    (
        "year 4 done 2 months early (1 January): next date does not move",
        lift(periodic(date(2016, 3, 20)), periodic(date(2019, 1, 1))),
        date(2019, 1, 2),
        date(2022, 3, 31),
        date(2020, 3, 31),
    ),
    (
        "year 4 done more than 2 months early: it does not count",
        lift(periodic(date(2016, 3, 20)), periodic(date(2018, 12, 31))),
        date(2019, 1, 2),
        date(2019, 3, 31),
        date(2020, 3, 31),
    ),
    (
        "year 4 done late: counts for year 4, next is year 7 in the due month",
        lift(periodic(date(2016, 3, 20)), periodic(date(2019, 6, 10))),
        date(2019, 6, 11),
        date(2022, 3, 31),
        date(2020, 3, 31),
    ),
    (
        "major repair in a self-test year (6): month moves to June, year 7 follows",
        lift(
            periodic(date(2016, 3, 20)),
            periodic(date(2019, 3, 15)),
            supervisory(date(2021, 6, 15)),
            major_repairs=(date(2021, 5, 20),),
        ),
        date(2021, 7, 1),
        date(2022, 6, 30),
        date(2023, 6, 30),
    ),
    (
        "major repair in a self-test year (5): month moves, year 7 follows in August",
        lift(
            periodic(date(2016, 3, 20)),
            periodic(date(2019, 3, 15)),
            supervisory(date(2020, 8, 10), reason="major_repair"),
        ),
        date(2020, 9, 1),
        date(2022, 8, 31),
        date(2021, 8, 31),
    ),
    (
        "modernisation restarts the year count",
        UnitHistory(
            "3110",
            inspections=(
                supervisory(date(2005, 3, 1)),
                supervisory(date(2020, 9, 1), "modernisation"),
            ),
        ),
        date(2020, 10, 1),
        date(2021, 9, 30),
        date(2022, 9, 30),
    ),
    (
        "suspension of 1 year or more: anchor is the inspection before restart",
        lift(
            periodic(date(2016, 3, 20)),
            periodic(date(2019, 3, 15)),
            periodic(date(2022, 5, 10)),
            suspensions=(Suspension(date(2020, 1, 10), date(2022, 5, 20)),),
        ),
        date(2022, 6, 1),
        date(2024, 5, 31),
        date(2023, 5, 31),
    ),
    (
        "short suspension across the due date: the schedule does not move",
        lift(
            periodic(date(2016, 3, 20)),
            suspensions=(Suspension(date(2018, 12, 1), date(2019, 6, 1)),),
        ),
        date(2019, 6, 2),
        date(2019, 3, 31),
        date(2017, 3, 31),
    ),
    (
        "installed 29 February: due on 28 February in common years",
        UnitHistory("3110", inspections=(supervisory(date(2016, 2, 29)),)),
        date(2016, 3, 1),
        date(2017, 2, 28),
        date(2018, 2, 28),
    ),
    (
        "installed on 31 January: due month January, window opens 1 November",
        UnitHistory(
            "3310", inspections=(supervisory(date(2015, 1, 31)), periodic(date(2015, 11, 1)))
        ),
        date(2015, 11, 2),
        date(2019, 1, 31),
        date(2017, 1, 31),
    ),
    (
        "no supervisory inspection on file: counted from commissioning",
        UnitHistory("3120", commissioning_date=date(2020, 7, 7)),
        date(2020, 8, 1),
        date(2021, 7, 31),
        date(2022, 7, 31),
    ),
]


@pytest.mark.parametrize(
    ("case", "unit", "today", "periodic_due", "self_test_due"), CASES, ids=[c[0] for c in CASES]
)
def test_lift_due_dates(
    case: str, unit: UnitHistory, today: date, periodic_due: date, self_test_due: date
) -> None:
    result = schedule(unit, today)
    assert due(result, "periodic") == periodic_due, case
    assert due(result, "self_test") == self_test_due, case
    assert result.next_periodic is not None
    assert result.next_periodic.due_on == periodic_due


def test_leap_year_due_month_ends_on_29_february() -> None:
    unit = UnitHistory(
        "3110", inspections=(supervisory(date(2016, 2, 29)), periodic(date(2017, 2, 1)))
    )
    assert due(schedule(unit, date(2017, 3, 1)), "periodic") == date(2020, 2, 29)


def _every_year_on_time(installed: date, years: int) -> tuple[Inspection, ...]:
    records = []
    for year in range(1, years + 1):
        kind = "periodic" if year in (1, 4, 7, 9, 11, 13) or year >= 15 else "self_test"
        records.append(Inspection(date(installed.year + year, installed.month, 25), kind, "pass"))
    return tuple(records)


def test_lift_exactly_15_years_old() -> None:
    installed = date(2010, 5, 20)
    unit = UnitHistory(
        "3110", inspections=(supervisory(installed), *_every_year_on_time(installed, 14))
    )
    result = schedule(unit, date(2025, 5, 20))
    periodic_due = result.for_kind("periodic")
    assert periodic_due is not None
    assert periodic_due.due_on == date(2025, 5, 31)
    assert periodic_due.rule_key == "lift.periodic_years"
    assert "lift-year 15" in periodic_due.explanation
    # No self-test is left after year 14.
    assert result.for_kind("self_test") is None

    after = UnitHistory(
        "3110", inspections=(supervisory(installed), *_every_year_on_time(installed, 15))
    )
    result = schedule(after, date(2025, 6, 1))
    periodic_due = result.for_kind("periodic")
    assert periodic_due is not None
    assert periodic_due.due_on == date(2026, 5, 31)
    assert periodic_due.rule_key == "lift.after_15_years"
    assert periodic_due.tag == "U"


def test_overdue_and_explained() -> None:
    result = schedule(lift(), date(2016, 4, 1))
    assert set(result.overdue) == {"periodic", "maintenance"}
    item = result.next_periodic
    assert item is not None
    assert item.source.startswith("TSG T7001-2023")
    assert item.base_date == INSTALLED
    assert "lift-year 1" in item.explanation and "2016-03-31" in item.explanation


def test_in_date_on_the_due_day_itself() -> None:
    assert "periodic" not in schedule(lift(), date(2016, 3, 31)).overdue
    assert "periodic" in schedule(lift(), date(2016, 4, 1)).overdue


@pytest.mark.parametrize(
    ("params", "maintained", "expected", "rule_key"),
    [
        ({}, (date(2025, 1, 20),), date(2025, 2, 4), "lift.maintenance"),
        (
            {"maintenance_cycle_days": 30},
            (date(2025, 1, 20),),
            date(2025, 2, 19),
            "lift.maintenance.on_demand",
        ),
        ({}, (), date(2015, 3, 27), "lift.maintenance"),
    ],
)
def test_maintenance(
    params: dict[str, object], maintained: tuple[date, ...], expected: date, rule_key: str
) -> None:
    unit = lift(parameters=params, maintenance=maintained)
    item = schedule(unit, date(2025, 1, 21)).for_kind("maintenance")
    assert item is not None
    assert (item.due_on, item.rule_key) == (expected, rule_key)


def test_bad_maintenance_cycle_is_refused() -> None:
    with pytest.raises(InvalidValue) as error:
        schedule(lift(parameters={"maintenance_cycle_days": 0}), date(2025, 1, 1))
    assert error.value.field == "parameters.maintenance_cycle_days"


def test_failed_periodic_inspection_is_not_fit_until_passed() -> None:
    failed = lift(periodic(date(2016, 3, 10), "fail"))
    result = schedule(failed, date(2016, 3, 20))
    assert result.not_fit_for_use
    assert "failed" in result.not_fit_reasons[0]
    # The failed inspection did not count: year 1 is still owed.
    assert due(result, "periodic") == date(2016, 3, 31)
    fixed = lift(periodic(date(2016, 3, 10), "fail"), periodic(date(2016, 3, 25)))
    result = schedule(fixed, date(2016, 3, 26))
    assert not result.not_fit_for_use
    assert due(result, "periodic") == date(2019, 3, 31)


def test_no_base_date_gives_a_note() -> None:
    result = schedule(UnitHistory("3110"), date(2025, 1, 1))
    assert result.due == ()
    assert result.next_periodic is None
    assert any("cannot be computed" in note for note in result.notes)


def test_records_after_today_are_ignored() -> None:
    unit = lift(periodic(date(2016, 3, 20)))
    assert due(schedule(unit, date(2016, 3, 1)), "periodic") == date(2016, 3, 31)
