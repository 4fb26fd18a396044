"""Escalation ladders: which rung is due when (pure rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from equipment.domain.errors import InvalidValue
from equipment.domain.escalation import AlarmClock, due, ladder

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def alarm(kind="entrapment", severity="critical", ack=None, arrived=None, limit=30):
    return AlarmClock(kind, severity, T0, ack, arrived, limit)


def steps(a, minutes, fired=(), unack=5):
    return [r.step for r in due(a, fired, now=T0 + minutes, unacknowledged_minutes=unack)]


M = timedelta(minutes=1)
S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("a", "at", "fired", "expected"),
    [
        (alarm(), 5 * M - S, (), []),
        (alarm(), 5 * M, (), ["unacknowledged"]),
        (alarm(), 29 * M, ("unacknowledged",), []),
        (alarm(), 30 * M, ("unacknowledged",), ["late"]),
        (alarm(), 30 * M, (), ["unacknowledged", "late"]),  # a worker down for 30 minutes
        (alarm(), 31 * M, ("unacknowledged", "late"), []),  # each fires once
        (alarm(ack=T0 + M), 10 * M, (), []),
        (alarm(ack=T0 + M), 30 * M, (), ["late"]),  # acknowledged but nobody came
        (alarm(ack=T0 + 6 * M), 10 * M, (), []),  # acknowledged late: no one to chase now
        (alarm(ack=T0 + M, arrived=T0 + 20 * M), 60 * M, (), []),
        (alarm(limit=60), 59 * M, ("unacknowledged",), []),  # outside a city district
        (alarm(limit=60), 60 * M, ("unacknowledged",), ["late"]),
        # other critical kinds: the unacknowledged rung only
        (alarm("unintended_movement", limit=None), 5 * M, (), ["unacknowledged"]),
        (alarm("unintended_movement", limit=None), 120 * M, ("unacknowledged",), []),
        # not critical, no ladder of its own: never escalated
        (alarm("door_close_fault", "major", limit=None), 120 * M, (), []),
    ],
)
def test_due_rungs(a, at, fired, expected):
    assert steps(a, at, fired) == expected


def test_the_unacknowledged_wait_is_configurable():
    assert steps(alarm(), 9 * M, unack=10) == []
    assert steps(alarm(), 10 * M, unack=10) == ["unacknowledged"]
    with pytest.raises(InvalidValue):
        ladder("entrapment", "critical", unacknowledged_minutes=0)


def test_only_the_late_rung_marks_the_alarm_late():
    assert [r.marks_late for r in ladder("entrapment", "critical", unacknowledged_minutes=5)] == [
        False,
        True,
    ]
