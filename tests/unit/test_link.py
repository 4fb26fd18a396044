"""The consumer's broker link against a raw socket on loopback (tests/raw_broker.py):
paho's own handling of what a broker sends, the link's bound on what it holds, and
acknowledgements that never cross connections. No private name of paho is used here;
everything the link does goes through paho's public API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from equipment.broker import MqttConnection
from equipment.domain import lift_events
from ingest_mqtt.client import NOT_UTF8_TOPIC, BrokerLink, Delivery
from ingest_mqtt.consumer import to_incoming
from tests.raw_broker import PUBACK, Connection, RawBroker, publish

TOPIC = "sereg/v1/stations/XYS001/fills"


@pytest.fixture
async def raw_broker() -> AsyncIterator[RawBroker]:
    async with RawBroker() as broker:
        yield broker


@pytest.fixture
async def links(raw_broker: RawBroker) -> AsyncIterator[Callable[..., Awaitable[BrokerLink]]]:
    made: list[BrokerLink] = []

    async def make(**options: object) -> BrokerLink:
        settings: dict = {
            "client_id": "unit",
            "subscriptions": ["$share/g/sereg/v1/#"],
            "session_expiry_s": 60,
            "receive_maximum": 10,
            "publish_window": 1,
            "reconnect_delay_s": (0.05, 0.1),
            # One connection, the receiving one, which is what these tests drive (the
            # verdicts' own connection is exercised against Mosquitto in the
            # integration tests).
            "side_connection": False,
            **options,
        }
        link = BrokerLink(MqttConnection("127.0.0.1", raw_broker.port), **settings)
        link.start()
        made.append(link)
        await asyncio.wait_for(link.connected.wait(), 10)
        return link

    yield make
    for link in made:
        await link.stop(timeout_s=1)


async def _until(check: Callable[[], bool], what: str, within: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"not seen within {within} s: {what}"
        await asyncio.sleep(0.01)


async def _take(link: BrokerLink, n: int) -> list[Delivery]:
    got: list[Delivery] = []
    deadline = asyncio.get_running_loop().time() + 10
    while len(got) < n:
        assert asyncio.get_running_loop().time() < deadline, f"{len(got)} of {n} deliveries"
        got += await link.next_batch(n - len(got), 0.01, 0.1)
    return got


async def test_connect_presents_receive_maximum(raw_broker, links) -> None:
    await links(receive_maximum=123)
    conn = await raw_broker.connection(1)
    assert conn.receive_maximum() == 123


@pytest.mark.parametrize(
    "malformed",
    [
        # Both QoS bits set: MQTT 5 3.3.1.2 calls it malformed; paho refuses it.
        pytest.param(publish(TOPIC, b"{}", qos=3, mid=2), id="qos3"),
        # A remaining length of five bytes (MQTT allows four).
        pytest.param(b"\x32\xff\xff\xff\xff\x01", id="remaining-length-too-long"),
        # A topic length that runs past the end of the packet.
        pytest.param(b"\x32\x07\x00\x40sereg", id="topic-length-past-the-end"),
        # A property length larger than the packet.
        pytest.param(publish(TOPIC, b"{}", mid=2, props=b"\x7f"), id="properties-past-the-end"),
        # A Message Expiry property cut short.
        pytest.param(
            publish(TOPIC, b"", mid=2, props=b"\x03\x02\x00\x00"), id="property-cut-short"
        ),
    ],
)
async def test_a_malformed_packet_is_a_protocol_error(raw_broker, links, malformed) -> None:
    # paho's answer to a malformed packet is a protocol error: the connection is closed,
    # nothing of the packet is delivered, and the link connects again. The well-formed
    # message before it is delivered; it is never acknowledged on the new connection.
    link = await links()
    first = await raw_broker.connection(1)
    first.send(publish(TOPIC, b'{"ok": 1}', mid=1))
    first.send(malformed)
    await raw_broker.connection(2)
    await _until(lambda: link.counters.disconnects == 1, "the link counted the disconnect")
    assert link.counters.received == 1
    assert link.counters.discarded == 1  # the good one, dropped with its connection
    assert await link.next_batch(10, 0, 0) == []


async def test_a_topic_that_is_not_utf8_is_delivered_for_dead_lettering(raw_broker, links) -> None:
    # MQTT 4.7.3 requires UTF-8 topics, but paho delivers such a message (and refuses to
    # decode its topic): the link stands a topic in for it that the decoder dead-letters.
    link = await links()
    conn = await raw_broker.connection(1)
    body = b"\x00\x13sereg/v1/stations/\xff\x00\x07\x00{}"
    conn.send(b"\x32" + bytes([len(body)]) + body)
    [delivery] = await _take(link, 1)
    assert delivery.topic == NOT_UTF8_TOPIC
    item = to_incoming(delivery, lift_events.DEFAULT_FAULT_CODES)
    assert item.kind == "rejected"
    assert item.reason == "unknown_topic"
    link.ack([delivery])
    await _until(lambda: conn.acked() == [7], "its PUBACK")


async def test_the_link_holds_no_more_than_receive_maximum(raw_broker, links) -> None:
    # A broker that ignores Receive Maximum (Mosquitto 2.0.11 does, once acks flow) sends
    # 40 at once; the link stops reading at 10 held, and reads on as acks make room.
    link = await links(receive_maximum=10)
    conn = await raw_broker.connection(1)
    for mid in range(1, 41):
        conn.send(publish(TOPIC, b"{}", mid=mid))
    first = await _take(link, 10)
    await asyncio.sleep(0)  # a turn of the loop for the socket's 30 others
    assert link.counters.received_qos1 == 10
    assert link.counters.reads_paused >= 1
    link.ack(first[:4])
    second = await _take(link, 4)
    assert link.counters.held_peak == 10
    rest = await _take_acking(link, 26, first[4:] + second)
    assert [d.mid for d in first + second + rest] == list(range(1, 41))
    await _until(lambda: conn.acked() == list(range(1, 41)), "every PUBACK, in order")
    assert link.counters.held_peak == 10 and link.counters.held == 0


async def _take_acking(link: BrokerLink, n: int, held: list[Delivery]) -> list[Delivery]:
    link.ack(held)
    got: list[Delivery] = []
    while len(got) < n:
        batch = await _take(link, 1)
        link.ack(batch)
        got += batch
    return got


async def test_an_ack_goes_only_to_the_connection_its_delivery_came_on(raw_broker, links) -> None:
    link = await links()
    first = await raw_broker.connection(1)
    first.send(publish(TOPIC, b"{}", mid=1))
    old = await _take(link, 1)
    first.writer.close()  # the connection drops before the batch commits
    second = await raw_broker.connection(2)
    second.send(publish(TOPIC, b"{}", mid=1))  # the broker sends it again
    new = await _take(link, 1)
    assert link.ack(old) == 0
    assert link.ack(new) == 1
    await _until(lambda: second.acked() == [1], "the PUBACK of the new delivery")
    assert [p for p in first.received if p.kind == PUBACK] == []
    assert (link.counters.acked, link.counters.discarded, link.counters.held) == (1, 1, 0)


async def test_waiting_deliveries_of_a_dead_connection_are_discarded(raw_broker, links) -> None:
    link = await links()
    first = await raw_broker.connection(1)
    for mid in (1, 2, 3):
        first.send(publish(TOPIC, b"{}", mid=mid))
    await _until(lambda: link.counters.received_qos1 == 3, "three deliveries")
    first.writer.close()
    await raw_broker.connection(2)
    assert await link.next_batch(10, 0, 0) == []
    assert (link.counters.discarded, link.counters.held) == (3, 0)


async def test_verdicts_keep_to_the_window_and_all_arrive(raw_broker, links) -> None:
    link = await links(publish_window=2)
    conn = await raw_broker.connection(1)
    for i in range(5):
        link.publish("sereg/v1/stations/S/verdicts", f'{{"i": {i}}}'.encode())
    await _until(lambda: _published(conn) == 2, "two verdicts in flight")
    await asyncio.sleep(0.05)
    assert _published(conn) == 2  # no more before a PUBACK
    for expected in range(3, 6):
        mid = _published_mids(conn)[-1]
        conn.send(b"\x40\x02" + mid.to_bytes(2, "big"))
        await _until(lambda e=expected: _published(conn) == e, f"verdict {expected} sent")
    for mid in _published_mids(conn):  # a PUBACK twice is ignored
        conn.send(b"\x40\x02" + mid.to_bytes(2, "big"))
    await _until(lambda: link.outstanding_publishes() == 0, "every verdict acknowledged")


def _published_mids(conn: Connection) -> list[int]:
    mids = []
    for p in conn.received:
        if p.kind == 3:
            size = int.from_bytes(p.body[:2], "big")
            mids.append(int.from_bytes(p.body[2 + size : 4 + size], "big"))
    return mids


def _published(conn: Connection) -> int:
    return len(_published_mids(conn))


async def test_qos0_beyond_the_limit_is_dropped_and_counted_qos1_never(raw_broker, links) -> None:
    link = await links(qos0_limit=2)
    conn = await raw_broker.connection(1)
    for _ in range(4):
        conn.send(publish("sereg/v1/elevators/L1/status", b"{}", qos=0))
    for mid in range(5, 9):
        conn.send(publish("sereg/v1/elevators/L1/events", b"{}", mid=mid))
    await _until(lambda: link.counters.received == 8, "eight deliveries")
    batch = await link.next_batch(100, 0, 0)
    assert [d.qos for d in batch] == [0, 0, 1, 1, 1, 1]
    assert link.counters.dropped_qos0 == 2


async def test_a_paused_link_still_reads_what_is_not_a_publish(raw_broker, links) -> None:
    # Held at the bound, the link reads no PUBLISH; a PUBACK for a verdict (or a
    # PINGRESP) next on the socket is still read, so a slow commit keeps the connection.
    link = await links(receive_maximum=2)
    conn = await raw_broker.connection(1)
    conn.send(publish(TOPIC, b"{}", mid=1) + publish(TOPIC, b"{}", mid=2))
    await _until(lambda: link.counters.received_qos1 == 2, "two deliveries")
    link.publish("sereg/v1/stations/S/verdicts", b"{}")
    await _until(lambda: _published(conn) == 1, "the verdict")
    await _until(lambda: link.counters.reads_paused >= 1, "the link paused at its bound")
    [mid] = _published_mids(conn)
    conn.send(b"\x40\x02" + mid.to_bytes(2, "big"))
    await _until(lambda: link.outstanding_publishes() == 0, "the PUBACK read while paused")
    assert link.counters.received_qos1 == 2
