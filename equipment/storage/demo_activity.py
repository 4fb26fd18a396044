"""The demo city's activity (equipment/demo/activity.py): the lifts it is made for, read
back after the units are written, and its rows, written set-at-a-time."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from equipment.storage import db
from equipment.storage.bulk import Bulk
from equipment.storage.tables import Alarm, LiftEvent, LiftHeartbeat, MaintenanceRecord

_JSON_COLUMNS = frozenset({"items", "technicians", "hazards"})
_BATCH = 5_000


async def lifts_in_use(today: date) -> list[dict[str, Any]]:
    """Lifts in use with a maintenance company and the contract that covers them today."""
    async with db.reading() as bulk:
        return await bulk.fetch(
            "SELECT e.id, e.maintenance_company, cu.contract, e.district_code, e.code,"
            " e.last_maintenance_on FROM equipment e"
            " JOIN contract_unit cu ON cu.equipment = e.id"
            " AND cu.starts_on <= $1 AND cu.ends_on >= $1"
            " WHERE e.status = 'in_use' AND e.maintenance_company IS NOT NULL"
            " AND e.category LIKE '3%' ORDER BY e.id",
            today,
        )


async def _insert(bulk: Bulk, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    values = [
        tuple(json.dumps(r[c], ensure_ascii=False) if c in _JSON_COLUMNS else r[c] for c in columns)
        for r in rows
    ]
    for start in range(0, len(values), _BATCH):
        await bulk.insert(table, columns, values[start : start + _BATCH])


async def write(
    records: Sequence[dict[str, Any]],
    heartbeats: Sequence[dict[str, Any]],
    events: Sequence[dict[str, Any]],
    alarms: Sequence[dict[str, Any]],
) -> None:
    async with db.transaction() as transaction:
        bulk = Bulk(transaction)
        await _insert(bulk, MaintenanceRecord, records)
        await _insert(bulk, LiftHeartbeat, heartbeats)
        await _insert(bulk, LiftEvent, events)
        await _insert(bulk, Alarm, alarms)
