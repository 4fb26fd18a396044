"""Credit and risk classes of enterprises (信用风险分类), A (best) to D (worst).

The city plan ties random inspections to credit grading (「双随机、一公开与信用等级相结合」)
and on-demand maintenance refuses a maintenance company graded C or below
(lift.maintenance.on_demand.eligibility). Neither the plan nor the regulations quoted in
docs/rules.md give the scoring itself: **every number in :data:`DEFAULT_TABLE` is sereg's
default, unverified [U]** — :func:`table_from_policy` builds a bureau's table over it (not
yet wired to a setting), and each row names what it measures so an inspector can argue
with it.

How a class is computed, factor by factor (:func:`assess`):

1. each factor of the enterprise's kind measures one thing over the look-back window (a
   count, or a count per 100 of its exposure — units in its charge, fills, entrapments);
2. the factor's bands turn the measure into penalty points (the highest band reached);
3. the points' sum picks the class from :data:`ClassTable.class_bounds`;
4. floors make the class at least as bad as a named condition (an enterprise with no
   history at all is B, not A; an overdue major hazard is at least C...).

Monotone by construction: a band's points never fall as its measure rises, each measure
is non-decreasing in its bad count (the exposure held), the sum and the class bounds are
monotone, and the floors' conditions only ever switch on as counts rise. So a worse record
never gives a better class (tests/unit/test_credit.py checks it over random records).

A manual override (with a reason, audited) replaces the computed class; the hand-set
supervision class of old registers became such an override with the reason "imported".

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum

from equipment.domain.errors import InvalidValue
from equipment.i18n import N_

CLASSES = ("A", "B", "C", "D")  # best to worst
# Each row's source. No regulation quoted in docs/rules.md gives a scoring, so the bands
# and points are sereg's own; a row whose *measure* rests on a rule names that rule.
SEREG_DEFAULT = "sereg default [U]"
NO_FIGURE = "; no regulatory figure for the points: sereg default [U]"
MAX_OVERRIDE_REASON = 500


class EnterpriseKind(StrEnum):
    USER_UNIT = "user_unit"  # 使用单位
    MAINTENANCE_COMPANY = "maintenance_company"  # 维保单位
    FILLING_STATION = "filling_station"  # 充装单位
    MANUFACTURER = "manufacturer"  # 生产单位: 制造
    INSTALLER = "installer"  # 生产单位: 安装、改造、修理


@dataclass(frozen=True)
class CreditRecord:
    """What the register knows of one enterprise over the look-back window.

    Exposures (``units``, ``fills``, ``entrapments``) are the denominators; every other
    field is a *bad* count: more of it is a worse record.
    """

    units: int = 0  # units in its charge (used / maintained / owned cylinders / made)
    fills: int = 0  # fills recorded (stations)
    entrapments: int = 0  # entrapment alarms on its lifts (maintenance companies)
    overdue_inspections: int = 0  # units past their statutory inspection date today
    overdue_maintenance: int = 0  # lifts past their 15-day maintenance
    failed_inspections: int = 0  # inspection reports concluding fail in the window
    hazards: int = 0  # hazards listed in the window
    major_hazards: int = 0  # of which major (GB 45067-2024)
    hazards_late: int = 0  # hazards closed after, or still open past, their deadline
    major_hazards_overdue: int = 0  # major hazards open past their deadline today
    refused_fills: int = 0  # fills the interlock refused
    late_arrivals: int = 0  # entrapments reached after the response limit
    complaints_upheld: int = 0  # citizen reports the bureau found true (查实) against it
    violations: int = 0  # penalty decisions, random inspections concluded non-compliant
    no_valid_licence: int = 0  # 1 when no licence of its kind covers today (producers)
    unlicensed_installations: int = 0  # units it installed on a day no licence covered
    annual_reports_missing: int = 0  # past years of the window without its annual report

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise InvalidValue(f"{f.name} cannot be negative", field=f.name)


EXPOSURES = ("units", "fills", "entrapments")
BAD_COUNTS = tuple(f.name for f in fields(CreditRecord) if f.name not in EXPOSURES)


def per_hundred(count: int, exposure: int) -> int:
    """``count`` per 100 of ``exposure``, floored, capped at 100: non-decreasing in
    ``count``. Something bad with no exposure on file counts as the whole of it."""
    if count <= 0:
        return 0
    if exposure <= 0:
        return 100
    return min(100, count * 100 // exposure)


@dataclass(frozen=True)
class Factor:
    """One row of the table: what it measures, for which kinds, and its bands."""

    key: str
    label: str  # catalogue id (English); the pages show it in the reader's language
    count: str  # the CreditRecord field measured
    per: str | None  # exposure field: the measure is per 100 of it; None: a plain count
    kinds: frozenset[EnterpriseKind]
    bands: tuple[tuple[int, int], ...]  # (measure at least, points), ascending
    source: str = SEREG_DEFAULT

    def __post_init__(self) -> None:
        thresholds = [t for t, _ in self.bands]
        points = [p for _, p in self.bands]
        if thresholds != sorted(set(thresholds)) or points != sorted(points):
            raise ValueError(f"factor {self.key}: bands must rise in measure and points")
        if any(p < 0 for p in points):
            raise ValueError(f"factor {self.key}: points cannot be negative")

    def measure(self, record: CreditRecord) -> int:
        count = int(getattr(record, self.count))
        return count if self.per is None else per_hundred(count, int(getattr(record, self.per)))

    def points(self, measure: int) -> int:
        reached = [p for t, p in self.bands if measure >= t]
        return reached[-1] if reached else 0


@dataclass(frozen=True)
class Floor:
    """The class is at least ``at_least`` when ``count`` reaches ``minimum`` (or, for the
    no-history floor, when the enterprise has no exposure at all)."""

    key: str
    label: str
    at_least: str
    count: str | None = None  # None: the no-history floor
    minimum: int = 1
    kinds: frozenset[EnterpriseKind] = frozenset(EnterpriseKind)

    def applies(self, record: CreditRecord) -> bool:
        if self.count is None:
            return all(getattr(record, e) == 0 for e in EXPOSURES)
        return int(getattr(record, self.count)) >= self.minimum


ALL = frozenset(EnterpriseKind)
UU, MC, FS, MF, IN = (
    EnterpriseKind.USER_UNIT,
    EnterpriseKind.MAINTENANCE_COMPANY,
    EnterpriseKind.FILLING_STATION,
    EnterpriseKind.MANUFACTURER,
    EnterpriseKind.INSTALLER,
)
PRODUCERS = frozenset({MF, IN})


@dataclass(frozen=True)
class ClassTable:
    factors: tuple[Factor, ...]
    floors: tuple[Floor, ...]
    # Points below bounds[0] → A, below bounds[1] → B, below bounds[2] → C, else D.
    class_bounds: tuple[int, int, int] = (10, 25, 50)
    window_days: int = 365
    name: str = "sereg default"

    def __post_init__(self) -> None:
        a, b, c = self.class_bounds
        if not 0 < a < b < c:
            raise ValueError("class bounds must rise: A < B < C")


DEFAULT_TABLE = ClassTable(
    factors=(
        Factor(
            "overdue_inspections",
            N_("Units past their statutory inspection (per 100 units)"),
            "overdue_inspections",
            "units",
            frozenset({UU, FS}),
            ((1, 5), (5, 15), (15, 30)),
        ),
        Factor(
            "overdue_maintenance",
            N_("Lifts past their 15-day maintenance (per 100 lifts)"),
            "overdue_maintenance",
            "units",
            frozenset({UU, MC}),
            ((1, 5), (5, 15), (15, 30)),
        ),
        Factor(
            "failed_inspections",
            N_("Inspections concluding fail (per 100 units)"),
            "failed_inspections",
            "units",
            frozenset({UU, MC, MF, IN}),
            ((1, 5), (5, 15), (10, 25)),
        ),
        Factor(
            "major_hazards",
            N_("Major accident hazards listed"),
            "major_hazards",
            None,
            frozenset({UU, MC, FS}),
            ((1, 10), (3, 25)),
        ),
        Factor(
            "hazards_late",
            N_("Hazards closed late or open past their deadline"),
            "hazards_late",
            None,
            frozenset({UU, MC, FS}),
            ((1, 5), (3, 12), (10, 25)),
        ),
        Factor(
            "refused_fills",
            N_("Fills refused by the interlock (per 100 fills)"),
            "refused_fills",
            "fills",
            frozenset({FS}),
            ((1, 5), (3, 15), (10, 30)),
        ),
        Factor(
            "late_arrivals",
            N_("Entrapments reached late (per 100 entrapments)"),
            "late_arrivals",
            "entrapments",
            frozenset({MC}),
            ((1, 5), (10, 15), (25, 30)),
        ),
        Factor(
            "complaints_upheld",
            N_("Citizen reports upheld against it"),
            "complaints_upheld",
            None,
            ALL,
            ((1, 3), (3, 10), (10, 20)),
            "citizen reports the bureau found true (查实)" + NO_FIGURE,
        ),
        Factor(
            "violations",
            N_("Violations recorded (penalty decisions, inspections not compliant)"),
            "violations",
            None,
            ALL,
            ((1, 15), (2, 30), (4, 50)),
            "administrative penalty decisions and random inspections (双随机) concluded"
            " non-compliant" + NO_FIGURE,
        ),
        Factor(
            "no_valid_licence",
            N_("No valid licence today"),
            "no_valid_licence",
            None,
            PRODUCERS,
            ((1, 30),),
            "post-licence supervision (证后监管) of the city plan 2022-2025 [C]" + NO_FIGURE,
        ),
        Factor(
            "unlicensed_installations",
            N_("Units installed without a valid licence"),
            "unlicensed_installations",
            None,
            frozenset({IN}),
            ((1, 15), (3, 30)),
            "post-licence supervision (证后监管) of the city plan 2022-2025 [C]" + NO_FIGURE,
        ),
        Factor(
            "annual_reports_missing",
            N_("Annual reports missing"),
            "annual_reports_missing",
            None,
            frozenset({MF}),
            ((1, 10), (2, 25)),
            "「特种设备生产企业100%年报」, the city plan 2022-2025 [C]" + NO_FIGURE,
        ),
    ),
    floors=(
        Floor("no_history", N_("No record in the window yet"), "B"),
        Floor(
            "major_hazard_overdue",
            N_("A major hazard is open past its deadline"),
            "C",
            "major_hazards_overdue",
        ),
        Floor("repeated_violations", N_("Three or more violations recorded"), "D", "violations", 3),
        Floor(
            "unlicensed",
            N_("Producing without a valid licence"),
            "C",
            "no_valid_licence",
            kinds=PRODUCERS,
        ),
    ),
)


def worse(a: str, b: str) -> str:
    return a if CLASSES.index(a) >= CLASSES.index(b) else b


@dataclass(frozen=True)
class FactorScore:
    key: str
    label: str
    measure: int
    points: int
    source: str


@dataclass(frozen=True)
class Assessment:
    kind: EnterpriseKind
    klass: str
    points: int
    factors: tuple[FactorScore, ...]
    floors: tuple[str, ...] = field(default=())  # keys of the floors that applied
    table: str = DEFAULT_TABLE.name

    def as_json(self) -> dict[str, object]:
        return {
            "class": self.klass,
            "points": self.points,
            "table": self.table,
            "factors": [
                {"key": f.key, "measure": f.measure, "points": f.points, "source": f.source}
                for f in self.factors
            ],
            "floors": list(self.floors),
        }


def class_of_points(points: int, bounds: Sequence[int]) -> str:
    for klass, bound in zip(CLASSES, bounds, strict=False):
        if points < bound:
            return klass
    return CLASSES[-1]


def assess(
    kind: EnterpriseKind, record: CreditRecord, table: ClassTable = DEFAULT_TABLE
) -> Assessment:
    """The enterprise's computed class, explained factor by factor."""
    scores = tuple(
        FactorScore(f.key, f.label, (m := f.measure(record)), f.points(m), f.source)
        for f in table.factors
        if kind in f.kinds
    )
    points = sum(s.points for s in scores)
    klass = class_of_points(points, table.class_bounds)
    applied = []
    for floor in table.floors:
        if kind in floor.kinds and floor.applies(record):
            applied.append(floor.key)
            klass = worse(klass, floor.at_least)
    return Assessment(kind, klass, points, scores, tuple(applied), table.name)


def check_override(klass: str, reason: str) -> tuple[str, str]:
    """A manual override: one of A-D and a reason (both required)."""
    klass = klass.strip().upper()
    if klass not in CLASSES:
        raise InvalidValue(f"a class is one of {', '.join(CLASSES)}", field="class")
    reason = reason.strip()
    if not reason:
        raise InvalidValue("an override needs a reason", field="reason")
    if len(reason) > MAX_OVERRIDE_REASON:
        raise InvalidValue(
            f"a reason holds at most {MAX_OVERRIDE_REASON} characters", field="reason"
        )
    return klass, reason


def effective_class(computed: str | None, override: str | None) -> str | None:
    """The class in force: the override when there is one, else the computed class."""
    return override if override is not None else computed


def table_from_policy(data: Mapping[str, object], base: ClassTable = DEFAULT_TABLE) -> ClassTable:
    """A bureau's table: ``{"class_bounds": [10, 25, 50], "window_days": 365, "bands":
    {"violations": [[1, 15], [2, 30]]}, "name": "襄阳 2026"}`` over ``base``."""
    bands = data.get("bands", {})
    if not isinstance(bands, Mapping):
        raise ValueError("bands is an object of factor key → [[measure, points], ...]")
    known = {f.key for f in base.factors}
    unknown = set(bands) - known
    if unknown:
        raise ValueError(f"unknown credit factors: {', '.join(sorted(unknown))}")
    factors = tuple(
        Factor(
            f.key,
            f.label,
            f.count,
            f.per,
            f.kinds,
            tuple((int(t), int(p)) for t, p in bands[f.key]),
            f"{data.get('name', 'bureau policy')}",
        )
        if f.key in bands
        else f
        for f in base.factors
    )
    raw_bounds = data.get("class_bounds", base.class_bounds)
    if not isinstance(raw_bounds, Sequence) or len(raw_bounds) != 3:
        raise ValueError("class_bounds is three rising numbers")
    bounds = (int(raw_bounds[0]), int(raw_bounds[1]), int(raw_bounds[2]))
    window = data.get("window_days", base.window_days)
    return ClassTable(
        factors,
        base.floors,
        bounds,
        int(window) if isinstance(window, int) else base.window_days,
        str(data.get("name", base.name)),
    )
