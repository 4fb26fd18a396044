"""``sereg ingest``: broker → decode → one transaction per batch → verdicts → PUBACK.

The order is the whole promise: a QoS 1 message is acknowledged only after everything
it caused is committed, so a crash at any point loses nothing (the broker redelivers)
and duplicates nothing (the idempotency keys absorb the redelivery). A database outage
stops the acks, so the broker stops sending (Receive Maximum) and the batch is retried
with backoff until the database is back. A batch the database refuses for its content
is split so the one bad message is dead-lettered and the rest are stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from equipment.domain import lift_events
from equipment.services import clock, db, fills, ingest, retention, telemetry
from ingest_mqtt import messages, metrics, topics
from ingest_mqtt.client import BrokerLink, Delivery
from sereg.settings import Settings

log = logging.getLogger("sereg.ingest")

_KIND = {
    topics.TopicKind.FILLS: "fill",
    topics.TopicKind.STATUS: "status",
    topics.TopicKind.EVENTS: "event",
}
MAX_BACKOFF_S = 30.0


def load_fault_codes(settings: Settings) -> lift_events.FaultCodeTable:
    path = settings.ingest.fault_codes_path
    if path is None:
        return lift_events.DEFAULT_FAULT_CODES
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"cannot read the fault-code table {path}: {exc}") from exc
    return lift_events.load_fault_codes(mapping)


def to_incoming(d: Delivery, fault_codes: lift_events.FaultCodeTable) -> ingest.Incoming:
    decoded = messages.decode(d.topic, d.payload, fault_codes)
    if isinstance(decoded, messages.Rejected):
        try:
            code: str | None = topics.parse_topic(d.topic).code
        except topics.UnknownTopic:
            code = None
        return ingest.Incoming(
            "rejected", d.topic, d.payload, d.received_at, code,
            reason=decoded.reason.value, detail=decoded.detail,
        )  # fmt: skip
    return ingest.Incoming(
        _KIND[decoded.topic.kind], d.topic, d.payload, d.received_at, decoded.topic.code,
        message=decoded.message,
    )  # fmt: skip


@dataclass
class ConsumerStats:
    batches: int = 0
    messages: int = 0
    stored: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)
    verdicts: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    last_batch_size: int = 0
    last_commit_s: float = 0.0
    waiting_unacked: int = 0


@dataclass
class Batch:
    """Deliveries taken together, decoded; ``judged`` their fills if judged ahead."""

    deliveries: Sequence[Delivery]
    items: list[ingest.Incoming]
    judged: ingest.JudgedFills | None = None


class Consumer:
    def __init__(self, settings: Settings, link: BrokerLink | None = None) -> None:
        self.settings = settings
        ingest_settings = settings.ingest
        self.fault_codes = load_fault_codes(settings)
        self.context = ingest.IngestContext(policy=fills.policy())
        self.link = link or BrokerLink(
            settings.mqtt.connection(),
            client_id=ingest_settings.client_id,
            subscriptions=[topics.shared(s, ingest_settings.group) for s in topics.SUBSCRIPTIONS],
            session_expiry_s=ingest_settings.session_expiry_s,
            receive_maximum=ingest_settings.receive_maximum,
        )
        self.stats = ConsumerStats()
        self._stop = asyncio.Event()
        self._reconnects_seen = 0
        self._dropped_seen = 0

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        ingest_settings = self.settings.ingest
        self.link.start()
        next_sweep = time.monotonic() + ingest_settings.sweep_interval_s
        next_prune = time.monotonic() + min(60, self.settings.retention.interval_s)
        wait_s = ingest_settings.batch_wait_ms / 1000
        # On PostgreSQL the next batch is judged while the last one commits. SQLite has
        # one writer, and readers beside it would only queue behind its commit.
        overlap = db.is_postgres()
        ahead: Batch | None = None
        try:
            while not self._stop.is_set():
                if ahead is None:
                    deliveries = await self.link.next_batch(
                        ingest_settings.batch_size, wait_s, idle_s=0.5
                    )
                    if deliveries:
                        ahead = (
                            await self._judged(deliveries, {})
                            if overlap
                            else Batch(deliveries, self._decode(deliveries))
                        )
                if ahead is not None:
                    ahead = await self._commit_then_next(ahead, overlap)
                if time.monotonic() >= next_sweep:
                    await self._sweep()
                    next_sweep = time.monotonic() + ingest_settings.sweep_interval_s
                if time.monotonic() >= next_prune:
                    await self._prune()
                    next_prune = time.monotonic() + self.settings.retention.interval_s
            # Drain what is already here: it is committed and acknowledged before we go.
            if ahead is not None:
                await self._commit(ahead)
            while deliveries := await self.link.next_batch(ingest_settings.batch_size, 0, idle_s=0):
                await self._commit(Batch(deliveries, self._decode(deliveries)))
        finally:
            await self.link.stop()
            log.info("ingest stopped: %s", self.stats)

    def _decode(self, deliveries: Sequence[Delivery]) -> list[ingest.Incoming]:
        return [to_incoming(d, self.fault_codes) for d in deliveries]

    async def _judged(self, deliveries: Sequence[Delivery], overlay: dict[int, Any]) -> Batch:
        """The batch decoded and its fills judged ahead of its commit."""
        batch = Batch(deliveries, self._decode(deliveries))
        batch.judged = await self._judge(batch.items, overlay)
        return batch

    async def _judge(
        self, items: list[ingest.Incoming], overlay: dict[int, Any]
    ) -> ingest.JudgedFills | None:
        """None if judging fails: the commit judges again (and retries or isolates what
        fails there)."""
        try:
            return await ingest.judge_fills(items, context=self.context, overlay=overlay)
        except Exception as exc:
            if not db.is_transient(exc):
                log.exception("judging a batch ahead failed; judged again in its commit")
            return None

    async def _commit_then_next(self, current: Batch, overlap: bool) -> Batch | None:
        """Commit ``current`` and, while it commits, take the next batch and judge it with
        ``current``'s fills laid over the register. That judgement stands only if
        ``current`` committed exactly as judged; otherwise (or if ``current`` had none to
        lay over) the next batch is judged once ``current`` is done, against the register
        as it left it, so the batch after is judged ahead again."""
        if not overlap:
            await self._commit(current)
            return None
        write = asyncio.create_task(self._commit(current))
        following: Batch | None = None
        try:
            deliveries = await self.link.next_batch(
                self.settings.ingest.batch_size, self.settings.ingest.batch_wait_ms / 1000, 0.5
            )
            if deliveries:
                following = Batch(deliveries, self._decode(deliveries))
                if current.judged is not None:
                    following.judged = await self._judge(following.items, current.judged.latest)
        finally:
            as_judged = await write
        if following is not None and (following.judged is None or not as_judged):
            following.judged = await self._judge(following.items, {})
        return following

    async def _commit(self, batch: Batch) -> bool:
        """Commit, publish the verdicts, acknowledge. True if the first try committed (a
        judgement made ahead stood)."""
        deliveries, items = batch.deliveries, batch.items
        self.stats.waiting_unacked = len(deliveries)
        metrics.unacked.set(sum(1 for d in deliveries if d.qos))
        started = time.perf_counter()
        result, as_judged = await self._commit_with_retry(items, batch.judged)
        if result is None:
            return False  # stopping during an outage: not acknowledged, the broker redelivers
        self.stats.last_commit_s = time.perf_counter() - started
        self._observe(items, result)
        for v in result.verdicts:
            self.link.publish(
                topics.topic_for(topics.TopicKind.VERDICTS, v.station_code),
                messages.encode_verdict(v.event_id, v.verdict),
            )
        self.link.ack(deliveries)
        metrics.unacked.set(0)
        self.stats.waiting_unacked = 0
        self.stats.batches += 1
        self.stats.messages += len(deliveries)
        self.stats.last_batch_size = len(deliveries)
        self.stats.stored.update(result.stored)
        self.stats.duplicates.update(result.duplicates)
        self.stats.dead_letters.update(result.dead_letters)
        self.stats.verdicts.update(result.verdict_codes)
        return as_judged

    async def _commit_with_retry(
        self, items: list[ingest.Incoming], judged: ingest.JudgedFills | None
    ) -> tuple[ingest.BatchResult | None, bool]:
        """Commit the batch, retrying while the database is unreachable; None if asked to
        stop meanwhile (nothing acknowledged: the broker redelivers). The judgement made
        ahead is used on the first try only: a retry judges against the register as it
        is then. The flag says whether the first try committed."""
        delay = 0.25
        whole = True
        first = True
        while True:
            try:
                if whole:
                    result = await ingest.commit_batch(
                        items, context=self.context, judged=judged if first else None
                    )
                    return result, first
                return await self._isolate(items), False
            except Exception as exc:
                first = False
                if not db.is_transient(exc):
                    if not whole:
                        raise  # even one by one, with the bad one dead-lettered
                    log.exception("batch of %d refused; storing one by one", len(items))
                    whole = False
                    continue
                if self._stop.is_set():
                    log.warning("stopping with the database unreachable: %s", exc)
                    return None, False
                self.stats.retries += 1
                metrics.db_retries.inc()
                log.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)

    def _observe(self, items: list[ingest.Incoming], result: ingest.BatchResult) -> None:
        for kind, count in Counter(i.kind for i in items).items():
            metrics.received.labels(kind).inc(count)
        for kind, count in result.stored.items():
            metrics.stored.labels(kind).inc(count)
        for kind, count in result.duplicates.items():
            metrics.duplicates.labels(kind).inc(count)
        for code, count in result.verdict_codes.items():
            metrics.verdicts.labels(code).inc(count)
        for reason, count in result.dead_letters.items():
            metrics.dead_letters.labels(reason).inc(count)
        metrics.batch_size.observe(len(items))
        metrics.commit_seconds.observe(self.stats.last_commit_s)
        counters = self.link.counters
        # The link counts in paho's thread; the series follow its totals.
        if counters.connects > 1 + self._reconnects_seen:
            metrics.reconnects.inc(counters.connects - 1 - self._reconnects_seen)
            self._reconnects_seen = counters.connects - 1
        if counters.dropped_qos0 > self._dropped_seen:
            metrics.dropped_qos0.inc(counters.dropped_qos0 - self._dropped_seen)
            self._dropped_seen = counters.dropped_qos0

    async def _isolate(self, items: list[ingest.Incoming]) -> ingest.BatchResult:
        """Commit message by message; one the database refuses is dead-lettered, so a
        single poison message never blocks the stream behind it."""
        total = ingest.BatchResult()
        for item in items:
            try:
                result = await ingest.commit_batch([item], context=self.context)
            except Exception as exc:
                if db.is_transient(exc):
                    raise
                log.exception("message on %s refused by the database", item.topic)
                result = await ingest.commit_batch(
                    [
                        ingest.Incoming(
                            "rejected", item.topic, item.payload, item.received_at, item.code,
                            reason=messages.DeadLetterReason.INTERNAL_ERROR.value,
                            detail=f"{type(exc).__name__}: {exc}"[:2000],
                        )
                    ],
                    context=self.context,
                )  # fmt: skip
            total.stored.update(result.stored)
            total.duplicates.update(result.duplicates)
            total.dead_letters.update(result.dead_letters)
            total.verdict_codes.update(result.verdict_codes)
            total.verdicts.extend(result.verdicts)
            total.alarms += result.alarms
        return total

    async def _sweep(self) -> None:
        try:
            offline = await telemetry.mark_offline(
                now=clock.now(), silent_for=timedelta(seconds=self.settings.ingest.offline_after_s)
            )
            if offline:
                log.info("%d lift(s) went offline", offline)
        except Exception:
            # The sweep runs again next interval; the stream must not stop for it.
            log.exception("offline sweep failed")

    async def _prune(self) -> None:
        try:
            removed = await retention.prune(retention_of(self.settings), now=clock.now())
            if any(removed.values()):
                log.info("pruned %s", removed)
        except Exception:
            log.exception("pruning failed; tried again next interval")


def retention_of(settings: Settings) -> retention.Retention:
    r = settings.retention
    return retention.Retention(
        heartbeat_days=r.heartbeat_days,
        dead_letter_days=r.dead_letter_days,
        fill_days=r.fill_days,
        lift_event_days=r.lift_event_days,
    )


async def run_consumer(settings: Settings) -> None:
    """The ``sereg ingest`` process: SIGTERM or SIGINT drains, acknowledges, disconnects."""
    await db.start(settings.database.pool_min, settings.database.pool_max)
    if settings.ingest.metrics_port:
        metrics.serve(settings.ingest.metrics_port, settings.ingest.metrics_host)
        log.info("metrics on :%d/metrics", settings.ingest.metrics_port)
    consumer = Consumer(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, consumer.stop)
    try:
        await consumer.run()
    finally:
        await db.stop()
