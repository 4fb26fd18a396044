"""The alarm feed inside one process, on each engine: which changes the triggers record,
a stream whose client falls behind is dropped (not buffered without end), and the cap on
streams per process."""

from __future__ import annotations

from datetime import timedelta

import pytest

from equipment.domain.access import SYSTEM, Principal, Role
from equipment.domain.errors import Busy
from equipment.services import alarm_feed, alarms, clock, retention
from equipment.services.alarm_feed import AlarmFeed
from equipment.settings import RetentionSettings, StreamSettings
from equipment.storage.tables import AlarmChange
from tests import factories

pytestmark = pytest.mark.integration


async def company_lift() -> tuple[int, dict]:
    owner = await factories.organisation("user_unit")
    company = await factories.organisation("maintenance_company")
    unit = await factories.unit(owner["id"], maintenance_company_id=company["id"])
    return company["id"], unit


async def test_each_change_the_board_shows_is_recorded_once_in_commit_order(engine) -> None:
    company, unit = await company_lift()
    now = clock.now()
    raised = await alarms.raise_alarm(
        SYSTEM, unit["id"], kind="entrapment", raised_at=now, source="manual", now=now
    )
    # A repeat only counts on the open alarm: no change of the board's (a storm is quiet).
    await alarms.raise_alarm(
        SYSTEM, unit["id"], kind="entrapment", raised_at=now, source="manual", now=now
    )
    responder = Principal(Role.MAINTENANCE, company)
    await alarms.respond(responder, raised.id, "acknowledge", at=now, now=now)
    await alarms.close(SYSTEM, raised.id, note="rescued", now=now)
    await alarm_feed.stamp()
    changes, last = await alarm_feed.changes_after(0)
    assert [c.event for c in changes] == ["raised", "acknowledged", "closed"]
    assert [c.seq for c in changes] == sorted(c.seq for c in changes)
    assert last == changes[-1].seq == await alarm_feed.head()
    assert changes[-1].alarm.state == "closed"
    # Another company's caller is shown none of them.
    other = await factories.organisation("maintenance_company")
    seen, _ = await alarm_feed.visible_changes(Principal(Role.MAINTENANCE, other["id"]), 0)
    assert seen == []


async def test_a_stream_that_falls_behind_is_dropped_and_streams_are_capped(engine) -> None:
    company, unit = await company_lift()
    now = clock.now()
    for kind in ("entrapment", "door_open_fault", "door_close_fault"):
        await alarms.raise_alarm(
            SYSTEM, unit["id"], kind=kind, raised_at=now, source="manual", now=now
        )
    feed = AlarmFeed(StreamSettings(max_streams=2, queue_size=2, keepalive_s=60, poll_ms=10))
    responder = Principal(Role.MAINTENANCE, company)
    try:
        slow = await feed.subscribe(responder)
        changes, _ = await alarm_feed.changes_after(0)
        assert len(changes) == 3
        await feed.deliver(changes)
        assert slow.dropped and slow not in feed.subscribers
        assert slow.queue.qsize() == 2  # what it held when it was dropped, no more

        await feed.subscribe(responder)
        await feed.subscribe(responder)
        with pytest.raises(Busy):
            await feed.subscribe(responder)
    finally:
        await feed.close()
    assert not feed.subscribers


async def test_retention_prunes_old_changes_but_never_a_resumable_one(engine) -> None:
    """``alarm_change`` is pruned by age like the telemetry (SEREG_RETAIN_ALARM_CHANGE_DAYS),
    but never within the last MAX_REPLAY changes (a stream may still resume from them), an
    unstamped change, or the head."""
    _, unit = await company_lift()
    now = clock.now()
    raised = await alarms.raise_alarm(
        SYSTEM, unit["id"], kind="entrapment", raised_at=now, source="manual", now=now
    )
    await alarm_feed.stamp()
    # The database dates what its triggers write (the pruning's age).
    [written] = await AlarmChange.select(AlarmChange.changed_at)
    assert written["changed_at"] is not None
    head = await alarm_feed.head()
    # A backlog: MAX_REPLAY + 5 more changes of the alarm, stamped; one not yet stamped.
    await AlarmChange.insert(
        *(
            AlarmChange(seq=head + i, alarm=raised.id, event="reassigned", changed_at=now)
            for i in range(1, alarm_feed.MAX_REPLAY + 6)
        ),
        AlarmChange(seq=None, alarm=raised.id, event="reassigned", changed_at=now),
    )
    head += alarm_feed.MAX_REPLAY + 5
    policy = retention.Retention(heartbeat_days=30, dead_letter_days=90)
    assert policy.alarm_change_days == RetentionSettings().alarm_change_days
    assert (await retention.prune(policy, now=now))["alarm_change"] == 0  # all young
    later = now + timedelta(days=policy.alarm_change_days + 1)
    # Old now: everything goes but the last MAX_REPLAY behind the head, the head, and the
    # unstamped row.
    assert (await retention.prune(policy, now=later))["alarm_change"] == 5
    kept = sorted(r["seq"] or 0 for r in await AlarmChange.select(AlarmChange.seq))
    assert kept == [0, *range(head - alarm_feed.MAX_REPLAY, head + 1)]
    assert await alarm_feed.head() == head
    # A stream resuming as far back as it may still reads every change after its cursor.
    changes, last = await alarm_feed.changes_after(head - alarm_feed.MAX_REPLAY, limit=5000)
    assert len(changes) == alarm_feed.MAX_REPLAY and last == head
    assert (await retention.prune(policy, now=later))["alarm_change"] == 0
