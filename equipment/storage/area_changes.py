"""The log of areas whose summary changed (``area_change``), written by triggers (migration
2026-12-06T12:35): what the area summary reads to refresh only the areas that changed."""

from __future__ import annotations

import msgspec

from equipment.storage import db
from equipment.storage.tables import AreaMember

# Rows older than the newest this many are pruned (a reader that far behind recomputes all).
KEEP = 200_000


class Changes(msgspec.Struct, frozen=True):
    """The areas changed since a reader's mark, and its next mark."""

    areas: frozenset[int]
    last_id: int  # the newest change id seen
    horizon: str  # PostgreSQL: the snapshot (pg_snapshot text) the mark was taken in:
    # changes of the transactions it did not see may still commit with older ids;
    # SQLite: "" (writers commit in id order)
    gap: bool  # rows after the old mark were pruned: the reader must recompute everything


class AreaChangeRepository:
    async def mark(self) -> Changes:
        """Where the log stands now, with no areas: the mark of a full recompute."""
        return await self.since(None, "")

    async def since(self, last_id: int | None, horizon: str) -> Changes:
        """The areas changed after the mark ``(last_id, horizon)``."""
        async with db.reader() as bulk:
            if bulk.postgres and last_id is not None:
                # One statement, so one snapshot for the rows and the new mark, and one
                # round trip (each costs a wake-up of two processes on a busy machine).
                # Only the rows the mark's snapshot did not see, not every row since its
                # xmin: one long transaction anywhere on the server holds the xmin back,
                # and every refresh meanwhile read a whole reassignment's log again and
                # recomputed everything (issue 19: 4,000 rows, seconds a request).
                found = await bulk.rows(
                    "SELECT max(id) AS last, min(id) AS first,"
                    " pg_current_snapshot()::text AS horizon,"
                    " (SELECT array_agg(DISTINCT area) FROM area_change WHERE id > $1"
                    " OR (xid >= pg_snapshot_xmin($2::text::pg_snapshot)"
                    " AND NOT pg_visible_in_snapshot(xid, $2::text::pg_snapshot))) AS areas"
                    " FROM area_change",
                    last_id,
                    horizon,
                )
                row = found[0]
                return Changes(
                    frozenset(int(a) for a in row["areas"] or ()),
                    max(row["last"] or 0, last_id),
                    str(row["horizon"]),
                    gap=row["first"] is not None and row["first"] > last_id + 1,
                )
            if bulk.postgres:
                bounds = await bulk.rows(
                    "SELECT max(id) AS last, min(id) AS first,"
                    " pg_current_snapshot()::text AS horizon FROM area_change"
                )
            else:
                bounds = await bulk.rows(
                    "SELECT max(id) AS last, min(id) AS first, '' AS horizon FROM area_change"
                )
            last, first, now_horizon = bounds[0]["last"], bounds[0]["first"], bounds[0]["horizon"]
            if last_id is None:
                return Changes(frozenset(), last or 0, str(now_horizon), gap=False)
            gap = first is not None and first > last_id + 1
            rows = await bulk.rows("SELECT DISTINCT area FROM area_change WHERE id > $1", last_id)
            areas = frozenset(int(r["area"]) for r in rows)
            return Changes(areas, max(last or 0, last_id), str(now_horizon), gap=gap)

    async def prune(self) -> None:
        """Drop all but the newest KEEP rows."""
        await AreaMember.raw(
            "DELETE FROM area_change WHERE id <= (SELECT max(id) FROM area_change) - {}", KEEP
        )
