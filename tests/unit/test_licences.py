"""Post-licence supervision's pure rules (equipment.domain.licences) and a campaign's
per-enterprise task district, against brute force over random licences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from equipment.domain import licences as rules
from equipment.services.campaigns import tasks_of
from equipment.storage.campaigns import SelectedUnit

DAY0 = date(2026, 1, 1)


@dataclass(frozen=True)
class L:
    kind: str
    valid_from: date
    valid_until: date


spans = st.builds(
    lambda kind, start, length: L(
        kind, DAY0 + timedelta(days=start), DAY0 + timedelta(days=start + length)
    ),
    st.sampled_from(sorted(rules.LICENCE_KINDS)),
    st.integers(0, 800),
    st.integers(0, 400),
)


@given(st.lists(spans, max_size=6), st.integers(0, 1300))
def test_valid_on_is_some_licence_covering_the_day(licences, offset) -> None:
    day = DAY0 + timedelta(days=offset)
    covering = {x.kind for x in licences if x.valid_from <= day <= x.valid_until}
    for kind in rules.LICENCE_KINDS:
        assert rules.valid_on(licences, kind, day) is (kind in covering)


@given(st.lists(spans, max_size=6), st.integers(0, 1300), st.integers(1, 200))
def test_expiring_lists_exactly_those_ending_within_the_window(licences, offset, days) -> None:
    today = DAY0 + timedelta(days=offset)
    got = rules.expiring(licences, today, days)
    assert sorted(got, key=lambda x: x.valid_until) == got
    assert set(got) == {
        x
        for x in licences
        if x.valid_from <= today <= x.valid_until <= today + timedelta(days=days)
    }


@given(st.lists(spans, max_size=6), st.integers(0, 1300))
def test_lapsed_since_the_day_after_the_last_licence_ended(licences, offset) -> None:
    today = DAY0 + timedelta(days=offset)
    for kind in rules.LICENCE_KINDS:
        since = rules.lapsed_since(licences, kind, today)
        own = [x for x in licences if x.kind == kind]
        if since is None:
            assert (
                not own
                or rules.valid_on(own, kind, today)
                or all(x.valid_until >= today for x in own)
            )
        else:
            assert not rules.valid_on(own, kind, today)
            assert since == max(x.valid_until for x in own if x.valid_until < today) + timedelta(
                days=1
            )
            assert since <= today


def test_the_annual_report_rate_and_its_target() -> None:
    assert (rules.ReportRate(2025, 2, 1).percent, rules.ReportRate(2025, 2, 1).met) == (50.0, False)
    assert (rules.ReportRate(2025, 3, 3).percent, rules.ReportRate(2025, 3, 3).met) == (100.0, True)
    assert rules.ReportRate(2025, 0, 0).percent == 100.0  # nobody to report


def test_an_enterprise_task_is_where_most_of_its_units_are_smallest_code_on_a_tie() -> None:
    units = [
        SelectedUnit(1, 10, "420606"),
        SelectedUnit(2, 10, "420602"),
        SelectedUnit(3, 10, "420606"),
        SelectedUnit(4, 11, "420606"),
        SelectedUnit(5, 11, "420602"),
    ]
    tasks = tasks_of(units, "enterprise", 7)
    assert [(t["user_unit"], t["district_code"], t["equipment"]) for t in tasks] == [
        (10, "420606", None),
        (11, "420602", None),
    ]
    assert [t["equipment"] for t in tasks_of(units, "unit", 7)] == [1, 2, 3, 4, 5]
