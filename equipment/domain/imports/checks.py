"""The data-quality rules of the register import, one row at a time (pure).

Row-number contract: every finding is about the row the spreadsheet shows with that
number: the header is row 1 and the first data row is row 2 (a CSV's line number, an
XLSX sheet's row number). The caller passes the number in; nothing here counts rows.

Each rule has a stable code (English, in data and JSON) and a severity:

- ``reject``: the row is not committed;
- ``warn``: the row is committed, and the report lists it (coordinates out of the city
  are dropped, not stored);
- ``info``: what the import found (matched by credit code, by name, already registered).

The cross-row rules (``duplicate_in_file``, ``in_register``) run over the staged rows in
the database (equipment.services.imports): they need the whole file, which is never held
in memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from equipment.domain import catalogue, codes, regions
from equipment.domain import rules as inspection_rules
from equipment.domain.errors import InvalidValue
from equipment.domain.imports.dates import DateProblem, parse_date
from equipment.domain.imports.profile import MappingProfile
from equipment.domain.lifecycle import Status
from equipment.domain.rules.model import STATUTORY_KINDS
from geo.crs import check_crs, to_wgs84, to_wgs84_arrays

__all__ = [
    "RULES",
    "CheckedRow",
    "City",
    "Finding",
    "Organisations",
    "check_register_row",
    "check_register_rows",
    "normalise_name",
    "read_coordinates",
    "register_history",
]

REJECT, WARN, INFO = "reject", "warn", "info"

# rule code → severity, in the report's order.
RULES: dict[str, str] = {
    "missing_code": REJECT,
    "invalid_registration_code": REJECT,
    "invalid_equipment_code": REJECT,
    "code_category_mismatch": REJECT,
    "unknown_category": REJECT,
    "invalid_status": REJECT,
    "invalid_date": REJECT,
    "commissioned_before_made": REJECT,
    "inspected_before_commissioned": REJECT,
    "date_in_future": REJECT,
    "unknown_district": REJECT,
    "user_unit_unmatched": REJECT,
    "duplicate_in_file": REJECT,
    "invalid_credit_code": WARN,
    "missing_coordinates": WARN,
    "out_of_city": WARN,
    "invalid_coordinates": WARN,
    "past_due_no_inspection": WARN,
    "due_date_disagrees": WARN,
    "user_unit_by_credit_code": INFO,
    "user_unit_by_name": INFO,
    "in_register": INFO,
}

_DATE_FIELDS = (
    "manufacture_date",
    "commissioning_date",
    "registered_on",
    "last_inspected_on",
    "next_due_stated",
)
_PAST_FIELDS = ("manufacture_date", "commissioning_date", "registered_on", "last_inspected_on")
_TEXT_FIELDS = {
    "certificate_no": 32,
    "manufacturer": 200,
    "model": 100,
    "serial_no": 64,
    "address": 2000,
}


@dataclass(frozen=True)
class Finding:
    rule: str
    detail: str = ""

    @property
    def severity(self) -> str:
        return RULES[self.rule]


@dataclass(frozen=True)
class City:
    """Where the register is: the region prefix its districts share, the district codes
    and names, and a box around it (WGS-84: lon_min, lat_min, lon_max, lat_max)."""

    prefix: str
    districts: Mapping[str, str]
    bbox: tuple[float, float, float, float]

    @classmethod
    def xiangyang(cls) -> City:
        # The box holds the city's administrative extent (about 110.75-113.10 E and
        # 31.23-32.62 N) with a small margin; a point outside it is not in the city.
        return cls(
            prefix=regions.XIANGYANG[:4],
            districts={r.code: r.name for r in regions.XIANGYANG_DISTRICTS},
            bbox=(110.6, 31.1, 113.2, 32.8),
        )


@dataclass(frozen=True)
class Organisations:
    """The register's user units (and stations) by credit code and by normalised name."""

    by_credit_code: Mapping[str, int]
    by_name: Mapping[str, int]


@dataclass
class _Memo:
    """Answers that repeat across a chunk's rows, computed once per distinct input: a
    register's rows share a few dozen categories, statuses and districts and a few
    hundred user units (a finding is immutable, so rows share its instance)."""

    category: dict[tuple[str, tuple[str, ...]], tuple[str | None, tuple[Finding, ...]]] = field(
        default_factory=dict
    )
    status: dict[tuple[str, bool], tuple[str | None, tuple[Finding, ...]]] = field(
        default_factory=dict
    )
    district: dict[tuple[str | None, str], tuple[str | None, tuple[Finding, ...]]] = field(
        default_factory=dict
    )
    user_unit: dict[tuple[str, str], tuple[int | None, tuple[Finding, ...]]] = field(
        default_factory=dict
    )


@dataclass
class CheckedRow:
    code: str | None
    values: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    # The unit's schedule from the row's own dates (set for accepted rows).
    schedule: inspection_rules.Schedule | None = None

    @property
    def accepted(self) -> bool:
        return self.code is not None and not any(f.severity == REJECT for f in self.findings)


def normalise_name(name: str) -> str:
    """A name as matched: full-width to ASCII, no spaces, brackets unified (（）→())."""
    out = []
    for ch in name:
        point = ord(ch)
        if 0xFF01 <= point <= 0xFF5E:
            ch = chr(point - 0xFEE0)
        if not ch.isspace():
            out.append(ch)
    return "".join(out).upper()


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def register_history(values: Mapping[str, Any]) -> inspection_rules.UnitHistory:
    """The rules' input for an imported row: its dates and its last inspection (taken
    as a passed periodic inspection, the only kind a register export states)."""
    inspections: tuple[inspection_rules.Inspection, ...] = ()
    if values.get("last_inspected_on"):
        inspections = (
            inspection_rules.Inspection(
                inspected_on=values["last_inspected_on"], kind="periodic", conclusion="pass"
            ),
        )
    return inspection_rules.UnitHistory(
        category=values["category"],
        status=values["status"],
        commissioning_date=values.get("commissioning_date"),
        manufacture_date=values.get("manufacture_date"),
        inspections=inspections,
    )


def _codes(raw: Mapping[str, object], today: date, out: CheckedRow) -> None:
    registration = _text(raw.get("registration_code"))
    equipment = _text(raw.get("equipment_code"))
    if not registration and not equipment:
        out.findings.append(Finding("missing_code"))
        return
    parsed_categories = []
    if registration:
        try:
            parsed = codes.parse_registration_code(registration, today)
            out.values["registration_code"] = parsed.code
            parsed_categories.append(parsed.category_code)
            out.values["region"] = parsed.region_code
        except InvalidValue as error:
            out.findings.append(Finding("invalid_registration_code", error.reason))
    if equipment:
        try:
            parsed_eq = codes.parse_equipment_code(equipment, today)
            out.values["equipment_code"] = parsed_eq.code
            parsed_categories.append(parsed_eq.category_code)
        except InvalidValue as error:
            out.findings.append(Finding("invalid_equipment_code", error.reason))
    # The code the register keys a unit by: registration code once registered.
    out.code = out.values.get("registration_code") or out.values.get("equipment_code")
    if out.code is None:
        out.code = (registration or equipment)[:20]
    out.values["_code_categories"] = parsed_categories


def _category(
    raw: Mapping[str, object], profile: MappingProfile, out: CheckedRow, memo: _Memo
) -> None:
    text = _text(raw.get("category"))
    categories = tuple(out.values.pop("_code_categories", ()))
    key = (text, categories)
    known = memo.category.get(key)
    if known is None:
        known = memo.category[key] = _category_of(text, categories, profile)
    value, findings = known
    if value is not None:
        out.values["category"] = value
    out.findings.extend(findings)


def _category_of(
    text: str, categories: tuple[str, ...], profile: MappingProfile
) -> tuple[str | None, tuple[Finding, ...]]:
    value = profile.map_value("category", text) if text else (categories[0] if categories else "")
    if not value or not catalogue.is_known_category(value):
        return None, (Finding("unknown_category", f"'{text}'" if text else "empty"),)
    value = catalogue.normalise_category_code(value)
    for code_category in categories:
        if code_category != value:
            return value, (
                Finding("code_category_mismatch", f"code says {code_category}, column {value}"),
            )
    return value, ()


_STATUSES = frozenset(s.value for s in Status)


def _status(
    raw: Mapping[str, object], profile: MappingProfile, out: CheckedRow, memo: _Memo
) -> None:
    text = _text(raw.get("status"))
    key = (text, bool(out.values.get("registration_code")))
    known = memo.status.get(key)
    if known is None:
        if not text:
            # A registered unit in an export of registrations is in use unless it says so.
            value = Status.IN_USE.value if key[1] else "pending"
        else:
            value = profile.map_value("status", text)
        if value in _STATUSES:
            known = (value, ())
        else:
            known = (None, (Finding("invalid_status", f"'{text}'"),))
        memo.status[key] = known
    if known[0] is not None:
        out.values["status"] = known[0]
    out.findings.extend(known[1])


def _dates(
    raw: Mapping[str, object], profile: MappingProfile, today: date, out: CheckedRow
) -> None:
    formats = tuple(profile.date_formats)
    for name in _DATE_FIELDS:
        try:
            out.values[name] = parse_date(raw.get(name), formats)
        except DateProblem as problem:
            out.values[name] = None
            out.findings.append(Finding("invalid_date", f"{name}: {problem}"))
    future = [n for n in _PAST_FIELDS if out.values[n] and out.values[n] > today]
    if future:
        out.findings.append(
            Finding("date_in_future", ", ".join(f"{n} {out.values[n]}" for n in future))
        )
    made, commissioned = out.values["manufacture_date"], out.values["commissioning_date"]
    if made and commissioned and commissioned < made:
        out.findings.append(
            Finding("commissioned_before_made", f"made {made}, commissioned {commissioned}")
        )
    inspected = out.values["last_inspected_on"]
    if inspected and commissioned and inspected < commissioned:
        out.findings.append(
            Finding(
                "inspected_before_commissioned",
                f"inspected {inspected}, commissioned {commissioned}",
            )
        )


def _district(raw: Mapping[str, object], city: City, out: CheckedRow, memo: _Memo) -> None:
    region = out.values.pop("region", None)
    text = _text(raw.get("district"))
    key = (region, text)
    known = memo.district.get(key)
    if known is None:
        known = memo.district[key] = _district_of(region, text, city)
    if known[0] is not None:
        out.values["district_code"] = known[0]
    out.findings.extend(known[1])


def _district_of(
    region: str | None, text: str, city: City
) -> tuple[str | None, tuple[Finding, ...]]:
    candidates = [region] if region else []
    if text:
        by_name = {name: code for code, name in city.districts.items()}
        candidates.append(by_name.get(text, text))
    for candidate in candidates:
        if candidate in city.districts:
            return candidate, ()
    return None, (Finding("unknown_district", f"'{text or region or ''}'"),)


def _float(value: object) -> float | None:
    text = _text(value)
    if not text:
        return None
    return float(text)


def read_coordinates(raw: Mapping[str, object]) -> tuple[float, float] | Finding:
    """The row's two coordinates as numbers (still in the file's system), or the finding."""
    try:
        lon, lat = _float(raw.get("longitude")), _float(raw.get("latitude"))
    except ValueError:
        return Finding("invalid_coordinates", f"'{raw.get('longitude')}', '{raw.get('latitude')}'")
    if lon is None or lat is None or lon != lon or lat != lat:
        return Finding("missing_coordinates")
    return lon, lat


def _coordinates(
    raw: Mapping[str, object],
    profile: MappingProfile,
    city: City,
    out: CheckedRow,
    wgs84: tuple[float, float] | None,
    read: tuple[float, float] | Finding | None = None,
) -> None:
    out.values["longitude"] = out.values["latitude"] = None
    read = read_coordinates(raw) if read is None else read
    if isinstance(read, Finding):
        out.findings.append(read)
        return
    lon, lat = read
    # Converted by the caller for a whole chunk of rows at once (numpy), or here.
    wgs_lon, wgs_lat = wgs84 if wgs84 is not None else to_wgs84(lon, lat, check_crs(profile.crs))
    lon_min, lat_min, lon_max, lat_max = city.bbox
    if not (lon_min <= wgs_lon <= lon_max and lat_min <= wgs_lat <= lat_max):
        out.findings.append(Finding("out_of_city", f"{lon}, {lat} ({profile.crs})"))
        return
    out.values["longitude"], out.values["latitude"] = round(wgs_lon, 7), round(wgs_lat, 7)


def _user_unit(
    raw: Mapping[str, object], orgs: Organisations, out: CheckedRow, memo: _Memo
) -> None:
    credit = _text(raw.get("user_unit_credit_code"))
    name = _text(raw.get("user_unit_name"))
    key = (credit, name)
    known = memo.user_unit.get(key)
    if known is None:
        known = memo.user_unit[key] = _user_unit_of(credit, name, orgs)
    if known[0] is not None:
        out.values["user_unit"] = known[0]
    out.findings.extend(known[1])


def _user_unit_of(
    credit: str, name: str, orgs: Organisations
) -> tuple[int | None, tuple[Finding, ...]]:
    findings: list[Finding] = []
    if credit:
        try:
            valid = codes.validate_credit_code(credit)
        except InvalidValue as error:
            findings.append(Finding("invalid_credit_code", error.reason))
        else:
            found = orgs.by_credit_code.get(valid)
            if found is not None:
                return found, (Finding("user_unit_by_credit_code"),)
    found = orgs.by_name.get(normalise_name(name)) if name else None
    if found is not None:
        return found, (*findings, Finding("user_unit_by_name"))
    return None, (*findings, Finding("user_unit_unmatched", f"'{name}' {credit}".strip()))


def _schedule(today: date, policy: inspection_rules.Policy, out: CheckedRow) -> None:
    try:
        schedule = inspection_rules.schedule(register_history(out.values), today, policy)
    except InvalidValue:
        return  # a parameter the rules need and an export does not carry: no comparison
    out.schedule = schedule
    statutory = [d for d in (*schedule.due, *schedule.dormant) if d.kind in STATUTORY_KINDS]
    computed = min((d.due_on for d in statutory), default=None)
    out.values["computed_due"] = computed
    stated = out.values.get("next_due_stated")
    if computed is None:
        return
    if not out.values.get("last_inspected_on") and computed < today:
        out.findings.append(
            Finding("past_due_no_inspection", f"due {computed}, {(today - computed).days} days")
        )
    if stated is not None and stated != computed:
        days = (stated - computed).days
        out.findings.append(
            Finding("due_date_disagrees", f"file {stated}, sereg {computed} ({days:+d} days)")
        )


def check_register_row(
    raw: Mapping[str, object],
    *,
    profile: MappingProfile,
    city: City,
    organisations: Organisations,
    today: date,
    policy: inspection_rules.Policy = inspection_rules.DEFAULT_POLICY,
    wgs84: tuple[float, float] | None = None,
    memo: _Memo | None = None,
    coordinates: tuple[float, float] | Finding | None = None,
) -> CheckedRow:
    """One row of a register export (field → raw cell) checked against every row rule.

    ``wgs84`` is the row's coordinates already converted to WGS-84 (``check_register_rows``
    converts a chunk at once); None converts them here. ``memo``: the answers shared by
    the rows of one chunk (``check_register_rows`` passes one per chunk);
    ``coordinates``: ``read_coordinates(raw)`` when the caller has it."""
    if memo is None:
        memo = _Memo()
    out = CheckedRow(code=None)
    _codes(raw, today, out)
    if out.code is None:
        return out
    _category(raw, profile, out, memo)
    _status(raw, profile, out, memo)
    _dates(raw, profile, today, out)
    _district(raw, city, out, memo)
    _coordinates(raw, profile, city, out, wgs84, coordinates)
    _user_unit(raw, organisations, out, memo)
    for name, limit in _TEXT_FIELDS.items():
        out.values[name] = _text(raw.get(name))[:limit]
    if out.values["certificate_no"] == "":
        out.values["certificate_no"] = None
    if out.accepted:
        _schedule(today, policy, out)
    return out


def check_register_rows(
    raws: Sequence[Mapping[str, object]],
    *,
    profile: MappingProfile,
    city: City,
    organisations: Organisations,
    today: date,
    policy: inspection_rules.Policy = inspection_rules.DEFAULT_POLICY,
) -> list[CheckedRow]:
    """``check_register_row`` for each of ``raws``, their coordinates converted together
    (one numpy call per chunk instead of one per row: the conversion is most of a row's
    cost otherwise)."""
    points = [read_coordinates(raw) for raw in raws]
    located = [i for i, p in enumerate(points) if not isinstance(p, Finding)]
    converted: dict[int, tuple[float, float]] = {}
    if located:
        lons = np.array([points[i][0] for i in located], dtype=np.float64)  # type: ignore[index]
        lats = np.array([points[i][1] for i in located], dtype=np.float64)  # type: ignore[index]
        wgs_lons, wgs_lats = to_wgs84_arrays(lons, lats, check_crs(profile.crs))
        for k, i in enumerate(located):
            converted[i] = (float(wgs_lons[k]), float(wgs_lats[k]))
    memo = _Memo()
    return [
        check_register_row(
            raw,
            profile=profile,
            city=city,
            organisations=organisations,
            today=today,
            policy=policy,
            wgs84=converted.get(i),
            memo=memo,
            coordinates=points[i],
        )
        for i, raw in enumerate(raws)
    ]
