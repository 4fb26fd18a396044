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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, Protocol

import numpy as np

from equipment.services import positions
from equipment.storage import db
from equipment.tables import Area, AreaMember, Equipment
from geo.areas import Area as GeoArea
from geo.areas import GeometryError, parse_polygonal
from geo.assign import assign_points

WRITE_CHUNK = 100_000
SQLITE_BATCH = 500


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


def stored_area(row: dict[str, Any]) -> GeoArea:
    """A stored area row (kind, name, geometry text) as a ``geo.areas.Area``.

    The geometry was valid when it was stored; it is checked again, because a row edited
    behind the service's back must fail loudly rather than assign wrongly.
    """
    geometry = row["geometry"]
    if isinstance(geometry, str):
        geometry = json.loads(geometry)
    try:
        shape, _ = parse_polygonal(geometry)
    except GeometryError as error:
        raise ValueError(
            f"area {row.get('id')}: stored geometry is unusable: {error.reason}"
        ) from None
    return GeoArea(kind=row["kind"], name=row["name"], geometry=shape, key=row.get("key"))


async def assign_unit(
    equipment_id: int, longitude: float | None, latitude: float | None
) -> list[int]:
    """Rewrite one unit's memberships from its WGS-84 location; the area ids it is in.

    Runs inside the caller's transaction. The DELETE comes first on purpose: its lock
    orders this write after any reassignment in progress (see the module docstring).
    """
    await AreaMember.delete().where(AreaMember.equipment == equipment_id)
    if longitude is None or latitude is None:
        return []
    candidates = await Area.select(Area.id, Area.kind, Area.name, Area.geometry).where(
        Area.min_lon <= longitude,
        Area.max_lon >= longitude,
        Area.min_lat <= latitude,
        Area.max_lat >= latitude,
    )
    if not candidates:
        return []
    _, hits = assign_points([longitude], [latitude], [stored_area(r) for r in candidates])
    area_ids = sorted(candidates[int(i)]["id"] for i in hits)
    if area_ids:
        await AreaMember.insert(
            *[AreaMember(area=area_id, equipment=equipment_id) for area_id in area_ids]
        )
    return area_ids


async def reassign_all(*, progress: ProgressFactory | None = None) -> Reassignment:
    """Reassign every located unit to the areas, in one transaction."""
    async with db.transaction():
        return await reassign_in_transaction(progress=progress)


async def reassign_in_transaction(*, progress: ProgressFactory | None = None) -> Reassignment:
    """``reassign_all`` inside the caller's transaction (an import that changed areas)."""
    if db.is_postgres():
        return await _reassign_postgres(progress)
    return await _reassign_sqlite(progress)


def _bar(factory: ProgressFactory | None, total: int, label: str) -> ProgressBar | None:
    return factory(total, label) if factory is not None else None


def _pairs(
    ids: np.ndarray, lons: np.ndarray, lats: np.ndarray, area_ids: np.ndarray, areas: list[GeoArea]
) -> tuple[np.ndarray, np.ndarray]:
    """(area id, equipment id) of every membership, from one ``assign_points`` call."""
    point_index, area_index = assign_points(lons, lats, areas)
    return area_ids[area_index], ids[point_index]


async def _reassign_postgres(factory: ProgressFactory | None) -> Reassignment:
    conn = db.engine().current_transaction.get().connection
    started = time.perf_counter()
    # Before reading anything: unit writes in flight finish first, later ones wait.
    await conn.execute("LOCK TABLE area_member IN SHARE ROW EXCLUSIVE MODE")
    area_rows = [dict(r) for r in await conn.fetch("SELECT id, kind, name, geometry FROM area")]
    areas = [stored_area(r) for r in area_rows]
    area_ids = np.array([r["id"] for r in area_rows], dtype=np.int64)
    total = await conn.fetchval("SELECT count(*) FROM equipment WHERE longitude IS NOT NULL")
    progress = _bar(factory, total, "areas: read units")
    ids, lons, lats = await positions.fetch(
        conn,
        "SELECT id, longitude, latitude FROM equipment"
        " WHERE longitude IS NOT NULL AND latitude IS NOT NULL",
        on_rows=progress.advance if progress else None,
    )
    read_s = time.perf_counter() - started

    started = time.perf_counter()
    pair_areas, pair_units = _pairs(ids, lons, lats, area_ids, areas)
    assign_s = time.perf_counter() - started

    started = time.perf_counter()
    await conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS area_member_new"
        " (area integer NOT NULL, equipment bigint NOT NULL) ON COMMIT DROP"
    )
    await conn.execute("TRUNCATE area_member_new")
    progress = _bar(factory, pair_areas.size, "areas: write memberships")
    for start in range(0, pair_areas.size, WRITE_CHUNK):
        chunk_areas = pair_areas[start : start + WRITE_CHUNK].tolist()
        chunk_units = pair_units[start : start + WRITE_CHUNK].tolist()
        await conn.copy_records_to_table(
            "area_member_new",
            records=zip(chunk_areas, chunk_units, strict=True),
            columns=["area", "equipment"],
        )
        if progress:
            progress.advance(len(chunk_areas))
    if progress and pair_areas.size == 0:
        progress.advance(0)
    await conn.execute("ANALYZE area_member_new")
    # Only what changed is written: an unchanged membership keeps its row.
    removed = await conn.execute(
        "DELETE FROM area_member m WHERE NOT EXISTS (SELECT 1 FROM area_member_new n"
        " WHERE n.area = m.area AND n.equipment = m.equipment)"
    )
    added = await conn.execute(
        "INSERT INTO area_member (area, equipment) SELECT n.area, n.equipment"
        " FROM area_member_new n WHERE NOT EXISTS (SELECT 1 FROM area_member m"
        " WHERE m.area = n.area AND m.equipment = n.equipment)"
    )
    write_s = time.perf_counter() - started
    return Reassignment(
        areas=len(areas),
        located_units=int(ids.size),
        memberships=int(pair_areas.size),
        added=int(added.split()[-1]),
        removed=int(removed.split()[-1]),
        read_s=read_s,
        assign_s=assign_s,
        write_s=write_s,
    )


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


async def _reassign_sqlite(factory: ProgressFactory | None) -> Reassignment:
    started = time.perf_counter()
    area_rows = await Area.select(Area.id, Area.kind, Area.name, Area.geometry)
    areas = [stored_area(r) for r in area_rows]
    area_ids = np.array([r["id"] for r in area_rows], dtype=np.int64)
    units = await Equipment.select(Equipment.id, Equipment.longitude, Equipment.latitude).where(
        Equipment.longitude.is_not_null(), Equipment.latitude.is_not_null()
    )
    ids = np.array([u["id"] for u in units], dtype=np.int64)
    lons = np.array([u["longitude"] for u in units], dtype=np.float64)
    lats = np.array([u["latitude"] for u in units], dtype=np.float64)
    read_s = time.perf_counter() - started

    started = time.perf_counter()
    pair_areas, pair_units = _pairs(ids, lons, lats, area_ids, areas)
    assign_s = time.perf_counter() - started

    started = time.perf_counter()
    wanted = set(zip(pair_areas.tolist(), pair_units.tolist(), strict=True))
    stored = {
        (r["area"], r["equipment"]): r["id"]
        for r in await AreaMember.select(AreaMember.id, AreaMember.area, AreaMember.equipment)
    }
    stale = [row_id for pair, row_id in stored.items() if pair not in wanted]
    new = sorted(wanted - stored.keys())
    progress = _bar(factory, len(stale) + len(new), "areas: write memberships")
    for batch in _batches(stale, SQLITE_BATCH):
        await AreaMember.delete().where(AreaMember.id.is_in(list(batch)))
        if progress:
            progress.advance(len(batch))
    for batch in _batches(new, SQLITE_BATCH):
        await AreaMember.insert(*[AreaMember(area=a, equipment=e) for a, e in batch])
        if progress:
            progress.advance(len(batch))
    if progress and not stale and not new:
        progress.advance(0)
    write_s = time.perf_counter() - started
    return Reassignment(
        areas=len(areas),
        located_units=int(ids.size),
        memberships=len(wanted),
        added=len(new),
        removed=len(stale),
        read_s=read_s,
        assign_s=assign_s,
        write_s=write_s,
    )
