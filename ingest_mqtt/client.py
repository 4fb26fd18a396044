"""The only module that imports paho: the broker link of the consumer, and a bounded
publisher for the simulator and the benchmarks.

The link drives paho's ``Client`` through its public API only, the way paho's own
``examples/loop_asyncio.py`` does: the socket callbacks (``on_socket_open``,
``on_socket_close``, ``on_socket_register_write``, ``on_socket_unregister_write``) put
the socket on the asyncio loop, whose reader and writer call ``loop_read`` and
``loop_write``, and a one-second timer calls ``loop_misc`` (keep-alive). Only the
blocking TCP and TLS connect runs in a thread. QoS 1 deliveries are acknowledged with
``ack(mid, 1)`` (``manual_ack=True``) only when the consumer says so, after the batch
that holds them has committed, and only on the connection they came on.

What the worker holds received-but-not-acknowledged is bounded here, not trusted to the
broker: the link asks for Receive Maximum in CONNECT, and stops reading the socket while
it holds that many (TCP then holds the broker back). Mosquitto 2.0.11 does not keep to a
client's Receive Maximum once acknowledgements flow with a backlog queued (a PUBACK moves
up to Receive Maximum queued messages into flight; fixed in 2.0.13, "various fixes around
inflight quota management", eclipse/mosquitto#2306): a plain paho client acknowledging in
batches of 500 was sent 11,681 unacknowledged messages at Receive Maximum 1,000 (measured
here), which is how a worker came to hold half a million fills.

QoS 0 deliveries (heartbeats) are not acknowledged and not bounded by the broker, so past
``qos0_limit`` waiting ones a new one is dropped and counted: at-most-once is what QoS 0
means.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from equipment.broker import MqttConnection
from ingest_mqtt import credentials

log = logging.getLogger("sereg.ingest")

# paho gives a topic that is not UTF-8 (MQTT 4.7.3 says it must be) no public way to read
# its bytes: the delivery keeps this instead, which no topic pattern matches, so the
# decoder dead-letters it as an unknown topic and it is acknowledged like any other.
NOT_UTF8_TOPIC = "\ufffd(topic not UTF-8)"
# MQTT 5 (3.2.2.3.3): a CONNACK without Receive Maximum means 65,535.
_DEFAULT_RECEIVE_MAXIMUM = 65535
# loop_read calls per wake of the reader before the loop runs its other callbacks (the
# commit path, the keep-alive timer): a flood never starves them.
_READS_PER_WAKE = 64


@dataclass(frozen=True, slots=True)
class Delivery:
    topic: str
    payload: bytes
    qos: int
    mid: int
    received_at: datetime
    generation: int  # which connection it came on: a PUBACK belongs to that connection


@dataclass
class LinkCounters:
    """The link's totals since it was made; ``held`` is what the worker holds now."""

    connects: int = 0
    disconnects: int = 0
    received: int = 0  # every delivery, QoS 0 and 1 ($SYS apart)
    received_qos1: int = 0
    dropped_qos0: int = 0
    acked: int = 0  # QoS 1 deliveries acknowledged to the broker
    discarded: int = 0  # QoS 1 deliveries of a dead connection, never to be acknowledged
    held_peak: int = 0
    published: int = 0  # verdicts handed to the link
    publish_acked: int = 0  # verdicts the broker acknowledged
    reads_paused: int = 0  # times the link stopped reading at its bound
    # The broker granted every ingest subscription on the current connection: what a
    # deployment (and the tests) wait on before sending, instead of guessing a delay.
    subscribed: bool = False

    @property
    def held(self) -> int:
        """QoS 1 deliveries received and neither acknowledged nor discarded."""
        return self.received_qos1 - self.acked - self.discarded


def _client(
    conn: MqttConnection, client_id: str, *, manual_ack: bool, side: bool = False
) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    if conn.username is not None:
        # The broker binds a session's client id to its username, so the side connection
        # logs in as the worker's side client (same password), never as the worker itself.
        user = credentials.side_username(conn.username) if side else conn.username
        client.username_pw_set(user, conn.password)
    if conn.tls:
        client.tls_set(ca_certs=conn.ca_file, cert_reqs=ssl.CERT_REQUIRED)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


class BrokerLink:
    """A persistent MQTT v5 session on shared subscriptions, drained in batches.

    ``receive_maximum`` bounds the QoS 1 deliveries held (received, not yet acknowledged
    or discarded): past it the link stops reading until acknowledgements bring it below.
    A read may take in up to ``publish_window`` + 1 packets at once (paho reads as many
    as it has messages in flight), so ``receive_maximum + publish_window`` is the bound
    the counters prove. ``publish_window`` also bounds the verdicts in flight to the
    broker (never more than the broker's own Receive Maximum from CONNACK); the rest wait
    in the link, in order.
    """

    def __init__(
        self,
        conn: MqttConnection,
        *,
        client_id: str,
        subscriptions: Sequence[str],
        session_expiry_s: int,
        receive_maximum: int,
        publish_window: int = 500,
        qos0_limit: int = 10_000,
        keepalive_s: int = 30,
        reconnect_delay_s: tuple[float, float] = (1.0, 30.0),
        sys_topics: Sequence[str] = (),
        on_sys: Callable[[str, bytes], None] | None = None,
        side_connection: bool = True,
    ) -> None:
        self.conn = conn
        self.subscriptions = tuple(subscriptions)
        self.counters = LinkCounters()
        self.generation = 0
        self._subscribe_mid: int | None = None
        self.connected = asyncio.Event()
        self.receive_maximum = receive_maximum
        self._session_expiry_s = session_expiry_s
        self._publish_window = max(1, publish_window)
        self._window = self._publish_window
        self._qos0_limit = qos0_limit
        self._keepalive_s = keepalive_s
        self._reconnect_delay_s = reconnect_delay_s
        self._sys_topics = tuple(sys_topics)
        self._on_sys = on_sys
        self._items: deque[Delivery] = deque()
        self._qos0_waiting = 0
        self._want = 1
        self._arrived = asyncio.Event()
        self._changed = asyncio.Event()  # the connection came or went
        self._stopping = False
        self._stop_requested = asyncio.Event()
        self._drained = asyncio.Event()  # set while stopping, once the verdicts are out
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._supervisor: asyncio.Task | None = None
        self._socket_on_loop: Any = None  # the socket on the loop, as paho's callbacks gave it
        self._reading = False
        self._paused = False
        self._packets = 0  # callbacks paho made: tells a read that took a packet
        self._verdicts: deque[tuple[str, bytes]] = deque()  # waiting for the window
        self._in_flight: set[int] = set()  # verdict mids awaiting the broker's PUBACK
        client = _client(conn, client_id, manual_ack=True)
        # The link keeps its own window over the verdicts (see publish): paho's in-flight
        # limit would walk every message in flight on each PUBACK.
        client.max_inflight_messages_set(0)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        self._client = client
        # The verdicts and the $SYS watch go over a second connection. On the one that
        # receives, the broker's answers wait behind every PUBLISH it has queued to us (a
        # broker that sends past Receive Maximum queues the whole backlog there): the
        # verdicts' PUBACKs came tens of thousands of messages late, so the verdicts
        # waiting for them grew with the flood (~0.6 KB each, 323 MiB in
        # bench/ingest_overload.py), and $SYS figures came minutes stale. The loop drives
        # it as it drives the first (paho's network thread instead cost 40 µs more per
        # fill in thread hand-overs: 190 against 150 µs of worker CPU, measured).
        self._side: mqtt.Client | None = None
        self._side_ready = False
        self._side_packets = 0
        self._side_supervisor: asyncio.Task | None = None
        self._side_closed = asyncio.Event()
        if side_connection:
            side = _client(conn, f"{client_id}-out", manual_ack=False, side=True)
            side.max_inflight_messages_set(0)
            side.max_queued_messages_set(0)
            side.on_connect = self._on_side_connect
            side.on_disconnect = self._on_side_disconnect
            side.on_publish = self._on_side_publish
            side.on_message = self._on_side_message
            side.on_socket_open = self._on_side_socket_open
            side.on_socket_close = self._on_side_socket_close
            side.on_socket_register_write = self._on_side_register_write
            side.on_socket_unregister_write = self._on_side_unregister_write
            self._side = side

    # ------------------------------------------------- the side connection

    def _on_side_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self._side_packets += 1
        if reason_code.is_failure:
            log.error("broker refused the verdict connection: %s", reason_code)
            return
        if self._sys_topics:
            client.subscribe([(s, SubscribeOptions(qos=0)) for s in self._sys_topics])
        maximum = getattr(properties, "ReceiveMaximum", None) or _DEFAULT_RECEIVE_MAXIMUM
        self._side_ready = True
        self._window = min(self._publish_window, maximum)
        # paho sends the verdicts in flight on the last connection again by itself.
        self._publish_waiting()

    def _on_side_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._side_packets += 1
        self._side_ready = False

    def _on_side_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._side_packets += 1
        self._on_publish(client, userdata, mid, reason_code, properties)

    def _on_side_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        self._side_packets += 1
        if self._on_sys is not None:
            self._on_sys(message.topic, message.payload)

    def _on_side_socket_open(self, client, userdata, sock) -> None:
        self._in_loop(self._add_side_reader, sock)

    def _add_side_reader(self, sock) -> None:
        assert self._loop is not None
        if sock.fileno() >= 0:
            self._loop.add_reader(sock, self._side_readable)

    def _on_side_socket_close(self, client, userdata, sock) -> None:
        self._in_loop(self._forget_side_socket, sock)

    def _forget_side_socket(self, sock) -> None:
        assert self._loop is not None
        for remove in (self._loop.remove_reader, self._loop.remove_writer):
            with contextlib.suppress(ValueError, OSError):
                remove(sock)
        self._side_closed.set()

    def _on_side_register_write(self, client, userdata, sock) -> None:
        self._in_loop(self._add_side_writer, sock)

    def _add_side_writer(self, sock) -> None:
        assert self._loop is not None and self._side is not None
        if sock.fileno() >= 0 and sock is self._side.socket():
            self._loop.add_writer(sock, self._side.loop_write)

    def _on_side_unregister_write(self, client, userdata, sock) -> None:
        self._in_loop(self._remove_writer, sock)

    def _side_readable(self) -> None:
        side = self._side
        assert side is not None
        for _ in range(_READS_PER_WAKE):
            before = self._side_packets
            rc = side.loop_read()
            sock = side.socket()
            if rc != mqtt.MQTT_ERR_SUCCESS or sock is None:
                break
            if self._side_packets == before and not (self.conn.tls and sock.pending()):
                break
        if self._stopping:
            self._note_drained()

    async def _keep_side_connected(self) -> None:
        """The side connection's connect, keep-alive and reconnects."""
        side = self._side
        assert side is not None
        await self._supervise(
            side,
            "verdict connection",
            woken_by=self._stop_requested,
            tick=side.loop_misc,
            is_up=lambda: self._side_ready,
        )

    # ------------------------------------------------------------ paho's callbacks

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self._packets += 1
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        self.generation += 1
        self.counters.connects += 1
        # Subscribing again on a resumed session is harmless and covers a broker that
        # lost its state.
        self.counters.subscribed = False
        if self.subscriptions:
            _, self._subscribe_mid = client.subscribe(
                [(s, SubscribeOptions(qos=1)) for s in self.subscriptions]
            )
        if self._side is None:
            broker_maximum = getattr(properties, "ReceiveMaximum", None) or _DEFAULT_RECEIVE_MAXIMUM
            self._window = min(self._publish_window, broker_maximum)
            if self._sys_topics:
                client.subscribe([(s, SubscribeOptions(qos=0)) for s in self._sys_topics])
            # paho sends the verdicts in flight on the last connection again by itself.
            self._publish_waiting()
        self.connected.set()
        self._changed.set()
        log.info(
            "connected to %s:%s (session present: %s)",
            self.conn.host, self.conn.port, flags.session_present,
        )  # fmt: skip

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._packets += 1
        self.counters.subscribed = False
        self.connected.clear()
        self._changed.set()
        self.counters.disconnects += 1
        # Nothing received on the dead connection can be acknowledged now: the broker
        # sends it again on the next one. What waits here is dropped at once, and what
        # the consumer took already is discarded before (or acknowledged never after)
        # its commit: the generation tells.
        self.generation += 1
        stale = [d for d in self._items if d.qos]
        if stale:
            self._items = deque(d for d in self._items if not d.qos)
            self._discarded(len(stale))
        if not self._stopping:
            log.warning("disconnected from the broker: %s; reconnecting", reason_code)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self._packets += 1
        refused = [code for code in reason_codes if code.is_failure]
        for code in refused:
            log.error("subscription refused by the broker: %s", code)
        if mid == self._subscribe_mid and not refused:
            self.counters.subscribed = True
            log.info("subscribed: %s", ", ".join(self.subscriptions))

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        self._packets += 1
        counters = self.counters
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = NOT_UTF8_TOPIC
        if topic.startswith("$SYS/"):
            if self._on_sys is not None:
                self._on_sys(topic, message.payload)
            return
        counters.received += 1
        if message.qos == 0:
            if self._qos0_waiting >= self._qos0_limit:
                counters.dropped_qos0 += 1
                return
            self._qos0_waiting += 1
        else:
            counters.received_qos1 += 1
            held = counters.received_qos1 - counters.acked - counters.discarded
            if held > counters.held_peak:
                counters.held_peak = held
        self._items.append(
            Delivery(
                topic, message.payload, message.qos, message.mid, datetime.now(UTC),
                self.generation,
            )
        )  # fmt: skip
        if len(self._items) == 1 or len(self._items) >= self._want:
            self._arrived.set()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._packets += 1
        if mid not in self._in_flight:
            return
        self._in_flight.discard(mid)
        self.counters.publish_acked += 1
        if reason_code.is_failure:
            log.error("verdict refused by the broker: %s", reason_code)
        self._publish_waiting()
        if self._stopping:
            self._note_drained()

    # The socket callbacks come from the loop, or from the connecting thread.

    def _in_loop(self, fn: Callable[..., object], *args: object) -> None:
        assert self._loop is not None
        if threading.get_ident() == self._thread:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_socket_open(self, client, userdata, sock) -> None:
        self._in_loop(self._add_reader, sock)

    def _add_reader(self, sock) -> None:
        assert self._loop is not None
        if sock.fileno() < 0:  # closed meanwhile
            return
        self._socket_on_loop = sock
        self._paused = False
        self._start_reading()

    def _start_reading(self) -> None:
        assert self._loop is not None
        sock = self._socket_on_loop
        if sock is not None and not self._reading and sock.fileno() >= 0:
            self._loop.add_reader(sock, self._readable)
            self._reading = True

    def _stop_reading(self) -> None:
        assert self._loop is not None
        if self._socket_on_loop is not None and self._reading:
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_reader(self._socket_on_loop)
            self._reading = False

    def _on_socket_close(self, client, userdata, sock) -> None:
        self._in_loop(self._forget_socket, sock)

    def _forget_socket(self, sock) -> None:
        assert self._loop is not None
        if sock is self._socket_on_loop:
            self._stop_reading()
            self._socket_on_loop = None
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_writer(sock)
        if self._stopping:
            self._drained.set()

    def _on_register_write(self, client, userdata, sock) -> None:
        self._in_loop(self._add_writer, sock)

    def _add_writer(self, sock) -> None:
        assert self._loop is not None
        if sock.fileno() >= 0 and sock is self._client.socket():
            self._loop.add_writer(sock, self._writable)

    def _on_unregister_write(self, client, userdata, sock) -> None:
        self._in_loop(self._remove_writer, sock)

    def _remove_writer(self, sock) -> None:
        assert self._loop is not None
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_writer(sock)

    def _readable(self) -> None:
        client = self._client
        counters = self.counters
        for _ in range(_READS_PER_WAKE):
            held = counters.received_qos1 - counters.acked - counters.discarded
            if held >= self.receive_maximum and self.connected.is_set():
                # Held to the bound: read nothing more until acknowledgements free room.
                # The broker's bytes wait in TCP's buffers, then in its own queue.
                self._stop_reading()
                self._paused = True
                counters.reads_paused += 1
                break
            before = self._packets
            rc = client.loop_read()
            sock = client.socket()
            if rc != mqtt.MQTT_ERR_SUCCESS or sock is None:
                break
            if self._packets == before and not (self.conn.tls and sock.pending()):
                break  # nothing whole was there (or only a PINGRESP): wait for the socket
        else:
            # Still more to read: after the loop's other callbacks have had their turn.
            assert self._loop is not None
            self._loop.call_soon(self._read_more)
        if self._stopping:
            self._note_drained()

    def _read_more(self) -> None:
        if self._reading and self._client.socket() is not None:
            self._readable()

    def _resume_reading(self) -> None:
        counters = self.counters
        if self._paused and counters.held < self.receive_maximum:
            self._paused = False
            self._start_reading()

    def _read_control_packets(self) -> None:
        """While reading is paused at the bound, still read what is not a PUBLISH (a
        PINGRESP, the PUBACK of a verdict) when it is next on the socket: a worker whose
        commits are slow (a database outage) keeps its connection alive. A peek at the
        first byte says what comes next (MQTT 2.1.2: the packet type); under TLS the
        bytes are ciphertext, so a paused TLS link waits for its acks instead."""
        sock = self._client.socket()
        if not self._paused or sock is None or self.conn.tls:
            return
        for _ in range(_READS_PER_WAKE):
            try:
                head = sock.recv(1, socket.MSG_PEEK)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                head = b""
            if head and head[0] >> 4 == 3:
                return  # a PUBLISH: it waits until acknowledgements make room
            # Anything else, or the end of the stream, is paho's to read and handle.
            if self._client.loop_read() != mqtt.MQTT_ERR_SUCCESS or not head:
                return
            sock = self._client.socket()
            if sock is None or not self._paused:
                return

    def _writable(self) -> None:
        self._client.loop_write()
        if self._stopping:
            self._note_drained()

    def _note_drained(self) -> None:
        """While stopping: every verdict acknowledged by the broker (or the connection
        gone, when nothing more can be done)."""
        if not self.outstanding_publishes() or (
            self._side is None and self._client.socket() is None
        ):
            self._drained.set()

    # --------------------------------------------------------------- asyncio side

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self._session_expiry_s
        properties.ReceiveMaximum = self.receive_maximum
        self._client.connect_async(
            self.conn.host,
            self.conn.port,
            keepalive=self._keepalive_s,
            clean_start=False,
            properties=properties,
        )
        self._supervisor = self._loop.create_task(self._keep_connected())
        if self._side is not None:
            # Clean start: the side connection holds no session; paho itself sends the
            # verdicts not yet acknowledged again when it reconnects.
            self._side.connect_async(
                self.conn.host, self.conn.port, keepalive=self._keepalive_s, clean_start=True
            )
            self._side_supervisor = self._loop.create_task(self._keep_side_connected())

    async def _keep_connected(self) -> None:
        """Connect, keep alive, and reconnect with backoff whenever the connection goes."""
        client = self._client

        def tick() -> None:
            self._read_control_packets()
            client.loop_misc()  # keep-alive: PINGREQ, or close a silent connection

        await self._supervise(
            client,
            f"{self.conn.host}:{self.conn.port}",
            woken_by=self._changed,
            tick=tick,
            is_up=self.connected.is_set,
        )

    async def _supervise(
        self,
        client: mqtt.Client,
        name: str,
        *,
        woken_by: asyncio.Event,
        tick: Callable[[], object],
        is_up: Callable[[], bool],
    ) -> None:
        """One connection's life: connect, ``tick`` at least every second while connected
        (paho's keep-alive), and reconnect with backoff whenever the connection goes."""
        least, most = self._reconnect_delay_s
        delay = least
        attempted = False
        while not self._stopping:
            if client.socket() is None:
                if attempted:
                    await self._pause(self._stop_requested, delay)
                    delay = min(delay * 2, most)
                    if self._stopping:
                        return
                attempted = True
                try:
                    # The TCP connect and TLS handshake block: in a thread, so the loop
                    # (and an API served beside the consumer) never waits on them.
                    await asyncio.to_thread(client.reconnect)
                except Exception as exc:  # any failure: try again later
                    log.warning("cannot connect %s (%s); trying again", name, exc)
                    continue
            if woken_by is not self._stop_requested:
                woken_by.clear()
            await self._pause(woken_by, 1.0)
            if client.socket() is not None:
                tick()
            if is_up():
                delay = least

    @staticmethod
    async def _pause(event: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

    async def next_batch(self, max_items: int, wait_s: float, idle_s: float) -> list[Delivery]:
        """Up to ``max_items`` deliveries: as soon as that many wait, else what came within
        ``wait_s`` of the first; [] after ``idle_s`` with nothing."""
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        idle_until = loop.time() + idle_s
        while True:
            n = len(self._items)
            now = loop.time()
            if n >= max_items or (n and deadline is not None and now >= deadline):
                batch = [self._items.popleft() for _ in range(min(n, max_items))]
                self._qos0_waiting -= sum(1 for d in batch if d.qos == 0)
                return batch
            if not n and now >= idle_until:
                return []
            if n and deadline is None:
                deadline = now + wait_s
            self._want = max_items
            self._arrived.clear()
            timeout = (deadline if n else idle_until) - now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), max(timeout, 0.0))

    def is_current(self, delivery: Delivery) -> bool:
        """Can this delivery still be acknowledged (QoS 0 needs no acknowledgement)?"""
        return delivery.qos == 0 or delivery.generation == self.generation

    def ack(self, deliveries: Sequence[Delivery]) -> int:
        """PUBACK the QoS 1 deliveries, in the order received (MQTT 4.6). One from an
        earlier connection is discarded, not acknowledged: the broker sends it again on
        the new one (and the idempotency keys absorb the repeat)."""
        generation = self.generation
        client = self._client
        acked = stale = 0
        for d in deliveries:
            if not d.qos:
                continue
            if d.generation == generation:
                client.ack(d.mid, 1)
                acked += 1
            else:
                stale += 1
        self.counters.acked += acked
        if stale:
            self._discarded(stale)
        self._resume_reading()
        return acked

    def discard(self, deliveries: Sequence[Delivery]) -> None:
        """Let go of QoS 1 deliveries that will never be acknowledged (their connection
        is gone, or the worker stops before committing them)."""
        self._discarded(sum(1 for d in deliveries if d.qos))
        self._resume_reading()

    def discard_waiting(self) -> int:
        """Drop what waits in the link (stopping): never acknowledged, so the broker sends
        it again when this session returns."""
        waiting = list(self._items)
        self._items.clear()
        self._qos0_waiting = 0
        self.discard(waiting)
        return len(waiting)

    def _discarded(self, n: int) -> None:
        self.counters.discarded += n

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Send a verdict: at once while fewer than the window are in flight, else when
        the broker's PUBACKs make room (in order), on this connection or the next."""
        self.counters.published += 1
        if qos != 1:
            (self._side or self._client).publish(topic, payload, qos=qos)
            return
        self._verdicts.append((topic, payload))
        self._publish_waiting()

    def _publish_waiting(self) -> None:
        client = self._side or self._client
        while self._verdicts and len(self._in_flight) < self._window:
            if not (self._side_ready if self._side is not None else client.is_connected()):
                return  # sent on the next connection, after its CONNACK
            topic, payload = self._verdicts.popleft()
            info = client.publish(topic, payload, qos=1)
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                self._in_flight.add(info.mid)
            elif info.rc == mqtt.MQTT_ERR_NO_CONN:
                # paho keeps it and sends it on the next connection.
                self._in_flight.add(info.mid)
                return
            else:
                log.error("verdict on %s not published: %s", topic, mqtt.error_string(info.rc))

    def outstanding_publishes(self) -> int:
        """QoS 1 verdicts not yet acknowledged by the broker (in flight or waiting)."""
        return len(self._in_flight) + len(self._verdicts)

    async def stop(self, timeout_s: float = 5.0) -> None:
        # A normal DISCONNECT keeps the session (clean_start was off, expiry set), so the
        # broker queues for this worker until it returns.
        self._stopping = True
        self._stop_requested.set()
        self._changed.set()
        if self._supervisor is not None:
            await self._supervisor  # a connect under way ends within its timeout
        client = self._client
        if self._side is not None or client.socket() is not None:
            # The verdicts of the last batches are QoS 1 messages held only in this
            # process until the broker acknowledges them, and their fills are acknowledged
            # already (never redelivered): wait for those PUBACKs before going.
            self._resume_reading()
            self._note_drained()
            await self._pause(self._drained, timeout_s)
            if self.outstanding_publishes():
                log.warning(
                    "stopping with %d verdict(s) not acknowledged by the broker",
                    self.outstanding_publishes(),
                )
        if self._side_supervisor is not None:
            await self._side_supervisor
        side = self._side
        if side is not None and side.socket() is not None:
            self._side_closed.clear()
            side.disconnect()  # written by the loop; paho closes the socket after it
            await self._pause(self._side_closed, timeout_s)
            sock = side.socket()
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                side.loop_read()
        if client.socket() is not None:
            self._changed.clear()
            client.disconnect()  # written by the loop; paho closes the socket after it
            await self._pause(self._changed, timeout_s)
            sock = client.socket()
            if sock is not None:
                # The DISCONNECT could not be written in time: end the connection, and
                # let paho see the end of the stream the way it sees a broker hang up.
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                client.loop_read()


@dataclass
class Publisher:
    """A QoS 1 publisher that bounds its unacknowledged messages.

    paho numbers in-flight QoS 1 messages with 16-bit ids and stalls past 65,535 of them
    from one client (measured here), so ``publish`` blocks while ``max_outstanding`` are
    unacknowledged.
    """

    conn: MqttConnection
    client_id: str
    max_outstanding: int = 10_000
    _client: mqtt.Client = field(init=False)
    _slots: threading.Semaphore = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _pending: set[int] = field(init=False, default_factory=set)  # QoS 1 mids not yet PUBACKed
    _early: set[int] = field(init=False, default_factory=set)  # PUBACKed before we saw the mid
    _qos0: set[int] = field(init=False, default_factory=set)  # QoS 0 mids not yet written
    _acked: int = field(init=False, default=0)
    _refused: int = field(init=False, default=0)
    _sent: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._client = _client(self.conn, self.client_id, manual_ack=False)
        # The semaphore is the bound; a paho in-flight limit would make paho walk its whole
        # in-flight list on every PUBACK (1,163 msg/s at 10,000 outstanding, measured).
        self._client.max_inflight_messages_set(0)
        self._client.max_queued_messages_set(0)
        self._slots = threading.Semaphore(self.max_outstanding)
        self._client.on_publish = self._on_publish
        self._connected = threading.Event()
        self._connack: mqtt.ReasonCode | None = None
        self._client.on_connect = self._on_connect

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connack = reason_code
        self._connected.set()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        # paho calls this for QoS 0 messages too (when written): only a QoS 1 PUBACK frees
        # a slot, and a PUBACK that refuses (an ACL denial, say) is counted as refused.
        with self._lock:
            if mid in self._qos0:
                self._qos0.discard(mid)
                return
            if mid not in self._pending:
                self._early.add(mid)
                return
            self._pending.discard(mid)
            if reason_code.is_failure:
                self._refused += 1
            else:
                self._acked += 1
        self._slots.release()

    def connect(self, timeout: float = 10.0) -> None:
        self._client.connect(self.conn.host, self.conn.port, keepalive=30)
        self._client.loop_start()
        if not self._connected.wait(timeout):
            raise ConnectionError(f"no CONNACK from {self.conn.host}:{self.conn.port}")
        if self._connack is not None and self._connack.is_failure:
            self.close()
            raise ConnectionError(f"the broker refused the connection: {self._connack}")

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        if qos:
            self._slots.acquire()
        info = self._client.publish(topic, payload, qos=qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            if qos:
                self._slots.release()
            raise ConnectionError(f"publish failed: {mqtt.error_string(info.rc)}")
        if not qos:
            with self._lock:
                if info.mid in self._early:
                    self._early.discard(info.mid)  # already written
                else:
                    self._qos0.add(info.mid)
            return
        if qos:
            with self._lock:
                self._sent += 1
                if info.mid in self._early:  # its PUBACK beat us here
                    self._early.discard(info.mid)
                    self._acked += 1
                    release = True
                else:
                    self._pending.add(info.mid)
                    release = False
            if release:
                self._slots.release()

    @property
    def refused(self) -> int:
        """QoS 1 messages the broker answered with a failure reason (not accepted)."""
        return self._refused

    def wait_all_acked(self, timeout: float = 60.0) -> bool:
        """True once every QoS 1 message published so far has its PUBACK."""
        deadline = time.monotonic() + timeout
        while self._acked + self._refused < self._sent:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
