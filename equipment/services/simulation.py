"""What the device simulator (bench/simulator.py, ``sereg simulate``) reads from the
register: lifts in use, and filling stations with their own cylinders as the fill rules
see them. The simulator is a tool outside the product; it reads through these functions,
never the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from equipment.domain import fills as rules
from equipment.storage import db, reads, unit_of_work
from equipment.storage.bulk import Bulk
from equipment.storage.simulation import LiftInUse

__all__ = ["LiftInUse", "OwnCylinder", "StationRoster", "lifts_in_use", "station_rosters"]

# fill_facts looks cylinders up in chunks of this many codes (one statement each).
_CHUNK = 5000


@dataclass(frozen=True)
class OwnCylinder:
    code: str
    facts: rules.CylinderFacts
    last_filled_at: datetime | None


@dataclass(frozen=True)
class StationRoster:
    code: str
    station: rules.StationFacts
    cylinders: tuple[OwnCylinder, ...]


async def lifts_in_use(limit: int) -> list[LiftInUse]:
    """Up to ``limit`` registered lifts in use (by id) with floors: 31xx traction, 32xx
    hydraulic, 34xx others; not escalators."""
    if limit <= 0:
        return []
    return await reads().simulation.lifts_in_use(limit)


async def station_rosters(limit: int, today: date) -> list[StationRoster]:
    """Up to ``limit`` filling stations with a station code, licensed on ``today`` first
    (then by code), each with its own cylinders (23xx) and their last fills on record."""
    if limit <= 0:
        return []
    codes = await reads().simulation.station_codes()
    out: list[StationRoster] = []
    async with unit_of_work() as uow, db.reader() as bulk:
        facts = await uow.fill_facts.stations_by_code(bulk, codes)

        def lapsed(code: str) -> bool:
            until = facts[code].licence_valid_until
            return until is None or until < today

        chosen = sorted((c for c in codes if c in facts), key=lambda c: (lapsed(c), c))
        for code in chosen[:limit]:
            station = facts[code]
            own = await uow.simulation.own_cylinder_codes(station.id)
            cylinders = await _own_cylinders(bulk, own)
            out.append(StationRoster(code, station, cylinders))
    return out


async def _own_cylinders(bulk: Bulk, codes: list[str]) -> tuple[OwnCylinder, ...]:
    out: list[OwnCylinder] = []
    for start in range(0, len(codes), _CHUNK):
        part = codes[start : start + _CHUNK]
        found = await reads().fill_facts.cylinders_by_code(bulk, part)
        previous = await reads().fill_state.read(bulk, {c.facts.id for c in found.values()})
        for code in part:
            cylinder = found.get(code)
            if cylinder is None:
                continue
            last = previous.get(cylinder.facts.id)
            out.append(OwnCylinder(code, cylinder.facts, None if last is None else last.filled_at))
    return tuple(out)
