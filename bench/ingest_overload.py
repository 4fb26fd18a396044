"""Overload: one ``sereg ingest`` slowed to a tenth of its speed, publishers offering
fills as fast as they can, and what that costs the worker and the broker.

    python -m bench.ingest_overload [--seconds 60] [--slowdown 10] [--publishers 4]
        [--units 20000]

Two cores cannot offer ten times a full-speed worker's rate, so the worker's commits are
slowed instead (``SEREG_INGEST_COMMIT_SLOWDOWN``, a test and benchmark hook: each commit
is followed by a sleep of ``slowdown - 1`` times its own duration, before the ack) and
the publishers (QoS 1, each at most 100 unacknowledged, unique event ids) offer what they
can for ``--seconds``. Then the slowed worker gets SIGTERM with the broker still holding
the backlog (it must exit within its grace period), and a full-speed worker on the same
session drains the backlog. Reported: the offered rate and the slowed worker's rate,
peak RSS of the worker (VmHWM; goal 150 MB), the broker's peak store (from the worker's
``sereg_broker_stored_messages``, which Mosquitto updates every ``sys_interval``, 10 s)
and its peak RSS, the worker's own counters (peak held, disconnects), the SIGTERM exit
time, the drain time, and lost and duplicated fills.

A broker from deploy/mosquitto (persistence in a temporary directory) and a scratch
PostgreSQL register from ``sereg demo --units`` (dropped at the end), as in
bench/ingest_throughput.py.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import free_port, machine
from bench.ingest_support import (
    PUBLISHER_OUTSTANDING,
    IngestProcess,
    bench_broker,
    bench_conn,
    fill_count,
    fill_messages,
    fill_pool,
    ingest_conn,
    load_stations,
    scratch_register,
    simulator_event_id,
    wait_for_fills,
)
from equipment.settings import IngestSettings
from ingest_mqtt.client import Publisher

GOAL_RSS_MIB = 150


def _rss_kib(pid: int, field_name: str = "VmRSS") -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class Offer:
    """One publisher thread: fills from the pool, each with an event id of its own."""

    conn: object
    templates: list[tuple[str, bytes, bytes, str]]  # topic, before id, after id, id
    index: int
    until: float
    published: int = 0
    error: BaseException | None = None
    thread: threading.Thread | None = None

    def start(self) -> Offer:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            pub = Publisher(
                self.conn,  # type: ignore[arg-type]
                client_id=f"overload-{self.index}-{uuid.uuid4().hex[:6]}",
                max_outstanding=PUBLISHER_OUTSTANDING,
            )
            pub.connect()
            try:
                n = len(self.templates)
                while time.monotonic() < self.until:
                    topic, before, after, event_id = self.templates[self.published % n]
                    # Unique per publish; 64 characters at most (the contract's limit).
                    unique = f"{event_id}-{self.index}-{self.published // n}".encode()
                    pub.publish(topic, before + unique + after)
                    self.published += 1
                if not pub.wait_all_acked(timeout=120):
                    raise RuntimeError("the broker did not acknowledge every fill")
            finally:
                pub.close()
        except BaseException as exc:
            self.error = exc


@dataclass
class Samples:
    worker_rss_kib: int = 0
    broker_rss_kib: int = 0
    broker_store: int = 0
    broker_store_bytes: int = 0
    metrics: dict[str, float] = field(default_factory=dict)


def _scrape(port: int) -> dict[str, float]:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
    except OSError:
        return {}
    found: dict[str, float] = {}
    for line in text.decode().splitlines():
        m = re.match(r"^(sereg_[a-z_]+(?:_total)?) ([0-9.e+]+)$", line)
        if m:
            found[m.group(1)] = float(m.group(2))
    return found


async def _subscribed(port: int, within: float = 60) -> None:
    """The worker's SUBACK, from its metrics: the flood starts once it has subscribed."""
    deadline = time.monotonic() + within
    while _scrape(port).get("sereg_ingest_subscribed") != 1.0:
        if time.monotonic() > deadline:
            raise SystemExit(f"the worker did not subscribe within {within} s")
        await asyncio.sleep(0.1)


def _sample(samples: Samples, worker: IngestProcess, broker_pid: int, port: int) -> None:
    samples.worker_rss_kib = max(samples.worker_rss_kib, _rss_kib(worker.pid) or 0)
    samples.broker_rss_kib = max(samples.broker_rss_kib, _rss_kib(broker_pid) or 0)
    found = _scrape(port)
    if found:
        samples.metrics = found
        samples.broker_store = max(
            samples.broker_store, int(found.get("sereg_broker_stored_messages", 0))
        )
        samples.broker_store_bytes = max(
            samples.broker_store_bytes, int(found.get("sereg_broker_stored_bytes", 0))
        )


async def run(args: argparse.Namespace) -> None:
    started = time.monotonic()
    print(f"# ingest overload: {args.seconds} s offered, worker slowed {args.slowdown}x\n")
    print(f"machine: {machine()}")
    with bench_broker() as broker:
        async with scratch_register(args.units) as url:
            register = await load_stations(url)
            pool_messages = fill_messages(register, args.pool, seed=7, bad_share=0.05)
            templates = []
            for m in pool_messages:
                event_id = simulator_event_id(m)
                before, after = m.payload.split(event_id.encode(), 1)
                templates.append((m.topic, before, after, event_id))
            db = await fill_pool(url)
            group, client_id = f"ov{uuid.uuid4().hex[:6]}", f"ov-{uuid.uuid4().hex[:6]}"
            port = free_port()
            env = {
                "SEREG_INGEST_COMMIT_SLOWDOWN": str(args.slowdown),
                "SEREG_INGEST_METRICS_PORT": str(port),
                "SEREG_INGEST_METRICS_HOST": "127.0.0.1",
            }
            slow = IngestProcess(
                url, ingest_conn(broker, client_id), group, client_id, extra_env=env
            )
            slow.start()
            slow.wait_connected()
            await _subscribed(port)
            base_rss = _rss_kib(slow.pid) or 0

            samples = Samples()
            flood_start = time.monotonic()
            until = flood_start + args.seconds
            offers = [
                Offer(bench_conn(broker), templates[k :: args.publishers], k, until).start()
                for k in range(args.publishers)
            ]
            while time.monotonic() < until:
                _sample(samples, slow, broker.process.pid, port)
                await asyncio.sleep(0.5)
            stored_in_flood = await fill_count(db)
            for offer in offers:
                await asyncio.to_thread(offer.thread.join, 180)  # type: ignore[union-attr]
                if offer.error is not None:
                    raise offer.error
            published = sum(o.published for o in offers)
            _sample(samples, slow, broker.process.pid, port)
            counters = samples.metrics

            # SIGTERM with the backlog still in the broker: the grace period must hold.
            term_at = time.monotonic()
            code = await asyncio.to_thread(slow.stop, 60)
            exit_s = time.monotonic() - term_at
            slow_peak = slow.peak_rss_kb or samples.worker_rss_kib
            stored_at_stop = await fill_count(db)

            fast = IngestProcess(
                url, ingest_conn(broker, client_id), group, client_id,
                extra_env={"SEREG_INGEST_METRICS_PORT": str(port),
                           "SEREG_INGEST_METRICS_HOST": "127.0.0.1"},
            )  # fmt: skip
            fast.start()
            fast.wait_connected()
            drain_start = time.monotonic()
            sampler_stop = asyncio.Event()

            async def sample_drain() -> None:
                while not sampler_stop.is_set():
                    _sample(samples, fast, broker.process.pid, port)
                    await asyncio.sleep(0.5)

            sampler = asyncio.create_task(sample_drain())
            done_at, count = await wait_for_fills(db, published, stall_s=60, interval_s=0.2)
            sampler_stop.set()
            await sampler
            drain_s = done_at - drain_start
            fast.stop()
            rows = await db.fetchval("SELECT count(*) FROM fill")
            distinct = await db.fetchval(
                "SELECT count(DISTINCT (station_code, event_id)) FROM fill"
            )
            await db.close()

    offered = published / args.seconds
    worker_rate = stored_in_flood / args.seconds
    bound = IngestSettings.receive_maximum + IngestSettings.batch_size
    print()
    print("| figure | value |")
    print("| --- | ---: |")
    rows_out = [
        ("publishers", f"{args.publishers} (QoS 1, ≤ {PUBLISHER_OUTSTANDING} unacked each)"),
        ("offered (published, PUBACKed)", f"{published:,} in {args.seconds} s = {offered:,.0f}/s"),
        ("slowed worker stored during the flood", f"{stored_in_flood:,} = {worker_rate:,.0f}/s"),
        ("offered / worker", f"{offered / max(worker_rate, 1):.1f}x"),
        ("worker RSS at connect → peak (VmHWM)",
         f"{base_rss / 1024:.0f} → {slow_peak / 1024:.0f} MiB (goal ≤ {GOAL_RSS_MIB})"),
        ("worker peak held (not yet acked)",
         f"{counters.get('sereg_ingest_unacked_peak', float('nan')):,.0f} (bound {bound:,})"),
        ("worker reads paused at the bound",
         f"{counters.get('sereg_ingest_reads_paused_total', float('nan')):,.0f}"),
        ("worker disconnects during the flood",
         f"{counters.get('sereg_ingest_disconnects_total', float('nan')):,.0f}"),
        ("broker peak store ($SYS, every 10 s)",
         f"{samples.broker_store:,} messages, {samples.broker_store_bytes / 2**20:,.0f} MiB"),
        ("broker peak RSS (sampled)", f"{samples.broker_rss_kib / 1024:,.0f} MiB"),
        ("SIGTERM → exit, slowed worker with backlog", f"{exit_s:.1f} s (exit code {code})"),
        ("stored when it exited", f"{stored_at_stop:,}"),
        ("drain by a full-speed worker (connect → last stored)",
         f"{drain_s:.1f} s for {published - stored_at_stop:,} = "
         f"{(published - stored_at_stop) / max(drain_s, 0.001):,.0f}/s"),
        ("drain worker peak RSS (VmHWM)", f"{(fast.peak_rss_kb or 0) / 1024:.0f} MiB"),
        ("lost", f"{published - distinct:,}"),
        ("duplicated", f"{rows - distinct:,}"),
    ]  # fmt: skip
    for name, value in rows_out:
        print(f"| {name} | {value} |")
    print(
        f"\nstored {count:,} of {published:,}; total wall time {time.monotonic() - started:.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="how long the flood lasts")
    parser.add_argument("--slowdown", type=int, default=10, help="commit slowdown factor")
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument("--units", type=int, default=20_000, help="demo register size")
    parser.add_argument("--pool", type=int, default=20_000, help="distinct fills, reused")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
