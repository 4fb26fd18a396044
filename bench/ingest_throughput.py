"""Fills judged, committed and acknowledged per second by ``sereg ingest``, beside a bare
paho subscriber measured the same way in the same run on the same broker.

    python -m bench.ingest_throughput [--fills 50000] [--units 20000] [--repeat 3]
        [--cases drain,live,pair,trio] [--py-spy DIR]

A broker from deploy/mosquitto (persistence in a temporary directory), a scratch
PostgreSQL register loaded with ``sereg demo --units`` (dropped at the end), and fills
from the simulator: the demo stations' own cylinders, 5 % of the fills meant to be
refused, dated over the last hours so no cylinder comes round within the refill interval
(a backlog, not a refill storm). Each case starts from an empty fill history.

- drain: ``sereg ingest`` subscribes once and is stopped (SIGTERM); the fills are
  published into its persistent session; then it is started and timed from its connect
  to the last fill stored (``count(*)`` polled every 20 ms). The floor: a bare paho
  subscriber with a persistent session on the same shared-subscription pattern, QoS 1,
  the same Receive Maximum, draining the same fills from its own backlog, from its
  CONNACK to the last message. The bare one acknowledges on receipt (paho's auto-ack)
  and does nothing with a message; the consumer decodes, judges against the register,
  commits, publishes a verdict per fill and only then acknowledges.
- live: the publisher runs alongside at full speed (at most 100 unacknowledged),
  timed from the first publish to the last fill stored (bare: last message received).
- two, then three ``sereg ingest`` processes in one shared-subscription group (different
  client ids) on the drain case.

Every consumer case checks that each fill is stored exactly once (rows, distinct event
ids, the cylinders' fill counts and the fill alarms' counts add up) and that each got
the verdict the simulator meant; it reports the consumer's peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from bench import simulator
from bench.harness import machine
from bench.ingest_support import (
    BareSubscriber,
    FillPublisher,
    IngestProcess,
    StoredCheck,
    bench_broker,
    bench_conn,
    check_stored,
    fill_messages,
    fill_pool,
    forget_session,
    ingest_conn,
    load_stations,
    machine_busy,
    machine_cpu,
    publish_all,
    reset_fills,
    scratch_register,
    verdict_mix,
    wait_for_fills,
)
from equipment.broker import MqttConnection
from tests.mosquitto import Broker

TARGET_RATIO = 0.5
DRAIN_BARE = "bare paho, drain (CONNACK → last message)"
LIVE_BARE = "bare paho, live (first publish → last message)"


@dataclass
class Row:
    """One case: the seconds of each repetition; figures are their median."""

    case: str
    messages: int
    baseline: Row | None = None
    runs: list[float] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(self.runs)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else float("nan")

    def line(self) -> str:
        ratio = f"{self.rate / self.baseline.rate:.2f}x" if self.baseline else "1.00x"
        rates = ", ".join(f"{self.messages / s:,.0f}" for s in self.runs)
        return (
            f"| {self.case} | {self.messages:,} | {self.seconds:.2f} | {self.rate:,.0f} |"
            f" {ratio} | {rates} |"
        )


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Bench:
    def __init__(
        self,
        url: str,
        broker: Broker,
        pool: asyncpg.Pool,
        messages: list[simulator.SimMessage],
        py_spy: Path | None,
    ) -> None:
        self.url, self.broker, self.pool, self.messages = url, broker, pool, messages
        self.publisher: MqttConnection = bench_conn(broker)
        self.py_spy = py_spy
        self.rows: dict[str, Row] = {}
        self.notes: list[str] = []
        # (case, verdicts as the simulator meant, fills): a second worker must not weaken
        # a safety check (issue 16, item 7), so the count is reported beside the speed.
        self.as_meant: list[tuple[str, StoredCheck]] = []
        self.n = len(messages)

    def ingest(self, client_id: str) -> MqttConnection:
        """The broker user of the consumer (or bare subscriber) ``client_id``: the broker
        uses usernames as client ids, so each session has a user of its own."""
        return ingest_conn(self.broker, client_id)

    def record(self, case: str, seconds: float, baseline: str | None = None) -> Row:
        if case not in self.rows:
            self.rows[case] = Row(case, self.n, self.rows[baseline] if baseline else None)
        self.rows[case].runs.append(seconds)
        return self.rows[case]

    def note(self, text: str) -> None:
        print(f"  {text}", flush=True)
        self.notes.append(text)

    async def checked(self, label: str) -> StoredCheck:
        check = await check_stored(self.pool, self.messages)
        verdict = "exactly once" if check.exactly_once else "**NOT exactly once**"
        self.note(f"{label}: {verdict}: {check.line()}")
        self.as_meant.append((label, check))
        return check

    async def offline_sessions(self, group: str, client_ids: list[str]) -> None:
        """Each consumer's persistent session subscribed, then left offline (SIGTERM)."""
        processes = [IngestProcess(self.url, self.ingest(c), group, c).start() for c in client_ids]
        try:
            for process in processes:
                await asyncio.to_thread(process.wait_connected)
            await asyncio.sleep(0.5)  # their SUBSCRIBE reaches the broker
        finally:
            for process in processes:
                await asyncio.to_thread(process.stop)

    def profile(self, process: IngestProcess, name: str) -> subprocess.Popen | None:
        if self.py_spy is None:
            return None
        self.py_spy.mkdir(parents=True, exist_ok=True)
        out = self.py_spy / f"{name}.txt"
        self.note(f"py-spy samples of {name} -> {out} (sampling slows the consumer a little)")
        return subprocess.Popen(
            [
                Path(sys.executable).parent / "py-spy",
                "record",
                "--pid",
                str(process.pid),
                "--format",
                "raw",
                "--rate",
                "250",
                "--nonblocking",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    # ------------------------------------------------------------------------ drain

    async def drain(self) -> None:
        print("\n## drain: a backlog of fills waiting in the broker", flush=True)
        await reset_fills(self.pool)
        group, client = _id("bench-drain"), _id("ingest-drain")
        await self.offline_sessions(group, [client])
        bare = BareSubscriber(
            self.ingest(_id("bare")), _id("bare-drain"), persistent=True, expect=self.n
        )
        await asyncio.to_thread(bare.subscribe_only)
        # One publish fills both backlogs: the bare session's and the consumer's.
        published = await asyncio.to_thread(publish_all, self.publisher, self.messages)
        self.note(
            f"published {self.n:,} fills in {published.acked_at - published.first_at:.2f} s"
            " (every PUBACK back), queued for both sessions"
        )
        await asyncio.to_thread(bare.start().finish)
        self.record(DRAIN_BARE, bare.last_at - bare.connected_at)
        forget_session(self.ingest(bare.client_id), bare.client_id)

        process = IngestProcess(self.url, self.ingest(client), group, client).start()
        spy = self.profile(process, "drain")
        connected = await asyncio.to_thread(process.wait_connected)
        cpu_at_connect, machine_at_connect = process.cpu_seconds(), machine_cpu()
        done, count = await wait_for_fills(self.pool, self.n)
        cpu = process.cpu_seconds() - cpu_at_connect
        machine = machine_busy(machine_at_connect)
        await asyncio.to_thread(process.stop)
        self.note(
            f"consumer CPU from connect to last stored: {cpu:.2f} s of {done - connected:.2f} s"
            f" ({cpu / self.n * 1e6:.0f} µs per fill); {machine}"
        )
        if spy is not None:
            spy.wait(30)
        forget_session(self.ingest(client), client)
        if count < self.n:
            raise RuntimeError(f"the consumer stored {count:,} of {self.n:,} fills")
        self.record("sereg ingest, drain (connect → last stored)", done - connected, DRAIN_BARE)
        self.record(
            "sereg ingest, drain (process start → last stored)",
            done - process.started_at,
            DRAIN_BARE,
        )
        self.note(f"consumer peak RSS (VmHWM): {process.peak_rss_kb / 1024:.0f} MiB")
        await self.checked("drain")

    # ------------------------------------------------------------------------- live

    async def live(self) -> None:
        print("\n## live: the publisher at full speed alongside", flush=True)
        bare = BareSubscriber(
            self.ingest(_id("bare")), _id("bare-live"), persistent=False, expect=self.n
        )
        bare.start()
        await asyncio.to_thread(bare.wait_subscribed)
        publisher = FillPublisher(self.publisher, self.messages)
        publisher.start()
        first = await asyncio.to_thread(publisher.wait_first)
        await asyncio.to_thread(bare.finish)
        self.record(LIVE_BARE, bare.last_at - first)
        await asyncio.to_thread(publisher.result)
        self.note(
            f"bare case: the publisher had every PUBACK after {publisher.acked_at - first:.2f} s"
            f" ({self.n / (publisher.acked_at - first):,.0f} msg/s)"
        )

        await reset_fills(self.pool)
        group, client = _id("bench-live"), _id("ingest-live")
        process = IngestProcess(self.url, self.ingest(client), group, client).start()
        spy = self.profile(process, "live")
        await asyncio.to_thread(process.wait_connected)
        await asyncio.sleep(0.5)
        publisher = FillPublisher(self.publisher, self.messages)
        publisher.start()
        first = await asyncio.to_thread(publisher.wait_first)
        done, count = await wait_for_fills(self.pool, self.n)
        await asyncio.to_thread(publisher.result)
        await asyncio.to_thread(process.stop)
        if spy is not None:
            spy.wait(30)
        forget_session(self.ingest(client), client)
        if count < self.n:
            raise RuntimeError(f"the consumer stored {count:,} of {self.n:,} fills")
        self.note(
            f"consumer case: the publisher had every PUBACK after {publisher.acked_at - first:.2f}"
            f" s ({self.n / (publisher.acked_at - first):,.0f} msg/s)"
        )
        self.record("sereg ingest, live (first publish → last stored)", done - first, LIVE_BARE)
        self.note(f"consumer peak RSS (VmHWM): {process.peak_rss_kb / 1024:.0f} MiB")
        await self.checked("live")

    # ------------------------------------------------------- two and three consumers

    async def two_consumers(self) -> None:
        await self.consumers(2)

    async def three_consumers(self) -> None:
        await self.consumers(3)

    async def consumers(self, n: int) -> None:
        names = {2: "two", 3: "three"}
        print(f"\n## drain with {names[n]} sereg ingest processes in one group", flush=True)
        await reset_fills(self.pool)
        group = _id(f"bench-{n}")
        clients = [_id(f"ingest-{chr(ord('a') + i)}") for i in range(n)]
        await self.offline_sessions(group, clients)
        await asyncio.to_thread(publish_all, self.publisher, self.messages)
        processes = [IngestProcess(self.url, self.ingest(c), group, c).start() for c in clients]
        connected = [await asyncio.to_thread(p.wait_connected) for p in processes]
        cpu_at_connect, machine_at_connect = [p.cpu_seconds() for p in processes], machine_cpu()
        done, count = await wait_for_fills(self.pool, self.n)
        cpu = [p.cpu_seconds() - c for p, c in zip(processes, cpu_at_connect, strict=True)]
        machine = machine_busy(machine_at_connect)
        for process in processes:
            await asyncio.to_thread(process.stop)
            forget_session(self.ingest(process.client_id), process.client_id)
        if count < self.n:
            raise RuntimeError(f"the consumers stored {count:,} of {self.n:,} fills")
        self.record(
            f"{n} × sereg ingest, drain (first connect → last stored)",
            done - min(connected),
            DRAIN_BARE,
        )
        split = ", ".join(f"{p.stored_fills() or 0:,}" for p in processes)
        rss = ", ".join(f"{p.peak_rss_kb / 1024:.0f}" for p in processes)
        self.note(f"fills stored by each process: {split}; peak RSS (VmHWM): {rss} MiB")
        each = ", ".join(f"{c:.2f} s" for c in cpu)
        self.note(
            f"consumer CPU from first connect to last stored: {each} of"
            f" {done - min(connected):.2f} s; {machine}"
        )
        await self.checked(f"{names[n]} consumers")


CASES = {
    "drain": Bench.drain,
    "live": Bench.live,
    "pair": Bench.two_consumers,
    "trio": Bench.three_consumers,
}


async def run(args: argparse.Namespace) -> int:
    print(f"# ingest throughput: {args.fills:,} fills, demo register of {args.units:,} units")
    print(f"machine: {machine()}", flush=True)
    started = time.monotonic()
    with bench_broker() as broker:
        async with scratch_register(args.units) as url:
            pool = await fill_pool(url)
            try:
                register = await load_stations(url)
                messages = fill_messages(register, args.fills, seed=args.seed, bad_share=0.05)
                print(
                    f"register: {register.summary()} (loaded in {time.monotonic() - started:.0f} s)"
                )
                print(f"fills meant: {verdict_mix(messages)}", flush=True)
                bench = Bench(url, broker, pool, messages, args.py_spy)
                for repetition in range(1, args.repeat + 1):
                    print(f"\n# repetition {repetition} of {args.repeat}", flush=True)
                    for case in args.cases:
                        await CASES[case](bench)
            finally:
                await pool.close()
    print(f"\nMedians of {args.repeat} repetition(s):\n")
    print("| case | fills | seconds | msg/s | vs bare | msg/s of each run |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for row in bench.rows.values():
        print(row.line())
    print()
    for row in bench.rows.values():
        if row.baseline is not None and "process start" not in row.case:
            ratio = row.rate / row.baseline.rate
            met = "met" if ratio >= TARGET_RATIO else "**missed**"
            print(f"- {row.case}: {ratio:.2f}x bare (target ≥ {TARGET_RATIO}x): {met}")
    checks = [n for n in bench.notes if "exactly once" in n]
    failed = sum("NOT exactly once" in n for n in checks)
    print(f"\nexactly-once checks: {len(checks) - failed} of {len(checks)} passed")
    for label, check in bench.as_meant:
        print(
            f"verdicts exactly as meant, {label}: {check.as_intended:,} of {check.expected:,};"
            f" refills flagged 16: {check.refills_flagged:,} of {check.refill_pairs:,} pairs"
            f" ({check.refills_swapped:,} on the earlier fill)"
        )
    print(f"total wall time {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fills", type=int, default=50_000)
    parser.add_argument("--units", type=int, default=20_000, help="demo register size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="repetitions; medians reported")
    parser.add_argument(
        "--cases",
        type=lambda s: s.split(","),
        default=list(CASES),
        help=f"comma-separated cases to run (default: all of {','.join(CASES)})",
    )
    parser.add_argument(
        "--py-spy", type=Path, help="record the consumers with py-spy (raw stacks) into DIR"
    )
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
