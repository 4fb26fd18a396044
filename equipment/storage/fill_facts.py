"""What the fill rules need to know, read from the register for a whole batch at once:
every statement of equipment.services.fill_facts.

The same readers serve the ingest (hundreds of fills per query) and the fill-permit
endpoint (one), so a station's interlock and the recorded verdict can never disagree.
They run on the connection they are given (``db.reading()`` for the ingest's judgement
and the permit, the transaction's for the write): a reader of its own per call would cost
the permit and every ingest batch a connection per statement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import msgspec

from equipment.domain import fills as rules
from equipment.domain.catalogue import VEHICLE_USES, is_cylinder
from equipment.storage import fill_state
from equipment.storage.bulk import Bulk

# (filling station, owner) -> validity periods of an agreement.
Periods = dict[tuple[int, int], list[tuple[date, date]]]


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


def _station(r: Any) -> rules.StationFacts:
    return rules.StationFacts(
        id=r["id"],
        code=r["station_code"],
        licence_no=r["licence_no"],
        licence_valid_until=_as_date(r["licence_valid_until"]),
        longitude=r["longitude"],
        latitude=r["latitude"],
    )


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


class FillFactsRepository:
    async def stations_by_code(
        self, bulk: Bulk, codes: Iterable[str]
    ) -> dict[str, rules.StationFacts]:
        rows = await bulk.fetch(_STATION + bulk.any_of("station_code", 1), sorted(set(codes)))
        return {r["station_code"]: _station(r) for r in rows}

    async def cylinders_by_code(self, bulk: Bulk, codes: Iterable[str]) -> dict[str, Cylinder]:
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
            others = (
                f"{bulk.any_of('e.registration_code', 1)} OR {bulk.any_of('e.equipment_code', 1)}"
            )
            found.update(_by_code(await bulk.rows(_CYLINDER + others, rest), rest))
        return found

    async def permit_facts(
        self,
        bulk: Bulk,
        cylinder_code: str,
        *,
        station_id: int | None = None,
        station_code: str = "",
    ) -> tuple[rules.StationFacts | None, Cylinder | None]:
        """The station (by id, else by code) and the cylinder, in one round trip: a filling
        scale waits for the permit. (None, None) if there is no such station."""
        station_where = (
            "id = $2 AND station_code IS NOT NULL"
            if station_id is not None
            else "station_code = $2"
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

    async def joint_operations(self, bulk: Bulk, filling_stations: Iterable[int]) -> Periods:
        """(filling station, owner station) -> the joint-operation (联营) agreements'
        validity periods."""
        return await _agreements(bulk, "joint_filling", "owner_station", filling_stations)

    async def entrustments(self, bulk: Bulk, filling_stations: Iterable[int]) -> Periods:
        """(filling station, owner) -> the entrustment (托管) agreements' validity periods."""
        return await _agreements(bulk, "cylinder_entrustment", "owner", filling_stations)


async def _agreements(
    bulk: Bulk, table: str, owner_column: str, filling_stations: Iterable[int]
) -> Periods:
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
    found: Periods = {}
    for r in rows:
        start, end = _as_date(r["valid_from"]), _as_date(r["valid_until"])
        assert start is not None and end is not None  # both columns are NOT NULL
        found.setdefault((r["filling_station"], r["owner"]), []).append((start, end))
    return found


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
