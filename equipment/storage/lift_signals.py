"""What lifts send through the ingest: heartbeats, each lift's live state and its events.
Every statement of the lift half of equipment.services.ingest.

Each runs on the connection it is given (the ingest's transaction), one statement per
table per batch, as ``Bulk`` writes them on either engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from equipment.storage.bulk import Bulk
from equipment.storage.tables import LiftEvent, LiftHeartbeat, LiftState


class IngestUnit(msgspec.Struct, frozen=True):
    """A unit named in a lift topic, with what the ingest's alarms need of it."""

    id: int
    code: str
    registration_code: str | None
    category: str
    maintenance_company: int | None
    district_code: str


# A heartbeat's columns, a tuple per heartbeat in this order (the lift first, its time
# second): a Struct per row would cost the hot path its conversion back to a tuple.
HEARTBEAT_COLUMNS = (
    "equipment", "ts", "running", "direction", "door_zone", "floor", "doors_closed",
    "occupied", "service_mode", "total_runs", "total_hours", "door_cycles", "received_at",
)  # fmt: skip
_STATE_COLUMNS = (*HEARTBEAT_COLUMNS[:-1], "last_seen_at")
# A lift event's columns: (lift, event_id, ts, kind, raw_code, floor, cleared, received_at).
EVENT_COLUMNS = (
    "equipment", "event_id", "ts", "kind", "raw_code", "floor", "cleared", "received_at",
)  # fmt: skip

# The newer heartbeat wins each column of the live state; the latest receipt is kept.
_STATE_UPDATES = ", ".join(
    f"{c} = CASE WHEN excluded.ts >= lift_state.ts THEN excluded.{c} ELSE lift_state.{c} END"
    for c in _STATE_COLUMNS[1:-1]
)
_STATE_CONFLICT = (
    f"ON CONFLICT (equipment) DO UPDATE SET {_STATE_UPDATES},"
    " last_seen_at = CASE WHEN excluded.last_seen_at > lift_state.last_seen_at"
    " THEN excluded.last_seen_at ELSE lift_state.last_seen_at END,"
    " offline = false, offline_since = NULL"
)


class LiftSignalRepository:
    async def units_by_code(self, bulk: Bulk, codes: Sequence[str]) -> list[IngestUnit]:
        """The units whose registration code or register code is among ``codes``."""
        rows = await bulk.fetch(
            "SELECT id, code, registration_code, category, maintenance_company, district_code"
            " FROM equipment"
            f" WHERE {bulk.any_of('registration_code', 1)} OR {bulk.any_of('code', 1)}",
            list(codes),
        )
        return [msgspec.convert(r, IngestUnit) for r in rows]

    async def add_heartbeats(self, bulk: Bulk, rows: Sequence[Sequence[Any]]) -> int:
        """Store the heartbeats (HEARTBEAT_COLUMNS order); one already on file (lift, ts)
        is left. How many were new."""
        stored = await bulk.insert(
            LiftHeartbeat,
            HEARTBEAT_COLUMNS,
            rows,
            tail="ON CONFLICT (equipment, ts) DO NOTHING",
            returning="id",
        )
        return len(stored)

    async def offline_among(self, bulk: Bulk, lift_ids: Iterable[int]) -> list[int]:
        """The lifts among ``lift_ids`` marked offline now."""
        rows = await bulk.fetch(
            f"SELECT equipment FROM lift_state WHERE offline AND {bulk.any_of('equipment', 1)}",
            sorted(lift_ids),
        )
        return [r["equipment"] for r in rows]

    async def move_states(self, bulk: Bulk, latest: Iterable[Sequence[Any]]) -> None:
        """Each lift's live state after its latest heartbeat (HEARTBEAT_COLUMNS order):
        online again, and each column moved only by a heartbeat at least as new."""
        await bulk.insert(
            LiftState,
            (*_STATE_COLUMNS, "offline"),
            [(*row[:-1], row[-1], False) for row in latest],
            tail=_STATE_CONFLICT,
        )

    async def add_events(self, bulk: Bulk, rows: Sequence[Sequence[Any]]) -> list[tuple[int, str]]:
        """Store the events (EVENT_COLUMNS order); one already on file (lift, event_id) is
        left. The keys of those stored now."""
        stored = await bulk.insert(
            LiftEvent,
            EVENT_COLUMNS,
            rows,
            tail="ON CONFLICT (equipment, event_id) DO NOTHING",
            returning="equipment, event_id",
        )
        return [(r["equipment"], r["event_id"]) for r in stored]
