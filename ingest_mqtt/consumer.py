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
import contextlib
import gc
import json
import logging
import signal
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncpg

from equipment.broker import MqttConnection
from equipment.domain import fills as fill_rules
from equipment.domain import lift_events
from equipment.i18n import DEFAULT, spoken
from equipment.services import clock, ingest, retention, telemetry
from equipment.settings import Settings
from equipment.storage import db, fill_state
from ingest_mqtt import broker_store, messages, metrics, topics
from ingest_mqtt.client import BrokerLink, Delivery

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


def time_windows(settings: Settings) -> messages.TimeWindows:
    """How far from their receipt the messages' timestamps may lie (issue 16, item 4)."""
    i = settings.ingest
    return messages.TimeWindows(
        fills=messages.TimeWindow(
            timedelta(days=i.fill_max_age_days), timedelta(hours=i.fill_max_ahead_hours)
        ),
        lifts=messages.TimeWindow(
            timedelta(days=i.lift_max_age_days), timedelta(minutes=i.lift_max_ahead_minutes)
        ),
    )


def to_incoming(
    d: Delivery,
    fault_codes: lift_events.FaultCodeTable,
    windows: messages.TimeWindows = messages.DEFAULT_WINDOWS,
) -> ingest.Incoming:
    decoded = messages.decode(
        d.topic, d.payload, fault_codes, received_at=d.received_at, windows=windows
    )
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
    def __init__(
        self,
        settings: Settings,
        *,
        fill_policy: fill_rules.FillPolicy,
        mqtt: MqttConnection,
        link: BrokerLink | None = None,
    ) -> None:
        """Built by the bootstrap (sereg.bootstrap.Bootstrap.consumer), which hands it the
        fill rules' limits and the broker's address; ``link`` replaces the broker link
        (tests)."""
        self.settings = settings
        ingest_settings = settings.ingest
        self.fault_codes = load_fault_codes(settings)
        self.windows = time_windows(settings)
        self.context = ingest.IngestContext(policy=fill_policy)
        self.broker_store = broker_store.BrokerStoreWatch(
            ingest_settings.broker_store_alarm_messages, ingest_settings.broker_store_alarm_bytes
        )
        self.link = link or BrokerLink(
            mqtt,
            client_id=ingest_settings.client_id,
            subscriptions=[topics.shared(s, ingest_settings.group) for s in topics.SUBSCRIPTIONS],
            session_expiry_s=ingest_settings.session_expiry_s,
            receive_maximum=ingest_settings.receive_maximum,
            # Verdicts in flight to the broker: one batch's worth at most, so a read (which
            # takes up to that many packets) overshoots the held bound by one batch at most.
            publish_window=ingest_settings.batch_size,
            keepalive_s=ingest_settings.keepalive_s,
            sys_topics=broker_store.TOPICS if self.broker_store.enabled else (),
            on_sys=self.broker_store.observe,
        )
        metrics.watch_link(self.link.counters)
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
        # The first check soon after the start (a worker restarted daily still checks).
        next_check = time.monotonic() + min(60, ingest_settings.maintenance_check_s)
        wait_s = ingest_settings.batch_wait_ms / 1000
        # On PostgreSQL batches are judged while earlier ones commit. SQLite has one
        # writer, and readers beside it would only queue behind its commit.
        depth = ingest_settings.pipeline_depth
        pipeline = _Pipeline(self, depth) if db.is_postgres() and depth > 1 else None
        try:
            while not self._stop.is_set():
                deliveries = await self.link.next_batch(
                    ingest_settings.batch_size, wait_s, idle_s=0.5
                )
                if deliveries and pipeline is not None:
                    await pipeline.put(deliveries)
                elif deliveries:
                    await self._commit(Batch(deliveries, self._decode(deliveries)))
                if time.monotonic() >= next_sweep:
                    await self._sweep()
                    next_sweep = time.monotonic() + ingest_settings.sweep_interval_s
                if time.monotonic() >= next_prune:
                    await self._prune()
                    next_prune = time.monotonic() + self.settings.retention.interval_s
                if time.monotonic() >= next_check:
                    await self._check_maintenance()
                    next_check = time.monotonic() + ingest_settings.maintenance_check_s
            # Stopping: the batches judged already are committed and acknowledged, then
            # what waits in the link while the grace period lasts; the rest is left
            # unacknowledged (the broker sends it again), so SIGTERM ends in time under
            # any backlog.
            until = time.monotonic() + ingest_settings.stop_grace_s
            if pipeline is not None:
                await pipeline.close()
                pipeline = None
            while time.monotonic() < until and (
                deliveries := await self.link.next_batch(ingest_settings.batch_size, 0, idle_s=0)
            ):
                await self._commit(Batch(deliveries, self._decode(deliveries)))
            if left := self.link.discard_waiting():
                log.info("stopping: %d delivery(ies) left for the broker to send again", left)
        finally:
            if pipeline is not None:
                await pipeline.abandon()
            await self.link.stop()
            log.info("ingest stopped: %s", self.stats)

    def _decode(self, deliveries: Sequence[Delivery]) -> list[ingest.Incoming]:
        return [to_incoming(d, self.fault_codes, self.windows) for d in deliveries]

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

    async def _commit(self, batch: Batch) -> bool:
        """Commit, publish the verdicts, acknowledge. True if the first try committed (a
        judgement made ahead stood)."""
        deliveries, items, judged = batch.deliveries, batch.items, batch.judged
        if not all(self.link.is_current(d) for d in deliveries):
            # Some came on a connection that is gone: they can never be acknowledged, and
            # the broker sends them again on the new one. Dropped here, before the
            # commit, instead of committed for nothing (the judgement ahead counted them).
            live = [i for i, d in enumerate(deliveries) if self.link.is_current(d)]
            self.link.discard([d for d in deliveries if not self.link.is_current(d)])
            deliveries, items, judged = (
                [deliveries[i] for i in live],
                [items[i] for i in live],
                None,
            )
            if not deliveries:
                return False
        self.stats.waiting_unacked = len(deliveries)
        started = time.perf_counter()
        result, as_judged = await self._commit_with_retry(items, judged, deliveries)
        if result is None:
            # Stopping during an outage, or the connection went while the database was
            # away: not acknowledged, the broker sends them again.
            self.link.discard(deliveries)
            return False
        self.stats.last_commit_s = time.perf_counter() - started
        slowdown = self.settings.ingest.commit_slowdown
        if slowdown > 1:
            # Test and benchmark hook only (IngestSettings.commit_slowdown).
            await asyncio.sleep((slowdown - 1) * self.stats.last_commit_s)
        self._observe(items, result)
        for v in result.verdicts:
            self.link.publish(
                topics.topic_for(topics.TopicKind.VERDICTS, v.station_code),
                messages.encode_verdict(v.event_id, v.for_the_station()),
            )
        self.link.ack(deliveries)
        self.stats.waiting_unacked = 0
        self.stats.batches += 1
        self.stats.messages += len(deliveries)
        self.stats.last_batch_size = len(deliveries)
        self.stats.stored.update(result.stored)
        self.stats.duplicates.update(result.duplicates)
        self.stats.dead_letters.update(result.dead_letters)
        self.stats.verdicts.update(result.verdict_codes)
        return as_judged and judged is batch.judged

    async def _commit_with_retry(
        self,
        items: list[ingest.Incoming],
        judged: ingest.JudgedFills | None,
        deliveries: Sequence[Delivery] = (),
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
                if not all(self.link.is_current(d) for d in deliveries):
                    # Their connection is gone: committing them now would buy nothing
                    # (no ack can follow); the broker sends them again.
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

    async def _check_maintenance(self) -> None:
        """Flag the last days' maintenance records the lifts' telemetry contradicts (GET
        /api/v1/maintenance/suspicious). Every worker may run it: a record is flagged
        once, and a second worker finds it flagged already."""
        try:
            flagged = await telemetry.check_maintenance_records(today=clock.today())
            if flagged:
                log.info("%d maintenance record(s) flagged as contradicted by telemetry", flagged)
        except Exception:
            log.exception("maintenance check failed; tried again next interval")

    async def _prune(self) -> None:
        try:
            removed = await retention.prune(retention_of(self.settings), now=clock.now())
            if any(removed.values()):
                log.info("pruned %s", removed)
        except Exception:
            log.exception("pruning failed; tried again next interval")


class _Pipeline:
    """Batches judged ahead and committed in order by one writer task.

    While the writer commits a batch (the database's time), the loop takes and judges
    the next ones, each with the fills of every batch still in flight laid over the
    register, which cannot show them before they commit. Acks stay in order: one writer.
    A batch that does not commit exactly as judged (a retry, an isolated poison message)
    voids the judgement of every batch in flight behind it: those are judged inside their
    own commits, and the next batch waits for them to commit before it is judged ahead,
    so judging ahead resumes with it instead of lapsing for as long as the stream runs.
    """

    def __init__(self, consumer: Consumer, depth: int) -> None:
        self.consumer = consumer
        self.queue: asyncio.Queue[Batch | None] = asyncio.Queue(maxsize=max(1, depth - 1))
        self.in_flight: list[Batch] = []  # judged, not yet committed, in order
        self.epoch = 0  # moves when a batch did not commit as judged
        self.committed = asyncio.Event()  # set after each commit (and when the writer ends)
        self.writer = asyncio.create_task(self._write())

    def _overlay(self) -> dict[int, Any]:
        merged: dict[int, Any] = {}
        for batch in self.in_flight:
            assert batch.judged is not None
            fill_state.lay_over(merged, batch.judged.latest)
        return merged

    def _check_writer(self) -> None:
        if self.writer.done():
            self.writer.result()  # the writer failed: raise its error here
            raise RuntimeError("the ingest writer ended")

    async def put(self, deliveries: Sequence[Delivery]) -> None:
        self._check_writer()
        batch = Batch(deliveries, self.consumer._decode(deliveries))
        # A batch in flight without a judgement is judged inside its commit: its fills
        # are known only once that commits.
        while any(b.judged is None for b in self.in_flight):
            self.committed.clear()
            await self.committed.wait()
            self._check_writer()
        epoch = self.epoch
        batch.judged = await self.consumer._judge(batch.items, self._overlay())
        if epoch != self.epoch:
            batch.judged = None  # judged over a batch that then did not commit as judged
        self.in_flight.append(batch)
        await self._enqueue(batch)

    async def _enqueue(self, batch: Batch | None) -> None:
        # The queue is full while the writer commits; should the writer fail meanwhile,
        # nobody would ever take from it: wait for either.
        if self.queue.full():
            queued = asyncio.ensure_future(self.queue.put(batch))
            await asyncio.wait({queued, self.writer}, return_when=asyncio.FIRST_COMPLETED)
            if not queued.done():
                queued.cancel()
                self._check_writer()
            return
        self.queue.put_nowait(batch)

    async def _write(self) -> None:
        try:
            while (batch := await self.queue.get()) is not None:
                as_judged = await self.consumer._commit(batch)
                # In order: it is the oldest in flight (compared by identity, not by value).
                assert self.in_flight[0] is batch
                del self.in_flight[0]
                if not as_judged and batch.judged is not None:
                    self.epoch += 1
                    for later in self.in_flight:
                        later.judged = None
                self.committed.set()
        finally:
            self.committed.set()

    async def close(self) -> None:
        """Commit and acknowledge everything queued, then end the writer."""
        if not self.writer.done():
            await self._enqueue(None)
        await self.writer

    async def abandon(self) -> None:
        """Stop the writer without committing more (an error is on its way out)."""
        self.writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.writer


def retention_of(settings: Settings) -> retention.Retention:
    r = settings.retention
    return retention.Retention(
        heartbeat_days=r.heartbeat_days,
        dead_letter_days=r.dead_letter_days,
        fill_days=r.fill_days,
        lift_event_days=r.lift_event_days,
        alarm_change_days=r.alarm_change_days,
    )


async def wait_for_database(settings: Settings, stopping: asyncio.Event) -> bool:
    """Open the pool once the database answers and has every migration this code needs,
    trying again with backoff meanwhile and saying what it waits for (issue 16, item 8):
    a worker started before PostgreSQL, or before ``sereg migrate`` created its database
    and tables, waits for them as it waits through an outage while running. False if
    asked to stop first. An error that waiting cannot fix (a refused password, a bad
    URL) ends the process with its reason."""
    delay = 0.25
    where = _database_name(settings)
    while True:
        try:
            await db.start(settings.database.pool_min, settings.database.pool_max)
            state = await db.readiness()
        except Exception as exc:
            if not (db.is_transient(exc) or _not_created_yet(exc)):
                raise SystemExit(f"cannot use the database {where}: {exc}") from exc
            state = {"ready": False, "database": f"unreachable: {type(exc).__name__}: {exc}"}
        if state["ready"]:
            log.info("database %s ready", where)
            return True
        waiting_for = (
            state["database"] if state["database"] != "ok" else f"migrations {state['migrations']}"
        )
        log.warning(
            "waiting for the database %s (%s); trying again in %.1f s", where, waiting_for, delay
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), delay)
        if stopping.is_set():
            return False
        delay = min(delay * 2, MAX_BACKOFF_S)


def _database_name(settings: Settings) -> str:
    if not settings.database.is_postgres:
        return str(settings.database.sqlite_path)
    config = settings.database.postgres_config()
    return f"{config['database']} at {config['host']}:{config['port']}"


def _not_created_yet(exc: BaseException) -> bool:
    # 3D000: the database does not exist (yet: deployments create it beside the workers).
    return isinstance(exc, asyncpg.exceptions.InvalidCatalogNameError)


async def run_consumer(settings: Settings, make_consumer: Callable[[], Consumer]) -> None:
    """The ``sereg ingest`` process: SIGTERM or SIGINT drains, acknowledges, disconnects.
    ``make_consumer`` (the bootstrap's) builds the consumer once the database answers."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    if settings.ingest.metrics_port:
        metrics.serve(settings.ingest.metrics_port, settings.ingest.metrics_host)
        log.info("metrics on :%d/metrics", settings.ingest.metrics_port)
    try:
        if not await wait_for_database(settings, stopping):
            return
        consumer = make_consumer()
        # Before the first message, not in the first batch: the catalogue the verdicts'
        # text_zh is said from, read and indexed once. Then the startup heap is frozen,
        # as the server workers do (sereg/asgi.py): the ~130,000 objects the bootstrap
        # imports live as long as the process, and left in the collector each full
        # collection walked them all (70 ms, twice in a 5,000-fill backlog). And the
        # youngest generation is collected every 20,000 net allocations, not 700: what
        # a collection walks is the batches in flight, whatever the threshold, so at 700
        # (a collection every ~30 fills) it walked them again and again. Garbage in
        # cycles waits a little longer (20,000 objects at most: a few MB).
        # docs/benchmarks.md, "the consumer's CPU per fill".
        spoken.prepare(DEFAULT)
        gc.freeze()
        gc.set_threshold(20_000, 10, 10)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, consumer.stop)
        if stopping.is_set():
            consumer.stop()
        await consumer.run()
    finally:
        await db.stop()
