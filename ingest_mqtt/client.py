"""The only module that imports paho: the broker link of the consumer, and a bounded
publisher for the simulator and the benchmarks.

paho runs its network loop in its own thread (``loop_start``: it also reconnects, with
backoff). Its message callback does almost nothing: it appends the delivery to a deque
that the asyncio side drains in batches. QoS 1 deliveries are acknowledged
(``manual_ack``) only when the consumer says so, after the batch that holds them has
committed; the broker then never has more than Receive Maximum of them in flight to us,
which is the backpressure. QoS 0 deliveries (heartbeats) are not acknowledged and not
bounded by the broker, so past ``qos0_limit`` waiting ones a new one is dropped and
counted: at-most-once is what QoS 0 means, and blocking paho's thread instead would stop
its keep-alives and lose the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from sereg.settings import MqttConnection

log = logging.getLogger("sereg.ingest")


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
    connects: int = 0
    disconnects: int = 0
    received: int = 0
    dropped_qos0: int = 0
    acked: int = 0
    published: int = 0


def _client(conn: MqttConnection, client_id: str, *, manual_ack: bool) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    if conn.username is not None:
        client.username_pw_set(conn.username, conn.password)
    if conn.tls:
        client.tls_set(ca_certs=conn.ca_file, cert_reqs=ssl.CERT_REQUIRED)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


class BrokerLink:
    """A persistent MQTT v5 session on shared subscriptions, drained in batches."""

    def __init__(
        self,
        conn: MqttConnection,
        *,
        client_id: str,
        subscriptions: Sequence[str],
        session_expiry_s: int,
        receive_maximum: int,
        qos0_limit: int = 10_000,
    ) -> None:
        self.conn = conn
        self.subscriptions = tuple(subscriptions)
        self.counters = LinkCounters()
        self.generation = 0
        self.connected = threading.Event()
        self._session_expiry_s = session_expiry_s
        self._receive_maximum = receive_maximum
        self._qos0_limit = qos0_limit
        self._items: deque[Delivery] = deque()
        self._qos0_waiting = 0
        self._lock = threading.Lock()
        self._waiting = False
        self._want = 1
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client = _client(conn, client_id, manual_ack=True)
        # No client-side limit on our verdict publishes: paho walks its whole in-flight list
        # on every PUBACK when a limit is set (28 % of the worker's time, measured); the
        # verdicts are bounded by the batches they answer.
        self._client.max_inflight_messages_set(0)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    # --------------------------------------------------------------- paho's thread

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        with self._lock:
            self.generation += 1
        self.counters.connects += 1
        # Subscribing again on a resumed session is harmless and covers a broker that
        # lost its state.
        client.subscribe([(s, SubscribeOptions(qos=1)) for s in self.subscriptions])
        self.connected.set()
        log.info(
            "connected to %s:%s (session present: %s)",
            self.conn.host, self.conn.port, flags.session_present,
        )  # fmt: skip

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self.counters.disconnects += 1
        log.warning("disconnected from the broker: %s; paho reconnects", reason_code)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        delivery = Delivery(
            message.topic,
            message.payload,
            message.qos,
            message.mid,
            datetime.now(UTC),
            self.generation,
        )
        with self._lock:
            self.counters.received += 1
            if message.qos == 0:
                if self._qos0_waiting >= self._qos0_limit:
                    self.counters.dropped_qos0 += 1
                    return
                self._qos0_waiting += 1
            self._items.append(delivery)
            wake = self._waiting and (len(self._items) == 1 or len(self._items) >= self._want)
            if wake:
                self._waiting = False
        if wake and self._loop is not None:
            self._loop.call_soon_threadsafe(self._event.set)

    # --------------------------------------------------------------- asyncio side

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self._session_expiry_s
        properties.ReceiveMaximum = self._receive_maximum
        self._client.connect_async(
            self.conn.host, self.conn.port, keepalive=30, clean_start=False, properties=properties
        )
        self._client.loop_start()

    async def next_batch(self, max_items: int, wait_s: float, idle_s: float) -> list[Delivery]:
        """Up to ``max_items`` deliveries: as soon as that many wait, else what came within
        ``wait_s`` of the first; [] after ``idle_s`` with nothing."""
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        idle_until = loop.time() + idle_s
        while True:
            with self._lock:
                n = len(self._items)
                now = loop.time()
                if n >= max_items or (n and deadline is not None and now >= deadline):
                    batch = [self._items.popleft() for _ in range(min(n, max_items))]
                    self._qos0_waiting -= sum(1 for d in batch if d.qos == 0)
                    return batch
                if not n and now >= idle_until:
                    return []
                self._event.clear()
                self._waiting = True
                self._want = max_items
            if n and deadline is None:
                deadline = now + wait_s
            timeout = (deadline if n else idle_until) - now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), max(timeout, 0.0))

    def ack(self, deliveries: Sequence[Delivery]) -> int:
        """PUBACK the QoS 1 deliveries, in the order received (MQTT 4.6). A delivery from
        an earlier connection is skipped: the broker sends it again on the new one."""
        acked = 0
        generation = self.generation
        for d in deliveries:
            if d.qos and d.generation == generation:
                self._client.ack(d.mid, d.qos)
                acked += 1
        self.counters.acked += acked
        return acked

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self._client.publish(topic, payload, qos=qos)
        self.counters.published += 1

    def stop(self) -> None:
        # A normal DISCONNECT keeps the session (clean_start was off, expiry set), so the
        # broker queues for this worker until it returns.
        self._client.disconnect()
        self._client.loop_stop()


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
