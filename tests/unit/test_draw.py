"""The verifiable draw (equipment.domain.draw): deterministic, stratified, conflict-free."""

from __future__ import annotations

import dataclasses
import math
from datetime import date
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from equipment.domain import draw
from equipment.domain.draw import Candidate, DrawInputs, RosterEntry
from equipment.domain.errors import InvalidValue
from equipment.domain.workdays import WorkCalendar

DISTRICTS = ("420602", "420606", "420607")


def city(n: int = 200, inspectors: int = 20) -> DrawInputs:
    candidates = tuple(
        Candidate(i, "ABCD"[i % 4], DISTRICTS[i % 3], ("3000",) if i % 2 else ("3000", "1000"))
        for i in range(1, n + 1)
    )
    roster = tuple(
        RosterEntry(
            100 + j,
            frozenset() if j % 5 == 0 else frozenset({DISTRICTS[j % 3]}),
            frozenset({"3000", "1000"}) if j % 2 else frozenset({"3000"}),
        )
        for j in range(inspectors)
    )
    conflicts = frozenset({(101, 1), (103, 2), (100, 3)})
    return DrawInputs("公告种子-2026-03-01", candidates, roster, conflicts)


def test_same_inputs_same_draw_in_any_order() -> None:
    inputs = city()
    shuffled = dataclasses.replace(
        inputs,
        candidates=tuple(reversed(inputs.candidates)),
        roster=tuple(reversed(inputs.roster)),
    )
    assert draw.run(inputs) == draw.run(shuffled)
    assert draw.inputs_digest(inputs) == draw.inputs_digest(shuffled)


def test_another_seed_another_draw() -> None:
    inputs = city()
    other = dataclasses.replace(inputs, seed="公告种子-2026-03-02")
    assert [t.enterprise_id for t in draw.run(inputs).targets] != [
        t.enterprise_id for t in draw.run(other).targets
    ]


def test_each_stratum_rounded_up() -> None:
    inputs = city(203)
    result = draw.run(inputs)
    sizes = {k: sum(c.klass == k for c in inputs.candidates) for k in "ABCD"}
    for klass, ratio in inputs.ratios.items():
        drawn = sum(t.klass == klass for t in result.targets)
        assert drawn == math.ceil(sizes[klass] * ratio)
    assert draw.stratum_count(10, Fraction(3, 100)) == 1
    assert draw.stratum_count(0, Fraction(1, 2)) == 0
    assert draw.stratum_count(3, Fraction(1)) == 3


def test_qualified_and_in_jurisdiction() -> None:
    inputs = city()
    roster = {r.id: r for r in inputs.roster}
    by_id = {c.id: c for c in inputs.candidates}
    result = draw.run(inputs)
    assert result.targets
    for t in result.targets:
        assert len(set(t.inspectors)) == len(t.inspectors)
        for i in t.inspectors:
            assert roster[i].covers(by_id[t.enterprise_id])


def test_short_when_too_few_inspectors() -> None:
    inputs = DrawInputs(
        "seed-seed-seed",
        (Candidate(1, "D", "420602", ("3000",)),),
        (RosterEntry(7, frozenset({"420602"}), frozenset({"3000"})),),
        frozenset(),
    )
    result = draw.run(inputs)
    assert result.targets[0].inspectors == (7,)
    assert result.short == (1,)


@st.composite
def worlds(draw_: st.DrawFn) -> DrawInputs:
    n = draw_(st.integers(1, 20))
    m = draw_(st.integers(0, 8))
    candidates = tuple(
        Candidate(
            i,
            draw_(st.sampled_from("ABCD")),
            draw_(st.sampled_from(DISTRICTS)),
            tuple(sorted(draw_(st.sets(st.sampled_from(("1000", "3000")), max_size=2)))),
        )
        for i in range(1, n + 1)
    )
    roster = tuple(
        RosterEntry(
            1000 + j,
            frozenset(draw_(st.sets(st.sampled_from(DISTRICTS), max_size=2))),
            frozenset(draw_(st.sets(st.sampled_from(("1000", "3000")), max_size=2))),
            draw_(st.booleans()),
        )
        for j in range(m)
    )
    conflicts = frozenset(
        draw_(
            st.sets(
                st.tuples(st.integers(1000, 1000 + max(m - 1, 0)), st.integers(1, n)),
                max_size=3 * n,
            )
        )
    )
    ratios = {k: Fraction(draw_(st.integers(0, 100)), 100) for k in "ABCD"}
    return DrawInputs(
        draw_(st.text(min_size=8, max_size=20)), candidates, roster, conflicts, ratios
    )


@settings(max_examples=100, deadline=None)
@given(worlds())
def test_conflicts_never_drawn_and_rules_hold(inputs: DrawInputs) -> None:
    result = draw.run(inputs)
    roster = {r.id: r for r in inputs.roster}
    by_id = {c.id: c for c in inputs.candidates}
    for t in result.targets:
        assert len(t.inspectors) <= 2 and len(set(t.inspectors)) == len(t.inspectors)
        for i in t.inspectors:
            assert (i, t.enterprise_id) not in inputs.conflicts
            assert roster[i].covers(by_id[t.enterprise_id])
        if len(t.inspectors) < 2:
            # short only when no other eligible, unconflicted inspector was left out
            eligible = {
                r.id
                for r in inputs.roster
                if r.covers(by_id[t.enterprise_id])
                and (r.id, t.enterprise_id) not in inputs.conflicts
            }
            assert eligible == set(t.inspectors)
    for klass in "ABCD":
        size = sum(c.klass == klass for c in inputs.candidates)
        drawn = sum(t.klass == klass for t in result.targets)
        assert drawn == math.ceil(size * inputs.ratios[klass])
    assert draw.run(inputs) == result


def _published(inputs: DrawInputs) -> tuple[str, draw.DrawResult, str]:
    result = draw.run(inputs)
    return draw.inputs_digest(inputs), result, draw.result_digest(result)


def test_verify_matches_untouched_inputs() -> None:
    inputs = city()
    in_digest, result, out_digest = _published(inputs)
    stored = DrawInputs.from_canonical(inputs.canonical())
    again = draw.result_from_canonical(result.canonical())
    check = draw.verify(
        stored,
        published_inputs_digest=in_digest,
        stored_result=again,
        published_result_digest=out_digest,
    )
    assert check.matches and check.verdict == "match"


ALTERATIONS = {
    "seed": lambda i: dataclasses.replace(i, seed=i.seed + "x"),
    "drop candidate": lambda i: dataclasses.replace(i, candidates=i.candidates[1:]),
    "class changed": lambda i: dataclasses.replace(
        i, candidates=(dataclasses.replace(i.candidates[0], klass="D"), *i.candidates[1:])
    ),
    "district changed": lambda i: dataclasses.replace(
        i,
        candidates=(
            dataclasses.replace(i.candidates[5], district="420684"),
            *i.candidates[:5],
            *i.candidates[6:],
        ),
    ),
    "inspector removed": lambda i: dataclasses.replace(i, roster=i.roster[1:]),
    "inspector unavailable": lambda i: dataclasses.replace(
        i, roster=(dataclasses.replace(i.roster[0], available=False), *i.roster[1:])
    ),
    "conflict added": lambda i: dataclasses.replace(i, conflicts=i.conflicts | {(104, 9)}),
    "conflict removed": lambda i: dataclasses.replace(i, conflicts=frozenset()),
    "ratio": lambda i: dataclasses.replace(i, ratios={**i.ratios, "A": Fraction(4, 100)}),
}


@pytest.mark.parametrize("alteration", sorted(ALTERATIONS))
def test_verify_fails_on_any_altered_input(alteration: str) -> None:
    inputs = city()
    in_digest, result, out_digest = _published(inputs)
    altered = ALTERATIONS[alteration](inputs)
    check = draw.verify(
        altered,
        published_inputs_digest=in_digest,
        stored_result=result,
        published_result_digest=out_digest,
    )
    assert not check.matches and check.verdict == "mismatch"


def test_verify_fails_on_an_altered_result() -> None:
    inputs = city()
    in_digest, result, out_digest = _published(inputs)
    first = result.targets[0]
    forged = draw.DrawResult(
        (dataclasses.replace(first, inspectors=(999, 998)), *result.targets[1:])
    )
    check = draw.verify(
        inputs,
        published_inputs_digest=in_digest,
        stored_result=forged,
        published_result_digest=out_digest,
    )
    assert not check.matches and check.inputs_match and not check.result_match


def test_yearly_share_and_ratios() -> None:
    sizes = {"A": 100, "B": 0, "C": 0, "D": 0}
    draw.check_yearly_share(sizes, {"A": Fraction(3, 100)})
    with pytest.raises(InvalidValue):
        draw.check_yearly_share(sizes, {"A": Fraction(2, 100)})
    draw.check_yearly_share(sizes, {"A": Fraction(2, 100)}, drawn_this_year=1)
    assert draw.parse_ratios("A=3%,b=0.05, D=1/2")["D"] == Fraction(1, 2)
    assert draw.parse_ratios("")["C"] == draw.DEFAULT_RATIOS["C"]
    with pytest.raises(InvalidValue):
        draw.parse_ratios("A=lots")
    with pytest.raises(InvalidValue):
        draw.parse_ratios("A=150%")
    with pytest.raises(InvalidValue):
        draw.parse_ratios("E=5%")
    with pytest.raises(InvalidValue):
        draw.check_seed("short")


def test_conflicts_of_body_and_last_checkers() -> None:
    pairs = draw.conflicts_of([(1, 10), (2, 10), (3, None), (4, 11)], {7: [10]}, {8: [3]})
    assert pairs == {(1, 7), (2, 7), (3, 8)}


def test_working_days() -> None:
    friday = date(2026, 12, 4)
    assert draw.working_days_after(friday, 1) == date(2026, 12, 7)
    off = WorkCalendar(holidays=frozenset({date(2026, 12, 8)}))
    assert draw.working_days_after(friday, 5, off) == date(2026, 12, 14)


@given(start=st.dates(date(2020, 1, 1), date(2030, 12, 31)), days=st.integers(0, 40))
def test_working_days_late_is_the_inverse_of_the_deadline(start: date, days: int) -> None:
    """A result due ``days`` working days after ``start`` is that many working days late on
    the deadline seen from ``start``'s side, and never late on or before its deadline."""
    deadline = draw.working_days_after(start, 20)
    assert draw.working_days_late(deadline, deadline) == 0
    assert draw.working_days_late(deadline, start) == 0
    assert draw.working_days_late(deadline, draw.working_days_after(deadline, days)) == days


def test_working_days_late_skips_weekends() -> None:
    friday = date(2026, 12, 4)
    assert draw.working_days_late(friday, date(2026, 12, 6)) == 0  # Saturday and Sunday
    assert draw.working_days_late(friday, date(2026, 12, 7)) == 1
