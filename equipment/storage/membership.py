"""Area membership (``area_member``): which units lie in which areas.

A whole reassignment differs by engine: PostgreSQL reads the positions as one binary COPY,
COPYs the new memberships into a scratch table and merges them with one DELETE and one
INSERT; SQLite diffs in Python and writes in batches. Both run in the caller's
transaction.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import Any

import msgspec
import numpy as np
from piccolo.columns import Serial

from equipment.storage import db, positions
from equipment.storage.tables import Area, AreaMember, Equipment

WRITE_CHUNK = 100_000
# maintenance_work_mem of a whole reassignment's index builds (its transaction only).
BUILD_MEMORY = "256MB"
SQLITE_BATCH = 500

_area_id: Serial = Area.id  # Piccolo's implicit primary key
_member_id = AreaMember.id


class AreaShapeRow(msgspec.Struct, frozen=True):
    """An area's id, kind, name and GeoJSON geometry (a dict, or its text)."""

    id: int
    kind: str
    name: str
    geometry: Any


class MembershipChange(msgspec.Struct, frozen=True):
    added: int
    removed: int


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _connection() -> Any:
    """The driver connection of the open PostgreSQL transaction."""
    transaction = db.engine().current_transaction.get()
    assert transaction is not None, "a reassignment runs inside a transaction"
    return transaction.connection


# PostgreSQL binary COPY rows of (id bigint, area integer, equipment bigint): a field
# count, then each field's length and big-endian value (the format positions.py reads).
_MEMBER_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("id_size", ">i4"),
        ("id", ">i8"),
        ("area_size", ">i4"),
        ("area", ">i4"),
        ("equipment_size", ">i4"),
        ("equipment", ">i8"),
    ]
)
_CHANGE_TRIGGER = "area_member_area_change_insert"  # migration 2026-12-06T12:35


def _binary_copy(first_id: int, area_ids: np.ndarray, equipment_ids: np.ndarray) -> bytes:
    rows = np.empty(area_ids.size, dtype=_MEMBER_ROW)
    rows["fields"], rows["id_size"], rows["area_size"], rows["equipment_size"] = 3, 8, 4, 8
    rows["id"] = np.arange(first_id, first_id + area_ids.size, dtype=np.int64)
    rows["area"], rows["equipment"] = area_ids, equipment_ids
    header = positions.SIGNATURE + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
    return header + rows.tobytes() + positions.TRAILER


async def _fill_empty_postgres(
    conn: Any,
    area_ids: np.ndarray,
    equipment_ids: np.ndarray,
    on_rows: Callable[[int, int], None] | None,
) -> MembershipChange:
    """The first assignment of a register (the table is empty): one binary COPY straight
    into the table with every index set aside, the primary key's included, and each built
    once afterwards by a sort, and the change log written once for every area instead of
    by its trigger. Measured on 2·10^6 memberships (issue 19): the primary key's two
    million insertions were most of the COPY (24 s → 6 s without it, loaded; its sorted
    build after: 4 s); the ids come from one reservation of the sequence instead of a
    nextval() per row. Dropping the indexes locks the table until the commit (readers
    wait; none sees it half-filled); it held nothing to read.

    Emptied again in this transaction (TRUNCATE, under the same lock), the table takes
    its rows frozen (COPY FREEZE): visible to every transaction and marked all-visible in
    the visibility map from the start, so the first reads after a reassignment neither
    write hint bits on two million rows nor visit the heap from an index-only scan, and
    no later vacuum has to freeze them."""
    total = int(area_ids.size)
    # The builds sort two million entries each: the server's default 64 MB spills them.
    await conn.execute(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'")
    indexes = await conn.fetch(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i"
        " WHERE i.schemaname = current_schema() AND i.tablename = 'area_member'"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
    )
    keys = await conn.fetch(
        "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint"
        " WHERE conrelid = 'area_member'::regclass AND contype IN ('p', 'u')"
    )
    trigger = await conn.fetchval(
        "SELECT count(*) FROM pg_trigger WHERE tgname = $1 AND NOT tgisinternal", _CHANGE_TRIGGER
    )
    for key in keys:
        await conn.execute(f'ALTER TABLE area_member DROP CONSTRAINT "{key["conname"]}"')
    for index in indexes:
        await conn.execute(f'DROP INDEX "{index["indexname"]}"')
    if trigger:
        await conn.execute(f"ALTER TABLE area_member DISABLE TRIGGER {_CHANGE_TRIGGER}")
    if total:
        # The lock taken before the read (SHARE ROW EXCLUSIVE) keeps every other insert
        # out, so no one else draws from the sequence until the commit.
        sequence = "pg_get_serial_sequence('area_member', 'id')"
        first = int(await conn.fetchval(f"SELECT nextval({sequence})"))
        await conn.fetchval(f"SELECT setval({sequence}, $1)", first + total - 1)
        data = _binary_copy(first, area_ids, equipment_ids)
        await conn.execute("TRUNCATE area_member")
        await conn.copy_to_table(
            "area_member",
            source=io.BytesIO(data),
            columns=["id", "area", "equipment"],
            format="binary",
            freeze=True,
        )
    if on_rows is not None:
        on_rows(total, total)
    for key in keys:
        await conn.execute(
            f'ALTER TABLE area_member ADD CONSTRAINT "{key["conname"]}" {key["definition"]}'
        )
    for index in indexes:
        await conn.execute(index["indexdef"])
    if trigger:
        await conn.execute(f"ALTER TABLE area_member ENABLE TRIGGER {_CHANGE_TRIGGER}")
        await conn.execute("INSERT INTO area_change (area) SELECT id FROM area")
    await conn.execute("ANALYZE area_member")
    return MembershipChange(added=total, removed=0)


class MembershipRepository:
    async def clear_unit(self, equipment_id: int) -> None:
        """Deletes first on purpose: on PostgreSQL its lock orders a unit's write after
        any reassignment in progress (services/membership.py)."""
        await AreaMember.delete().where(AreaMember.equipment == equipment_id)

    async def areas_around(self, longitude: float, latitude: float) -> list[AreaShapeRow]:
        """The areas whose bounding box holds the point."""
        rows = await Area.select(_area_id, Area.kind, Area.name, Area.geometry).where(
            Area.min_lon <= longitude,
            Area.max_lon >= longitude,
            Area.min_lat <= latitude,
            Area.max_lat >= latitude,
        )
        return [msgspec.convert(r, AreaShapeRow) for r in rows]

    async def add_unit(self, equipment_id: int, area_ids: Sequence[int]) -> None:
        if area_ids:
            await AreaMember.insert(
                *[AreaMember(area=area_id, equipment=equipment_id) for area_id in area_ids]
            )

    async def clear_units(self, equipment_ids: Sequence[int]) -> None:
        """``clear_unit`` for a batch of units in one statement (an import batch)."""
        if equipment_ids:
            await AreaMember.delete().where(AreaMember.equipment.is_in(list(equipment_ids)))

    async def add_pairs(self, pairs: Sequence[tuple[int, int]]) -> None:
        """(area, equipment) memberships of a batch, in one statement per chunk."""
        for chunk in _batches(pairs, SQLITE_BATCH):
            await AreaMember.insert(*[AreaMember(area=a, equipment=e) for a, e in chunk])

    async def lock_for_reassignment(self) -> None:
        """PostgreSQL: unit writes in flight finish first, later ones wait (SHARE ROW
        EXCLUSIVE conflicts with the ROW EXCLUSIVE of ``clear_unit``). SQLite's
        IMMEDIATE transaction holds the write lock already."""
        if db.is_postgres():
            await _connection().execute("LOCK TABLE area_member IN SHARE ROW EXCLUSIVE MODE")

    async def all_areas(self) -> list[AreaShapeRow]:
        if db.is_postgres():
            rows = await _connection().fetch("SELECT id, kind, name, geometry FROM area")
            return [AreaShapeRow(r["id"], r["kind"], r["name"], r["geometry"]) for r in rows]
        rows = await Area.select(_area_id, Area.kind, Area.name, Area.geometry)
        return [msgspec.convert(r, AreaShapeRow) for r in rows]

    async def located_count(self) -> int:
        if db.is_postgres():
            sql = "SELECT count(*) FROM equipment WHERE longitude IS NOT NULL"
            return int(await _connection().fetchval(sql))
        return int(await Equipment.count().where(Equipment.longitude.is_not_null()))

    async def located_units(
        self, on_rows: Callable[[int], None] | None = None
    ) -> positions.Positions:
        """(ids, longitudes, latitudes) of every unit with a position."""
        if db.is_postgres():
            return await positions.fetch(
                _connection(),
                "SELECT id, longitude, latitude FROM equipment"
                " WHERE longitude IS NOT NULL AND latitude IS NOT NULL",
                on_rows=on_rows,
            )
        units = await Equipment.select(Equipment.id, Equipment.longitude, Equipment.latitude).where(
            Equipment.longitude.is_not_null(), Equipment.latitude.is_not_null()
        )
        if on_rows is not None:
            on_rows(len(units))
        return (
            np.array([u["id"] for u in units], dtype=np.int64),
            np.array([u["longitude"] for u in units], dtype=np.float64),
            np.array([u["latitude"] for u in units], dtype=np.float64),
        )

    async def replace_all(
        self,
        area_ids: np.ndarray,
        equipment_ids: np.ndarray,
        on_rows: Callable[[int, int], None] | None = None,
    ) -> MembershipChange:
        """Make ``area_member`` hold exactly the pairs given, writing only what changed.
        ``on_rows(done, total)`` hears of the progress."""
        if db.is_postgres():
            return await self._replace_postgres(area_ids, equipment_ids, on_rows)
        return await self._replace_sqlite(area_ids, equipment_ids, on_rows)

    async def _replace_postgres(
        self,
        area_ids: np.ndarray,
        equipment_ids: np.ndarray,
        on_rows: Callable[[int, int], None] | None,
    ) -> MembershipChange:
        conn = _connection()
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM area_member)"):
            return await _fill_empty_postgres(conn, area_ids, equipment_ids, on_rows)
        await conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS area_member_new"
            " (area integer NOT NULL, equipment bigint NOT NULL) ON COMMIT DROP"
        )
        await conn.execute("TRUNCATE area_member_new")
        total = int(area_ids.size)
        if on_rows is not None and total == 0:
            on_rows(0, 0)
        for start in range(0, total, WRITE_CHUNK):
            chunk_areas = area_ids[start : start + WRITE_CHUNK].tolist()
            chunk_units = equipment_ids[start : start + WRITE_CHUNK].tolist()
            await conn.copy_records_to_table(
                "area_member_new",
                records=zip(chunk_areas, chunk_units, strict=True),
                columns=["area", "equipment"],
            )
            if on_rows is not None:
                on_rows(len(chunk_areas), total)
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
        return MembershipChange(added=int(added.split()[-1]), removed=int(removed.split()[-1]))

    async def _replace_sqlite(
        self,
        area_ids: np.ndarray,
        equipment_ids: np.ndarray,
        on_rows: Callable[[int, int], None] | None,
    ) -> MembershipChange:
        wanted = set(zip(area_ids.tolist(), equipment_ids.tolist(), strict=True))
        stored = {
            (r["area"], r["equipment"]): r["id"]
            for r in await AreaMember.select(_member_id, AreaMember.area, AreaMember.equipment)
        }
        stale = [row_id for pair, row_id in stored.items() if pair not in wanted]
        new = sorted(wanted - stored.keys())
        total = len(stale) + len(new)
        if on_rows is not None and total == 0:
            on_rows(0, 0)
        for batch in _batches(stale, SQLITE_BATCH):
            await AreaMember.delete().where(_member_id.is_in(list(batch)))
            if on_rows is not None:
                on_rows(len(batch), total)
        for batch in _batches(new, SQLITE_BATCH):
            await AreaMember.insert(*[AreaMember(area=a, equipment=e) for a, e in batch])
            if on_rows is not None:
                on_rows(len(batch), total)
        return MembershipChange(added=len(new), removed=len(stale))
