"""The notification worker as processes on PostgreSQL (killed mid-delivery, two at once),
and the escalation timers at their minute on both engines (issue 24)."""

from __future__ import annotations

import asyncio
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest

from equipment import broker
from equipment.domain.access import SYSTEM, Role
from equipment.services import alarms, alerts, clock, escalation, notifications, risk
from equipment.storage import reads
from equipment.storage.scheduled_jobs import JobState, ScheduledJobRepository
from equipment.storage.tables import (
    Alarm,
    AlertDelivery,
    ClockOffset,
    EscalationFired,
    Notification,
    WebhookDelivery,
)
from ingest_mqtt import credentials
from tests import factories as f
from tests import webhook_receiver
from tests.conftest import ROOT, pg_url, sereg_env
from tests.ingest_support import eventually
from tests.integration.test_alert_topics import Listener

pytestmark = pytest.mark.integration

POSTGRES = pytest.mark.parametrize("engine", ["postgres"], indirect=True)


@pytest.fixture
def receiver():
    r = webhook_receiver.Receiver()
    server, url = webhook_receiver.start(r)
    r.url = url  # type: ignore[attr-defined]
    yield r
    if r.hold is not None:
        r.hold.set()
    server.shutdown()


async def hook(receiver, path: str, organisation_id: int | None, **kw) -> None:
    row = await notifications.create_endpoint(
        SYSTEM,
        url=receiver.url + path,
        organisation_id=organisation_id,
        tier=kw.get("tier", "primary"),
        district_code=kw.get("district_code", ""),
        label="",
        now=clock.now(),
        allow=webhook_receiver.LOOPBACK,
    )
    receiver.secrets[path] = row.secret


async def set_clock(seconds: float) -> None:
    await ClockOffset.delete(force=True)
    await ClockOffset.insert(ClockOffset(seconds=seconds))


class Workers:
    """``sereg notify`` processes on the test's PostgreSQL database, with the test clock."""

    def __init__(self, database: str) -> None:
        self.env = sereg_env(
            DATABASE_URL=pg_url(database),
            SEREG_TEST_CLOCK="1",
            SEREG_NOTIFY_POLL_MS="100",
            SEREG_WEBHOOK_LEASE_S="30",
            SEREG_DB_POOL_MIN="1",
            SEREG_DB_POOL_MAX="2",
            SEREG_WEBHOOK_ALLOW_PRIVATE=",".join(webhook_receiver.ALLOW),
        )
        self.running: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "sereg.cli", "notify"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.running.append(process)
        # Ready when it says so (its SIGTERM handler is installed by then): a SIGTERM that
        # came while it was still importing would end it with -15 instead of a clean stop.
        assert process.stderr is not None
        seen: list[str] = []
        deadline = time.monotonic() + 60
        with selectors.DefaultSelector() as waiting:
            waiting.register(process.stderr, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                assert left > 0 and waiting.select(left), (
                    "sereg notify did not say 'running' within 60 s:\n" + "".join(seen)
                )
                line = process.stderr.readline()
                assert line, "sereg notify exited before it was running:\n" + "".join(seen)
                if "sereg notify: running" in line:
                    return process
                seen.append(line)

    async def stop(self, process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGTERM)  # ends after its current pass
        await asyncio.to_thread(process.wait, 30)
        assert process.returncode == 0, process.stderr.read() if process.stderr else ""

    def kill_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(10)


@pytest.fixture
async def workers(engine, pg_database):
    w = Workers(pg_database)
    await set_clock(0)
    yield w
    w.kill_all()


@pytest.fixture
async def world(engine):
    w = {
        "owner": (await f.organisation("user_unit"))["id"],
        "company": (await f.organisation("maintenance_company"))["id"],
    }
    w["token"] = await f.token(Role.MAINTENANCE, w["company"])
    return w


async def entrapment(w, ago: timedelta = timedelta(0)) -> dict:
    unit = await f.unit(w["owner"], maintenance_company_id=w["company"])
    now = clock.now()
    return await alarms.raise_alarm(
        SYSTEM, unit["id"], kind="entrapment", raised_at=now - ago, source="manual", now=now
    )


async def all_delivered(expected: int):
    async def check() -> bool:
        rows = await WebhookDelivery.select(WebhookDelivery.state)
        return len(rows) == expected and all(r["state"] == "delivered" for r in rows)

    return check


@POSTGRES
async def test_a_worker_killed_mid_delivery_loses_and_repeats_nothing(
    engine, world, receiver, workers
):
    """Three alarms, two endpoints each: the worker is SIGKILLed while a receiver holds
    its request; a fresh worker takes the expired leases over. Every notification reaches
    each receiver, and the keys let the receiver keep each once."""
    await hook(receiver, "/company", world["company"])
    await hook(receiver, "/owner", world["owner"])
    for _ in range(3):
        await entrapment(world)
    receiver.hold = threading.Event()
    first = workers.start()
    if not await asyncio.to_thread(receiver.held.wait, 60):
        raise AssertionError("the first worker never posted a delivery")
    os.kill(first.pid, signal.SIGKILL)
    await asyncio.to_thread(first.wait, 10)
    receiver.hold.set()  # the held request completes at the receiver, unanswered to anyone
    leased = await WebhookDelivery.count().where(WebhookDelivery.lease.is_not_null())
    assert leased >= 1  # it died holding them: nothing was recorded as delivered

    workers.start()
    await set_clock(31)  # past the lease: the dead worker's claims are free again
    await eventually(await all_delivered(6), within=60)

    keys = {r["idempotency_key"] for r in await WebhookDelivery.select()}
    assert len(keys) == 6
    assert set(receiver.accepted_keys()) == keys
    assert sorted(receiver.accepted_keys("/company") + receiver.accepted_keys("/owner")) == sorted(
        keys
    )
    assert all(r.signed for r in receiver.got)
    # The held request (and any of its batch) was posted again after the restart.
    assert len(receiver.got) > 6
    assert len([r for r in receiver.got if r.key == receiver.got[0].key]) >= 2


@POSTGRES
async def test_two_workers_fire_each_escalation_once(engine, world, receiver, workers):
    """Two workers watch the same clock; the escalation steps fire once each, at the
    configured minute of the clock every worker reads from the database."""
    await hook(receiver, "/first", world["company"])
    await hook(receiver, "/second", world["company"], tier="second")
    alarm = await entrapment(world)
    await hook(receiver, "/desk", None, district_code=alarm.district_code)
    pair = [workers.start(), workers.start()]
    await eventually(lambda: _received(receiver, "alarm.raised", 2), within=60)
    assert await EscalationFired.count() == 0

    await set_clock(5 * 60 + 1)
    await eventually(lambda: _received(receiver, "alarm.escalated", 2), within=60)
    for process in pair:
        await workers.stop(process)
    fired = await EscalationFired.select().where(EscalationFired.alarm == alarm.id)
    assert [r["step"] for r in fired] == ["unacknowledged"]
    escalated = [r for r in receiver.got if r.body["event"] == "alarm.escalated"]
    assert sorted(r.path for r in escalated) == ["/desk", "/second"]

    # Restarted later, past the response limit: the late step, once, and the alarm is late.
    await set_clock(alarm.response_limit_minutes * 60 + 1)
    pair = [workers.start(), workers.start()]
    await eventually(lambda: _received(receiver, "alarm.escalated", 5), within=60)
    for process in pair:
        await workers.stop(process)
    fired = await EscalationFired.select().where(EscalationFired.alarm == alarm.id)
    assert sorted(r["step"] for r in fired) == ["late", "unacknowledged"]
    late = [r for r in receiver.got if r.body["step"] == "late"]
    assert sorted(r.path for r in late) == ["/desk", "/first", "/second"]
    row = await Alarm.select(Alarm.arrived_late).where(Alarm.id == alarm.id).first()
    assert row["arrived_late"] is True


async def _received(receiver, event: str, n: int) -> bool:
    return len([r for r in receiver.got if r.body["event"] == event and r.status == 200]) >= n


async def test_escalation_fires_at_its_minute_and_once(engine, world):
    """On both engines: not a second early, exactly once, also with two passes racing."""
    alarm = await entrapment(world)
    t0 = alarm.raised_at
    fire = escalation.fire_due
    assert await fire(now=t0 + timedelta(minutes=5, seconds=-1), unacknowledged_minutes=5) == 0
    assert await fire(now=t0 + timedelta(minutes=5), unacknowledged_minutes=5) == 1
    assert await fire(now=t0 + timedelta(minutes=6), unacknowledged_minutes=5) == 0
    limit = timedelta(minutes=alarm.response_limit_minutes)
    raced = await asyncio.gather(
        fire(now=t0 + limit, unacknowledged_minutes=5),
        fire(now=t0 + limit, unacknowledged_minutes=5),
    )
    assert sorted(raced) == [0, 1]
    steps = await Notification.select(Notification.event, Notification.step).order_by(
        Notification.id
    )
    assert [(s["event"], s["step"]) for s in steps] == [
        ("alarm.raised", ""),
        ("alarm.escalated", "unacknowledged"),
        ("alarm.escalated", "late"),
    ]


async def test_an_acknowledged_alarm_is_not_escalated(engine, world):
    alarm = await entrapment(world, ago=timedelta(minutes=10))
    t0 = alarm.raised_at
    await alarms.respond(
        SYSTEM, alarm.id, "acknowledge", at=t0 + timedelta(minutes=2), now=clock.now()
    )
    assert await escalation.fire_due(now=t0 + timedelta(minutes=20), unacknowledged_minutes=5) == 0
    assert await EscalationFired.count() == 0


@POSTGRES
async def test_concurrent_claims_never_share_a_delivery(engine, world, receiver):
    await hook(receiver, "/company", world["company"])
    await hook(receiver, "/owner", world["owner"])
    for _ in range(10):
        await entrapment(world)
    now = clock.now()
    await notifications.fan_out(now=now)
    claims = await asyncio.gather(
        *(notifications.claim(now=now, lease_s=60, limit=7) for _ in range(3))
    )
    ids = [d.id for c in claims for d in c]
    assert len(ids) == 20 and len(set(ids)) == 20


@POSTGRES
async def test_claims_outside_a_transaction_are_refused(engine, world, receiver):
    """The outbox and the leases claim rows FOR UPDATE SKIP LOCKED; outside an open
    transaction those locks would end with the statement and two workers could take the
    same rows, so the repositories refuse. The workers' path (a unit of work) claims."""
    await hook(receiver, "/company", world["company"])
    await entrapment(world)
    now = clock.now()
    until = now + timedelta(seconds=60)
    store = reads()
    claims = (
        store.notifications.pending(10),
        store.notifications.lease(now=now, until=until, lease="outside", limit=10),
        store.alert_deliveries.lease(now=now, until=until, lease="outside", limit=10),
    )
    for claim in claims:
        with pytest.raises(RuntimeError, match="open transaction"):
            await claim
    assert await notifications.fan_out(now=now, alerts=True) >= 1
    webhooks = await notifications.claim(now=now, lease_s=60, limit=10)
    assert [d.url for d in webhooks] == [receiver.url + "/company"]
    assert await alerts.claim(now=now, lease_s=60, limit=10)


async def test_the_policy_overrides_the_wait_per_kind(engine, world):
    alarm = await entrapment(world)
    t0 = alarm.raised_at
    policy = {"entrapment": 3}
    fire = escalation.fire_due
    at = t0 + timedelta(minutes=3, seconds=-1)
    assert await fire(now=at, unacknowledged_minutes=5, per_kind=policy) == 0
    at = t0 + timedelta(minutes=3)
    assert await fire(now=at, unacknowledged_minutes=5, per_kind=policy) == 1


@POSTGRES
async def test_a_worker_killed_mid_publish_tells_each_alert_topic_once_by_id(
    engine, world, workers, ingest_broker
):
    """The same for the organisations' MQTT alert topics: the worker is SIGKILLed after
    claiming its alerts and before any PUBACK (the broker is paused, so none can come and
    nothing can be recorded); a fresh worker publishes them again once the leases run out.
    Every alert delivery reaches its organisation's topic, and its ``id`` lets a
    subscriber keep each once."""
    role = credentials.notify_role()
    notifier, password = ingest_broker.user("notify", [ingest_broker.ensure_role(role)])
    workers.env["SEREG_NOTIFY_MQTT_URL"] = (
        f"mqtt://{notifier}:{password}@127.0.0.1:{ingest_broker.port}"
    )
    listeners = []
    for org in (world["company"], world["owner"]):
        name, secret = ingest_broker.user(
            f"org{org}", [ingest_broker.ensure_role(credentials.organisation_role(org))]
        )
        listeners.append(Listener(ingest_broker.port, name, secret))
        assert listeners[-1].subscribe(broker.alerts_topic(org)) < 0x80
    try:
        # A first alarm told through a running worker: it is connected to the broker.
        await entrapment(world)
        first = workers.start()
        await eventually(await alerts_delivered(2), within=60)

        os.kill(ingest_broker.process.pid, signal.SIGSTOP)
        try:
            for _ in range(3):
                await entrapment(world)

            async def claimed() -> bool:
                return await AlertDelivery.count().where(AlertDelivery.lease.is_not_null()) > 0

            await eventually(claimed, within=60)
            os.kill(first.pid, signal.SIGKILL)
            await asyncio.to_thread(first.wait, 10)
        finally:
            os.kill(ingest_broker.process.pid, signal.SIGCONT)
        # It died holding them: none of the storm's alerts was recorded as delivered.
        assert await AlertDelivery.count().where(AlertDelivery.state == "delivered") == 2
        assert await AlertDelivery.count().where(AlertDelivery.lease.is_not_null()) >= 1

        workers.start()
        await set_clock(31)  # past the lease: the dead worker's claims are free again
        await eventually(await alerts_delivered(8), within=60)

        rows = await AlertDelivery.select(AlertDelivery.idempotency_key, AlertDelivery.organisation)
        for listener, org in zip(listeners, (world["company"], world["owner"]), strict=True):
            keys = {r["idempotency_key"] for r in rows if r["organisation"] == org}
            assert len(keys) == 4

            async def heard(listener=listener, keys=keys) -> bool:
                return {m["id"] for m in listener.messages()} >= keys

            await eventually(heard, within=30)
            got = listener.messages()
            # Each delivery's id once after dropping repeats, and nothing else.
            assert {m["id"] for m in got} == keys
            assert all(m["organisation_id"] == org for m in got)
            assert len({m["alarm"]["id"] for m in got}) == 4
    finally:
        for listener in listeners:
            listener.close()


async def alerts_delivered(expected: int):
    async def check() -> bool:
        rows = await AlertDelivery.select(AlertDelivery.state)
        return len(rows) == expected and all(r["state"] == "delivered" for r in rows)

    return check


@POSTGRES
async def test_the_workers_grade_the_register_again_each_day(engine, world, workers):
    """Days overdue and days of late maintenance move with the calendar while no input
    changes: once a day the notify workers grade the whole register again, two of them
    sharing one round (kept in its row). The clock moved three days on, every stored grade
    is what a fresh computation of that day gives (review finding)."""
    # Maintained 14 days ago: due tomorrow, two days late once the clock moves on.
    lifts = [
        await f.unit(world["owner"], last_maintenance_on=f.today() - timedelta(days=14))
        for _ in range(3)
    ]
    await risk.recompute_all(now=clock.now())
    jobs = ScheduledJobRepository()
    workers.env["SEREG_RISK_DAILY_HOUR"] = "0"  # due from midnight: whatever the hour now
    pair = [workers.start(), workers.start()]

    async def round_done(day) -> bool:
        return await jobs.state(risk.DAILY_JOB) == JobState(day, None)

    today = clock.now().astimezone(clock.CHINA).date()
    await eventually(lambda: round_done(today), within=60, what="today's round")
    later = timedelta(days=3)
    await set_clock(later.total_seconds())
    await eventually(lambda: round_done(today + later), within=60, what="the round 3 days on")
    for process in pair:
        await workers.stop(process)
    for lift in lifts:
        shown = await risk.explain_unit(lift["id"], now=clock.now() + later)
        assert shown == await risk.explain_now(lift["id"], now=clock.now() + later)
        assert shown is not None
        late = next(x for x in shown["factors"] if x["factor"] == "maintenance_late")
        assert (late["value"], late["points"]) == (2.0, 1.0)
