"""Escalation timers held by the database: fired by whichever worker gets there first.

There is no timer to lose: an alarm's rungs are computed from its own row (raised,
acknowledged, arrived, response limit) each time a worker looks, and a rung that fires
leaves an ``escalation_fired`` row, unique on (alarm, step). Two workers that see the
same due rung both try to insert it; one succeeds and announces it (outbox) in the same
transaction, the other's insert does nothing — so a rung fires exactly once, also across
a restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from equipment.domain import escalation as ladders
from equipment.domain.access import SYSTEM
from equipment.services import audit, notifications
from equipment.storage import db
from equipment.storage.bulk import Bulk


def _clock(row: dict) -> ladders.AlarmClock:
    return ladders.AlarmClock(
        kind=row["kind"],
        severity=row["severity"],
        raised_at=notifications.instant(row["raised_at"]),
        acknowledged_at=row["acknowledged_at"] and notifications.instant(row["acknowledged_at"]),
        arrived_at=row["arrived_at"] and notifications.instant(row["arrived_at"]),
        response_limit_minutes=row["response_limit_minutes"],
    )


async def fire_due(
    *,
    now: datetime,
    unacknowledged_minutes: int,
    per_kind: Mapping[str, int] | None = None,
    limit: int = 500,
) -> int:
    """Fire every rung that is due at ``now``; answers how many this worker fired.

    ``per_kind``: the rules policy's unacknowledged waits by alarm kind (its
    ``escalation`` table), over the ``unacknowledged_minutes`` default.
    """
    per_kind = per_kind or {}
    # Open critical alarms are few (one per unit and kind); the rungs are decided in Python.
    laddered = ", ".join(f"'{kind}'" for kind in ladders.LADDERS)
    async with db.reading() as bulk:
        candidates = await bulk.fetch(
            "SELECT id, kind, severity, raised_at, acknowledged_at, arrived_at,"
            " response_limit_minutes FROM alarm WHERE state = 'open'"
            f" AND (severity = 'critical' OR kind IN ({laddered}))"
            " AND raised_at <= $1 AND (acknowledged_at IS NULL OR arrived_at IS NULL)"
            " ORDER BY raised_at LIMIT $2",
            now,
            limit,
        )
        if not candidates:
            return 0
        fired_rows = await bulk.fetch(
            f"SELECT alarm, step FROM escalation_fired WHERE {bulk.any_of('alarm', 1)}",
            [c["id"] for c in candidates],
        )
    fired: dict[int, set[str]] = {}
    for r in fired_rows:
        fired.setdefault(r["alarm"], set()).add(r["step"])
    count = 0
    for row in candidates:
        for rung in ladders.due(
            _clock(row),
            fired.get(row["id"], set()),
            now=now,
            unacknowledged_minutes=per_kind.get(row["kind"], unacknowledged_minutes),
        ):
            count += await _fire(row["id"], rung, now=now)
    return count


async def _fire(alarm_id: int, rung: ladders.Rung, *, now: datetime) -> int:
    try:
        return await _claim_and_fire(alarm_id, rung, now=now)
    except _Moot:
        return 0


async def _claim_and_fire(alarm_id: int, rung: ladders.Rung, *, now: datetime) -> int:
    async with db.transaction() as transaction:
        bulk = Bulk(transaction)
        won = await bulk.fetch(
            "INSERT INTO escalation_fired (alarm, step, fired_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (alarm, step) DO NOTHING RETURNING id",
            alarm_id,
            rung.step,
            now,
        )
        if not won:
            return 0  # another worker fired it
        # Still due under the lock of this transaction? (acknowledged meanwhile: skip)
        state = await bulk.fetch(
            f"SELECT state, {rung.waits_for} AS taken FROM alarm WHERE id = $1", alarm_id
        )
        if not state or state[0]["state"] != "open" or state[0]["taken"] is not None:
            raise _Moot
        if rung.marks_late:
            await bulk.execute(
                "UPDATE alarm SET arrived_late = true WHERE id = $1 AND arrived_at IS NULL",
                alarm_id,
            )
        await notifications.enqueue_alarm(
            alarm_id, event="alarm.escalated", step=rung.step, now=now
        )
        await audit.record(
            SYSTEM,
            entity="alarm",
            entity_id=alarm_id,
            action=f"escalate.{rung.step}",
            at=now,
            before=None,
            after={"step": rung.step, "marks_late": rung.marks_late},
        )
    return 1


class _Moot(Exception):
    """The rung's step was taken between the scan and the firing: roll the claim back."""
