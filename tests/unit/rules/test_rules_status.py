"""Status, failed inspections, suspensions and input validation."""

from __future__ import annotations

from datetime import date

import pytest

from equipment.domain.errors import InvalidValue
from equipment.domain.rules import Inspection, Suspension, UnitHistory, schedule

INSTALLED = Inspection(date(2015, 3, 12), "supervisory", "pass")


def lift(status: str = "in_use", *records: Inspection, **fields: object) -> UnitHistory:
    return UnitHistory("3110", status=status, inspections=(INSTALLED, *records), **fields)


@pytest.mark.parametrize("status", ["scrapped", "cancelled"])
def test_scrapped_and_cancelled_units_owe_nothing(status: str) -> None:
    result = schedule(lift(status), date(2030, 1, 1))
    assert result.due == result.dormant == ()
    assert result.next_periodic is None
    assert result.overdue == ()
    assert not result.needs_inspection_before_resume


def test_pending_unit_is_held_to_its_dates() -> None:
    result = schedule(lift("pending"), date(2016, 4, 1))
    assert "periodic" in result.overdue


def test_suspended_unit_is_not_due_but_lapsed_inspection_is_flagged() -> None:
    suspended = lift("suspended", suspensions=(Suspension(date(2015, 9, 1)),))
    before = schedule(suspended, date(2016, 3, 31))
    assert before.due == () and before.overdue == () and before.next_periodic is None
    assert before.for_kind("periodic") is not None  # kept in dormant
    assert not before.needs_inspection_before_resume
    after = schedule(suspended, date(2016, 4, 1))
    assert after.due == () and after.overdue == ()
    assert after.needs_inspection_before_resume


def test_suspension_across_a_due_date_then_restart_with_inspection() -> None:
    history = dict(
        suspensions=(Suspension(date(2017, 1, 10), date(2018, 6, 20)),),
    )
    on_restart = Inspection(date(2018, 6, 5), "periodic", "pass")
    year_one = Inspection(date(2016, 3, 1), "periodic", "pass")
    while_stopped = schedule(
        UnitHistory(
            "3110",
            status="suspended",
            inspections=(INSTALLED, year_one),
            suspensions=(Suspension(date(2017, 1, 10)),),
        ),
        date(2018, 6, 1),
    )
    # Stopped more than a year: a periodic inspection is required before restart even
    # though year 4 (2019-03) has not lapsed (TSG T7001-2023, lift.restart_inspection).
    assert while_stopped.needs_inspection_before_resume
    resumed = schedule(
        UnitHistory("3110", inspections=(INSTALLED, year_one, on_restart), **history),
        date(2018, 6, 21),
    )
    periodic = resumed.for_kind("periodic")
    assert periodic is not None
    # Anchor is June 2018; the years continue in calendar years from the 2015
    # installation: June 2019 is lift-year 4 (periodic), June 2020 year 5 (self-test).
    assert periodic.due_on == date(2019, 6, 30)
    assert "inspection before restart" in periodic.explanation
    self_test = resumed.for_kind("self_test")
    assert self_test is not None and self_test.due_on == date(2020, 6, 30)


def test_failed_supervisory_is_cleared_by_a_passing_one() -> None:
    failed = UnitHistory("3110", inspections=(Inspection(date(2015, 3, 1), "supervisory", "fail"),))
    assert schedule(failed, date(2015, 3, 2)).not_fit_for_use
    fixed = UnitHistory(
        "3110", inspections=(Inspection(date(2015, 3, 1), "supervisory", "fail"), INSTALLED)
    )
    result = schedule(fixed, date(2015, 3, 13))
    assert not result.not_fit_for_use
    assert result.next_periodic is not None
    assert result.next_periodic.due_on == date(2016, 3, 31)


def test_failed_self_test_is_cleared_by_a_periodic_inspection() -> None:
    history = lift("in_use", Inspection(date(2017, 3, 1), "self_test", "fail"))
    assert schedule(history, date(2017, 3, 2)).not_fit_for_use
    history = lift(
        "in_use",
        Inspection(date(2017, 3, 1), "self_test", "fail"),
        Inspection(date(2017, 3, 20), "periodic", "pass"),
    )
    assert not schedule(history, date(2017, 3, 21)).not_fit_for_use


def test_conditional_pass_counts_as_done() -> None:
    history = lift("in_use", Inspection(date(2016, 3, 1), "periodic", "conditional_pass"))
    result = schedule(history, date(2016, 4, 1))
    assert not result.not_fit_for_use
    assert result.next_periodic is not None
    assert result.next_periodic.due_on == date(2019, 3, 31)


def test_category_without_a_rule_gets_a_note() -> None:
    result = schedule(UnitHistory("2200", commissioning_date=date(2020, 1, 1)), date(2021, 1, 1))
    assert result.due == ()
    assert any("no inspection interval" in note for note in result.notes)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: UnitHistory("311"), "category"),
        (lambda: UnitHistory("31a0"), "category"),
        (lambda: UnitHistory("3110", status="active"), "status"),
        (lambda: UnitHistory("3110", parameters=[]), "parameters"),  # type: ignore[arg-type]
        (lambda: Inspection(date(2020, 1, 1), "yearly", "pass"), "kind"),
        (lambda: Inspection(date(2020, 1, 1), "periodic", "ok"), "conclusion"),
        (
            lambda: Inspection(date(2020, 1, 1), "periodic", "pass", next_due=date(2020, 1, 1)),
            "next_due",
        ),
        (lambda: Inspection(date(2020, 1, 1), "periodic", "pass", safety_grade=6), "safety_grade"),
        (
            lambda: Inspection(date(2020, 1, 1), "periodic", "pass", safety_grade=True),
            "safety_grade",
        ),
        (lambda: Inspection(date(2020, 1, 1), "supervisory", "pass", reason="repair"), "reason"),
        (lambda: Suspension(date(2020, 2, 1), date(2020, 1, 1)), "suspensions"),
    ],
)
def test_invalid_inputs(build: object, field: str) -> None:
    with pytest.raises(InvalidValue) as error:
        build()  # type: ignore[operator]
    assert error.value.field == field
