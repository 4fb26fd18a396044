"""The consumer's broker link without a broker: what its message callback makes of what
paho hands it."""

from __future__ import annotations

import paho.mqtt.client as mqtt

from equipment.domain import lift_events
from ingest_mqtt.client import BrokerLink
from ingest_mqtt.consumer import to_incoming
from sereg.settings import MqttConnection


def _link() -> BrokerLink:
    return BrokerLink(
        MqttConnection("127.0.0.1", 1),
        client_id="unit",
        subscriptions=["$share/g/sereg/v1/#"],
        session_expiry_s=60,
        receive_maximum=10,
        qos0_limit=2,
    )


def _message(topic: bytes, qos: int = 1, mid: int = 1) -> mqtt.MQTTMessage:
    message = mqtt.MQTTMessage(mid=mid, topic=topic)
    message.payload = b"{}"
    message.qos = qos
    return message


async def test_a_topic_that_is_not_utf8_is_delivered_for_dead_lettering() -> None:
    link = _link()
    link._on_message(None, None, _message(b"sereg/v1/stations/\xff/fills"))
    [delivery] = await link.next_batch(10, 0, 0)
    assert delivery.topic == "sereg/v1/stations/\ufffd/fills"
    item = to_incoming(delivery, lift_events.DEFAULT_FAULT_CODES)
    assert item.kind == "rejected"
    assert item.reason  # a reason to store, and then an ack like any other message


async def test_qos0_beyond_the_limit_is_dropped_and_counted_qos1_never() -> None:
    link = _link()
    for mid in range(1, 5):
        link._on_message(None, None, _message(b"sereg/v1/elevators/L1/status", qos=0, mid=mid))
    for mid in range(5, 9):
        link._on_message(None, None, _message(b"sereg/v1/elevators/L1/events", qos=1, mid=mid))
    batch = await link.next_batch(100, 0, 0)
    assert [d.qos for d in batch] == [0, 0, 1, 1, 1, 1]
    assert link.counters.dropped_qos0 == 2
    assert link.counters.received == 8
