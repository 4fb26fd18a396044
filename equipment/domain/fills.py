"""May this station fill this cylinder with this gas? The fill verdict (TSG 23-2021).

A verdict is a two-digit code and the reasons behind it. Codes 00-09 are the answer
codes filling-scale interlocks already use in the field (docs/rules.md, "Fill verdict codes" [S]),
so a scale wired to sereg needs no new mapping; 10-19 are sereg's own, one per rule
that the field codes cannot express, and 20 on are the refusals of the corrected rules
(a new cylinder not purged or evacuated before its first fill, people inside the
vehicle, a vehicle registration that does not match). Each row of :data:`CODE_TABLE`
names its source. An entrusted (托管) cylinder is filled as the station's own: code 00
with the reason ``entrusted``.

The rules (TSG 23-2021, GB 45067-2024; docs/rules.md lists each with its source):

- a station refuses a cylinder that is not on file or not registered, is not its own
  property (vehicle cylinders excepted; a joint-operation agreement allows it, code 09),
  is overdue for periodic inspection, failed its last inspection, is past its service
  life, scrapped or cancelled (TSG 23-2021 [C]/[S]);
- filling with a medium other than the cylinder's own is a major accident hazard, and so
  is filling without a licence (GB 45067-2024, 5.5.2 for the wrong medium [S]);
- LPG is filled to at most about 0.42 kg per litre of water capacity, each cylinder is
  re-weighed and leak-checked after filling, and no over-filled cylinder leaves [S];
- traceability (one cylinder, one code; TSG 23-2021 amendment 1 [C]): a label seen at
  two stations faster than a vehicle could travel, a refill minutes after the last one,
  or a record that cannot have happened is flagged as suspicious (sereg).

Every finding is collected, not just the first, so an inspector sees the whole picture;
the reasons are then ordered by :data:`_PRIORITY` and the first refusing one is the
verdict's code. Only a missing cylinder record (07) or a non-cylinder (18) stops the
judgement early, because nothing else about the unit can then be trusted.

The module is pure: the clock never is read here. Time-related facts come in as
arguments, and dates (due date, licence, service life) are compared as calendar days in
China time (``FillPolicy.local_tz``), the calendar they are written in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final

from equipment.domain.errors import InvalidValue
from equipment.domain.lifecycle import Status
from equipment.domain.rules.gases import components
from equipment.i18n.spoken import speak_default

__all__ = [
    "ALLOWED",
    "CODE_TABLE",
    "DEFAULT_FILL_POLICY",
    "ENTRUSTED_REASON",
    "CodeRow",
    "CylinderFacts",
    "FillAttempt",
    "FillPolicy",
    "FillVerdict",
    "Measure",
    "PreviousFill",
    "Reason",
    "StationFacts",
    "VerdictCode",
    "check_fitness",
    "check_licence",
    "check_measurements",
    "check_medium",
    "check_possible_mass",
    "check_record_times",
    "check_registration",
    "check_reported",
    "check_traceability",
    "code_row",
    "fill_state_time",
    "judge_fill",
    "max_lpg_fill_kg",
    "measure_for",
    "priority",
    "retrace",
    "same_vehicle",
    "verdict_label",
]


class VerdictCode(StrEnum):
    OK = "00"
    NO_INFORMATION = "01"
    FAILED_INSPECTION = "02"
    NOT_ACTIVATED = "03"
    OVERDUE_INSPECTION = "04"
    SCRAPPED = "05"
    CANCELLED = "06"
    NOT_ON_FILE = "07"
    NOT_OWN_PROPERTY = "08"
    JOINT_OPERATION = "09"
    # sereg's own
    WRONG_MEDIUM = "10"
    OVER_FILLED = "11"
    PAST_SERVICE_LIFE = "12"
    PRE_CHECK_FAILED = "13"
    POST_CHECK_FAILED = "14"
    STATION_LICENCE_INVALID = "15"
    REFILLED_TOO_SOON = "16"
    CLONED_IDENTIFICATION = "17"
    NOT_A_CYLINDER = "18"
    IMPOSSIBLE_FILL = "19"
    # refusals of the corrected gas-cylinder rules (issue 25), numbered from 20
    NOT_PURGED = "20"
    PEOPLE_IN_VEHICLE = "21"
    VEHICLE_MISMATCH = "22"


@dataclass(frozen=True, slots=True)
class CodeRow:
    """One verdict code: its name (alarm kind ``fill_<name>``), meaning and source."""

    code: VerdictCode
    name: str
    summary: str
    source: str
    refuses: bool
    suspicious: bool


_CYLINDERS: Final = "gas-cylinder filling rules"
_FIELD: Final = "[S] filling-scale interlock codes used in the field"
_TSG23: Final = f"TSG 23-2021 ({_CYLINDERS})"
_TRACE: Final = "traceability, 一瓶一码 (TSG 23-2021 amendment 1) [C]"


def _field(code: str, rule: str) -> str:
    return f"{rule}; code {code}: {_FIELD} ({_CYLINDERS})"


def _sereg(rule: str) -> str:
    return f"sereg, enforcing {rule}"


def _row(
    code: VerdictCode,
    name: str,
    summary: str,
    source: str,
    *,
    refuses: bool = True,
    suspicious: bool = False,
) -> CodeRow:
    return CodeRow(code, name, summary, source, refuses, suspicious)


_C = VerdictCode
CODE_TABLE: Final[tuple[CodeRow, ...]] = (
    _row(
        _C.OK, "ok", "正常: the cylinder may be filled", f"{_FIELD} ({_CYLINDERS})", refuses=False
    ),
    _row(
        _C.NO_INFORMATION,
        "no_information",
        "无信息: the register lacks a fact the judgement needs",
        _field("01", f"{_TSG23} [C]: a station refuses what it cannot check"),
    ),
    _row(
        _C.FAILED_INSPECTION,
        "failed_inspection",
        "检验不合格: the latest periodic inspection failed",
        _field("02", f"{_TSG23} [C]"),
    ),
    _row(
        _C.NOT_ACTIVATED,
        "not_activated",
        "未激活: the cylinder is not registered (or its use is suspended)",
        _field("03", f"{_TSG23} [C]"),
    ),
    _row(
        _C.OVERDUE_INSPECTION,
        "overdue_inspection",
        "超期未检: overdue for periodic inspection",
        _field("04", f"{_TSG23} [C]"),
    ),
    _row(
        _C.SCRAPPED, "scrapped", "已报废: the cylinder is scrapped", _field("05", f"{_TSG23} [C]")
    ),
    _row(
        _C.CANCELLED,
        "cancelled",
        "已注销: the cylinder's registration is cancelled",
        _field("06", f"{_TSG23} [C]"),
    ),
    _row(
        _C.NOT_ON_FILE,
        "not_on_file",
        "未建档: no cylinder with this code is on file",
        _field("07", f"{_TSG23} [C]: not registered or no electronic identification"),
    ),
    _row(
        _C.NOT_OWN_PROPERTY,
        "not_own_property",
        "非自有产权: not the station's own cylinder (vehicle cylinders excepted)",
        _field("08", f"{_TSG23} [C]/[S]"),
    ),
    _row(
        _C.JOINT_OPERATION,
        "joint_operation",
        "联营: another owner's cylinder, filled under a joint-operation agreement",
        f"{_FIELD} ({_CYLINDERS})",
        refuses=False,
    ),
    _row(
        _C.WRONG_MEDIUM,
        "wrong_medium",
        "错装介质: a medium other than the cylinder's own",
        _sereg(f"GB 45067-2024 5.5.2 ({_CYLINDERS}) [S]: wrong medium is a major accident hazard"),
    ),
    _row(
        _C.OVER_FILLED,
        "over_filled",
        "过量充装: filled beyond the allowed mass or working pressure",
        _sereg(
            f"LPG at most ≈ 0.42 kg per litre of water capacity; no over-filled cylinder "
            f"leaves ({_CYLINDERS}) [S]"
        ),
    ),
    _row(
        _C.PAST_SERVICE_LIFE,
        "past_service_life",
        "超过设计使用年限: past its service life",
        _sereg(f"{_TSG23} [S]: a cylinder past its service life is scrapped"),
    ),
    _row(
        _C.PRE_CHECK_FAILED,
        "pre_check_failed",
        "充装前检查不合格: the pre-fill check failed",
        _sereg(
            f"{_TSG23} [C]/[S]: refuse a damaged cylinder, missing valve or accessories, "
            "no residual pressure, oil on an oxidising-gas cylinder"
        ),
    ),
    _row(
        _C.POST_CHECK_FAILED,
        "post_check_failed",
        "充装后检查不合格: the post-fill re-weigh or leak check failed",
        _sereg(f"re-weigh and leak-check every cylinder after filling ({_CYLINDERS}) [S]"),
    ),
    _row(
        _C.STATION_LICENCE_INVALID,
        "station_licence_invalid",
        "充装许可无效: the station's filling licence is missing or expired",
        _sereg("GB 45067-2024 5.5.1 [S]: filling without a licence is a major accident hazard"),
    ),
    _row(
        _C.REFILLED_TOO_SOON,
        "refilled_too_soon",
        "重复充装: filled again too soon after the previous fill",
        _sereg(f"{_TRACE}; the interval is a sereg setting"),
        suspicious=True,
    ),
    _row(
        _C.CLONED_IDENTIFICATION,
        "cloned_identification",
        "疑似克隆标识: seen at two stations faster than it could travel",
        _sereg(f"{_TRACE}; the speed limit is a sereg setting"),
        suspicious=True,
    ),
    _row(
        _C.NOT_A_CYLINDER,
        "not_a_cylinder",
        "非气瓶: the code on file is not a gas cylinder (category 23xx)",
        _sereg(
            "TSG 23-2021 scope: gas cylinders, category 2300 of the Catalogue of Special "
            "Equipment (2014 No. 114) [S]"
        ),
    ),
    _row(
        _C.IMPOSSIBLE_FILL,
        "impossible_fill",
        "充装记录异常: the fill record cannot be true",
        _sereg(f"{_TRACE}; traceability records ({_CYLINDERS}) [S]"),
        suspicious=True,
    ),
    _row(
        _C.NOT_PURGED,
        "not_purged",
        "新瓶未置换或抽真空: a new cylinder's first fill without purging or evacuation",
        _sereg(
            f"{_TSG23} [C]/[S]: refuse a new cylinder that has not been purged or evacuated "
            "before its first fill"
        ),
    ),
    _row(
        _C.PEOPLE_IN_VEHICLE,
        "people_in_vehicle",
        "车内有人: people inside the vehicle whose cylinder is to be filled",
        _sereg(f"{_TSG23} [C]/[S]: refuse a vehicle cylinder while people are inside the vehicle"),
    ),
    _row(
        _C.VEHICLE_MISMATCH,
        "vehicle_mismatch",
        "车瓶不符: the vehicle registration does not match the cylinder's",
        _sereg(
            f"{_TSG23} [C]/[S]: refuse a vehicle cylinder whose vehicle registration does not "
            "match the cylinder's"
        ),
    ),
)
del _C

# A station may fill the cylinders entrusted (托管) to it as its own (TSG 23-2021 [S]):
# the verdict stays 00, which every scale already knows, and the reason says why.
ENTRUSTED_REASON: Final = "entrusted"
_ENTRUSTED_SOURCE: Final = f"{_TSG23} [S]: a station fills its own and entrusted (托管) cylinders"

_ROWS: Final = MappingProxyType({row.code: row for row in CODE_TABLE})
ALLOWED: Final = frozenset(row.code for row in CODE_TABLE if not row.refuses)

# The order reasons are reported in. Facts about the record come first (a missing or
# wrong record makes everything after it doubtful), then the unit's legal standing,
# then this fill's own measurements, then traceability suspicions, which are inferences.
_PRIORITY: Final[tuple[VerdictCode, ...]] = (
    VerdictCode.NOT_ON_FILE,
    VerdictCode.NOT_A_CYLINDER,
    VerdictCode.SCRAPPED,
    VerdictCode.CANCELLED,
    VerdictCode.NOT_ACTIVATED,
    VerdictCode.STATION_LICENCE_INVALID,
    VerdictCode.NOT_OWN_PROPERTY,
    VerdictCode.JOINT_OPERATION,
    VerdictCode.OK,  # only as the entrusted reason
    VerdictCode.PAST_SERVICE_LIFE,
    VerdictCode.FAILED_INSPECTION,
    VerdictCode.OVERDUE_INSPECTION,
    VerdictCode.NO_INFORMATION,
    VerdictCode.WRONG_MEDIUM,
    VerdictCode.NOT_PURGED,
    VerdictCode.PEOPLE_IN_VEHICLE,
    VerdictCode.VEHICLE_MISMATCH,
    VerdictCode.PRE_CHECK_FAILED,
    VerdictCode.OVER_FILLED,
    VerdictCode.POST_CHECK_FAILED,
    VerdictCode.IMPOSSIBLE_FILL,
    VerdictCode.CLONED_IDENTIFICATION,
    VerdictCode.REFILLED_TOO_SOON,
)
_RANK: Final = MappingProxyType({code: rank for rank, code in enumerate(_PRIORITY)})


def priority() -> tuple[VerdictCode, ...]:
    """The order findings are reported in (the first refusing one is the verdict)."""
    return _PRIORITY


def code_row(code: VerdictCode) -> CodeRow:
    """The table row of ``code``."""
    return _ROWS[VerdictCode(code)]


def verdict_label(code: VerdictCode, lang: str) -> str:
    """The code's short name in ``lang``: each summary is ``"中文: English"``."""
    chinese, _, english = _ROWS[VerdictCode(code)].summary.partition(": ")
    return english if lang == "en" else chinese


@dataclass(frozen=True, slots=True)
class Reason:
    code: VerdictCode
    text: str
    # A name other than the code's (the entrusted reason under code 00).
    name: str = ""


@dataclass(frozen=True, slots=True)
class FillVerdict:
    """The verdict on one fill: the primary code and every finding, in priority order."""

    code: VerdictCode
    reasons: tuple[Reason, ...]

    @property
    def allowed(self) -> bool:
        return self.code in ALLOWED

    @property
    def suspicious(self) -> bool:
        return bool(self.reasons) and any(_ROWS[r.code].suspicious for r in self.reasons)

    def as_dict(self) -> dict[str, Any]:
        """The verdict as published on ``sereg/v1/stations/{code}/verdicts`` and stored:
        stable codes and names, each reason in English (``text``) and in the product's
        language (``text_zh``, for the station's display), and the code's Chinese name."""
        return {
            "code": self.code.value,
            "name": _ROWS[self.code].name,
            "text_zh": verdict_label(self.code, "zh-CN"),
            "allowed": self.allowed,
            "suspicious": self.suspicious,
            "reasons": [
                {
                    "code": r.code.value,
                    "name": r.name or _ROWS[r.code].name,
                    "text": r.text,
                    "text_zh": speak_default(r.text),
                }
                for r in self.reasons
            ],
        }


def not_own_property(asked_code: str) -> FillVerdict:
    """The whole answer a station gets about a cylinder it may not fill as its own: in the
    words it asked with (not the register code), with no fact of the owner's."""
    return FillVerdict(
        VerdictCode.NOT_OWN_PROPERTY,
        (
            Reason(
                VerdictCode.NOT_OWN_PROPERTY,
                f"{asked_code} is not this station's own property; only its own, vehicle "
                "cylinders or cylinders under a joint-operation agreement may be filled "
                "(TSG 23-2021)",
            ),
        ),
    )


def for_the_station(verdict: dict[str, Any], asked_code: str) -> dict[str, Any]:
    """A stored or published verdict (``FillVerdict.as_dict``'s shape) as the filling
    station may see it. With 08 (not its own property) among its reasons, the rest (the
    cylinder's state, medium, where and when its owner last filled it) is the owner's
    business: least privilege says 08 alone, on the MQTT verdict, in the station's fill
    list and on the permit alike."""
    reasons = verdict.get("reasons") or ()
    if any(r.get("code") == VerdictCode.NOT_OWN_PROPERTY.value for r in reasons):
        return not_own_property(asked_code).as_dict()
    return verdict


class Measure(StrEnum):
    MASS = "mass"
    PRESSURE = "pressure"


# Liquefied and dissolved gases are filled by weight, compressed gases to a pressure.
_BY_MASS: Final = frozenset(
    {"LPG", "CO2", "NH3", "CL2", "C3H8", "C4H10", "N2O", "LNG", "C2H2", "SO2"}
)
_BY_PRESSURE: Final = frozenset(
    {"O2", "N2", "AR", "CNG", "H2", "AIR", "HE", "NE", "KR", "XE", "CH4"}
)


@lru_cache(maxsize=1024)
def measure_for(medium: str) -> Measure | None:
    """How a fill of ``medium`` is measured; None for an unknown or mixed-kind medium.

    A mixture takes a measure only when all its gases share it: a liquefied gas in a
    compressed mixture changes its phase behaviour, and guessing would hide the gap.
    """
    gases = set(components(medium))
    if not gases:
        return None
    if gases <= _BY_MASS:
        return Measure.MASS
    if gases <= _BY_PRESSURE:
        return Measure.PRESSURE
    return None


@dataclass(frozen=True, slots=True)
class StationFacts:
    id: int
    code: str
    licence_no: str | None
    licence_valid_until: date | None
    longitude: float | None = None
    latitude: float | None = None


@dataclass(frozen=True, slots=True)
class CylinderFacts:
    id: int
    code: str
    category: str
    status: str
    owning_station_id: int | None
    medium: str | None
    water_capacity_l: float | None
    nominal_working_pressure_mpa: float | None
    vehicle: bool
    next_periodic_due: date | None
    end_of_service_life: date | None
    last_periodic_failed: bool
    # The vehicle the cylinder is registered to (vehicle cylinders), and who owns it.
    vehicle_registration: str | None = None
    user_unit_id: int | None = None


@dataclass(frozen=True, slots=True)
class PreviousFill:
    """The cylinder's nearest other fill on record (before or after this one)."""

    station_id: int
    station_code: str
    filled_at: datetime
    longitude: float | None = None
    latitude: float | None = None


@dataclass(frozen=True, slots=True)
class FillAttempt:
    """A finished fill, or a permit asked before filling (checks None, no measurements)."""

    medium: str
    at: datetime
    started_at: datetime | None = None
    filled_mass_kg: float | None = None
    final_pressure_mpa: float | None = None
    pre_check_passed: bool | None = None
    post_check_passed: bool | None = None
    # Optional checks (contract v1, optional fields): None means "not checked", never a
    # refusal. A new cylinder purged (置换) or evacuated (抽真空) before its first fill;
    # people inside the vehicle; the registration of the vehicle at the pump.
    purged_or_evacuated: bool | None = None
    people_in_vehicle: bool | None = None
    vehicle_registration: str | None = None


def same_vehicle(a: str, b: str) -> bool:
    """Two vehicle registrations (plates) name the same vehicle: case, spaces, dots and
    dashes aside (鄂F·12345 = 鄂F12345)."""

    def plain(plate: str) -> str:
        return "".join(ch for ch in plate.upper() if ch not in " ·.-")

    return plain(a) == plain(b)


@dataclass(frozen=True, slots=True)
class FillPolicy:
    """The numbers a bureau may configure; the defaults are docs/rules.md's or sereg's."""

    lpg_kg_per_litre: float = 0.42  # docs/rules.md: LPG max fill ≈ 0.42 kg/L [S]
    min_refill_interval: timedelta = timedelta(minutes=30)  # sereg
    max_travel_kmh: float = 120.0  # sereg: faster between two stations = cloned label
    future_skew: timedelta = timedelta(minutes=5)  # sereg: device clocks drift a little
    local_tz: tzinfo = timezone(timedelta(hours=8))  # register dates are China dates

    def __post_init__(self) -> None:
        # A zero or negative number would silently switch a rule off or make it fire always.
        if not (math.isfinite(self.lpg_kg_per_litre) and self.lpg_kg_per_litre > 0):
            raise InvalidValue("the LPG fill ratio must be positive", field="lpg_kg_per_litre")
        if not (math.isfinite(self.max_travel_kmh) and self.max_travel_kmh > 0):
            raise InvalidValue("the travel speed limit must be positive", field="max_travel_kmh")
        if self.min_refill_interval < timedelta(0):
            raise InvalidValue(
                "the refill interval cannot be negative", field="min_refill_interval"
            )
        if self.future_skew < timedelta(0):
            raise InvalidValue("the clock skew cannot be negative", field="future_skew")
        if not isinstance(self.local_tz, tzinfo):
            raise InvalidValue("local_tz must be a time zone", field="local_tz")


DEFAULT_FILL_POLICY: Final = FillPolicy()


@lru_cache(maxsize=4096)  # a few hundred cylinder sizes; Decimal arithmetic per fill is not free
def max_lpg_fill_kg(water_capacity_l: float, policy: FillPolicy = DEFAULT_FILL_POLICY) -> float:
    """The most LPG a cylinder of this water capacity may hold, rounded down to 0.1 kg.

    Decimal arithmetic, because 0.42 x 26.2 in binary floating point lands a hair on
    either side of a tenth and would flip the rounding (YSP26.2 -> 11.0, TSG 23-2021 / GB 5842 [S]).
    """
    if not (math.isfinite(water_capacity_l) and water_capacity_l > 0):
        raise InvalidValue(
            f"water capacity must be a positive number of litres, not {water_capacity_l!r}",
            field="water_capacity_l",
        )
    exact = Decimal(str(policy.lpg_kg_per_litre)) * Decimal(str(water_capacity_l))
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_FLOOR))


# --- judgement -------------------------------------------------------------------------

_EARTH_RADIUS_KM: Final = 6371.0088  # mean Earth radius (IUGG); a sphere is close enough
_SAME_PLACE_KM: Final = 1.0  # below this, two fills at the same instant are not a clone


def _aware(value: datetime, field: str) -> None:
    # A naive datetime would be read in the server's zone, so the verdict would depend
    # on where sereg runs.
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue(f"{field} must carry a time zone", field=field)


def _positive(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) and value > 0 else None


def _kg(value: float) -> str:
    return f"{value:g}"


def _local(moment: datetime, policy: FillPolicy) -> str:
    try:
        return moment.astimezone(policy.local_tz).strftime("%Y-%m-%d %H:%M")
    except OverflowError:
        # Converting 9999-12-31T23:59Z to China time leaves the calendar: a reason must
        # still be written, so the moment is shown as it came.
        return moment.isoformat(timespec="minutes")


def _local_day(moment: datetime, policy: FillPolicy) -> date:
    """The China-time calendar day of ``moment``; at the calendar's edges, where the
    conversion overflows, the day it names in its own offset (at most a day apart)."""
    try:
        return moment.astimezone(policy.local_tz).date()
    except OverflowError:
        return moment.date()


def fill_state_time(filled_at: datetime, received_at: datetime, policy: FillPolicy) -> datetime:
    """When a fill moves its cylinder's state (last fill time) to: its own time, but never
    past its receipt plus the clock skew allowed. A fill dated ahead (flagged 19) would
    otherwise stand as the cylinder's last fill until that date and hide every real
    refill and cloned label from the traceability checks (16, 17) meanwhile.
    """
    # The subtraction cannot overflow; adding the skew to the receipt could only at the
    # calendar's end, where the receipt itself is the bound.
    if filled_at - received_at <= policy.future_skew:
        return filled_at
    try:
        return received_at + policy.future_skew
    except OverflowError:
        return received_at


def _duration(delta: timedelta) -> str:
    seconds = abs(delta.total_seconds())
    if seconds < 60:
        return f"{seconds:g} s"
    return f"{seconds / 60:.0f} min"


def _haversine_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlam = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _position(longitude: float | None, latitude: float | None) -> tuple[float, float] | None:
    if longitude is None or latitude is None:
        return None
    if not (math.isfinite(longitude) and math.isfinite(latitude)):
        return None
    return longitude, latitude


def _verdict(findings: list[Reason]) -> FillVerdict:
    if not findings:
        return _CLEAR  # most fills: one shared immutable verdict, not one built per fill
    # sorted() is stable: findings of one code keep the order they were found in.
    reasons = tuple(sorted(findings, key=lambda r: _RANK[r.code]))
    for reason in reasons:
        if _ROWS[reason.code].refuses:
            return FillVerdict(reason.code, reasons)
    codes = {reason.code for reason in reasons}
    primary = (
        VerdictCode.JOINT_OPERATION if VerdictCode.JOINT_OPERATION in codes else VerdictCode.OK
    )
    return FillVerdict(primary, reasons)


_CLEAR = FillVerdict(VerdictCode.OK, ())


# --- the checks ------------------------------------------------------------------------
#
# Each check is one rule of docs/rules.md ("Gas cylinders: fill verdict codes"), cites its
# source in its docstring, and returns its findings (none: the rule is met). judge_fill
# runs them all in this order; the order of reporting is _PRIORITY's, not theirs.


def check_registration(cylinder: CylinderFacts) -> list[Reason]:
    """03/05/06/01: only a cylinder in use may be filled (TSG 23-2021 [C]; codes 03, 05,
    06 of the field interlocks [S]). An unknown status is a register fault: refused (01)."""
    status = cylinder.status
    if status == Status.IN_USE:
        return []
    if status == Status.SCRAPPED:
        return [Reason(VerdictCode.SCRAPPED, f"{cylinder.code} is scrapped (TSG 23-2021)")]
    if status == Status.CANCELLED:
        return [
            Reason(
                VerdictCode.CANCELLED,
                f"{cylinder.code} has its registration cancelled (TSG 23-2021)",
            )
        ]
    if status == Status.PENDING:
        return [
            Reason(VerdictCode.NOT_ACTIVATED, f"{cylinder.code} is not registered/activated yet")
        ]
    if status == Status.REFUSED:
        return [
            Reason(
                VerdictCode.NOT_ACTIVATED,
                f"{cylinder.code} had its registration refused; it is not registered for use",
            )
        ]
    if status == Status.SUSPENDED:
        return [
            Reason(
                VerdictCode.NOT_ACTIVATED,
                f"{cylinder.code} is suspended from use; resume its registration first",
            )
        ]
    return [
        Reason(VerdictCode.NO_INFORMATION, f"registration status {cylinder.status!r} is not known")
    ]


def check_licence(station: StationFacts, today: date) -> list[Reason]:
    """15: filling without a valid licence is a major accident hazard (GB 45067-2024
    5.5.1 [S])."""
    licence = (station.licence_no or "").strip()
    if not licence or station.licence_valid_until is None:
        return [
            Reason(
                VerdictCode.STATION_LICENCE_INVALID,
                f"station {station.code} has no filling licence (number and validity) on "
                "file; filling without a licence is a major accident hazard (GB 45067-2024)",
            )
        ]
    if station.licence_valid_until < today:
        return [
            Reason(
                VerdictCode.STATION_LICENCE_INVALID,
                f"station {station.code}'s filling licence {licence} expired on "
                f"{station.licence_valid_until.isoformat()} (GB 45067-2024)",
            )
        ]
    return []


def check_ownership(
    cylinder: CylinderFacts, station: StationFacts, *, joint_operation: bool, entrusted: bool
) -> list[Reason]:
    """08/09/00 entrusted: a station fills its own cylinders, vehicle cylinders, those
    under a joint-operation agreement (09) and those entrusted (托管) to it (00 with the
    reason ``entrusted``) (TSG 23-2021 [C]/[S])."""
    if cylinder.owning_station_id == station.id or cylinder.vehicle:
        return []
    if joint_operation:
        return [
            Reason(
                VerdictCode.JOINT_OPERATION,
                f"{cylinder.code} belongs to another station; filled under a "
                "joint-operation agreement",
            )
        ]
    if entrusted:
        return [
            Reason(
                VerdictCode.OK,
                f"{cylinder.code} is entrusted (托管) to this station under an entrustment "
                f"agreement; filled as its own ({_ENTRUSTED_SOURCE})",
                ENTRUSTED_REASON,
            )
        ]
    owner = (
        "has no owning station on file"
        if cylinder.owning_station_id is None
        else "is not this station's own property"
    )
    return [
        Reason(
            VerdictCode.NOT_OWN_PROPERTY,
            f"{cylinder.code} {owner}; only vehicle cylinders or cylinders under a "
            "joint-operation agreement may be filled (TSG 23-2021)",
        )
    ]


def check_fitness(cylinder: CylinderFacts, today: date) -> list[Reason]:
    """12/02/04/01: a cylinder past its service life is scrapped, one that failed its
    latest periodic inspection or is overdue for it is not filled (TSG 23-2021 [C]/[S]);
    an unknown due date cannot be checked (01)."""
    found: list[Reason] = []
    life = cylinder.end_of_service_life
    if life is not None and today > life:
        found.append(
            Reason(
                VerdictCode.PAST_SERVICE_LIFE,
                f"service life ended {life.isoformat()}; the cylinder is to be scrapped "
                "(TSG 23-2021)",
            )
        )
    if cylinder.last_periodic_failed:
        found.append(
            Reason(
                VerdictCode.FAILED_INSPECTION, "the latest periodic inspection failed (TSG 23-2021)"
            )
        )
    due = cylinder.next_periodic_due
    if due is None:
        found.append(Reason(VerdictCode.NO_INFORMATION, "next periodic inspection date unknown"))
    elif today > due:
        found.append(
            Reason(
                VerdictCode.OVERDUE_INSPECTION,
                f"overdue for periodic inspection: due {due.isoformat()} (TSG 23-2021)",
            )
        )
    return found


def check_medium(
    attempt: FillAttempt, cylinder: CylinderFacts
) -> tuple[list[Reason], tuple[tuple[str, ...], tuple[str, ...] | None]]:
    """10/01: filling a medium other than the cylinder's own is a major accident hazard
    (GB 45067-2024 5.5.2 [S]); an unknown medium cannot be checked (01). Also returns the
    gases asked and registered, which the LPG limit needs, as the pair (asked, registered)."""
    asked = components(attempt.medium)
    asked_name = "+".join(asked) or repr(attempt.medium)
    registered = components(cylinder.medium) if cylinder.medium is not None else None
    if registered is None:
        return [
            Reason(VerdictCode.NO_INFORMATION, f"the medium of {cylinder.code} is not on file")
        ], (
            asked,
            registered,
        )
    if sorted(asked) != sorted(registered):
        return [
            Reason(
                VerdictCode.WRONG_MEDIUM,
                f"medium {asked_name} asked, cylinder is registered for {'+'.join(registered)}: "
                "wrong medium is a major accident hazard (GB 45067-2024 5.5.2)",
            )
        ], (asked, registered)
    return [], (asked, registered)


def check_reported(
    attempt: FillAttempt, cylinder: CylinderFacts, *, first_fill: bool
) -> list[Reason]:
    """20/21/22, the optional checks a station reports (absent: not checked): a new
    cylinder purged or evacuated before its first fill, nobody inside the vehicle, the
    vehicle at the pump the one the cylinder is registered to (TSG 23-2021 [C]/[S])."""
    found: list[Reason] = []
    if first_fill and attempt.purged_or_evacuated is False:
        found.append(
            Reason(
                VerdictCode.NOT_PURGED,
                f"{cylinder.code} has no fill on record and was not purged or evacuated "
                "before its first fill (TSG 23-2021)",
            )
        )
    if cylinder.vehicle and attempt.people_in_vehicle is True:
        found.append(
            Reason(
                VerdictCode.PEOPLE_IN_VEHICLE,
                "people are inside the vehicle: a vehicle cylinder is filled only with "
                "nobody inside (TSG 23-2021)",
            )
        )
    at_pump = (attempt.vehicle_registration or "").strip()
    registered_to = (cylinder.vehicle_registration or "").strip()
    if cylinder.vehicle and at_pump and registered_to and not same_vehicle(at_pump, registered_to):
        found.append(
            Reason(
                VerdictCode.VEHICLE_MISMATCH,
                f"the vehicle at the pump is {at_pump}, but {cylinder.code} is registered to "
                f"{registered_to} (TSG 23-2021)",
            )
        )
    return found


def check_measurements(
    attempt: FillAttempt,
    cylinder: CylinderFacts,
    asked: tuple[str, ...],
    registered: tuple[str, ...] | None,
    policy: FillPolicy,
) -> list[Reason]:
    """13/11/14/19/01, this fill's own checks and measurements: the pre-fill check
    (TSG 23-2021 [C]/[S]), LPG at most ``policy.lpg_kg_per_litre`` kg per litre of water
    capacity and no compressed gas above the nominal working pressure ([S]), the post-fill
    re-weigh and leak check ([S]), and no negative or non-finite mass or pressure (19)."""
    found: list[Reason] = []
    add = found.append
    if attempt.pre_check_passed is False:
        add(
            Reason(
                VerdictCode.PRE_CHECK_FAILED,
                "the pre-fill check failed; the cylinder must not be filled",
            )
        )
    capacity = _positive(cylinder.water_capacity_l)
    mass = attempt.filled_mass_kg
    if mass is not None and not (math.isfinite(mass) and mass >= 0):
        add(Reason(VerdictCode.IMPOSSIBLE_FILL, f"filled mass {mass!r} kg is not a possible mass"))
        mass = None
    pressure = attempt.final_pressure_mpa
    if pressure is not None and not (math.isfinite(pressure) and pressure >= 0):
        add(
            Reason(
                VerdictCode.IMPOSSIBLE_FILL,
                f"final pressure {pressure!r} MPa is not a possible value",
            )
        )
        pressure = None

    # The LPG limit follows the cylinder's registered medium; with none on file, the
    # medium asked is the best guess, so a missing register entry does not hide an over-fill.
    lpg = (registered if registered is not None else asked) == ("LPG",)
    if lpg and mass is not None:
        if capacity is None:
            add(
                Reason(
                    VerdictCode.NO_INFORMATION,
                    f"water capacity of {cylinder.code} is not on file; the LPG fill limit "
                    "cannot be checked",
                )
            )
        else:
            limit = max_lpg_fill_kg(capacity, policy)
            if mass > limit:
                add(
                    Reason(
                        VerdictCode.OVER_FILLED,
                        f"{_kg(mass)} kg put into a {capacity:g} L LPG cylinder; at most "
                        f"{limit:.1f} kg ({policy.lpg_kg_per_litre:g} kg/L)",
                    )
                )
    nominal = _positive(cylinder.nominal_working_pressure_mpa)
    if (
        measure_for(attempt.medium) is Measure.PRESSURE
        and pressure is not None
        and nominal is not None
        and pressure > nominal
    ):
        add(
            Reason(
                VerdictCode.OVER_FILLED,
                f"filled to {pressure:g} MPa, above the nominal working pressure of "
                f"{nominal:g} MPa",
            )
        )
    if attempt.post_check_passed is False:
        add(
            Reason(
                VerdictCode.POST_CHECK_FAILED,
                "the post-fill re-weigh or leak check failed; the cylinder must not leave",
            )
        )
    return found


def check_record_times(
    attempt: FillAttempt, received_at: datetime | None, policy: FillPolicy
) -> list[Reason]:
    """19: a record that cannot be true, a fill that ends before it starts or is dated
    after it was received (beyond the clock skew allowed) (traceability records, TSG
    23-2021 amendment 1 [C], [S])."""
    found: list[Reason] = []
    if attempt.started_at is not None and attempt.started_at > attempt.at:
        found.append(
            Reason(
                VerdictCode.IMPOSSIBLE_FILL,
                f"the fill ends ({_local(attempt.at, policy)}) before it starts "
                f"({_local(attempt.started_at, policy)})",
            )
        )
    # As a difference: adding the skew to a date at the calendar's end would overflow.
    if received_at is not None and attempt.at - received_at > policy.future_skew:
        found.append(
            Reason(
                VerdictCode.IMPOSSIBLE_FILL,
                f"the fill is dated {_local(attempt.at, policy)}, "
                f"{_duration(attempt.at - received_at)} after it was received "
                f"({_local(received_at, policy)}); check the device clock",
            )
        )
    return found


def check_possible_mass(attempt: FillAttempt, cylinder: CylinderFacts) -> list[Reason]:
    """19: more kilograms than litres of water capacity is possible for no gas sereg fills
    (traceability records, TSG 23-2021 amendment 1 [C], [S])."""
    mass = attempt.filled_mass_kg
    capacity = _positive(cylinder.water_capacity_l)
    if mass is None or capacity is None or not (math.isfinite(mass) and mass >= 0):
        return []
    if mass <= capacity:
        return []
    return [
        Reason(
            VerdictCode.IMPOSSIBLE_FILL,
            f"{_kg(mass)} kg in a {capacity:g} L cylinder: more kilograms than litres is "
            "not possible for any gas sereg fills",
        )
    ]


def check_traceability(
    at: datetime, station: StationFacts, previous: PreviousFill, policy: FillPolicy
) -> list[Reason]:
    """17/16 against ``previous``, the cylinder's neighbouring fill (in the ingest the one
    before it by time), for one cylinder, one code (TSG 23-2021 amendment 1 [C]): a label
    seen at two stations faster than ``policy.max_travel_kmh`` may be cloned (17); filled
    again within ``policy.min_refill_interval`` is suspicious (16). Both limits are sereg
    settings."""
    found: list[Reason] = []
    gap = at - previous.filled_at
    here = _position(station.longitude, station.latitude)
    there = _position(previous.longitude, previous.latitude)
    if previous.station_id != station.id and here is not None and there is not None:
        km = _haversine_km(*here, *there)
        hours = abs(gap.total_seconds()) / 3600
        # Same instant: any real distance means two labels, a few hundred metres is one
        # site with two station records.
        speed = (km / hours) if hours > 0 else (math.inf if km > _SAME_PLACE_KM else 0.0)
        if speed > policy.max_travel_kmh:
            apart = (
                "at the same instant"
                if hours == 0
                else f"{_duration(gap)} apart: {speed:.0f} km/h, faster than "
                f"{policy.max_travel_kmh:g} km/h"
            )
            found.append(
                Reason(
                    VerdictCode.CLONED_IDENTIFICATION,
                    f"also filled at station {previous.station_code} "
                    f"({_local(previous.filled_at, policy)}), {km:.1f} km away, "
                    f"{apart}; the identification may be cloned",
                )
            )
    if abs(gap) < policy.min_refill_interval:
        where = (
            "at this station"
            if previous.station_id == station.id
            else f"at station {previous.station_code}"
        )
        found.append(
            Reason(
                VerdictCode.REFILLED_TOO_SOON,
                f"filled {where} {_duration(gap)} apart "
                f"({_local(previous.filled_at, policy)}); at least "
                f"{_duration(policy.min_refill_interval)} between fills (sereg setting)",
            )
        )
    return found


def judge_fill(
    attempt: FillAttempt,
    station: StationFacts,
    cylinder: CylinderFacts | None,
    *,
    previous: PreviousFill | None = None,
    joint_operation: bool = False,
    entrusted: bool = False,
    received_at: datetime | None = None,
    policy: FillPolicy = DEFAULT_FILL_POLICY,
) -> FillVerdict:
    """Judge a fill (or a permit asked before filling) against the register: every check
    above, each finding reported.

    ``previous`` is the cylinder's neighbouring fill on record (None: its first fill);
    ``entrusted`` says an entrustment agreement (托管) lets this station fill it;
    ``received_at`` is when sereg got the report (None for a permit asked in person). Raises
    :class:`InvalidValue` for a datetime without a time zone.
    """
    _aware(attempt.at, "at")
    if attempt.started_at is not None:
        _aware(attempt.started_at, "started_at")
    if received_at is not None:
        _aware(received_at, "received_at")
    if previous is not None:
        _aware(previous.filled_at, "previous.filled_at")

    # 07 and 18 stop the judgement: nothing else about the unit can then be trusted.
    if cylinder is None:
        return _verdict(
            [
                Reason(
                    VerdictCode.NOT_ON_FILE,
                    "no cylinder with this code is on file; refuse and report it",
                )
            ]
        )
    if not cylinder.category.startswith("23"):
        return _verdict(
            [
                Reason(
                    VerdictCode.NOT_A_CYLINDER,
                    f"{cylinder.code} is registered in category {cylinder.category}, not as a "
                    "gas cylinder (23xx)",
                )
            ]
        )

    today = _local_day(attempt.at, policy)
    medium, (asked, registered) = check_medium(attempt, cylinder)
    found = [
        *check_registration(cylinder),
        *check_licence(station, today),
        *check_ownership(cylinder, station, joint_operation=joint_operation, entrusted=entrusted),
        *check_fitness(cylinder, today),
        *medium,
        *check_reported(attempt, cylinder, first_fill=previous is None),
        *check_measurements(attempt, cylinder, asked, registered, policy),
        *check_record_times(attempt, received_at, policy),
        *check_possible_mass(attempt, cylinder),
    ]
    if previous is not None:
        found.extend(check_traceability(attempt.at, station, previous, policy))
    return _verdict(found)


_TRACEABILITY: Final = frozenset({VerdictCode.CLONED_IDENTIFICATION, VerdictCode.REFILLED_TOO_SOON})


def retrace(verdict: dict[str, Any], findings: list[Reason]) -> FillVerdict | None:
    """A stored verdict (``FillVerdict.as_dict``'s shape) with its traceability findings
    (16, 17) replaced by ``findings``, those of check_traceability against the fill's
    neighbour as it is now; None when that changes nothing.

    Used when a fill stored earlier gets a new neighbour before it (a fill dated before
    it arrived later): its verdict becomes the one it would have had had the fills
    arrived in time order, whoever judged them and in what order. The new neighbour is
    closer in time than the old one, so a refill (16) is never cleared; a cloned label
    (17) moves to the hop that is too fast."""
    kept = [
        Reason(
            VerdictCode(r["code"]),
            r["text"],
            "" if r.get("name") == _ROWS[VerdictCode(r["code"])].name else r.get("name", ""),
        )
        for r in verdict.get("reasons") or ()
        if VerdictCode(r["code"]) not in _TRACEABILITY
    ]
    amended = _verdict([*kept, *findings])
    if amended.as_dict()["reasons"] == list(verdict.get("reasons") or ()):
        return None
    return amended
