"""Crash the ingest mid-stream: every fill stored exactly once, none lost.

    python -m bench.ingest_crash [--fills 50000] [--rate 2500] [--units 20000]
        [--skip-pg-restart]

A broker from deploy/mosquitto and a scratch PostgreSQL register (``sereg demo``), as in
bench/ingest_throughput.py. ``sereg ingest`` runs with its persistent session; the
benchmark's publisher sends ``--fills`` fills at QoS 1, paced at ``--rate`` per second so
the crash falls in the middle of publishing as well as of storing. Two scenarios, each
from an empty fill history:

1. the consumer is killed with SIGKILL when half the fills are stored, and started again
   at once with the same client id: what it had not acknowledged is redelivered;
2. PostgreSQL is restarted (``pg_ctlcluster ... restart``) when half are stored, under
   the running consumer, which must retry until the database is back. PostgreSQL is
   started again at the end whatever happens. This restarts the cluster every other
   database on it lives in: run it on a machine nobody else is testing on.

Each scenario passes when ``count(*)`` and ``count(DISTINCT (station_code, event_id))``
of ``fill`` both equal the fills published, the cylinders' fill counts add up to the
fills on file and the fill alarms' counts to the refused or flagged fills (so no
redelivery moved anything twice). Exit status 1 on any loss or duplicate.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg

from bench import simulator
from bench.harness import machine
from bench.ingest_support import (
    FillPublisher,
    IngestProcess,
    bench_broker,
    bench_conn,
    check_stored,
    fill_messages,
    fill_pool,
    forget_session,
    ingest_conn,
    load_stations,
    reset_fills,
    scratch_register,
    verdict_mix,
    wait_for_fills,
)
from tests.mosquitto import Broker


def _cluster() -> list[str]:
    """``pg_ctlcluster`` for the one local cluster (the script runs as root)."""
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir() if p.is_dir())
    if len(versions) != 1:
        raise RuntimeError(f"expected one PostgreSQL version in /etc/postgresql, got {versions}")
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main"]


def pg_is_up() -> bool:
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"], check=False).returncode == 0


def ensure_pg_up(timeout: float = 60) -> None:
    """Start the cluster if it is down, and wait until it accepts connections."""
    if not pg_is_up():
        subprocess.run([*_cluster(), "start"], check=False, capture_output=True)
    deadline = time.monotonic() + timeout
    while not pg_is_up():
        if time.monotonic() > deadline:
            raise RuntimeError("PostgreSQL did not come back up")
        time.sleep(0.2)


async def wait_stored(pool: asyncpg.Pool, n: int) -> int:
    while True:
        count = await pool.fetchval("SELECT count(*) FROM fill")
        if count >= n:
            return count
        await asyncio.sleep(0.01)


def _stat(process: IngestProcess, name: str) -> str:
    """One field of the consumer's last stats line (logged when it stops)."""
    for line in reversed(process.log):
        if "ingest stopped" in line:
            found = re.search(rf"{name}=(Counter\([^)]*\)|[\d.]+)", line)
            return f"{name}={found.group(1)}" if found else f"{name}=?"
    return f"{name}=? (no stats)"


class Scenario:
    def __init__(
        self,
        url: str,
        broker: Broker,
        pool: asyncpg.Pool,
        messages: list[simulator.SimMessage],
        rate: float,
    ) -> None:
        self.url, self.broker, self.pool, self.messages = url, broker, pool, messages
        self.rate = rate
        self.n = len(messages)

    async def start_consumer(self, group: str, client: str) -> IngestProcess:
        process = IngestProcess(self.url, ingest_conn(self.broker, client), group, client).start()
        await asyncio.to_thread(process.wait_connected)
        return process

    async def run(self, name: str, crash) -> bool:
        print(f"\n## {name}", flush=True)
        await reset_fills(self.pool)
        group, client = f"crash-{uuid.uuid4().hex[:6]}", f"ingest-{uuid.uuid4().hex[:6]}"
        process = await self.start_consumer(group, client)
        await asyncio.sleep(0.5)  # its SUBSCRIBE reaches the broker
        publisher = FillPublisher(bench_conn(self.broker), self.messages, rate=self.rate)
        publisher.start()
        first = await asyncio.to_thread(publisher.wait_first)
        processes = [process]
        try:
            await asyncio.wait_for(wait_stored(self.pool, self.n // 2), 300)
            at = time.monotonic()
            stored_then = await self.pool.fetchval("SELECT count(*) FROM fill")
            sent_then = min(self.n, int((at - first) * self.rate))
            print(
                f"  at {at - first:.2f} s: {stored_then:,} fills stored, ~{sent_then:,} published",
                flush=True,
            )
            processes += await crash(self, process, group, client)
            done, count = await wait_for_fills(self.pool, self.n, stall_s=90)
            await asyncio.to_thread(publisher.result)
            print(
                f"  publisher: every PUBACK after {publisher.acked_at - first:.2f} s;"
                f" all {count:,} stored {done - first:.2f} s after the first publish"
                f" ({done - at:.2f} s after the crash)",
                flush=True,
            )
        finally:
            for p in processes:
                await asyncio.to_thread(p.stop)
            forget_session(ingest_conn(self.broker, client), client)
        last = processes[-1]
        print(f"  consumer after the crash: {_stat(last, 'duplicates')}, {_stat(last, 'retries')}")
        check = await check_stored(self.pool, self.messages)
        ok = check.exactly_once
        print(f"  {'PASS' if ok else 'FAIL'}: {check.line()}", flush=True)
        return ok


async def kill_consumer(
    scenario: Scenario, process: IngestProcess, group: str, client: str
) -> list[IngestProcess]:
    process.kill()
    killed = time.monotonic()
    again = await scenario.start_consumer(group, client)
    print(
        f"  SIGKILL, then started again: connected {again.connected_at - killed:.2f} s later",
        flush=True,
    )
    return [again]


async def restart_postgres(
    scenario: Scenario, process: IngestProcess, group: str, client: str
) -> list[IngestProcess]:
    started = time.monotonic()
    done = await asyncio.to_thread(
        subprocess.run, [*_cluster(), "restart"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"pg_ctlcluster restart failed: {done.stderr}")
    await asyncio.to_thread(ensure_pg_up)
    print(f"  PostgreSQL restarted in {time.monotonic() - started:.2f} s", flush=True)
    # The benchmark's own pool lost its connections too.
    await scenario.pool.expire_connections()
    return []


async def run(args: argparse.Namespace) -> int:
    # The benchmark's own pool logs a traceback for every reconnect it tries while the
    # cluster restarts: expected here, and not what this benchmark reports on.
    logging.getLogger("asyncpg.pool").setLevel(logging.CRITICAL)
    print(f"# ingest crash: {args.fills:,} fills at {args.rate:,.0f}/s, QoS 1")
    print(f"machine: {machine()}", flush=True)
    results: dict[str, bool] = {}
    try:
        with bench_broker() as broker:
            async with scratch_register(args.units) as url:
                pool = await fill_pool(url)
                try:
                    register = await load_stations(url)
                    messages = fill_messages(register, args.fills, seed=args.seed, bad_share=0.05)
                    print(f"register: {register.summary()}")
                    print(f"fills meant: {verdict_mix(messages)}", flush=True)
                    scenario = Scenario(url, broker, pool, messages, args.rate)
                    results["SIGKILL of the consumer"] = await scenario.run(
                        "SIGKILL of sereg ingest mid-stream", kill_consumer
                    )
                    if not args.skip_pg_restart:
                        results["PostgreSQL restart"] = await scenario.run(
                            "PostgreSQL restarted mid-stream", restart_postgres
                        )
                finally:
                    # Before the scratch database is dropped, whatever failed.
                    await asyncio.to_thread(ensure_pg_up)
                    await pool.close()
    finally:
        ensure_pg_up()
    print()
    for name, ok in results.items():
        print(f"- {name}: {'PASS' if ok else 'FAIL'}")
    return 0 if results and all(results.values()) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fills", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=2500, help="fills published per second")
    parser.add_argument("--units", type=int, default=20_000, help="demo register size")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--skip-pg-restart", action="store_true")
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
