"""Issue 16, item 1, with the real consumer: device credentials try to take fills away
from the ingest workers while 1,000 fills are published, and every fill is stored.

The broker runs the repository's config and the roles ``sereg broker-users`` issues
(tests/mosquitto.py); the attackers hold a station's and a lift's credentials and know the
group and filters (they are public in the repository). Mosquitto 2.0 with an acl_file
granted such subscriptions and dropped the attacker's share at delivery: 500 of 1,000
fills stored with one attacker.
"""

from __future__ import annotations

import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from equipment.storage.tables import Fill
from ingest_mqtt import topics
from tests.ingest_support import (
    ATTACKER_LIFT,
    ATTACKER_STATION,
    DEVICE_PASSWORDS,
    cylinder,
    encode,
    eventually,
    fill_payload,
    fills_topic,
    station,
)
from tests.mosquitto import Broker

pytestmark = pytest.mark.integration

FILLS = 1_000


class Attacker:
    """A device's credential on a connection of its own, subscribing where it should not."""

    def __init__(self, broker: Broker, username: str) -> None:
        self.received: list[str] = []
        self.subacks: dict[int, list] = {}
        self.answered = threading.Condition()
        connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"atk-{uuid.uuid4().hex[:6]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.username_pw_set(username, DEVICE_PASSWORDS[username])
        self.client.on_connect = lambda *a: connected.set()
        self.client.on_message = lambda _c, _u, m: self.received.append(m.topic)

        def on_subscribe(_c, _u, mid, reason_codes, _p) -> None:
            with self.answered:
                self.subacks[mid] = reason_codes
                self.answered.notify_all()

        self.client.on_subscribe = on_subscribe
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert connected.wait(5), f"{username}: no CONNACK"

    def subscribe(self, topic: str) -> str:
        _, mid = self.client.subscribe(topic, qos=1)
        with self.answered:
            assert self.answered.wait_for(lambda: mid in self.subacks, 5), f"no SUBACK for {topic}"
        return self.subacks[mid][0].getName()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
async def test_devices_cannot_take_fills_from_the_ingest_workers(
    engine, ingest_broker, consumers, publisher
) -> None:
    running = await consumers()
    group = running.consumer.settings.ingest.group
    home = await station()
    unit = await cylinder(home)
    other = await station()

    attackers = [Attacker(ingest_broker, ATTACKER_STATION), Attacker(ingest_broker, ATTACKER_LIFT)]
    tried = [
        *(topics.shared(s, group) for s in topics.SUBSCRIPTIONS),
        *(topics.shared(s, "sereg-ingest") for s in topics.SUBSCRIPTIONS),
        "sereg/v1/#",
        topics.topic_for(topics.TopicKind.VERDICTS, other["station_code"]),
    ]
    try:
        answers = {(a.client.username, t): a.subscribe(t) for a in attackers for t in tried}
        granted = {key: answer for key, answer in answers.items() if answer != "Not authorized"}
        assert not granted, f"device subscriptions granted: {granted}"

        for n in range(FILLS):
            body = fill_payload(home["station_code"], unit["code"], event_id=f"steal-{n}")
            publisher.publish(fills_topic(home["station_code"]), encode(body))
        assert publisher.wait_all_acked(60), "the broker did not acknowledge every fill"

        async def all_stored() -> bool:
            return await Fill.count().where(Fill.event_id.like("steal-%")) >= FILLS

        await eventually(all_stored, within=60)
        assert await Fill.count().where(Fill.event_id.like("steal-%")) == FILLS
        assert [a.received for a in attackers] == [[], []]
    finally:
        for attacker in attackers:
            attacker.close()
