"""Which units lie in which areas, kept in ``area_member`` and never edited by hand.

One unit is assigned when it is created or moved (``assign_unit``, inside the caller's
transaction); every unit is reassigned when the areas change (``reassign_all``): read all
located units once, one vectorised ``geo.assign.assign_points`` call, then rewrite only
the memberships that changed. On PostgreSQL the new memberships are COPYed into a scratch
table and merged with one DELETE and one INSERT; on SQLite they are diffed in Python and
written in batches.

Concurrency (PostgreSQL): a reassignment locks ``area_member`` in SHARE ROW EXCLUSIVE mode
before it reads anything, and ``assign_unit`` deletes the unit's old memberships (ROW
EXCLUSIVE) before it reads the areas. The two modes conflict, so a unit created or moved
during a reassignment is assigned either wholly before it (and read by it) or wholly after
it (against the new areas); unit writes do not block one another.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast

import numpy as np

from equipment.storage import reads, unit_of_work
from equipment.storage.membership import AreaShapeRow
from geo.areas import Area as GeoArea
from geo.areas import AreaKind, GeometryError, parse_polygonal
from geo.assign import assign_points


class ProgressBar(Protocol):
    def advance(self, n: int) -> None: ...


# (total, label) -> a bar; the CLI passes ``equipment.demo.load.Progress``.
ProgressFactory = Callable[[int, str], ProgressBar]


@dataclass(frozen=True)
class Reassignment:
    """What a whole reassignment did, and how long each step took."""

    areas: int
    located_units: int
    memberships: int
    added: int
    removed: int
    read_s: float
    assign_s: float
    write_s: float

    @property
    def seconds(self) -> float:
        return self.read_s + self.assign_s + self.write_s


def stored_area(row: AreaShapeRow) -> GeoArea:
    """A stored area row (kind, name, geometry text) as a ``geo.areas.Area``.

    The geometry was valid when it was stored; it is checked again, because a row edited
    behind the service's back must fail loudly rather than assign wrongly.
    """
    geometry = row.geometry
    if isinstance(geometry, str):
        geometry = json.loads(geometry)
    try:
        shape, _ = parse_polygonal(geometry)
    except GeometryError as error:
        raise ValueError(f"area {row.id}: stored geometry is unusable: {error.reason}") from None
    return GeoArea(kind=cast(AreaKind, row.kind), name=row.name, geometry=shape)


async def assign_unit(
    equipment_id: int, longitude: float | None, latitude: float | None
) -> list[int]:
    """Rewrite one unit's memberships from its WGS-84 location; the area ids it is in.

    Runs inside the caller's transaction. The DELETE comes first on purpose: its lock
    orders this write after any reassignment in progress (see the module docstring).
    """
    memberships = reads().membership
    await memberships.clear_unit(equipment_id)
    if longitude is None or latitude is None:
        return []
    candidates = await memberships.areas_around(longitude, latitude)
    if not candidates:
        return []
    _, hits = assign_points([longitude], [latitude], [stored_area(r) for r in candidates])
    area_ids = sorted(candidates[int(i)].id for i in hits)
    await memberships.add_unit(equipment_id, area_ids)
    return area_ids


async def reassign_all(*, progress: ProgressFactory | None = None) -> Reassignment:
    """Reassign every located unit to the areas, in one transaction."""
    async with unit_of_work():
        return await reassign_in_transaction(progress=progress)


async def reassign_in_transaction(*, progress: ProgressFactory | None = None) -> Reassignment:
    """``reassign_all`` inside the caller's transaction (an import that changed areas)."""
    memberships = reads().membership
    started = time.perf_counter()
    # Before reading anything: unit writes in flight finish first, later ones wait.
    await memberships.lock_for_reassignment()
    area_rows = await memberships.all_areas()
    areas = [stored_area(r) for r in area_rows]
    area_ids = np.array([r.id for r in area_rows], dtype=np.int64)
    # The count is for the progress bar alone (a scan of every unit): none, none asked.
    reading = None
    if progress is not None:
        reading = progress(await memberships.located_count(), "areas: read units")
    ids, lons, lats = await memberships.located_units(reading.advance if reading else None)
    read_s = time.perf_counter() - started

    started = time.perf_counter()
    pair_areas, pair_units = _pairs(ids, lons, lats, area_ids, areas)
    assign_s = time.perf_counter() - started

    started = time.perf_counter()
    change = await memberships.replace_all(
        pair_areas, pair_units, _lazy_bar(progress, "areas: write memberships")
    )
    write_s = time.perf_counter() - started
    return Reassignment(
        areas=len(areas),
        located_units=int(ids.size),
        memberships=int(pair_areas.size),
        added=change.added,
        removed=change.removed,
        read_s=read_s,
        assign_s=assign_s,
        write_s=write_s,
    )


def _lazy_bar(factory: ProgressFactory | None, label: str) -> Callable[[int, int], None] | None:
    """A bar made when the storage first reports its total, then advanced."""
    if factory is None:
        return None
    made: list[ProgressBar] = []

    def advance(n: int, total: int) -> None:
        if not made:
            made.append(factory(total, label))
        made[0].advance(n)

    return advance


def _pairs(
    ids: np.ndarray, lons: np.ndarray, lats: np.ndarray, area_ids: np.ndarray, areas: list[GeoArea]
) -> tuple[np.ndarray, np.ndarray]:
    """(area id, equipment id) of every membership, from one ``assign_points`` call."""
    point_index, area_index = assign_points(lons, lats, areas)
    return area_ids[area_index], ids[point_index]
