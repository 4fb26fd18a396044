"""Response KPIs (pure)."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.domain.kpis import Response, percentile, response_kpis


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([], 50, None),
        ([7], 90, 7),
        ([1, 2, 3, 4], 50, 2.5),
        ([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 90, 91),  # PERCENTILE.INC
        ([3, 1, 2], 0, 1),
        ([3, 1, 2], 100, 3),
    ],
)
def test_percentile(values, p, expected):
    assert percentile(values, p) == expected


@given(st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=50))
def test_the_median_is_the_statistics_median(values):
    assert percentile(values, 50) == pytest.approx(statistics.median(values))


@given(st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=50))
def test_percentiles_are_ordered_and_within_the_values(values):
    p50, p90 = percentile(values, 50), percentile(values, 90)
    assert min(values) <= p50 <= p90 <= max(values)


def test_kpis_per_group():
    rows = [
        Response("A", 2, 20, True, False),
        Response("A", 4, 40, True, True),
        Response("A", None, None, True, True),  # escalated late, nobody came
        Response("B", 1, None, False, False),  # no limit (not counted in share late)
    ]
    a, b, c = response_kpis(rows, {"A": 1000, "B": 500, "C": 10})
    assert (a.entrapments, a.acknowledge_median, a.arrive_median) == (3, 3, 30)
    assert (a.late, a.share_late, a.per_1000_lifts) == (2, 2 / 3, 3)
    assert (b.entrapments, b.share_late, b.per_1000_lifts) == (1, None, 2)
    assert (c.group, c.entrapments, c.acknowledge_median, c.per_1000_lifts) == ("C", 0, None, 0)
    [lone] = response_kpis([Response("Z", 1, 1, True, False)], {})
    assert lone.lifts == 0 and lone.per_1000_lifts is None


def test_rescue_outcomes_per_group():
    """Causes, people released, injuries and deaths come from the recorded outcomes; an
    entrapment without one is counted apart, not as one without injuries."""
    rows = [
        Response("A", 2, 20, True, False, "power_failure", 3, 1, 0),
        Response("A", 3, 25, True, False, "door_system", 1, 0, 0),
        Response("A", 4, 30, True, False, "power_failure", 2, 2, 1),
        Response("A", 5, 35, True, False),  # no outcome yet
        Response("B", 1, 10, True, False),
    ]
    a, b = response_kpis(rows, {"A": 100, "B": 100})
    assert (a.outcomes, a.without_outcome) == (3, 1)
    assert (a.people_released, a.injuries, a.fatalities) == (6, 3, 1)
    assert a.causes == {"door_system": 1, "power_failure": 2}
    assert list(a.causes) == sorted(a.causes)
    assert (b.outcomes, b.without_outcome, b.injuries, b.causes) == (0, 1, 0, {})


CAUSES = st.sampled_from([None, "power_failure", "door_system", "misuse", "unknown"])


@given(
    st.lists(
        st.tuples(st.sampled_from("ABC"), CAUSES, st.integers(0, 9), st.integers(0, 3)),
        max_size=40,
    )
)
def test_outcome_counts_add_up(raw):
    rows = [
        Response(g, None, None, True, False, cause, 2, hurt if cause else 0, 0)
        for g, cause, _, hurt in raw
    ]
    kpis = response_kpis(rows, {})
    assert sum(k.entrapments for k in kpis) == len(rows)
    for k in kpis:
        assert k.outcomes + k.without_outcome == k.entrapments
        assert sum(k.causes.values()) == k.outcomes
        assert k.people_released == 2 * k.outcomes
    assert sum(k.injuries for k in kpis) == sum(r.injuries for r in rows)
