"""The consumer's broker link without a broker: what its message callback makes of what
paho hands it."""

from __future__ import annotations

import itertools
import struct

import paho.mqtt.client as mqtt
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from equipment.domain import lift_events
from ingest_mqtt.client import _NO_PROPERTIES, BrokerLink, _BufferedClient, _Outgoing
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


def _publish_packet(
    topic: bytes, payload: bytes, qos: int, mid: int, dup: bool, retain: bool, props: bytes
) -> tuple[int, bytearray]:
    header = 0x30 | (qos << 1) | (0x08 if dup else 0) | (0x01 if retain else 0)
    body = struct.pack("!H", len(topic)) + topic
    if qos:
        body += struct.pack("!H", mid)
    return header, bytearray(body + props + payload)


def _received(client: mqtt.Client, header: int, packet: bytearray) -> list[tuple]:
    got: list[tuple] = []
    client.on_message = lambda c, u, m: got.append(
        (m._topic, m.payload, m.qos, m.mid, m.dup, m.retain)
    )
    client._in_packet = {"command": header, "packet": bytearray(packet)}
    client._handle_publish()
    return got


@settings(max_examples=300, deadline=None)
@given(
    topic=st.text(max_size=40).map(lambda t: t.encode()),
    payload=st.binary(max_size=200),
    qos=st.integers(0, 2),
    mid=st.integers(1, 65535),
    dup=st.booleans(),
    retain=st.booleans(),
    props=st.sampled_from([b"\x00", b"\x02\x01\x01", b"\x05\x02\x00\x00\x00\x3c"]),
)
def test_the_short_publish_path_reads_what_paho_reads(
    topic, payload, qos, mid, dup, retain, props
) -> None:
    # Each PUBLISH, with or without properties, as paho's own decoder reads it.
    header, packet = _publish_packet(topic, payload, qos, mid, dup, retain, props)
    fast = _BufferedClient(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=True)
    stock = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=True)
    assert _received(fast, header, packet) == _received(stock, header, packet)


def test_a_publish_without_properties_takes_the_short_path() -> None:
    header, packet = _publish_packet(b"sereg/v1/x", b"{}", 1, 7, False, False, b"\x00")
    fast = _BufferedClient(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=True)
    seen: list[mqtt.MQTTMessage] = []
    fast.on_message = lambda c, u, m: seen.append(m)
    fast._in_packet = {"command": header, "packet": packet}
    fast._handle_publish()
    [message] = seen
    assert message.properties is _NO_PROPERTIES
    assert (message.topic, message.payload, message.mid) == ("sereg/v1/x", b"{}", 7)


class _Socket:
    """Enough of a socket for paho to believe it is connected; nothing is sent."""

    def fileno(self) -> int:
        return -1

    def close(self) -> None:
        pass

    def send(self, data: bytes) -> int:
        return len(data)


def _connected(client: mqtt.Client) -> mqtt.Client:
    from paho.mqtt.client import _ConnectionState

    client.max_inflight_messages_set(0)  # as the link sets it
    client._sock = _Socket()
    client._state = _ConnectionState.MQTT_CS_CONNECTED
    client._call_socket_register_write = lambda: None
    return client


@settings(max_examples=200, deadline=None)
@given(
    topic=st.text(min_size=1, max_size=300).filter(lambda t: "+" not in t and "#" not in t),
    # Sizes across 127 and 16,383, where the remaining length takes another byte.
    payload=st.one_of(st.binary(max_size=300), st.integers(0, 20_000).map(bytes)),
    mid=st.integers(0, 65534),
)
def test_the_short_publish_writes_what_paho_writes(topic, payload, mid) -> None:
    # Byte for byte the PUBLISH paho would send, across the remaining-length encoding's
    # one-, two- and three-byte forms, and kept for its PUBACK as paho keeps its own.
    fast = _connected(_BufferedClient(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5))
    stock = _connected(mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5))
    fast._last_mid = stock._last_mid = mid
    queued: list[bytes] = []
    stock._packet_queue = lambda command, packet, mid, qos, info=None: queued.append(packet)
    assert fast.publish_qos1(topic, payload)
    stock.publish(topic, payload, qos=1)
    assert bytes(fast._unsent) == bytes(queued[0])
    [(got_mid, kept)] = fast._out_messages.items()
    [(want_mid, theirs)] = stock._out_messages.items()
    assert got_mid == want_mid
    assert (kept.topic, kept.payload, kept.qos, kept.state, kept.dup) == (
        theirs.topic, theirs.payload, theirs.qos, theirs.state, theirs.dup,
    )  # fmt: skip
    # Its PUBACK (short path) forgets it.
    fast._in_packet = {"command": 0x40, "packet": bytearray(got_mid.to_bytes(2, "big") + b"\0")}
    fast._handle_pubackcomp("PUBACK")
    assert not fast._out_messages and fast._inflight_messages == 0


def test_the_short_publish_waits_for_the_connack_and_a_free_packet_id() -> None:
    client = _BufferedClient(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    assert not client.publish_qos1("sereg/v1/x", b"{}")  # no connection
    client._sock = _Socket()
    assert not client.publish_qos1("sereg/v1/x", b"{}")  # socket, no CONNACK yet
    _connected(client)
    client._last_mid = 6
    client._out_messages[7] = object()  # 7 still awaits its PUBACK
    assert not client.publish_qos1("sereg/v1/x", b"{}")
    assert not client._unsent


@settings(max_examples=50, deadline=None)
@given(mids=st.lists(st.integers(1, 65535), max_size=50))
def test_the_short_acks_write_what_paho_writes(mids) -> None:
    fast = _connected(_BufferedClient(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5))
    stock = _connected(
        mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=True)
    )
    queued: list[bytes] = []
    stock._packet_queue = lambda command, packet, mid, qos, info=None: queued.append(packet)
    assert fast.ack_qos1(mids)
    for mid in mids:
        stock.ack(mid, 1)
    assert bytes(fast._unsent) == b"".join(queued)


def test_the_short_acks_wait_for_a_connection() -> None:
    client = _BufferedClient(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    assert not client.ack_qos1([1, 2])
    assert not client._unsent


class _ChunkSocket(_Socket):
    """A socket that yields a byte stream in the given chunks, then would block."""

    def __init__(self, chunks: list[bytes]) -> None:
        from collections import deque

        self.chunks = deque(chunks)

    def recv(self, size: int) -> bytes:
        if not self.chunks:
            raise BlockingIOError
        chunk = self.chunks.popleft()
        if len(chunk) > size:
            self.chunks.appendleft(chunk[size:])
            chunk = chunk[:size]
        return chunk

    def pending(self) -> int:
        return 0


def _framed(header: int, body: bytes) -> bytes:
    length, out = len(body), bytearray((header,))
    while True:
        byte, length = length & 0x7F, length >> 7
        out.append(byte | 0x80 if length else byte)
        if not length:
            return bytes(out) + body


def _publish_bytes(topic: bytes, payload: bytes, qos: int, mid: int, props: bytes) -> bytes:
    header, body = _publish_packet(topic, payload, qos, mid, False, False, props)
    return _framed(header, bytes(body))


_PACKETS = st.one_of(
    st.builds(
        _publish_bytes,
        st.text(min_size=1, max_size=20).map(str.encode),
        st.one_of(st.binary(max_size=200), st.integers(0, 17_000).map(bytes)),
        st.integers(0, 1),
        st.integers(1, 20),
        st.sampled_from([b"\x00", b"\x02\x01\x01"]),
    ),
    st.integers(1, 20).map(lambda mid: _framed(0x40, mid.to_bytes(2, "big"))),
    st.integers(1, 20).map(lambda mid: _framed(0x40, mid.to_bytes(2, "big") + b"\x10")),
    st.integers(1, 20).map(lambda mid: _framed(0x40, mid.to_bytes(2, "big") + b"\x00\x00")),
    st.just(_framed(0xD0, b"")),  # PINGRESP
)


def _read_all(client: mqtt.Client, stream: bytes, cuts: list[int]) -> tuple[list, list]:
    bounds = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    chunks = [stream[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    got: list[tuple] = []
    client.on_message = lambda c, u, m: got.append(
        (m._topic, m.payload, m.qos, m.mid, m.dup, m.retain, m.properties.json())
    )
    client.max_inflight_messages_set(0)
    client._out_messages = {mid: _Outgoing(mid, b"t", b"") for mid in range(1, 21)}
    client._sock = _ChunkSocket(chunks)
    for _ in range(len(chunks) + 10 * len(stream) // 1000 + 50):
        client.loop_read()
        while isinstance(client, _BufferedClient) and client.buffered():
            client.loop_read()
    return got, sorted(client._out_messages)


@settings(max_examples=150, deadline=None)
@given(
    packets=st.lists(_PACKETS, min_size=1, max_size=12),
    cuts=st.lists(st.integers(0, 10**6), max_size=8),
    tail=st.integers(0, 3),
)
def test_whole_packets_in_the_buffer_are_read_as_paho_reads_them(packets, cuts, tail) -> None:
    # The stream cut into reads at arbitrary points, its last packet possibly cut short:
    # the same messages delivered, and the same PUBACKs taken, as by paho's own reading.
    stream = b"".join(packets)
    stream = stream[: len(stream) - min(tail, len(packets[-1]) - 1)]
    fast = _BufferedClient(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=True)
    stock = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=True)
    assert _read_all(fast, stream, cuts) == _read_all(stock, stream, cuts)
