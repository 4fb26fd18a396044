"""Lift maintenance rules: cycles, on-demand eligibility, record checks, punctuality.

Sources (docs/rules.md "Lift maintenance"): TSG T5002-2017 and Regulations Art. 31 — cleaning,
lubrication, adjustment and checking at least every 15 days [C]; half-monthly,
quarterly, half-yearly and yearly item sets [S]; on-demand maintenance (按需维保) pilots
allow a per-contract cycle when the lift is in use within its inspection validity, has
IoT monitoring and liability insurance, and the company is not graded C or below in
classified supervision (不得为分类监管C类(含)以下等级) [S] (rule
``lift.maintenance.on_demand.eligibility``). Entrapment response times are Hubei's
provincial measures (《湖北省电梯使用安全管理办法》), not TSG T5002: rules
``lift.entrapment.city`` and ``lift.entrapment.elsewhere``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from equipment.domain import aliases
from equipment.domain.errors import InvalidValue
from equipment.domain.rules.policy import DEFAULT_POLICY

DEFAULT_CYCLE_DAYS = 15  # TSG T5002-2017 [C]
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_ON_DEMAND_CYCLE_DAYS = 90  # a pilot contract parameter; bounded so a typo can't hide a lift
SUPERVISION_CLASSES = ("A", "B", "C", "D")  # classes A (best) .. D [S]
# 不得为分类监管C类(含)以下等级: C and everything below it (lift.maintenance.on_demand.eligibility).
ON_DEMAND_REFUSED_CLASSES = frozenset({"C", "D"})


class Level(StrEnum):
    HALF_MONTHLY = "half_monthly"
    QUARTERLY = "quarterly"
    HALF_YEARLY = "half_yearly"
    YEARLY = "yearly"


def on_demand_refusals(
    *,
    iot_monitored: bool,
    liability_insured: bool,
    supervision_class: str | None,
    inspection_due: date | None = None,
    today: date | None = None,
) -> list[str]:
    """Why an on-demand cycle is not allowed (empty: allowed).

    ``inspection_due`` is the lift's next statutory inspection date; with ``today`` given,
    a lift past it (or with none on file) is outside its inspection validity.
    """
    reasons = []
    if today is not None and (inspection_due is None or inspection_due < today):
        when = "is unknown" if inspection_due is None else f"ended {inspection_due.isoformat()}"
        reasons.append(f"the lift's inspection validity {when}: it is not within its validity")
    if not iot_monitored:
        reasons.append("the lift does not report over IoT remote monitoring")
    if not liability_insured:
        reasons.append("no lift liability insurance is recorded")
    if supervision_class is None or supervision_class in ON_DEMAND_REFUSED_CLASSES:
        graded = "no" if supervision_class is None else f"class {supervision_class}"
        reasons.append(
            f"the maintenance company has {graded} supervision class; on-demand maintenance "
            "needs class A or B (not C or below)"
        )
    return reasons


def check_cycle(cycle_days: int, on_demand: bool) -> None:
    if not on_demand and cycle_days != DEFAULT_CYCLE_DAYS:
        raise InvalidValue(
            f"without on-demand maintenance the cycle is {DEFAULT_CYCLE_DAYS} days "
            "(TSG T5002-2017)",
            field="cycle_days",
        )
    if on_demand and not DEFAULT_CYCLE_DAYS <= cycle_days <= MAX_ON_DEMAND_CYCLE_DAYS:
        raise InvalidValue(
            f"an on-demand cycle is {DEFAULT_CYCLE_DAYS} to {MAX_ON_DEMAND_CYCLE_DAYS} days",
            field="cycle_days",
        )


@dataclass(frozen=True)
class Technician:
    name: str
    certificate_no: str


@dataclass(frozen=True)
class RecordInput:
    """One maintenance record as uploaded, fields checked, not yet matched to the register."""

    record_id: str
    code: str
    maintained_on: date
    level: Level
    items: tuple[str, ...]
    technicians: tuple[Technician, ...]
    findings: str
    hazards: tuple[str, ...]
    signed_off_by: str


@dataclass(frozen=True)
class UnitFacts:
    id: int
    status: str
    commissioning_date: date | None


@dataclass(frozen=True)
class ContractSpan:
    contract_id: int
    company_id: int
    starts_on: date
    ends_on: date  # inclusive; a terminated contract ends on its termination day
    cycle_days: int


def _text(raw: Mapping[str, object], key: str, limit: int, *, required: bool = False) -> str:
    value = raw.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidValue(f"{key} must be text", field=key)
    value = value.strip()
    if required and not value:
        raise InvalidValue(f"{key} is required", field=key)
    if len(value) > limit or "\x00" in value:
        raise InvalidValue(f"{key} is longer than {limit} characters or holds NUL", field=key)
    return value


def _texts(raw: Mapping[str, object], key: str, limit: int) -> tuple[str, ...]:
    value = raw.get(key, ())
    if value is None:
        return ()
    if isinstance(value, str):  # CSV cells hold lists separated by ';'
        value = [part for part in value.split(";") if part.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidValue(f"{key} must be a list of texts", field=key)
    if len(value) > 200 or any(len(v) > limit or "\x00" in v for v in value):
        raise InvalidValue(f"{key} has too many or too long entries", field=key)
    return tuple(v.strip() for v in value)


def _technicians(raw: Mapping[str, object]) -> tuple[Technician, ...]:
    value = raw.get("technicians")
    if isinstance(value, str) or value is None:
        # CSV: "name:certificate;name:certificate"
        value = [
            dict(zip(("name", "certificate_no"), part.split(":", 1), strict=False))
            for part in (value or "").split(";")
            if part.strip()
        ]
    if not isinstance(value, list) or not value:
        raise InvalidValue(
            "at least one technician with a certificate number is required", field="technicians"
        )
    out = []
    for entry in value:
        if not isinstance(entry, dict):
            raise InvalidValue("each technician is {name, certificate_no}", field="technicians")
        name = _text(entry, "name", 50, required=True)
        certificate = _text(entry, "certificate_no", 40)
        if not certificate:
            raise InvalidValue(f"technician {name} has no certificate number", field="technicians")
        out.append(Technician(name, certificate))
    return tuple(out)


def parse_record(raw: Mapping[str, object]) -> RecordInput:
    """A record from a JSON object or a CSV row; InvalidValue names the field at fault."""
    day = raw.get("maintained_on")
    if isinstance(day, str):
        try:
            # Python 3.11 also takes 20261120 and other ISO forms; files hold YYYY-MM-DD.
            if not _ISO_DAY.fullmatch(day.strip()):
                raise ValueError(day)
            day = date.fromisoformat(day.strip())
        except ValueError as exc:
            raise InvalidValue(
                f"maintained_on {day!r} is not a YYYY-MM-DD date", field="maintained_on"
            ) from exc
    if not isinstance(day, date):
        raise InvalidValue("maintained_on is required (YYYY-MM-DD)", field="maintained_on")
    level = aliases.maintenance_level_code(_text(raw, "level", 20, required=True))  # 半月
    if level not in Level.__members__.values():
        raise InvalidValue(f"level must be one of {', '.join(Level)}", field="level")
    return RecordInput(
        record_id=_text(raw, "record_id", 64, required=True),
        code=_text(raw, "code", 20, required=True).upper(),
        maintained_on=day,
        level=Level(level),
        items=_texts(raw, "items", 200),
        technicians=_technicians(raw),
        findings=_text(raw, "findings", 2000),
        hazards=_texts(raw, "hazards", 500),
        signed_off_by=_text(raw, "signed_off_by", 100),
    )


def check_record(
    record: RecordInput,
    unit: UnitFacts | None,
    spans: Iterable[ContractSpan],
    *,
    company_id: int,
    today: date,
) -> ContractSpan:
    """The contract under which ``record`` may be stored, or InvalidValue saying why not."""
    spans = tuple(spans)
    # A unit this company never had a contract for is outside its scope: it gets the same
    # answer as a code that does not exist, so an upload reveals nothing of another
    # company's unit (its state, its commissioning date).
    if unit is None or not any(span.company_id == company_id for span in spans):
        raise InvalidValue(
            f"no unit with code {record.code} is on the register under a maintenance "
            "contract of this company",
            field="code",
        )
    if unit.status == "scrapped":
        raise InvalidValue(
            f"{record.code} is scrapped; no maintenance can be recorded", field="code"
        )
    if record.maintained_on > today:
        raise InvalidValue(
            f"{record.maintained_on.isoformat()} is in the future", field="maintained_on"
        )
    if unit.commissioning_date and record.maintained_on < unit.commissioning_date:
        raise InvalidValue("the record predates the unit's commissioning", field="maintained_on")
    for span in spans:
        if span.company_id == company_id and span.starts_on <= record.maintained_on <= span.ends_on:
            return span
    raise InvalidValue(
        f"no active maintenance contract of this company covers {record.code} on "
        f"{record.maintained_on.isoformat()}",
        field="code",
    )


def maintained_on_time(days: Iterable[date], *, cycle_days: int, start: date, end: date) -> bool:
    """True when no stretch of ``start``..``end`` went longer than the cycle without a visit."""
    previous = start
    for day in sorted(d for d in days if start <= d <= end):
        if (day - previous).days > cycle_days:
            return False
        previous = day
    return (end - previous).days <= cycle_days


# Entrapment response: 《湖北省电梯使用安全管理办法》 (rules lift.entrapment.city and
# lift.entrapment.elsewhere, [S]); the policy file or the settings can change them.
CITY_RESPONSE_MINUTES = DEFAULT_POLICY.row("lift.entrapment.city").value("minutes")
OTHER_RESPONSE_MINUTES = DEFAULT_POLICY.row("lift.entrapment.elsewhere").value("minutes")


def arrived_late(raised_minutes_ago: timedelta, limit_minutes: int) -> bool:
    return raised_minutes_ago > timedelta(minutes=limit_minutes)


# Faked-maintenance signal ------------------------------------------------------------------

NORMAL_SERVICE = 1  # GB/T 24476 service mode 1: normal operation
INSPECTION_SERVICE = 2  # service mode 2: inspection (检修) — what maintenance work needs
FULL_DAY_COVERAGE = 0.9  # share of the day the telemetry must cover to judge it


@dataclass(frozen=True)
class TelemetryDay:
    """What a lift's telemetry says about one day (summarised by the ingest side)."""

    covered_share: float  # share of the day with heartbeats
    service_modes: frozenset[int]  # every service mode reported that day
    runs: int  # trips made that day


def faked_maintenance_reason(day: TelemetryDay | None) -> str:
    """Why a maintenance record for that day looks faked ('' when it does not).

    Maintenance needs the lift in inspection mode; a lift whose telemetry shows it in
    normal service all day, never in inspection mode, was not maintained that day.
    Without enough telemetry nothing is concluded.
    """
    if day is None or day.covered_share < FULL_DAY_COVERAGE:
        return ""
    if INSPECTION_SERVICE in day.service_modes:
        return ""
    if day.service_modes == frozenset({NORMAL_SERVICE}) and day.runs > 0:
        return (
            f"telemetry shows the lift in normal service all day ({day.runs} trips, "
            "never in inspection mode) on the day maintenance was recorded"
        )
    return ""
