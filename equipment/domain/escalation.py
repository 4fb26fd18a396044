"""Escalation ladders: who is told next when a critical alarm is not acted on in time.

One table, per alarm kind (:data:`LADDERS`); a kind not in it that is critical climbs
:data:`DEFAULT_LADDER`. A rung fires once, when its wait has passed and the step it waits
for has not been taken:

- ``unacknowledged``: nobody acknowledged within N minutes (the policy's number, 5 by
  default) → the company's second contact and the district's duty desk;
- ``late`` (entrapments): nobody on site within the alarm's response limit (30 minutes
  in a city district, 60 elsewhere: rule rows ``lift.entrapment.city`` and
  ``lift.entrapment.elsewhere`` in docs/rules.md, stored on the alarm when it is raised)
  → the bureau, and the alarm is marked late.

Pure: the caller passes the alarm's times, the rungs already fired and ``now``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from equipment.domain.errors import InvalidValue


@dataclass(frozen=True, slots=True)
class Rung:
    step: str
    # Minutes after the alarm was raised; None: the alarm's own response limit.
    after_minutes: int | None
    waits_for: str  # the alarm column whose being set cancels the rung
    marks_late: bool = False


UNACKNOWLEDGED = Rung("unacknowledged", 5, "acknowledged_at")
LATE = Rung("late", None, "arrived_at", marks_late=True)

DEFAULT_LADDER: tuple[Rung, ...] = (UNACKNOWLEDGED,)
LADDERS: Mapping[str, tuple[Rung, ...]] = {
    # GB/T 24476 / TSG T5002: a trapped passenger is the emergency the response limit is for.
    "entrapment": (UNACKNOWLEDGED, LATE),
}


@dataclass(frozen=True, slots=True)
class AlarmClock:
    kind: str
    severity: str
    raised_at: datetime
    acknowledged_at: datetime | None
    arrived_at: datetime | None
    response_limit_minutes: int | None


def ladder(kind: str, severity: str, *, unacknowledged_minutes: int) -> tuple[Rung, ...]:
    """The rungs of ``kind``, with the configured wait before ``unacknowledged``."""
    if unacknowledged_minutes < 1:
        raise InvalidValue("the unacknowledged wait is at least one minute")
    rungs = LADDERS.get(kind)
    if rungs is None:
        if severity != "critical":
            return ()
        rungs = DEFAULT_LADDER
    return tuple(
        Rung(r.step, unacknowledged_minutes, r.waits_for, r.marks_late)
        if r.step == UNACKNOWLEDGED.step
        else r
        for r in rungs
    )


def fire_at(rung: Rung, alarm: AlarmClock) -> datetime | None:
    """When ``rung`` fires for ``alarm`` if nothing is done (None: it never does)."""
    minutes = rung.after_minutes if rung.after_minutes is not None else alarm.response_limit_minutes
    if minutes is None:
        return None
    return alarm.raised_at + timedelta(minutes=minutes)


def due(
    alarm: AlarmClock, fired: Collection[str], *, now: datetime, unacknowledged_minutes: int
) -> list[Rung]:
    """The rungs to fire now: their time has come, their step is not done, not fired yet."""
    done = {"acknowledged_at": alarm.acknowledged_at, "arrived_at": alarm.arrived_at}
    out = []
    for rung in ladder(alarm.kind, alarm.severity, unacknowledged_minutes=unacknowledged_minutes):
        when = fire_at(rung, alarm)
        if rung.step in fired or when is None or when > now:
            continue
        # Once the step is taken there is no one left to chase (an arrival after the limit
        # is marked late by the response itself).
        if done[rung.waits_for] is None:
            out.append(rung)
    return out
