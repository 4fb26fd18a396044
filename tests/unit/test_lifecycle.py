"""The registration workflow: transitions, deadlines and effective dates (TSG 08-2017)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.domain.errors import Conflict, InvalidValue, TransitionRefused
from equipment.domain.lifecycle import (
    Action,
    Status,
    check_effective_date,
    inspection_needed_on_resume,
    next_status,
    registration_is_late,
    suspension_notice_is_late,
)
from equipment.domain.rules.dates import add_years

# ---------------------------------------------------------------------------------------
# Transitions, written out by hand from docs/rules.md "Obligations of every unit" and the
# diagram in lifecycle.py. None = refused. Deliberately not derived from TRANSITIONS.

EXPECTED: dict[tuple[str, str], str | None] = {
    # pending: not yet registered
    ("pending", "register"): "in_use",
    ("pending", "suspend"): None,
    ("pending", "resume"): None,
    ("pending", "scrap"): "scrapped",
    ("pending", "cancel"): None,
    ("pending", "transfer"): "pending",
    ("pending", "change_maintainer"): "pending",
    ("pending", "refuse"): "refused",
    ("pending", "reapply"): None,
    # in use
    ("in_use", "register"): None,
    ("in_use", "suspend"): "suspended",
    ("in_use", "resume"): None,
    ("in_use", "scrap"): "scrapped",
    ("in_use", "cancel"): "cancelled",
    ("in_use", "transfer"): "in_use",
    ("in_use", "change_maintainer"): "in_use",
    ("in_use", "refuse"): None,
    ("in_use", "reapply"): None,
    # suspended (停用)
    ("suspended", "register"): None,
    ("suspended", "suspend"): None,
    ("suspended", "resume"): "in_use",
    ("suspended", "scrap"): "scrapped",
    ("suspended", "cancel"): "cancelled",
    ("suspended", "transfer"): "suspended",
    ("suspended", "change_maintainer"): "suspended",
    ("suspended", "refuse"): None,
    ("suspended", "reapply"): None,
    # scrapped: permanent
    ("scrapped", "register"): None,
    ("scrapped", "suspend"): None,
    ("scrapped", "resume"): None,
    ("scrapped", "scrap"): None,
    ("scrapped", "cancel"): None,
    ("scrapped", "transfer"): None,
    ("scrapped", "change_maintainer"): None,
    ("scrapped", "refuse"): None,
    ("scrapped", "reapply"): None,
    # cancelled: terminal (moving to another authority = register anew)
    ("cancelled", "register"): None,
    ("cancelled", "suspend"): None,
    ("cancelled", "resume"): None,
    ("cancelled", "scrap"): None,
    ("cancelled", "cancel"): None,
    ("cancelled", "transfer"): None,
    ("cancelled", "change_maintainer"): None,
    ("cancelled", "refuse"): None,
    ("cancelled", "reapply"): None,
    # refused (不予登记): the record waits for the applicant to put it right and apply again
    ("refused", "register"): None,
    ("refused", "suspend"): None,
    ("refused", "resume"): None,
    ("refused", "scrap"): None,
    ("refused", "cancel"): None,
    ("refused", "transfer"): None,
    ("refused", "change_maintainer"): None,
    ("refused", "refuse"): None,
    ("refused", "reapply"): "pending",
}

ALLOWED = [(s, a, to) for (s, a), to in EXPECTED.items() if to is not None]
REFUSED = [(s, a) for (s, a), to in EXPECTED.items() if to is None]


def test_status_and_action_values_are_the_documented_ones():
    assert {s.value for s in Status} == {
        "pending",
        "refused",
        "in_use",
        "suspended",
        "scrapped",
        "cancelled",
    }
    assert {a.value for a in Action} == {
        "register",
        "refuse",
        "reapply",
        "suspend",
        "resume",
        "scrap",
        "cancel",
        "transfer",
        "change_maintainer",
    }


def test_the_table_covers_every_status_action_pair():
    assert set(EXPECTED) == {(s.value, a.value) for s in Status for a in Action}


@pytest.mark.parametrize(("status", "action", "to"), ALLOWED)
def test_allowed_transition_gives_the_next_status(status: str, action: str, to: str):
    assert next_status(Status(status), Action(action)) is Status(to)


@pytest.mark.parametrize(("status", "action"), REFUSED)
def test_refused_transition_names_the_action_and_the_status(status: str, action: str):
    with pytest.raises(TransitionRefused) as caught:
        next_status(Status(status), Action(action))
    assert action in caught.value.reason
    assert status in caught.value.reason
    assert isinstance(caught.value, Conflict)  # mapped to 409 at the edge


@pytest.mark.parametrize("status", ["scrapped", "cancelled"])
@pytest.mark.parametrize("action", [a.value for a in Action])
def test_scrapped_and_cancelled_are_terminal(status: str, action: str):
    with pytest.raises(TransitionRefused):
        next_status(Status(status), Action(action))


def test_scrapped_reason_says_it_is_permanent():
    with pytest.raises(TransitionRefused, match="permanently"):
        next_status(Status.SCRAPPED, Action.REGISTER)


def test_cancelled_reason_says_register_anew():
    with pytest.raises(TransitionRefused, match="register anew"):
        next_status(Status.CANCELLED, Action.RESUME)


def test_refusal_from_a_live_status_lists_where_the_action_applies():
    with pytest.raises(TransitionRefused) as caught:
        next_status(Status.PENDING, Action.CANCEL)
    assert "in_use, suspended" in caught.value.reason


# ---------------------------------------------------------------------------------------
# Registration within 30 days of going into service

COMMISSIONED = date(2025, 3, 10)


@pytest.mark.parametrize(
    ("days_after", "late"),
    [(-10, False), (0, False), (29, False), (30, False), (31, True), (365, True)],
)
def test_registration_is_late_after_30_days(days_after: int, late: bool):
    registered = COMMISSIONED + timedelta(days=days_after)
    assert registration_is_late(COMMISSIONED, registered) is late


def test_registration_without_commissioning_date_is_never_late():
    assert registration_is_late(None, date(2025, 1, 1)) is False
    assert registration_is_late(None, date(2099, 12, 31)) is False


DATES = st.dates(min_value=date(1950, 1, 1), max_value=date(2090, 12, 31))


@given(DATES, st.integers(min_value=-3650, max_value=30))
def test_registered_within_30_days_is_never_late(commissioned: date, offset: int):
    assert not registration_is_late(commissioned, commissioned + timedelta(days=offset))


@given(DATES, st.integers(min_value=31, max_value=3650))
def test_registered_after_30_days_is_always_late(commissioned: date, offset: int):
    assert registration_is_late(commissioned, commissioned + timedelta(days=offset))


# ---------------------------------------------------------------------------------------
# Notice of a planned suspension of a year or more within 30 days

SUSPENDED = date(2025, 3, 1)  # one year later is 2026-03-01, 365 days on


@pytest.mark.parametrize(("days_after", "late"), [(0, False), (30, False), (31, True)])
def test_long_suspension_notice_edge(days_after: int, late: bool):
    notified = SUSPENDED + timedelta(days=days_after)
    assert suspension_notice_is_late(SUSPENDED, date(2027, 1, 1), notified) is late


@pytest.mark.parametrize(("days_after", "late"), [(30, False), (31, True), (400, True)])
def test_open_ended_suspension_counts_as_a_year_or_more(days_after: int, late: bool):
    notified = SUSPENDED + timedelta(days=days_after)
    assert suspension_notice_is_late(SUSPENDED, None, notified) is late


def test_planned_364_days_is_short_and_needs_no_notice():
    planned = SUSPENDED + timedelta(days=364)
    assert suspension_notice_is_late(SUSPENDED, planned, SUSPENDED + timedelta(days=200)) is False


def test_planned_365_days_is_a_year_and_needs_notice():
    planned = SUSPENDED + timedelta(days=365)
    assert planned == date(2026, 3, 1)
    assert suspension_notice_is_late(SUSPENDED, planned, SUSPENDED + timedelta(days=31)) is True
    assert suspension_notice_is_late(SUSPENDED, planned, SUSPENDED + timedelta(days=30)) is False


def test_a_year_across_29_february_is_366_days():
    start = date(2023, 3, 1)
    late_notice = start + timedelta(days=31)
    assert suspension_notice_is_late(start, date(2024, 2, 29), late_notice) is False  # 365 d
    assert suspension_notice_is_late(start, date(2024, 3, 1), late_notice) is True  # 366 d


def test_suspension_from_29_february():
    start = date(2024, 2, 29)  # one year later is 2025-02-28
    late_notice = start + timedelta(days=31)
    assert suspension_notice_is_late(start, date(2025, 2, 27), late_notice) is False
    assert suspension_notice_is_late(start, date(2025, 2, 28), late_notice) is True
    assert suspension_notice_is_late(start, date(2025, 2, 28), start + timedelta(days=30)) is False


@given(DATES, st.one_of(st.none(), DATES), st.integers(min_value=-30, max_value=30))
def test_notice_within_30_days_is_never_late(start: date, planned: date | None, offset: int):
    assert not suspension_notice_is_late(start, planned, start + timedelta(days=offset))


@given(DATES, st.integers(min_value=0, max_value=364), st.integers(0, 3000))
def test_suspension_shorter_than_a_year_is_never_late(start: date, length: int, offset: int):
    planned = start + timedelta(days=length)
    assert not suspension_notice_is_late(start, planned, start + timedelta(days=offset))


@given(DATES, st.integers(min_value=31, max_value=3000))
def test_open_ended_suspension_notified_after_30_days_is_late(start: date, offset: int):
    assert suspension_notice_is_late(start, None, start + timedelta(days=offset))


# ---------------------------------------------------------------------------------------
# Resuming after the periodic inspection lapsed

RESUME = date(2025, 6, 15)


@pytest.mark.parametrize(
    ("due", "needed"),
    [
        (None, False),
        (date(2025, 6, 14), True),
        (date(2025, 6, 15), False),  # due today: still within its period
        (date(2025, 6, 16), False),
        (date(2019, 1, 1), True),
    ],
)
def test_inspection_needed_on_resume(due: date | None, needed: bool):
    assert inspection_needed_on_resume(due, RESUME) is needed


@given(st.one_of(st.none(), DATES), DATES)
def test_inspection_needed_exactly_when_due_before_resume(due: date | None, resume: date):
    assert inspection_needed_on_resume(due, resume) is (due is not None and due < resume)


# ---------------------------------------------------------------------------------------
# add_years


@pytest.mark.parametrize(
    ("day", "years", "expected"),
    [
        (date(2024, 2, 29), 1, date(2025, 2, 28)),
        (date(2024, 2, 29), 4, date(2028, 2, 29)),
        (date(2024, 2, 29), 100, date(2124, 2, 29)),  # 2124 is a leap year
        (date(2096, 2, 29), 4, date(2100, 2, 28)),  # 2100 is not (divisible by 100)
        (date(1996, 2, 29), 4, date(2000, 2, 29)),  # 2000 is (divisible by 400)
        (date(2024, 2, 29), -1, date(2023, 2, 28)),
        (date(2024, 2, 29), 0, date(2024, 2, 29)),
        (date(2023, 2, 28), 1, date(2024, 2, 28)),
        (date(2025, 12, 31), 1, date(2026, 12, 31)),
        (date(2025, 1, 1), 6, date(2031, 1, 1)),
    ],
)
def test_add_years(day: date, years: int, expected: date):
    assert add_years(day, years) == expected


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2400, 12, 31)), st.integers(0, 100))
def test_add_years_keeps_the_calendar_day_within_one_day(day: date, years: int):
    result = add_years(day, years)
    assert result >= day
    assert (result.year, result.month) == (day.year + years, day.month)
    if (day.month, day.day) == (2, 29) and not _is_leap(day.year + years):
        assert result.day == 28
    else:
        assert result.day == day.day


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2400, 12, 31)), st.integers(1, 100))
def test_add_years_moves_forward_by_whole_years(day: date, years: int):
    days = (add_years(day, years) - day).days
    assert 365 * years - 1 <= days <= 366 * years


# ---------------------------------------------------------------------------------------
# Effective date of a transition

SINCE = date(2025, 1, 10)
TODAY = date(2025, 6, 15)


@pytest.mark.parametrize("on", [SINCE, date(2025, 3, 1), TODAY])
def test_effective_date_within_the_window_is_accepted(on: date):
    check_effective_date(on, status_since=SINCE, today=TODAY, field="suspended_from")


def test_effective_date_in_the_future_is_refused():
    with pytest.raises(InvalidValue, match="future") as caught:
        check_effective_date(
            TODAY + timedelta(days=1), status_since=SINCE, today=TODAY, field="scrapped_on"
        )
    assert caught.value.field == "scrapped_on"


def test_effective_date_before_the_current_status_is_refused():
    with pytest.raises(InvalidValue, match="2025-01-10") as caught:
        check_effective_date(
            SINCE - timedelta(days=1), status_since=SINCE, today=TODAY, field="resumed_on"
        )
    assert caught.value.field == "resumed_on"


def test_effective_date_when_status_began_today():
    check_effective_date(TODAY, status_since=TODAY, today=TODAY, field="on")


@given(DATES, DATES, DATES)
def test_effective_date_is_refused_exactly_outside_the_window(on: date, since: date, today: date):
    outside = on > today or on < since
    try:
        check_effective_date(on, status_since=since, today=today, field="on")
    except InvalidValue as error:
        assert outside
        assert error.field == "on"
    else:
        assert not outside
