"""A broker that is only a raw socket on loopback: it answers CONNECT and SUBSCRIBE as an
MQTT 5 broker would and then sends whatever bytes a test gives it, well-formed or not,
recording what the client sends back. For driving the consumer's link with packets no
real broker would send (malformed ones, or more than Receive Maximum)."""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field

CONNECT, PUBLISH, PUBACK, SUBSCRIBE, PINGREQ, DISCONNECT = 1, 3, 4, 8, 12, 14


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish(
    topic: str, payload: bytes, *, qos: int = 1, mid: int = 1, props: bytes = b"\x00"
) -> bytes:
    """A PUBLISH as MQTT 5 (3.3) lays it out; ``qos`` may be 3, which no broker sends."""
    body = struct.pack("!H", len(topic.encode())) + topic.encode()
    if qos:
        body += struct.pack("!H", mid)
    body += props + payload
    return bytes([0x30 | (qos << 1)]) + varint(len(body)) + body


@dataclass
class Packet:
    kind: int
    flags: int
    body: bytes


@dataclass
class Connection:
    """One client connection as the raw broker saw it."""

    number: int
    connect: Packet
    writer: asyncio.StreamWriter
    received: list[Packet] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    def acked(self) -> list[int]:
        return [struct.unpack("!H", p.body[:2])[0] for p in self.received if p.kind == PUBACK]

    def receive_maximum(self) -> int | None:
        """The Receive Maximum property (0x21) of the CONNECT, if any (MQTT 5 3.1.2.11)."""
        body = self.connect.body
        at = 2 + struct.unpack("!H", body[:2])[0] + 1 + 1 + 2  # name, level, flags, keep-alive
        length, at = _read_varint(body, at)
        end = at + length
        while at < end:
            prop = body[at]
            at += 1
            if prop == 0x21:
                return struct.unpack("!H", body[at : at + 2])[0]
            # paho's CONNECT from the link carries Session Expiry (0x11, four bytes) too.
            assert prop == 0x11, f"unexpected CONNECT property {prop:#x}"
            at += 4
        return None


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


async def _read_packet(reader: asyncio.StreamReader) -> Packet:
    first = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    while True:
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return Packet(first >> 4, first & 0x0F, await reader.readexactly(length))


class RawBroker:
    def __init__(self) -> None:
        self.connections: list[Connection] = []
        self.arrived = asyncio.Condition()
        self.server: asyncio.base_events.Server | None = None
        self.port = 0

    async def __aenter__(self) -> RawBroker:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for c in self.connections:
            c.writer.close()

    async def connection(self, number: int, within: float = 10) -> Connection:
        """The ``number``-th connection (1-based), once it has subscribed."""

        async def subscribed() -> Connection:
            async with self.arrived:
                await self.arrived.wait_for(lambda: len(self.connections) >= number)
            conn = self.connections[number - 1]
            await conn.subscribed.wait()
            return conn

        try:
            return await asyncio.wait_for(subscribed(), within)
        except TimeoutError:
            raise AssertionError(
                f"no subscribed connection number {number} within {within} s"
            ) from None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn: Connection | None = None
        try:
            connect = await _read_packet(reader)
            assert connect.kind == CONNECT
            conn = Connection(len(self.connections) + 1, connect, writer)
            writer.write(b"\x20\x03\x00\x00\x00")  # CONNACK: no session, Success, no properties
            async with self.arrived:
                self.connections.append(conn)
                self.arrived.notify_all()
            while True:
                packet = await _read_packet(reader)
                conn.received.append(packet)
                if packet.kind == SUBSCRIBE:
                    mid = packet.body[:2]
                    # One Success (granted QoS 1) per topic filter; MQTT 5 3.9.
                    count = _count_filters(packet.body)
                    body = mid + b"\x00" + b"\x01" * count
                    writer.write(b"\x90" + varint(len(body)) + body)
                    conn.subscribed.set()
                elif packet.kind == PINGREQ:
                    writer.write(b"\xd0\x00")
                elif packet.kind == DISCONNECT:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if conn is not None:
                conn.closed.set()
            writer.close()


def _count_filters(body: bytes) -> int:
    at = 2
    length, at = _read_varint(body, at)
    at += length
    count = 0
    while at < len(body):
        size = struct.unpack("!H", body[at : at + 2])[0]
        at += 2 + size + 1
        count += 1
    return count
