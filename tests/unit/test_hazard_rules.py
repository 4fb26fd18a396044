"""The hazard loop (一单四制) and the GB 45067-2024 table: every move, every clause."""

from __future__ import annotations

import itertools
import re
from datetime import date, timedelta

import pytest

from equipment.domain import hazards as h
from equipment.domain.catalogue import Family
from equipment.domain.errors import Conflict, InvalidValue

ALLOWED = {
    (h.State.LISTED, h.Action.ASSIGN): h.State.ASSIGNED,
    (h.State.ASSIGNED, h.Action.START): h.State.RECTIFYING,
    (h.State.RECTIFYING, h.Action.SUBMIT): h.State.SUBMITTED,
    (h.State.SUBMITTED, h.Action.VERIFY): h.State.VERIFIED,
    (h.State.SUBMITTED, h.Action.SEND_BACK): h.State.RECTIFYING,
}
PAIRS = list(itertools.product(h.State, h.Action))
TODAY = date(2026, 12, 6)


@pytest.mark.parametrize(("state", "action"), PAIRS, ids=lambda v: v.value)
def test_every_state_and_action(state: h.State, action: h.Action):
    expected = ALLOWED.get((state, action))
    if expected is None:
        with pytest.raises(Conflict) as refused:
            h.transition(state, action)
        assert refused.value.field == "action"
    else:
        assert h.transition(state, action) is expected


def test_a_verified_hazard_is_closed_for_good():
    assert all((h.State.VERIFIED, a) not in h.TRANSITIONS for a in h.Action)
    assert frozenset(h.State) - {h.State.VERIFIED} == h.OPEN_STATES


def test_every_state_is_reachable_from_listed_and_can_reach_verified():
    reach = {h.State.LISTED}
    while True:
        more = {to for (frm, _), to in h.TRANSITIONS.items() if frm in reach} - reach
        if not more:
            break
        reach |= more
    assert reach == set(h.State)
    for state in h.OPEN_STATES:
        seen, frontier = {state}, {state}
        while frontier:
            frontier = {to for (frm, _), to in h.TRANSITIONS.items() if frm in frontier} - seen
            seen |= frontier
        assert h.State.VERIFIED in seen, state


def test_regulator_and_responsible_actions_split_the_loop():
    assert frozenset(h.Action) == h.REGULATOR_ACTIONS | h.RESPONSIBLE_ACTIONS
    assert not h.REGULATOR_ACTIONS & h.RESPONSIBLE_ACTIONS


@pytest.mark.parametrize("state", list(h.State), ids=lambda s: s.value)
@pytest.mark.parametrize("days", [-1, 0, 1])
def test_overdue_only_while_the_deadline_runs(state: h.State, days: int):
    deadline = TODAY + timedelta(days=days)
    assert h.is_overdue(state, deadline, TODAY) is (state in h.DEADLINE_RUNS and days < 0)
    assert h.is_overdue(state, None, TODAY) is False


def test_the_assignment_names_every_party_and_a_deadline_ahead():
    good = h.Assignment(7, "张经理", "更换门锁", TODAY, "李检查员")
    good.check(TODAY)
    for field in ("responsible_person", "measures", "supervising_inspector"):
        bad = h.Assignment(**{**good.__dict__, field: "  "})
        with pytest.raises(InvalidValue) as refused:
            bad.check(TODAY)
        assert refused.value.field == field
    with pytest.raises(InvalidValue) as late:
        h.Assignment(**{**good.__dict__, "deadline": TODAY - timedelta(days=1)}).check(TODAY)
    assert late.value.field == "deadline"


_CLAUSE = re.compile(r"GB 45067-2024 \d+(\.\d+)+")


@pytest.mark.parametrize("criterion", h.CRITERIA, ids=lambda c: c.key)
def test_each_criterion_cites_its_clause_and_confidence(criterion: h.Criterion):
    assert _CLAUSE.fullmatch(criterion.clause), criterion.clause
    assert criterion.confidence in ("[C]", "[S]", "[U]")
    assert criterion.text_zh and criterion.text_en


def test_criteria_keys_and_clauses_are_unique_and_cover_the_families():
    assert len({c.key for c in h.CRITERIA}) == len(h.CRITERIA)
    # A checked item has a clause of its own; [U] rows name only their section, which
    # several of them share (RULES: the items of 5.1 were not found).
    checked = [c for c in h.CRITERIA if c.confidence != "[U]"]
    assert len({c.clause for c in checked}) == len(checked)
    assert all(c.clause.count(".") == 1 for c in h.CRITERIA if c.confidence == "[U]")
    covered = set().union(*(c.families for c in h.CRITERIA))
    wanted = {
        Family.BOILER,
        Family.PRESSURE_VESSEL,
        Family.GAS_CYLINDER,
        Family.LIFT,
        Family.CRANE,
        Family.PIPING,
        Family.VEHICLE,
        Family.AMUSEMENT_RIDE,
        Family.ROPEWAY,
    }
    assert wanted <= covered


# The items the rules give for GB 45067-2024, each with its clause: boilers 5.2.1-5.2.10,
# piping 5.4.1-5.4.2, filling 5.5.1-5.5.3 and lifts 5.6.1-5.6.5 found in agreeing copies
# of the text ([S]); the sections whose items were not found or not listed ([U]).
_RULES_ITEMS = {
    **{f"5.2.{n}": Family.BOILER for n in range(1, 11)},
    **{f"5.4.{n}": Family.PIPING for n in range(1, 3)},
    **{f"5.5.{n}": Family.GAS_CYLINDER for n in range(1, 4)},
    **{f"5.6.{n}": Family.LIFT for n in range(1, 6)},
}
_UNVERIFIED_SECTIONS = {"5.1", "5.3", "5.7", "5.8", "5.9", "5.10"}


def test_every_item_the_rules_give_is_there_with_its_clause_and_tag():
    by_clause = {c.clause.removeprefix("GB 45067-2024 "): c for c in h.CRITERIA}
    for clause, family in _RULES_ITEMS.items():
        criterion = by_clause.get(clause)
        assert criterion is not None, f"GB 45067-2024 {clause} is missing"
        assert criterion.confidence == "[S]" and criterion.families == {family}, clause
    # Nothing else claims more than [U]: the other sections' rows stay unverified.
    for criterion in h.CRITERIA:
        clause = criterion.clause.removeprefix("GB 45067-2024 ")
        if clause not in _RULES_ITEMS:
            assert clause in _UNVERIFIED_SECTIONS and criterion.confidence == "[U]", clause
    assert {c.clause.removeprefix("GB 45067-2024 ") for c in h.CRITERIA} >= _UNVERIFIED_SECTIONS


def test_the_rules_document_lists_every_item_with_its_tag():
    from equipment.domain.rules_document import render

    text = render()
    for criterion in h.CRITERIA:
        row = next(line for line in text.splitlines() if f"`{criterion.key}`" in line)
        assert criterion.clause in row and row.endswith(f"| {criterion.confidence} |"), row


@pytest.mark.parametrize("family", [*Family, None], ids=str)
def test_classification(family: Family | None):
    assert h.classify(None, family) is h.Grade.GENERAL
    assert h.classify("", family) is h.Grade.GENERAL
    for criterion in h.CRITERIA:
        applies = not criterion.families or family in criterion.families
        assert (criterion in h.criteria_for(family)) is applies
        if applies:
            assert h.classify(criterion.key, family) is h.Grade.MAJOR
        else:
            with pytest.raises(InvalidValue):
                h.classify(criterion.key, family)
    with pytest.raises(InvalidValue):
        h.classify("no.such.item", family)


def test_labels_cover_every_code():
    assert set(h.STATE_LABELS) == set(h.State)
    assert set(h.GRADE_LABELS) == set(h.Grade)
    assert set(h.SOURCE_LABELS) == set(h.Source)
