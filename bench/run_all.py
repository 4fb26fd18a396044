"""Every benchmark in one command (``sereg bench``), and docs/benchmarks.md rewritten
from what they printed.

It builds (or reuses) the register the API benchmarks read, ``--units`` demo units in the
PostgreSQL database ``--database`` on ``SEREG_TEST_PG``'s server, then runs each benchmark
as its own process, one after another on a quiet machine, and keeps what each printed:
every benchmark prints its figures beside the baseline it measured in the same run. The
benchmarks that need their own register or broker make them (scratch databases, a broker
from the repository's configuration) and clean up. Nothing here is asserted: a benchmark
reports, the reader judges against the targets each prints.

    sereg bench                      # 1,000,000 units, every benchmark (about an hour)
    sereg bench --quick              # 50,000 units, short runs: checks that all still run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench.harness import machine

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get("SEREG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass(frozen=True)
class Benchmark:
    title: str
    module: str
    args: tuple[str, ...] = ()
    quick_args: tuple[str, ...] = ()
    on_register: bool = False  # reads the shared --units register (DATABASE_URL)


BENCHMARKS = (
    Benchmark("Register: bulk load", "bench.demo_load", ("--units", "100000"), ("--units", "5000")),
    Benchmark("Register list pages", "bench.register_list", ("--seconds", "10"),
              ("--seconds", "3"), on_register=True),
    Benchmark("Due list", "bench.due_list", ("--seconds", "10"), ("--seconds", "3"),
              on_register=True),
    Benchmark("Maintenance upload", "bench.maintenance_upload", (),
              ("--rows", "2000", "--repeat", "2")),
    Benchmark("Geo: point-in-area assignment", "bench.geo_assign", (),
              ("--points", "100000", "--areas", "500", "--repeat", "1")),
    Benchmark("Geo: area summary and spatial queries", "bench.geo_queries", ("--seconds", "10"),
              ("--seconds", "3", "--repeat", "1"), on_register=True),
    Benchmark("Risk grades: recompute and the area summary by grade", "bench.risk_recompute",
              ("--seconds", "10"), ("--seconds", "3"), on_register=True),
    Benchmark("API throughput: one vs two workers", "bench.api_workers", ("--seconds", "10"),
              ("--seconds", "3"), on_register=True),
    Benchmark("Fill permit (the interlock)", "bench.fill_permit", ("--seconds", "10"),
              ("--seconds", "3", "--units", "5000")),
    Benchmark("Public page (QR code)", "bench.public_page", ("--seconds", "10"),
              ("--seconds", "3"), on_register=True),
    Benchmark("MQTT ingest throughput", "bench.ingest_throughput", (),
              ("--fills", "5000", "--units", "5000")),
    Benchmark("MQTT ingest: crash and restart", "bench.ingest_crash", (),
              ("--fills", "5000", "--units", "5000", "--skip-pg-restart")),
    Benchmark("Broker crash: persistence settings", "bench.broker_crash", ("--runs", "3"),
              ("--backlog", "10000", "--settings", "interval1")),
    Benchmark("MQTT ingest: overload", "bench.ingest_overload", (),
              ("--seconds", "5", "--units", "2000", "--pool", "2000")),
    Benchmark("Alarm storm: entrapments to webhooks and alert topics", "bench.alarm_storm", (),
              ("--lifts", "200", "--units", "5000")),
)  # fmt: skip


def database_url(name: str) -> str:
    return f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"


async def _units_in(name: str) -> int | None:
    """Units in the register ``name``, or None when there is no such database yet."""
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await admin.execute(f'CREATE DATABASE "{name}"')
            return None
    finally:
        await admin.close()
    conn = await asyncpg.connect(database_url(name))
    try:
        if not await conn.fetchval("SELECT to_regclass('equipment') IS NOT NULL"):
            return None
        return await conn.fetchval("SELECT count(*) FROM equipment")
    finally:
        await conn.close()


async def _vacuum(name: str) -> None:
    conn = await asyncpg.connect(database_url(name))
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def sereg(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "sereg.cli", *args], cwd=ROOT, env=env, check=True)


def prepare_register(name: str, units: int) -> tuple[dict[str, str], str]:
    """The register the API benchmarks read; (its environment, what was done)."""
    env = {**os.environ, "DATABASE_URL": database_url(name), "PICCOLO_CONF": "piccolo_conf"}
    found = asyncio.run(_units_in(name))
    sereg("migrate", env=env)
    if found is not None and found >= units:
        return env, f"reused database {name} with {found:,} units"
    if found:
        raise SystemExit(
            f"database {name} holds {found:,} units, fewer than --units {units:,}: "
            f"drop it (dropdb {name}) or pick another --database"
        )
    started = time.perf_counter()
    sereg("demo", "--units", str(units), env=env)
    # A fresh bulk load has no visibility map: index-only scans would still visit the heap
    # (measured: the nearby prefilter 3x slower) until autovacuum gets round to it.
    asyncio.run(_vacuum(name))
    return env, f"loaded {units:,} demo units into {name} in {time.perf_counter() - started:.0f} s"


def run(benchmark: Benchmark, env: dict[str, str], quick: bool) -> tuple[str, float, int]:
    args = benchmark.quick_args if quick else benchmark.args
    command = [sys.executable, "-m", benchmark.module, *args]
    print(f"\n=== {benchmark.title}: {' '.join(command[1:])}", flush=True)
    if not benchmark.on_register:
        # It makes its own scratch database: keep it away from the shared register.
        env = {k: v for k, v in env.items() if k != "DATABASE_URL"}
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    print(done.stdout, end="", flush=True)
    if done.returncode:
        print(done.stderr[-3000:], file=sys.stderr)
    return done.stdout, seconds, done.returncode


def report(results: list[tuple[Benchmark, str, float, int]], *, command: str, register: str) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `sereg bench` (`bench/run_all.py`); what each benchmark measures is in",
        "`bench/README.md`. Every figure stands beside a baseline measured in the same run on",
        "the same machine. Client, server, PostgreSQL and Mosquitto share the machine's cores.",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine()}",
        f"- Command: `{command}`",
        f"- Register: {register}",
        "",
    ]
    for benchmark, output, seconds, code in results:
        args = benchmark.quick_args if "--quick" in command else benchmark.args
        lines += [
            f"## {benchmark.title}",
            "",
            f"    python -m {benchmark.module} {' '.join(args)}".rstrip(),
            "",
            f"Ran {seconds:.0f} s" + ("" if code == 0 else f"; FAILED with exit code {code}") + ".",
            "",
            output.strip(),
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sereg bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=None, help="register size (1,000,000)")
    parser.add_argument("--database", default="sereg_bench")
    parser.add_argument("--quick", action="store_true", help="small and short: a smoke run")
    parser.add_argument("--only", action="append", default=[], help="module name, repeatable")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args(argv)
    units = args.units or (50_000 if args.quick else 1_000_000)
    env, register = prepare_register(args.database, units)
    chosen = [b for b in BENCHMARKS if not args.only or b.module.split(".")[-1] in args.only]
    results = []
    for benchmark in chosen:
        output, seconds, code = run(benchmark, env, args.quick)
        results.append((benchmark, output, seconds, code))
    command = " ".join(["sereg bench", *(argv if argv is not None else sys.argv[1:])])
    Path(args.out).write_text(report(results, command=command.strip(), register=register))
    failed = [b.title for b, _, _, code in results if code]
    print(f"\nwrote {args.out}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
