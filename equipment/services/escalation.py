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
from equipment.storage import reads, unit_of_work
from equipment.storage.escalation import EscalationCandidate


def _clock(row: EscalationCandidate) -> ladders.AlarmClock:
    return ladders.AlarmClock(
        kind=row.kind,
        severity=row.severity,
        raised_at=row.raised_at,
        acknowledged_at=row.acknowledged_at,
        arrived_at=row.arrived_at,
        response_limit_minutes=row.response_limit_minutes,
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
    candidates, fired = await reads().escalation.candidates(
        now=now, laddered=ladders.LADDERS, limit=limit
    )
    count = 0
    for row in candidates:
        for rung in ladders.due(
            _clock(row),
            fired.get(row.id, set()),
            now=now,
            unacknowledged_minutes=per_kind.get(row.kind, unacknowledged_minutes),
        ):
            count += await _fire(row.id, rung, now=now)
    return count


async def _fire(alarm_id: int, rung: ladders.Rung, *, now: datetime) -> int:
    try:
        return await _claim_and_fire(alarm_id, rung, now=now)
    except _Moot:
        return 0


async def _claim_and_fire(alarm_id: int, rung: ladders.Rung, *, now: datetime) -> int:
    async with unit_of_work() as uow:
        if not await uow.escalation.claim(alarm_id, rung.step, now=now):
            return 0  # another worker fired it
        # Still due under the lock of this transaction? (acknowledged meanwhile: skip)
        if not await uow.escalation.still_waiting(alarm_id, rung.waits_for):
            raise _Moot
        if rung.marks_late:
            await uow.escalation.mark_late(alarm_id)
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
