"""What the fill rules need to know, read from the register for a whole batch at once.

The same readers serve the ingest (hundreds of fills per query) and the fill-permit
endpoint (one), so a station's interlock and the recorded verdict can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import msgspec

from equipment.domain import fills as rules
from equipment.domain.catalogue import VEHICLE_USES, is_cylinder
from equipment.storage import fill_state
from equipment.storage.bulk import Bulk


@dataclass(frozen=True, slots=True)
class Cylinder:
    facts: rules.CylinderFacts
    district_code: str
    previous: rules.PreviousFill | None = None  # its last fill on record


_STATION_COLUMNS = (
    "id", "station_code", "licence_no", "licence_valid_until", "longitude", "latitude",
)  # fmt: skip
_STATION = (
    f"SELECT {', '.join(_STATION_COLUMNS)} FROM organisation WHERE kind = 'filling_station' AND "
)


def _station(r: dict[str, Any]) -> rules.StationFacts:
    return rules.StationFacts(
        id=r["id"],
        code=r["station_code"],
        licence_no=r["licence_no"],
        licence_valid_until=_as_date(r["licence_valid_until"]),
        longitude=r["longitude"],
        latitude=r["latitude"],
    )


async def stations_by_code(bulk: Bulk, codes: Iterable[str]) -> dict[str, rules.StationFacts]:
    rows = await bulk.fetch(_STATION + bulk.any_of("station_code", 1), sorted(set(codes)))
    return {r["station_code"]: _station(r) for r in rows}


# A unit with everything the fill rules ask of it, in one statement: the due dates and
# the latest periodic inspection as subqueries and the last fill as a join, not queries
# of their own. Each round trip is paid by every batch of the ingest and by every permit
# a filling scale waits for.
_CYLINDER = (
    "SELECT e.id, e.code, e.registration_code, e.equipment_code, e.category, e.status,"
    " e.owning_station, e.district_code, e.parameters, e.user_unit, e.cylinder_use,"
    # (equipment, kind) is unique: a plain subquery, which plans in half the time of an
    # aggregate over the same row.
    " (SELECT d.due_on FROM due_date d WHERE d.equipment = e.id AND d.kind = 'periodic')"
    " AS periodic_due,"
    " (SELECT d.due_on FROM due_date d WHERE d.equipment = e.id"
    " AND d.kind = 'end_of_service_life') AS end_of_life,"
    # The latest periodic inspection, a corrected record replaced by its correction.
    " (SELECT i.conclusion FROM inspection i WHERE i.equipment = e.id"
    " AND i.kind = 'periodic' AND NOT EXISTS (SELECT 1 FROM inspection c"
    " WHERE c.corrects = i.id AND c.kind = 'periodic')"
    " ORDER BY i.inspected_on DESC, i.id DESC LIMIT 1) AS last_periodic,"
    f" {fill_state.STATE_COLUMNS_SQL} FROM equipment e{fill_state.STATE_JOIN_SQL} WHERE "
)


# One code (a permit): a plain parameter. PostgreSQL then settles on a generic plan of
# the prepared statement after a few calls; with an array it plans every call afresh (its
# guess of ten rows per array makes the generic plan look worse), which cost more than
# running it (0.6 ms against 0.15 ms, measured).
_ONE_CODE = "e.code = $1 OR e.registration_code = $1 OR e.equipment_code = $1"
# The parameters column is JSON text on both engines: msgspec reads it in 0.3 µs, the
# json module in 2.0 (a cylinder's four fields, measured), once per fill.
_PARAMETERS = msgspec.json.Decoder()


def _cylinder(r: Any) -> Cylinder:
    params = r["parameters"]
    if isinstance(params, str):
        params = _PARAMETERS.decode(params or "{}")
    params = params or {}
    facts = rules.CylinderFacts(
        id=r["id"],
        code=r["code"],
        category=r["category"],
        status=r["status"],
        owning_station_id=r["owning_station"],
        medium=params.get("medium"),
        water_capacity_l=_number(params.get("water_capacity_l")),
        nominal_working_pressure_mpa=_number(params.get("nominal_working_pressure_mpa")),
        vehicle=params.get("vehicle") is True or r["cylinder_use"] in VEHICLE_USES,
        next_periodic_due=_as_date(r["periodic_due"]),
        end_of_service_life=_as_date(r["end_of_life"]),
        last_periodic_failed=r["last_periodic"] == "fail" and is_cylinder(r["category"]),
        vehicle_registration=_text(params.get("vehicle_registration")),
        user_unit_id=r["user_unit"],
    )
    return Cylinder(facts, r["district_code"], fill_state.previous_from_row(r))


def _by_code(rows: Iterable[Any], wanted: Iterable[str]) -> dict[str, Cylinder]:
    wanted_set = set(wanted)
    found: dict[str, Cylinder] = {}
    for r in rows:
        cylinder = _cylinder(r)
        for code in (r["code"], r["registration_code"], r["equipment_code"]):
            if code in wanted_set:
                found[code] = cylinder
    return found


async def cylinders_by_code(bulk: Bulk, codes: Iterable[str]) -> dict[str, Cylinder]:
    """Units by any of their codes (register code, registration code, equipment code),
    each with its last fill on record.

    A code that names a unit that is not a cylinder is returned too: the rules answer
    "not a cylinder" (18) rather than "not on file" (07).
    """
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    if len(wanted) == 1:
        return _by_code(await bulk.rows(_CYLINDER + _ONE_CODE, wanted[0]), wanted)
    # A batch: by register code first (what devices send), then by the other two codes
    # only for what is left, in a second statement only when something is left. One
    # statement over all three codes cost PostgreSQL twice the time (25-40 against
    # 19-21 ms for 500 codes, measured).
    found = _by_code(await bulk.rows(_CYLINDER + bulk.any_of("e.code", 1), wanted), wanted)
    rest = [code for code in wanted if code not in found]
    if rest:
        others = f"{bulk.any_of('e.registration_code', 1)} OR {bulk.any_of('e.equipment_code', 1)}"
        found.update(_by_code(await bulk.rows(_CYLINDER + others, rest), rest))
    return found


async def permit_facts(
    bulk: Bulk, cylinder_code: str, *, station_id: int | None = None, station_code: str = ""
) -> tuple[rules.StationFacts | None, Cylinder | None]:
    """The station (by id, else by code) and the cylinder, in one round trip: a filling
    scale waits for the permit. (None, None) if there is no such station."""
    station_where = (
        "id = $2 AND station_code IS NOT NULL" if station_id is not None else "station_code = $2"
    )
    st = ", ".join(f"st.{c} AS st_{c}" for c in _STATION_COLUMNS)
    rows = await bulk.fetch(
        f"SELECT {st}, c.* FROM ({_STATION}{station_where}) st"
        f" LEFT JOIN ({_CYLINDER}{_ONE_CODE}) c ON 1 = 1",
        cylinder_code,
        station_id if station_id is not None else station_code,
    )
    if not rows:
        return None, None
    station = _station({c: rows[0][f"st_{c}"] for c in _STATION_COLUMNS})
    found = _by_code([r for r in rows if r["id"] is not None], [cylinder_code])
    return station, found.get(cylinder_code)


@dataclass(frozen=True, slots=True)
class Agreements:
    """(filling station, owner) -> validity periods of the joint-operation (联营) and the
    entrustment (托管) agreements that may let a station fill another owner's cylinder."""

    joint: dict[tuple[int, int], list[tuple[date, date]]] = field(default_factory=dict)
    entrusted: dict[tuple[int, int], list[tuple[date, date]]] = field(default_factory=dict)


def _another_owners(facts: rules.CylinderFacts, station: rules.StationFacts) -> bool:
    # The ownership rule's own test (rules.check_ownership): a vehicle cylinder is not
    # asked about, so neither are its agreements.
    return facts.owning_station_id != station.id and not facts.vehicle


async def agreements(
    bulk: Bulk, fills: Iterable[tuple[rules.StationFacts, Cylinder | None]]
) -> Agreements:
    """The agreements of the stations that fill another owner's cylinder among ``fills``
    (station, cylinder): none read when each is the station's own or a vehicle's, which
    spares the permit and most ingest batches two statements."""
    stations = {s.id for s, c in fills if c is not None and _another_owners(c.facts, s)}
    if not stations:
        return Agreements()
    return Agreements(
        await joint_operations(bulk, stations, ()), await entrustments(bulk, stations)
    )


def judge(
    attempt: rules.FillAttempt,
    station: rules.StationFacts,
    cylinder: Cylinder | None,
    agreed: Agreements,
    *,
    previous: rules.PreviousFill | None,
    received_at: datetime | None,
    policy: rules.FillPolicy,
) -> rules.FillVerdict:
    """The fill rules' inputs assembled once, for the permit and the ingest alike: the
    cylinder's facts, its neighbouring fill, whether an agreement lets this station fill
    it on the fill's day. Raises as rules.judge_fill does (and OverflowError for a
    moment at the calendar's edge)."""
    facts = cylinder.facts if cylinder else None
    return rules.judge_fill(
        attempt,
        station,
        facts,
        previous=previous,
        joint_operation=facts is not None
        and joint_allowed(agreed.joint, facts, station, attempt.at, policy.local_tz),
        entrusted=facts is not None
        and entrusted(agreed.entrusted, facts, station, attempt.at, policy.local_tz),
        received_at=received_at,
        policy=policy,
    )


async def joint_operations(
    bulk: Bulk, filling_stations: Iterable[int], moments: Iterable[datetime]
) -> dict[tuple[int, int], list[tuple[date, date]]]:
    """(filling station, owner station) -> the agreements' validity periods."""
    return await _agreements(bulk, "joint_filling", "owner_station", filling_stations)


async def _agreements(
    bulk: Bulk, table: str, owner_column: str, filling_stations: Iterable[int]
) -> dict[tuple[int, int], list[tuple[date, date]]]:
    """(filling station, owner) -> validity periods of an agreement table's rows: joint
    operation and entrustment are read the same way."""
    stations = sorted(set(filling_stations))
    if not stations:
        return {}
    rows = await bulk.fetch(
        f"SELECT {owner_column} AS owner, filling_station, valid_from, valid_until FROM {table}"
        f" WHERE {bulk.any_of('filling_station', 1)}",
        stations,
    )
    found: dict[tuple[int, int], list[tuple[date, date]]] = {}
    for r in rows:
        found.setdefault((r["filling_station"], r["owner"]), []).append(
            (_as_date(r["valid_from"]), _as_date(r["valid_until"]))
        )
    return found


def joint_allowed(
    agreements: dict[tuple[int, int], list[tuple[date, date]]],
    cylinder: rules.CylinderFacts,
    station: rules.StationFacts,
    at: datetime,
    local_tz: Any = rules.DEFAULT_FILL_POLICY.local_tz,
) -> bool:
    if cylinder.owning_station_id is None or cylinder.owning_station_id == station.id:
        return False
    try:
        day = at.astimezone(local_tz).date()
    except OverflowError:  # at the calendar's edge (9999-12-31T23:59Z): its own day
        day = at.date()
    periods = agreements.get((station.id, cylinder.owning_station_id), [])
    return any(start <= day <= end for start, end in periods)


async def entrustments(
    bulk: Bulk, filling_stations: Iterable[int]
) -> dict[tuple[int, int], list[tuple[date, date]]]:
    """(filling station, owner) -> the entrustment (托管) agreements' validity periods."""
    return await _agreements(bulk, "cylinder_entrustment", "owner", filling_stations)


def entrusted(
    agreements: dict[tuple[int, int], list[tuple[date, date]]],
    cylinder: rules.CylinderFacts,
    station: rules.StationFacts,
    at: datetime,
    local_tz: Any = rules.DEFAULT_FILL_POLICY.local_tz,
) -> bool:
    """True when the cylinder's owner (its owning station, else its user unit) has
    entrusted its cylinders to ``station`` on the day of ``at``."""
    owner = cylinder.owning_station_id or cylinder.user_unit_id
    if owner is None or owner == station.id:
        return False
    day = at.astimezone(local_tz).date()
    return any(start <= day <= end for start, end in agreements.get((station.id, owner), []))


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _as_date(value: Any) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value))
