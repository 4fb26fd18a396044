"""The risk grade (风险分级) of a unit: 红 / 橙 / 黄 / 蓝 from a table of factors.

Pure and table-driven. Each factor of :data:`FACTORS` reads one value from a unit's
:class:`RiskInputs` (larger is always worse), turns it into points by its bands (the
highest band the value reaches) and multiplies them by its weight; the grade is the
highest grade whose threshold the sum reaches, and an open major hazard (重大事故隐患,
GB 45067-2024) forces 红 whatever the sum. The answer is explained: every factor with
its value and points.

No regulation sets these numbers: the plan asks for risk grading (分级管控) and names
what matters (old residential areas, hazardous chemicals, hazards, overdue inspection),
but weights and thresholds are the bureau's judgement, so every row is tagged [U] and
the weights and grade thresholds are overridable by the rules policy file's ``risk``
section (:func:`load_risk_policy`). Monotone by construction: values never fall as a
unit gets worse, band points never fall as a value rises, weights are never negative;
tests/unit/test_risk.py holds it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from equipment.domain.errors import InvalidValue

__all__ = [
    "DEFAULT_RISK_POLICY",
    "FACTORS",
    "GRADE_ORDER",
    "Contribution",
    "Factor",
    "RiskGrade",
    "RiskInputs",
    "RiskPolicy",
    "RiskResult",
    "compile_explained",
    "grade_of_group",
    "load_risk_policy",
    "rank",
    "result_of",
    "score",
]


class RiskGrade(StrEnum):
    BLUE = "blue"  # 蓝: low
    YELLOW = "yellow"  # 黄: moderate
    ORANGE = "orange"  # 橙: high
    RED = "red"  # 红: major


GRADE_ORDER: Final = (RiskGrade.BLUE, RiskGrade.YELLOW, RiskGrade.ORANGE, RiskGrade.RED)
GRADE_ZH: Final = MappingProxyType(
    {RiskGrade.BLUE: "蓝", RiskGrade.YELLOW: "黄", RiskGrade.ORANGE: "橙", RiskGrade.RED: "红"}
)


def rank(grade: RiskGrade) -> int:
    """0 (蓝) to 3 (红): the order lists sort by."""
    return GRADE_ORDER.index(grade)


@dataclass(frozen=True, slots=True)
class RiskInputs:
    """What the register holds about one unit, as plain values (storage gathers them)."""

    age_years: float = 0.0  # since commissioning (else manufacture)
    design_life_years: int | None = None  # the unit's design_service_life_years, if stated
    days_overdue: int = 0  # periodic inspection past due, days (0: not overdue)
    last_conclusion: str | None = None  # pass | conditional_pass | fail (rules.CONCLUSIONS)
    safety_grade: int | None = None  # the last report's safety grade, 1 (best) to 5
    open_general_hazards: int = 0
    open_major_hazards: int = 0
    faults_90_days: int = 0  # fault alarms raised in the last 90 days (IoT)
    entrapments_90_days: int = 0  # entrapment alarms raised in the last 90 days
    category_median_faults: float = 0.0  # the median of faults_90_days in its category
    maintenance_days_late: int = 0  # days past the maintenance due date (0: on time)
    old_residential: bool = False  # in an old residential area (老旧小区)
    hazardous_chemicals: bool = False  # its user unit handles hazardous chemicals (危化品相关)
    user_unit_bad_share: float = 0.0  # share of the user unit's units overdue or hazardous


# How bad each conclusion is (larger worse): the last report's verdict.
CONCLUSION_SEVERITY: Final = MappingProxyType({"pass": 0, "conditional_pass": 1, "fail": 2})
# Without a stated design life, the age is measured against this many years: the rules
# make a lift over 15 years old inspected every year (TSG T7001-2023, docs/rules.md).
DEFAULT_LIFE_YEARS: Final = 15


def _life_ratio(i: RiskInputs) -> float:
    life = i.design_life_years or DEFAULT_LIFE_YEARS
    return round(max(i.age_years, 0.0) / life, 3)


def _fault_ratio(i: RiskInputs) -> float:
    # Against the category's median, floored at one fault: a category whose median is
    # zero would otherwise make any single fault infinitely worse.
    return round(max(i.faults_90_days, 0) / max(i.category_median_faults, 1.0), 3)


@dataclass(frozen=True, slots=True)
class Factor:
    """One row of the table: how a value is read, its bands of points, and why."""

    key: str
    name_zh: str
    name_en: str
    unit: str  # what the value counts, in words
    value: Callable[[RiskInputs], float]
    # (threshold, points), ascending in both: a value at or above a threshold earns its
    # points (the highest band reached).
    bands: tuple[tuple[float, int], ...]
    reason: str
    tag: str = "U"

    def points(self, value: float) -> int:
        earned = 0
        for threshold, points in self.bands:
            if value >= threshold:
                earned = points
        return earned


FACTORS: Final[tuple[Factor, ...]] = (
    Factor(
        "age",
        "使用年限",
        "age against design life",
        "age / design life (15 years when none is stated)",
        _life_ratio,
        ((0.8, 1), (1.0, 3), (1.2, 4)),
        "Wear grows with age; past its design life a unit stays in use only after a change "
        "registration (TSG 08-2017), and lifts over 15 years are inspected yearly.",
    ),
    Factor(
        "overdue_inspection",
        "定期检验超期",
        "periodic inspection overdue",
        "days past the due date",
        lambda i: float(max(i.days_overdue, 0)),
        ((1, 3), (90, 4), (365, 6)),
        "A unit past its periodic inspection is used unchecked (应检必检); the longer, "
        "the less anyone knows of its state.",
    ),
    Factor(
        "last_conclusion",
        "上次检验结论",
        "last inspection conclusion",
        "0 pass, 1 conditional pass, 2 fail",
        lambda i: float(CONCLUSION_SEVERITY.get(i.last_conclusion or "pass", 0)),
        ((1, 2), (2, 6)),
        "A failed or conditionally passed inspection found defects; until a later "
        "inspection passes, they may still be there.",
    ),
    Factor(
        "safety_grade",
        "安全状况等级",
        "safety grade",
        "the report's grade, 1 (best) to 5",
        lambda i: float(i.safety_grade or 0),
        ((3, 1), (4, 3), (5, 6)),
        "Pressure equipment reports grade its safety 1 to 5; grade 4 is used under "
        "monitoring, grade 5 must not be used (TSG 21-2016).",
    ),
    Factor(
        "open_hazards",
        "未整改一般隐患",
        "open general hazards",
        "count",
        lambda i: float(max(i.open_general_hazards, 0)),
        ((1, 2), (3, 4)),
        "A hazard found and not yet verified closed is a known way for the unit to fail.",
    ),
    Factor(
        "major_hazard",
        "重大事故隐患",
        "open major accident hazards",
        "count",
        lambda i: float(max(i.open_major_hazards, 0)),
        ((1, 12),),
        "GB 45067-2024: a major accident hazard makes the unit unfit for use until closed; "
        "it forces 红 whatever the other factors say.",
    ),
    Factor(
        "fault_rate",
        "故障率",
        "faults over 90 days against the category median",
        "faults / category median (at least 1)",
        _fault_ratio,
        ((2, 1), (4, 2), (8, 3)),
        "IoT faults well above what units of the same category show point at a unit "
        "wearing out or badly maintained.",
    ),
    Factor(
        "entrapments",
        "困人",
        "entrapments over 90 days",
        "count",
        lambda i: float(max(i.entrapments_90_days, 0)),
        ((1, 2), (3, 4)),
        "Each entrapment is harm done to a person; repeats mean the cause was not found.",
    ),
    Factor(
        "maintenance_late",
        "维保超期",
        "maintenance overdue",
        "days past the maintenance due date",
        lambda i: float(max(i.maintenance_days_late, 0)),
        ((1, 1), (15, 2), (30, 3)),
        "Lifts are maintained at least every 15 days (TSG T5002-2017); late maintenance "
        "leaves wear unchecked.",
    ),
    Factor(
        "old_residential",
        "老旧小区",
        "in an old residential area",
        "1 yes, 0 no",
        lambda i: 1.0 if i.old_residential else 0.0,
        ((1, 1),),
        "The city plan puts lifts of old residential areas (老旧小区) first: old lifts, "
        "weak property management, many elderly riders.",
    ),
    Factor(
        "hazardous_chemicals",
        "危化品相关",
        "hazardous-chemical site",
        "1 yes, 0 no",
        lambda i: 1.0 if i.hazardous_chemicals else 0.0,
        ((1, 3),),
        "The plan puts equipment tied to hazardous chemicals first: a failure there "
        "becomes a fire, an explosion or a release.",
    ),
    Factor(
        "user_unit_record",
        "使用单位状况",
        "the user unit's own record",
        "share of its units overdue or with open hazards",
        lambda i: round(min(max(i.user_unit_bad_share, 0.0), 1.0), 3),
        ((0.1, 1), (0.3, 2)),
        "A user unit that lets many of its units lapse (使用单位主体责任, SAMR Order 74) "
        "likely lets this one lapse too.",
    ),
)

FACTOR_KEYS: Final = tuple(f.key for f in FACTORS)


@dataclass(frozen=True, slots=True)
class RiskPolicy:
    """Weights per factor and the points at which each grade starts."""

    weights: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({key: 1.0 for key in FACTOR_KEYS})
    )
    # Points at which yellow, orange and red start (blue below yellow).
    thresholds: Mapping[RiskGrade, float] = field(
        default_factory=lambda: MappingProxyType(
            {RiskGrade.YELLOW: 3.0, RiskGrade.ORANGE: 7.0, RiskGrade.RED: 12.0}
        )
    )
    # A user unit or an area takes the worst grade held by at least this share of its
    # units (a single unit: its own grade).
    group_share: float = 0.1


DEFAULT_RISK_POLICY: Final = RiskPolicy()


@dataclass(frozen=True, slots=True)
class Contribution:
    factor: str
    value: float
    points: float


@dataclass(frozen=True, slots=True)
class RiskResult:
    grade: RiskGrade
    points: float
    forced: bool  # a major hazard forced 红
    factors: tuple[Contribution, ...]


def _grade_for(points: float, policy: RiskPolicy) -> RiskGrade:
    found = RiskGrade.BLUE
    for grade in GRADE_ORDER[1:]:
        if points >= policy.thresholds[grade]:
            found = grade
    return found


def score(inputs: RiskInputs, policy: RiskPolicy = DEFAULT_RISK_POLICY) -> RiskResult:
    """The unit's grade, points and every factor's value and points."""
    contributions = []
    total = 0.0
    for factor in FACTORS:
        value = factor.value(inputs)
        points = round(factor.points(value) * policy.weights.get(factor.key, 1.0), 3)
        total += points
        contributions.append(Contribution(factor.key, value, points))
    total = round(total, 3)
    forced = inputs.open_major_hazards > 0
    grade = RiskGrade.RED if forced else _grade_for(total, policy)
    return RiskResult(grade, total, forced, tuple(contributions))


def compile_policy(
    policy: RiskPolicy = DEFAULT_RISK_POLICY,
) -> Callable[[RiskInputs], tuple[int, float]]:
    """``score`` without its explanation, for the whole-register recompute: the grade's
    rank and the points, equal to ``score``'s (tests/unit/test_risk.py holds it), with
    nothing allocated per factor."""
    factors = tuple(
        (
            f.value,
            tuple(t for t, _ in f.bands),
            tuple(round(p * policy.weights.get(f.key, 1.0), 3) for _, p in f.bands),
        )
        for f in FACTORS
    )
    starts = tuple(policy.thresholds[g] for g in GRADE_ORDER[1:])

    def fast(inputs: RiskInputs) -> tuple[int, float]:
        total = 0.0
        for value_of, thresholds, weighted in factors:
            i = bisect_right(thresholds, value_of(inputs))
            if i:
                total += weighted[i - 1]
        total = round(total, 3)
        if inputs.open_major_hazards > 0:
            return 3, total
        return bisect_right(starts, total), total

    return fast


def compile_explained(
    policy: RiskPolicy = DEFAULT_RISK_POLICY,
) -> Callable[[RiskInputs], tuple[int, float, tuple[tuple[float, float], ...]]]:
    """``score`` for the whole-register recompute, with its explanation kept as plain
    pairs: the grade's rank, the points, and each factor's (value, points) in the order of
    :data:`FACTORS`; equal to ``score``'s (tests/unit/test_risk.py holds it). The
    recompute stores the pairs so that reading a unit's explanation computes nothing."""
    factors = tuple(
        (
            f.value,
            tuple(t for t, _ in f.bands),
            (0.0, *(round(p * policy.weights.get(f.key, 1.0), 3) for _, p in f.bands)),
        )
        for f in FACTORS
    )
    starts = tuple(policy.thresholds[g] for g in GRADE_ORDER[1:])

    def fast(inputs: RiskInputs) -> tuple[int, float, tuple[tuple[float, float], ...]]:
        pairs = []
        total = 0.0
        for value_of, thresholds, weighted in factors:
            value = value_of(inputs)
            points = weighted[bisect_right(thresholds, value)]
            total += points
            pairs.append((value, points))
        total = round(total, 3)
        grade = 3 if inputs.open_major_hazards > 0 else bisect_right(starts, total)
        return grade, total, tuple(pairs)

    return fast


def result_of(rank_: int, points: float, pairs: Sequence[Sequence[float]]) -> RiskResult | None:
    """A stored grade back as ``score``'s answer: its rank, points and the (value, points)
    pairs of :func:`compile_explained`; None when the pairs do not fit today's table (a
    factor added or removed since they were stored)."""
    if len(pairs) != len(FACTORS) or not 0 <= rank_ < len(GRADE_ORDER):
        return None
    contributions = []
    for factor, pair in zip(FACTORS, pairs, strict=True):
        if len(pair) != 2:
            return None
        contributions.append(Contribution(factor.key, float(pair[0]), float(pair[1])))
    major = next(c for c in contributions if c.factor == "major_hazard")
    return RiskResult(GRADE_ORDER[rank_], float(points), major.value > 0, tuple(contributions))


def grade_of_group(
    counts: Mapping[RiskGrade, int], policy: RiskPolicy = DEFAULT_RISK_POLICY
) -> RiskGrade | None:
    """A user unit's or an area's grade from how many of its units hold each grade: the
    worst grade that, with the grades worse than it, covers ``group_share`` of the units.
    None for a group with no graded unit."""
    total = sum(max(n, 0) for n in counts.values())
    if total == 0:
        return None
    at_or_worse = 0
    for grade in reversed(GRADE_ORDER):
        at_or_worse += max(counts.get(grade, 0), 0)
        if at_or_worse >= policy.group_share * total:
            return grade
    return RiskGrade.BLUE


_MAX_WEIGHT: Final = 10.0
_TOP_KEYS: Final = frozenset({"weights", "thresholds", "group_share"})


def load_risk_policy(mapping: object) -> RiskPolicy:
    """The ``risk`` section of the rules policy file, e.g.
    ``{"weights": {"old_residential": 2}, "thresholds": {"red": 14}}``; InvalidValue says
    what is wrong. Weights are 0 to 10 (0 switches a factor off; a negative weight would
    let a worse unit get a better grade); thresholds stay ascending yellow < orange < red."""
    if mapping is None:
        return DEFAULT_RISK_POLICY
    if not isinstance(mapping, Mapping):
        raise InvalidValue("risk is a mapping of weights and thresholds", field="risk")
    unknown = set(mapping) - _TOP_KEYS
    if unknown:
        raise InvalidValue(
            f"unknown risk keys {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}", field="risk"
        )
    weights = dict(DEFAULT_RISK_POLICY.weights)
    given = mapping.get("weights", {})
    if not isinstance(given, Mapping):
        raise InvalidValue("risk.weights maps a factor to a number", field="risk.weights")
    for key, weight in given.items():
        where = f"risk.weights.{key}"
        if key not in weights:
            raise InvalidValue(
                f"{where}: no factor has this key; one of {FACTOR_KEYS}", field=where
            )
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise InvalidValue(f"{where}: a number from 0 to {_MAX_WEIGHT:g}", field=where)
        if not 0 <= weight <= _MAX_WEIGHT:
            raise InvalidValue(f"{where}: a number from 0 to {_MAX_WEIGHT:g}", field=where)
        weights[key] = float(weight)
    thresholds = dict(DEFAULT_RISK_POLICY.thresholds)
    given_thresholds = mapping.get("thresholds", {})
    if not isinstance(given_thresholds, Mapping):
        raise InvalidValue("risk.thresholds maps a grade to points", field="risk.thresholds")
    for name, points in given_thresholds.items():
        where = f"risk.thresholds.{name}"
        if name not in {"yellow", "orange", "red"}:
            raise InvalidValue(f"{where}: one of yellow, orange, red", field=where)
        if isinstance(points, bool) or not isinstance(points, int | float) or points <= 0:
            raise InvalidValue(f"{where}: a positive number of points", field=where)
        thresholds[RiskGrade(name)] = float(points)
    if not (
        thresholds[RiskGrade.YELLOW] < thresholds[RiskGrade.ORANGE] < thresholds[RiskGrade.RED]
    ):
        raise InvalidValue(
            "risk.thresholds: yellow < orange < red is required", field="risk.thresholds"
        )
    share = mapping.get("group_share", DEFAULT_RISK_POLICY.group_share)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
        raise InvalidValue("risk.group_share: a share above 0, at most 1", field="risk.group_share")
    return RiskPolicy(MappingProxyType(weights), MappingProxyType(thresholds), float(share))
