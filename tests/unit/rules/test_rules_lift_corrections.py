"""Lifts after the corrections of TSG T7001-2023 4.1 (issue 25).

Years are calendar years of use counted from the installation (or modernisation)
supervisory inspection; a passed supervisory inspection after a major repair replaces
that year's periodic inspection and moves only the month; a lift stopped a year or more
needs a periodic inspection before restart; a self-test may be done 1 month early.
"""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from equipment.domain.rules import Inspection, Schedule, Suspension, UnitHistory, schedule
from equipment.domain.rules.dates import month_end, month_index
from equipment.domain.rules.lifts import lift_year

PERIODIC_YEARS = (1, 4, 7, 9, 11, 13, 15)


def supervisory(on: date, reason: str = "installation") -> Inspection:
    return Inspection(on, "supervisory", "pass", reason=reason)


def periodic(on: date) -> Inspection:
    return Inspection(on, "periodic", "pass")


def self_test(on: date) -> Inspection:
    return Inspection(on, "self_test", "pass")


def kind_of_year(year: int) -> str:
    return "periodic" if year in PERIODIC_YEARS or year > 15 else "self_test"


def on_time(installed: date, years: range, day: int = 10) -> tuple[Inspection, ...]:
    """Each lift-year's event done on ``day`` of the installation month."""
    return tuple(
        Inspection(date(installed.year + y, installed.month, day), kind_of_year(y), "pass")
        for y in years
    )


def due(result: Schedule, kind: str) -> date | None:
    item = result.for_kind(kind)
    return item.due_on if item is not None else None


INSTALLED = date(2016, 4, 12)


def test_the_issue_example_major_repair_after_that_years_periodic() -> None:
    """Installed 2016-04, periodic 2023-04 (y7), 2025-04 (y9), repair passed 2025-08-14."""
    unit = UnitHistory(
        "3110",
        inspections=(
            supervisory(INSTALLED),
            *on_time(INSTALLED, range(1, 10)),
            supervisory(date(2025, 8, 14), "major_repair"),
        ),
    )
    result = schedule(unit, date(2025, 8, 15))
    assert due(result, "self_test") == date(2026, 8, 31)
    assert due(result, "periodic") == date(2027, 8, 31)
    assert result.next_periodic is not None and result.next_periodic.due_on == date(2027, 8, 31)
    self_test_item = result.for_kind("self_test")
    assert self_test_item is not None and "lift-year 10" in self_test_item.explanation
    assert "lift-year 11" in result.next_periodic.explanation
    assert "major repair" in result.next_periodic.explanation
    assert result.overdue == ("maintenance",) or "periodic" not in result.overdue
    # Done on time, the next ones stay in August: y11 periodic done, y12 self-test next.
    later = UnitHistory(
        "3110",
        inspections=(*unit.inspections, self_test(date(2026, 8, 3)), periodic(date(2027, 8, 3))),
    )
    result = schedule(later, date(2027, 8, 4))
    assert due(result, "self_test") == date(2028, 8, 31)
    assert due(result, "periodic") == date(2029, 8, 31)  # y13


def test_the_reason_is_inferred_from_a_recorded_major_repair() -> None:
    unit = UnitHistory(
        "3110",
        inspections=(
            supervisory(INSTALLED),
            *on_time(INSTALLED, range(1, 10)),
            Inspection(date(2025, 8, 14), "supervisory", "pass"),
        ),
        major_repairs=(date(2025, 7, 1),),
    )
    assert due(schedule(unit, date(2025, 8, 15)), "periodic") == date(2027, 8, 31)


def test_major_repair_in_a_periodic_year_before_that_years_inspection_replaces_it() -> None:
    """2025 is y9 (due April); a repair passed in February replaces it."""
    unit = UnitHistory(
        "3110",
        inspections=(
            supervisory(INSTALLED),
            *on_time(INSTALLED, range(1, 9)),
            supervisory(date(2025, 2, 10), "major_repair"),
        ),
    )
    # After April 2025 nothing is overdue: the y9 periodic inspection is not owed.
    result = schedule(unit, date(2025, 6, 1))
    assert "periodic" not in result.overdue
    assert due(result, "self_test") == date(2026, 2, 28)  # y10
    assert due(result, "periodic") == date(2027, 2, 28)  # y11


def test_without_the_repair_the_same_lift_is_overdue_in_that_year() -> None:
    unit = UnitHistory(
        "3110", inspections=(supervisory(INSTALLED), *on_time(INSTALLED, range(1, 9)))
    )
    result = schedule(unit, date(2025, 6, 1))
    assert due(result, "periodic") == date(2025, 4, 30)
    assert "periodic" in result.overdue


def test_major_repair_after_15_years_keeps_yearly_inspections_in_the_new_month() -> None:
    installed = date(2005, 6, 20)
    unit = UnitHistory(
        "3110",
        inspections=(
            supervisory(installed),
            *on_time(installed, range(1, 20)),  # through y19, June 2024
            supervisory(date(2024, 11, 5), "major_repair"),
        ),
    )
    result = schedule(unit, date(2024, 11, 6))
    assert due(result, "periodic") == date(2025, 11, 30)  # y20: every year after 15
    assert result.next_periodic is not None
    assert result.next_periodic.rule_key == "lift.after_15_years"
    assert "lift-year 20" in result.next_periodic.explanation
    assert result.for_kind("self_test") is None


def test_modernisation_restarts_the_count_and_a_later_repair_keeps_it() -> None:
    installed = date(2005, 6, 20)
    modernised = date(2020, 9, 8)
    base = (supervisory(installed), *on_time(installed, range(1, 15)))
    unit = UnitHistory("3110", inspections=(*base, supervisory(modernised, "modernisation")))
    result = schedule(unit, date(2020, 9, 9))
    assert due(result, "periodic") == date(2021, 9, 30)  # year 1 again
    assert due(result, "self_test") == date(2022, 9, 30)  # year 2
    repaired = UnitHistory(
        "3110",
        inspections=(
            *unit.inspections,
            periodic(date(2021, 9, 1)),
            supervisory(date(2022, 3, 15), "major_repair"),
        ),
    )
    result = schedule(repaired, date(2022, 3, 16))
    # Counted from 2020: March 2023 is y3 (self-test), March 2024 y4 (periodic).
    assert due(result, "self_test") == date(2023, 3, 31)
    assert due(result, "periodic") == date(2024, 3, 31)


def test_stopped_a_year_needs_a_periodic_inspection_before_restart_even_if_not_lapsed() -> None:
    history = (supervisory(INSTALLED), *on_time(INSTALLED, range(1, 8)))  # y7 April 2023
    stopped = UnitHistory(
        "3110",
        status="suspended",
        inspections=history,
        suspensions=(Suspension(date(2023, 6, 1)),),
    )
    # y8 self-test is due April 2024, y9 periodic April 2025: nothing lapsed in May 2024.
    assert not schedule(stopped, date(2024, 5, 31)).needs_inspection_before_resume
    result = schedule(stopped, date(2024, 6, 1))
    assert result.needs_inspection_before_resume
    assert any("before restart" in note for note in result.notes)
    # Under a year the lift needs nothing before restart.
    assert not schedule(stopped, date(2023, 12, 1)).needs_inspection_before_resume


def test_restarted_without_the_inspection_the_lift_is_overdue_from_the_restart() -> None:
    unit = UnitHistory(
        "3110",
        inspections=(supervisory(INSTALLED), *on_time(INSTALLED, range(1, 8))),
        suspensions=(Suspension(date(2023, 6, 1), date(2024, 7, 1)),),
    )
    result = schedule(unit, date(2024, 7, 2))
    item = result.for_kind("periodic")
    assert item is not None
    assert (item.due_on, item.rule_key) == (date(2024, 7, 1), "lift.restart_inspection")
    assert "periodic" in result.overdue


def test_the_inspection_before_restart_sets_the_month_and_the_years_continue() -> None:
    unit = UnitHistory(
        "3110",
        inspections=(
            supervisory(INSTALLED),
            *on_time(INSTALLED, range(1, 8)),
            periodic(date(2024, 10, 20)),  # made while stopped, before restart
        ),
        suspensions=(Suspension(date(2023, 6, 1), date(2024, 10, 25)),),
    )
    result = schedule(unit, date(2024, 10, 26))
    assert "periodic" not in result.overdue
    # 2025 is y9 (periodic) in October now; 2026 y10 a self-test, in October too.
    assert due(result, "periodic") == date(2025, 10, 31)
    assert due(result, "self_test") == date(2026, 10, 31)


def test_a_self_test_may_be_done_one_month_early_without_moving_the_next_date() -> None:
    history = (supervisory(INSTALLED), periodic(date(2017, 4, 3)))
    # y2's self-test is due in April 2018; 1 March is one month early: counts.
    early = schedule(
        UnitHistory("3110", inspections=(*history, self_test(date(2018, 3, 1)))),
        date(2018, 5, 1),
    )
    assert "self_test" not in early.overdue
    assert due(early, "self_test") == date(2019, 4, 30)  # y3, not moved to March
    # 28 February is more than a month early: it counts for nothing.
    too_early = schedule(
        UnitHistory("3110", inspections=(*history, self_test(date(2018, 2, 28)))),
        date(2018, 5, 1),
    )
    assert due(too_early, "self_test") == date(2018, 4, 30)
    assert "self_test" in too_early.overdue


def test_a_periodic_inspection_may_still_be_done_two_months_early() -> None:
    history = (supervisory(INSTALLED), *on_time(INSTALLED, range(1, 4)))
    early = schedule(
        UnitHistory("3110", inspections=(*history, periodic(date(2020, 2, 1)))),
        date(2020, 5, 1),
    )
    assert due(early, "periodic") == date(2023, 4, 30)  # y7, not moved


# --- properties ----------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    installed=st.dates(min_value=date(1995, 1, 1), max_value=date(2035, 12, 31)),
    repair_after_days=st.integers(min_value=1, max_value=25 * 366),
)
def test_after_a_major_repair_everything_falls_in_its_month_and_the_year_set(
    installed: date, repair_after_days: int
) -> None:
    repaired = installed + timedelta(days=repair_after_days)
    years = range(1, repaired.year - installed.year + 1)
    done = tuple(i for i in on_time(installed, years, day=1) if i.inspected_on < repaired)
    unit = UnitHistory(
        "3110",
        inspections=(supervisory(installed), *done, supervisory(repaired, "major_repair")),
    )
    result = schedule(unit, repaired + timedelta(days=1))
    assert "periodic" not in result.overdue and "self_test" not in result.overdue
    item = result.for_kind("periodic")
    assert item is not None
    # The month of the latest supervisory inspection, in a later year.
    assert item.due_on == month_end(month_index(item.due_on))
    assert item.due_on.month == repaired.month and item.due_on.year > repaired.year
    year = lift_year(installed, item.due_on)
    assert year in PERIODIC_YEARS or year > 15
    # Never more than 3 years away (the longest gap of the year set), and every year
    # between the repair and it is a self-test year at most 15.
    assert item.due_on.year - repaired.year <= 3
    test_item = result.for_kind("self_test")
    for between in range(repaired.year + 1, item.due_on.year):
        assert kind_of_year(between - installed.year) == "self_test"
        assert test_item is not None
        assert test_item.due_on.month == repaired.month
        assert test_item.due_on.year == repaired.year + 1
    if test_item is not None:
        assert lift_year(installed, test_item.due_on) not in PERIODIC_YEARS
        assert lift_year(installed, test_item.due_on) < 15


@settings(max_examples=100, deadline=None)
@given(
    installed=st.dates(min_value=date(1995, 1, 1), max_value=date(2035, 12, 31)),
    early_days=st.integers(0, 27),
)
def test_an_early_self_test_does_not_move_the_next_date(installed: date, early_days: int) -> None:
    first = periodic(date(installed.year + 1, installed.month, 1))
    due_on = month_end(month_index(installed) + 24)  # y2: a self-test
    opens = date(due_on.year, due_on.month, 1) - timedelta(days=1)  # in the month before
    day = opens - timedelta(days=early_days)
    history = (supervisory(installed), first)
    early = schedule(
        UnitHistory("3110", inspections=(*history, self_test(day))), due_on + timedelta(days=1)
    )
    on_time_result = schedule(
        UnitHistory("3110", inspections=(*history, self_test(due_on))), due_on + timedelta(days=1)
    )
    assert early.for_kind("self_test") == on_time_result.for_kind("self_test")
    assert "self_test" not in early.overdue


@settings(max_examples=150, deadline=None)
@given(
    installed=st.dates(min_value=date(1995, 1, 1), max_value=date(2030, 12, 31)),
    stop_after_days=st.integers(min_value=30, max_value=20 * 366),
    stopped_days=st.integers(min_value=366, max_value=6 * 366),
    inspected_before_days=st.integers(min_value=0, max_value=300),
)
def test_after_a_long_stop_the_month_is_the_restart_inspections(
    installed: date, stop_after_days: int, stopped_days: int, inspected_before_days: int
) -> None:
    stopped = installed + timedelta(days=stop_after_days)
    restarted = stopped + timedelta(days=stopped_days)
    inspected = max(stopped, restarted - timedelta(days=inspected_before_days))
    years = range(1, stopped.year - installed.year + 1)
    done = tuple(i for i in on_time(installed, years, day=1) if i.inspected_on < stopped)
    history = (supervisory(installed), *done)
    suspension = (Suspension(stopped, restarted),)
    without = schedule(UnitHistory("3110", inspections=history, suspensions=suspension), restarted)
    item = without.for_kind("periodic")
    assert item is not None and item.due_on <= restarted  # owed by the restart day
    unit = UnitHistory("3110", inspections=(*history, periodic(inspected)), suspensions=suspension)
    result = schedule(unit, restarted + timedelta(days=1))
    assert "periodic" not in result.overdue
    for kind in ("periodic", "self_test"):
        item = result.for_kind(kind)
        if item is None:
            continue
        assert item.due_on.month == inspected.month and item.due_on.year > inspected.year
        year = lift_year(installed, item.due_on)
        assert kind_of_year(year) == kind


def test_a_modernisation_while_stopped_is_the_inspection_before_restart() -> None:
    installed = date(2005, 6, 20)
    modernised = date(2021, 3, 10)
    unit = UnitHistory(
        "3110",
        inspections=(
            supervisory(installed),
            *on_time(installed, range(1, 15)),
            supervisory(modernised, "modernisation"),
        ),
        suspensions=(Suspension(date(2020, 1, 5), date(2021, 4, 1)),),
    )
    result = schedule(unit, date(2021, 4, 2))
    assert "periodic" not in result.overdue
    assert due(result, "periodic") == date(2022, 3, 31)  # year 1 after the modernisation
