"""Organisations' MQTT alert topics: ``sereg/v1/orgs/{org}/alerts`` (docs/mqtt-contract.md).

Drained from the same outbox as the webhooks (``equipment.services.notifications``): the
fan-out writes one ``alert_delivery`` per organisation of the alarm (its unit's current
maintenance company, its user unit, the station whose fill raised it), with the payload
fixed, and the notification worker publishes it at QoS 1 under a lease, recording it
delivered only on the broker's PUBACK. A worker killed between publish and record, or a
PUBACK lost with the connection, publishes it again with the same ``id``: at least once,
and subscribers drop a repeated ``id`` (the same rule as the webhooks' idempotency key).

The topic is covered by the broker's dynamic-security roles (ingest_mqtt/credentials.py):
an organisation's user subscribes to its own topic only, the worker publishes and reads
nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from equipment import broker
from equipment.broker import connection_from_url
from equipment.domain import notifications as rules
from equipment.services import clock
from equipment.settings import NotifySettings
from equipment.storage import unit_of_work
from equipment.storage.alert_deliveries import NewAlertDelivery

log = logging.getLogger("sereg.notify")


def alert_rows(
    notification_id: int, body: dict[str, Any], organisations: list[int], *, now: datetime
) -> list[NewAlertDelivery]:
    """The ``alert_delivery`` rows of one notification: each its own key and payload."""
    rows = []
    for org in organisations:
        key = uuid.uuid4().hex
        payload = {**body, "id": key, "organisation_id": org}
        rows.append(
            NewAlertDelivery(
                notification=notification_id,
                organisation=org,
                idempotency_key=key,
                body=json.dumps(payload, ensure_ascii=False),
                next_attempt_at=now,
                created_at=now,
            )
        )
    return rows


class Publisher:
    """One MQTT v5 connection of the notification worker, publishing at QoS 1.

    paho runs its network loop in a thread; :meth:`publish_all` waits (off the event
    loop) for each message's PUBACK and reads its reason code: a refusal by the broker
    (0x80 and above, e.g. "Not authorized") is a failure to retry, not a delivery.
    """

    def __init__(self, url: str, *, client_id: str = "") -> None:
        conn = connection_from_url(url)
        # The broker takes the username as the client id (use_username_as_clientid).
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or conn.username or "",
            protocol=mqtt.MQTTv5,
        )
        if conn.username is not None:
            self._client.username_pw_set(conn.username, conn.password)
        if conn.tls:
            self._client.tls_set(ca_certs=conn.ca_file, cert_reqs=ssl.CERT_REQUIRED)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._lock = threading.Lock()
        self._acked: dict[int, int] = {}  # mid -> PUBACK reason code value
        self._done = threading.Condition(self._lock)
        self._client.on_publish = self._on_publish
        self._conn = conn

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
        with self._done:
            self._acked[mid] = reason.value
            self._done.notify_all()

    def start(self) -> None:
        self._client.connect_async(self._conn.host, self._conn.port, keepalive=30)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _publish_and_wait(self, messages: list[tuple[str, str]], timeout_s: float) -> list[str]:
        with self._done:
            # One batch at a time: anything left is the late PUBACK of a batch that timed
            # out, whose message id paho may now hand to a new message.
            self._acked.clear()
        infos = [self._client.publish(topic, body, qos=1) for topic, body in messages]
        deadline = time.monotonic() + timeout_s
        errors: list[str] = []
        with self._done:
            for info in infos:
                while info.mid not in self._acked:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._done.wait(left)
            for info in infos:
                code = self._acked.pop(info.mid, None)
                if code is None:
                    errors.append(f"no PUBACK within {timeout_s:g} s (rc {info.rc})")
                elif code >= 0x80:
                    errors.append(f"refused by the broker: reason code {code:#x}")
                else:
                    errors.append("")
        return errors

    async def publish_all(self, messages: list[tuple[str, str]], timeout_s: float) -> list[str]:
        """Publish each (topic, payload); answers per message "" (PUBACKed) or the error."""
        return await asyncio.to_thread(self._publish_and_wait, messages, timeout_s)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    lease: str
    attempts: int
    organisation: int
    body: str


async def claim(*, now: datetime, lease_s: int, limit: int) -> list[Claimed]:
    """Lease up to ``limit`` due alert deliveries to this worker (each to one only)."""
    lease = uuid.uuid4().hex
    async with unit_of_work() as uow:
        rows = await uow.alert_deliveries.lease(
            now=now, until=now + timedelta(seconds=lease_s), lease=lease, limit=limit
        )
    return [Claimed(r.id, lease, r.attempts, r.organisation, r.body) for r in rows]


async def record(results: list[tuple[Claimed, str]], *, now: datetime, s: NotifySettings) -> None:
    """The attempts' results under their leases (a stale lease is ignored), as for
    webhooks, in one transaction a batch."""
    async with unit_of_work() as uow:
        deliveries = uow.alert_deliveries
        for delivery, error in results:
            if not error:
                await deliveries.delivered(delivery.id, delivery.lease, at=now)
            elif rules.dead_after(delivery.attempts, s.max_attempts):
                await deliveries.dead(delivery.id, delivery.lease, error=error)
            else:
                wait = rules.backoff(
                    delivery.attempts, base_s=s.backoff_base_s, cap_s=s.backoff_cap_s
                )
                at = now + timedelta(seconds=wait)
                await deliveries.retry(delivery.id, delivery.lease, at=at, error=error)


async def deliver_due(publisher: Publisher, s: NotifySettings) -> int:
    """Claim, publish at QoS 1, record on PUBACK; answers how many were attempted."""
    # A notification fans out to up to three organisations' topics (company, user unit,
    # station), and a PUBLISH costs far less than a webhook's request: a larger batch
    # keeps the topics abreast of the webhooks in a storm.
    claimed = await claim(
        now=await clock.shared_now(test_clock=s.test_clock), lease_s=s.lease_s, limit=3 * s.batch
    )
    if not claimed:
        return 0
    errors = await publisher.publish_all(
        [(broker.alerts_topic(d.organisation), d.body) for d in claimed], s.timeout_s
    )
    now = await clock.shared_now(test_clock=s.test_clock)
    await record(list(zip(claimed, errors, strict=True)), now=now, s=s)
    for delivery, error in zip(claimed, errors, strict=True):
        if error:
            log.warning(
                "alert delivery %s attempt %s failed: %s", delivery.id, delivery.attempts, error
            )
    return len(claimed)
