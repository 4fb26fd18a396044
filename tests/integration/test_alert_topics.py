"""Organisations' MQTT alert topics through the real broker and its dynamic-security roles:
an entrapment published by a lift reaches its company's topic and webhook, another
organisation cannot subscribe to it, and the acknowledgement and the close are announced
the same way (issue 24)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from equipment import broker
from equipment.domain.access import Role
from equipment.services import alerts, clock, notify_worker
from equipment.settings import NotifySettings
from equipment.storage.tables import Alarm, AlertDelivery, Notification
from ingest_mqtt import credentials
from tests import factories as f
from tests import webhook_receiver
from tests.ingest_support import at, encode, event_payload, events_topic, eventually

pytestmark = pytest.mark.integration

FAST = NotifySettings(
    poll_s=0.05,
    backoff_base_s=0.0,
    backoff_cap_s=0.0,
    timeout_s=5,
    allow_private=webhook_receiver.ALLOW,
)


@pytest.fixture
def boot(configure):
    """The app allows the loopback receivers' URLs (refused by default)."""
    return configure(notify=NotifySettings(allow_private=webhook_receiver.ALLOW))


NOT_AUTHORIZED = 0x87


class Listener:
    """An organisation's app: logs in as the organisation's broker user and keeps what it
    receives; :meth:`subscribe` answers the SUBACK's reason code."""

    def __init__(self, port: int, username: str, password: str) -> None:
        self.got: list[dict] = []
        self.topics: list[str] = []
        self._cond = threading.Condition()
        self._subacks: dict[int, int] = {}
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=username, protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(username, password)
        self.client.on_message = self._message
        self.client.on_subscribe = self._suback
        connected = threading.Event()
        self.client.on_connect = lambda *_a: connected.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert connected.wait(10), f"{username} did not connect"

    def _message(self, _c, _u, message) -> None:
        with self._cond:
            self.got.append(json.loads(message.payload))
            self.topics.append(message.topic)

    def _suback(self, _c, _u, mid, reason_codes, _p) -> None:
        with self._cond:
            self._subacks[mid] = reason_codes[0].value
            self._cond.notify_all()

    def subscribe(self, topic: str) -> int:
        _, mid = self.client.subscribe(topic, qos=1)
        with self._cond:
            assert self._cond.wait_for(lambda: mid in self._subacks, 10), f"no SUBACK for {topic}"
            return self._subacks[mid]

    def messages(self) -> list[dict]:
        with self._cond:
            return list(self.got)

    def events(self) -> list[str]:
        with self._cond:
            return [m["event"] for m in self.got]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def receiver():
    r = webhook_receiver.Receiver()
    server, url = webhook_receiver.start(r)
    r.url = url  # type: ignore[attr-defined]
    yield r
    server.shutdown()


@pytest.fixture
async def world(engine, client, ingest_broker):
    w = {
        "owner": (await f.organisation("user_unit"))["id"],
        "company": (await f.organisation("maintenance_company"))["id"],
        "other": (await f.organisation("maintenance_company"))["id"],
    }
    w["tokens"] = {
        "company": await f.token(Role.MAINTENANCE, w["company"]),
    }
    w["unit"] = await f.unit(w["owner"], maintenance_company_id=w["company"])
    listeners: list[Listener] = []

    def listener(org: int) -> Listener:
        # The organisation's own role, as `sereg broker-users` writes it.
        role = ingest_broker.ensure_role(credentials.organisation_role(org))
        username, password = ingest_broker.user(f"org{org}", [role])
        listeners.append(Listener(ingest_broker.port, username, password))
        return listeners[-1]

    w["listener"] = listener
    notifier, password = ingest_broker.user(
        "notify", [ingest_broker.ensure_role(credentials.notify_role())]
    )
    w["publisher"] = alerts.Publisher(
        f"mqtt://{notifier}:{password}@127.0.0.1:{ingest_broker.port}"
    )
    w["publisher"].start()
    yield w
    w["publisher"].stop()
    for one in listeners:
        one.close()


async def drain(w, receiver, done, *, what: str) -> None:
    """Worker passes in this process (webhooks and alert topics) until ``done()``."""
    async with notify_worker.client_for(FAST) as http:
        for _ in range(200):
            if done():
                return
            await notify_worker.work_once(http, FAST, w["publisher"])
    assert done(), f"{what} never happened"


async def test_an_entrapment_reaches_its_company_topic_only_with_its_response(
    client, world, receiver, consumers, publisher
):
    w = world
    company = w["listener"](w["company"])
    other = w["listener"](w["other"])
    # Each reads its own topic; neither another's, nor all of them through a wildcard.
    assert company.subscribe(broker.alerts_topic(w["company"])) < 0x80
    assert other.subscribe(broker.alerts_topic(w["other"])) < 0x80
    assert other.subscribe(broker.alerts_topic(w["company"])) == NOT_AUTHORIZED
    assert other.subscribe(broker.ALERTS_ANY) == NOT_AUTHORIZED
    assert other.subscribe("sereg/v1/#") == NOT_AUTHORIZED
    response = await client.post(
        "/api/v1/webhooks", json={"url": receiver.url + "/company"}, headers=w["tokens"]["company"]
    )
    assert response.status_code == 201, response.text
    receiver.secrets["/company"] = response.json()["secret"]

    await consumers()
    code = w["unit"]["registration_code"]
    t0 = at()
    for i in range(3):
        publisher.publish(
            events_topic(code),
            encode(event_payload("entrapment", t0 + timedelta(milliseconds=i), floor=3)),
        )

    async def raised() -> bool:
        rows = await Alarm.select(Alarm.id, Alarm.count).where(Alarm.equipment == w["unit"]["id"])
        return bool(rows) and rows[0]["count"] == 3

    await eventually(raised, what="the entrapment stored")
    [alarm] = await Alarm.select(Alarm.id).where(Alarm.equipment == w["unit"]["id"])
    await drain(w, receiver, lambda: company.events() == ["alarm.raised"], what="the alert")
    [got] = company.got
    assert got["alarm"]["id"] == alarm["id"]
    assert got["alarm"]["registration_code"] == code
    assert got["organisation_id"] == w["company"]
    assert company.topics == [broker.alerts_topic(w["company"])]

    # The company acknowledges, then closes: both announced on its topic and its webhook.
    headers = w["tokens"]["company"]
    ack = await client.post(f"/api/v1/alarms/{alarm['id']}/acknowledge", json={}, headers=headers)
    assert ack.status_code == 200, ack.text
    closed = await client.post(
        f"/api/v1/alarms/{alarm['id']}/close", json={"note": "误报"}, headers=headers
    )
    assert closed.status_code == 200, closed.text
    wanted = ["alarm.raised", "alarm.acknowledged", "alarm.closed"]

    def all_told() -> bool:
        hooks = sorted(r.body["event"] for r in receiver.got)
        return sorted(company.events()) == sorted(wanted) and hooks == sorted(wanted)

    await drain(w, receiver, all_told, what="the acknowledgement and the close")
    assert all(r.signed and r.status == 200 for r in receiver.got)
    # One idempotency key per delivery, carried in the payload.
    assert len({m["id"] for m in company.got}) == 3
    rows = await AlertDelivery.select(AlertDelivery.state, AlertDelivery.organisation)
    # The company's and the owner's topics; the other company's never.
    assert sorted({r["organisation"] for r in rows}) == sorted([w["company"], w["owner"]])
    assert {r["state"] for r in rows} == {"delivered"}
    assert other.got == []


async def test_a_refused_publish_is_not_recorded_delivered(client, world, ingest_broker):
    """The worker's user lacks the notify role: the broker refuses the PUBLISH in its
    PUBACK, and the delivery stays pending for a retry instead of counting as sent."""
    w = world
    username, password = ingest_broker.user("no-notify", [])
    w["publisher"].stop()
    w["publisher"] = alerts.Publisher(
        f"mqtt://{username}:{password}@127.0.0.1:{ingest_broker.port}"
    )
    w["publisher"].start()
    now = clock.now()
    response = await client.post(
        f"/api/v1/equipment/{w['unit']['id']}/alarms",
        json={"kind": "entrapment", "raised_at": now.isoformat()},
        headers=w["tokens"]["company"],
    )
    assert response.status_code == 201, response.text
    async with notify_worker.client_for(FAST) as http:
        await notify_worker.work_once(http, FAST, w["publisher"])

        async def attempted() -> bool:
            rows = await AlertDelivery.select(AlertDelivery.attempts, AlertDelivery.last_error)
            return bool(rows) and all(r["attempts"] >= 1 and r["last_error"] for r in rows)

        for _ in range(50):
            if await attempted():
                break
            await notify_worker.work_once(http, FAST, w["publisher"])
    rows = await AlertDelivery.select(AlertDelivery.state, AlertDelivery.last_error)
    assert rows and all(r["state"] in ("pending", "dead") for r in rows), rows
    assert all("0x87" in r["last_error"] or "PUBACK" in r["last_error"] for r in rows), rows


async def test_a_lift_clearing_its_entrapment_announces_the_close(
    client, world, consumers, publisher
):
    """The device's own clear closes the alarm in the ingest's batch, and the close goes
    into the outbox with it (alarm.closed), as a close by hand does."""
    w = world
    await consumers()
    code = w["unit"]["registration_code"]
    t0 = at()
    publisher.publish(events_topic(code), encode(event_payload("entrapment", t0, floor=2)))

    async def raised() -> bool:
        return len(await Alarm.select(Alarm.id).where(Alarm.equipment == w["unit"]["id"])) == 1

    await eventually(raised, what="the entrapment stored")
    publisher.publish(
        events_topic(code),
        encode(event_payload("entrapment", t0 + timedelta(seconds=5), cleared=True)),
    )

    async def announced() -> bool:
        rows = await Notification.select(Notification.event)
        return sorted(r["event"] for r in rows) == ["alarm.closed", "alarm.raised"]

    await eventually(announced, what="the close announced")
    [alarm] = await Alarm.select(Alarm.state).where(Alarm.equipment == w["unit"]["id"])
    assert alarm["state"] == "closed"
