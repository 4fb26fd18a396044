"""The risk grade: table-driven cases, the policy's overrides, and the two properties the
issue names (worsening any factor never lowers the grade; a major hazard is always 红)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.domain.errors import InvalidValue
from equipment.domain.risk import (
    DEFAULT_RISK_POLICY,
    FACTORS,
    RiskGrade,
    RiskInputs,
    compile_explained,
    compile_policy,
    grade_of_group,
    load_risk_policy,
    rank,
    result_of,
    score,
)

R, OR, Y, B = RiskGrade.RED, RiskGrade.ORANGE, RiskGrade.YELLOW, RiskGrade.BLUE


@pytest.mark.parametrize(
    ("inputs", "grade", "points"),
    [
        (RiskInputs(), B, 0),
        (RiskInputs(age_years=5), B, 0),
        (RiskInputs(old_residential=True), B, 1),
        (RiskInputs(days_overdue=1), Y, 3),
        (RiskInputs(days_overdue=400), Y, 6),
        (RiskInputs(days_overdue=400, last_conclusion="fail"), R, 12),
        (RiskInputs(age_years=15), Y, 3),  # 15 years, no stated life: at its end
        (RiskInputs(age_years=15, design_life_years=30), B, 0),
        (RiskInputs(hazardous_chemicals=True, open_general_hazards=3), OR, 7),
        (RiskInputs(safety_grade=5, hazardous_chemicals=True, entrapments_90_days=3), R, 13),
        (RiskInputs(faults_90_days=8, category_median_faults=1), Y, 3),
        (RiskInputs(faults_90_days=8, category_median_faults=4), B, 1),
        (RiskInputs(maintenance_days_late=30, user_unit_bad_share=0.5), Y, 5),
        (RiskInputs(open_major_hazards=1), R, 12),
    ],
)
def test_table(inputs: RiskInputs, grade: RiskGrade, points: float) -> None:
    result = score(inputs)
    assert result.grade is grade
    assert result.points == points
    # Explained: every factor, and the points add up to the total.
    assert [c.factor for c in result.factors] == [f.key for f in FACTORS]
    assert sum(c.points for c in result.factors) == pytest.approx(result.points)


def test_every_factor_has_a_reason_and_ascending_bands() -> None:
    for factor in FACTORS:
        assert factor.reason and factor.name_zh and factor.tag in {"C", "S", "U"}
        thresholds = [t for t, _ in factor.bands]
        points = [p for _, p in factor.bands]
        assert thresholds == sorted(thresholds) and points == sorted(points)
        assert all(p > 0 for p in points)


def test_policy_overrides_weights_and_thresholds() -> None:
    policy = load_risk_policy({"weights": {"old_residential": 3}, "thresholds": {"yellow": 2}})
    assert score(RiskInputs(old_residential=True), policy).grade is Y
    off = load_risk_policy({"weights": {"overdue_inspection": 0}})
    assert score(RiskInputs(days_overdue=500), off).grade is B


@pytest.mark.parametrize(
    "mapping",
    [
        [],
        {"colour": 1},
        {"weights": {"nope": 1}},
        {"weights": {"age": -1}},
        {"weights": {"age": True}},
        {"weights": {"age": 11}},
        {"thresholds": {"purple": 1}},
        {"thresholds": {"red": 2}},  # below orange
        {"thresholds": {"red": 0}},
        {"group_share": 0},
        {"group_share": 2},
    ],
)
def test_policy_refuses(mapping: object) -> None:
    with pytest.raises(InvalidValue):
        load_risk_policy(mapping)


def test_group_grade() -> None:
    assert grade_of_group({}) is None
    assert grade_of_group({R: 1}) is R
    assert grade_of_group({B: 95, R: 5}) is B
    assert grade_of_group({B: 85, OR: 5, R: 10}) is R
    assert grade_of_group({B: 90, Y: 5, OR: 5}) is Y
    assert grade_of_group({B: 90, OR: 10}) is OR


_inputs = st.builds(
    RiskInputs,
    age_years=st.floats(0, 80),
    design_life_years=st.none() | st.integers(1, 100),
    days_overdue=st.integers(0, 3000),
    last_conclusion=st.sampled_from([None, "pass", "conditional_pass", "fail"]),
    safety_grade=st.none() | st.integers(1, 5),
    open_general_hazards=st.integers(0, 10),
    open_major_hazards=st.integers(0, 3),
    faults_90_days=st.integers(0, 200),
    entrapments_90_days=st.integers(0, 20),
    category_median_faults=st.floats(0, 50),
    maintenance_days_late=st.integers(0, 400),
    old_residential=st.booleans(),
    hazardous_chemicals=st.booleans(),
    user_unit_bad_share=st.floats(0, 1),
)
_policies = st.builds(
    lambda weights: load_risk_policy({"weights": weights}),
    st.dictionaries(st.sampled_from([f.key for f in FACTORS]), st.floats(0, 10)),
)

_CONCLUSION_WORSE = {None: "conditional_pass", "pass": "conditional_pass"}


def _worse(i: RiskInputs, which: int, step: int) -> RiskInputs:
    """``i`` with one factor made worse by ``step`` (what "worse" means for each)."""
    changes: dict[str, object] = [
        {"age_years": i.age_years + step},
        {"days_overdue": i.days_overdue + step},
        {"last_conclusion": _CONCLUSION_WORSE.get(i.last_conclusion, "fail")},
        {"safety_grade": min(5, (i.safety_grade or 1) + step)},
        {"open_general_hazards": i.open_general_hazards + step},
        {"open_major_hazards": i.open_major_hazards + step},
        {"faults_90_days": i.faults_90_days + step},
        {"entrapments_90_days": i.entrapments_90_days + step},
        {"maintenance_days_late": i.maintenance_days_late + step},
        {"old_residential": True},
        {"hazardous_chemicals": True},
        {"user_unit_bad_share": min(1.0, i.user_unit_bad_share + step / 10)},
    ][which]
    return dataclasses.replace(i, **changes)  # type: ignore[arg-type]


@given(_inputs, st.integers(0, 11), st.integers(1, 400), _policies)
def test_worsening_a_factor_never_lowers_the_grade(
    inputs: RiskInputs, which: int, step: int, policy: object
) -> None:
    assert len(FACTORS) == 12
    before = score(inputs, policy)  # type: ignore[arg-type]
    after = score(_worse(inputs, which, step), policy)  # type: ignore[arg-type]
    assert rank(after.grade) >= rank(before.grade)
    assert after.points >= before.points


@given(_inputs, _policies)
def test_the_compiled_score_equals_the_explained_one(inputs: RiskInputs, policy: object) -> None:
    full = score(inputs, policy)  # type: ignore[arg-type]
    assert compile_policy(policy)(inputs) == (rank(full.grade), full.points)  # type: ignore[arg-type]


@given(_inputs, _policies)
def test_the_stored_explanation_is_the_explained_score(inputs: RiskInputs, policy: object) -> None:
    # What the recompute stores (rank, points, (value, points) per factor), read back
    # through JSON as the unit page does, is score's answer to the last float.
    full = score(inputs, policy)  # type: ignore[arg-type]
    grade, points, pairs = compile_explained(policy)(inputs)  # type: ignore[arg-type]
    assert (grade, points) == (rank(full.grade), full.points)
    assert pairs == tuple((c.value, c.points) for c in full.factors)
    stored = json.loads(json.dumps(pairs))
    assert result_of(grade, points, stored) == full


def test_a_stored_explanation_that_does_not_fit_the_table_is_refused() -> None:
    pairs = [[0.0, 0.0]] * len(FACTORS)
    assert result_of(0, 0.0, pairs) is not None
    assert result_of(0, 0.0, pairs[:-1]) is None  # a factor added since it was stored
    assert result_of(0, 0.0, [*pairs[:-1], [0.0]]) is None
    assert result_of(4, 0.0, pairs) is None


@given(_inputs, _policies)
def test_a_major_hazard_is_always_red(inputs: RiskInputs, policy: object) -> None:
    result = score(dataclasses.replace(inputs, open_major_hazards=1), policy)  # type: ignore[arg-type]
    assert result.grade is R and result.forced


@given(
    st.dictionaries(st.sampled_from(list(RiskGrade)), st.integers(0, 50)),
    st.sampled_from(list(RiskGrade)),
)
def test_group_grade_is_monotone(counts: dict[RiskGrade, int], worse: RiskGrade) -> None:
    # Moving one unit from blue to a worse grade never lowers the group's grade.
    if counts.get(B, 0) == 0:
        return
    before = grade_of_group(counts, DEFAULT_RISK_POLICY)
    moved = {**counts, B: counts[B] - 1, worse: counts.get(worse, 0) + 1}
    after = grade_of_group(moved, DEFAULT_RISK_POLICY)
    assert before is not None and after is not None
    assert rank(after) >= rank(before)


def test_docs_risk_md_is_current() -> None:
    from pathlib import Path

    from equipment.domain.risk_document import render

    path = Path(__file__).resolve().parents[2] / "docs" / "risk.md"
    assert path.read_text(encoding="utf-8") == render(), "run `sereg risk doc`"
