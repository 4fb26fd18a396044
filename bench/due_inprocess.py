"""The due list's CPU per request without HTTP: sereg's app and the minimal handler
(bench/due_floor.py) called over ASGI by a bare driver, each in a process of its own.

    DATABASE_URL=postgresql://... python -m bench.due_inprocess [--requests 2000] [--runs 3]
        [--stub] [--base DIR] [--profile CASE] [--hashes] [--instructions CASE]

The three cases of ``bench.due_list`` (same register, same paths, same statements). Each
run starts one process per server (sereg as ``sereg.asgi`` builds it for uvicorn, the floor
as uvicorn imports it), runs its ASGI lifespan, then sends every case's request one at a
time, ``--requests`` times, and reports the process's CPU time (user + system) per request
and cProfile's function calls per request (which do not depend on the machine's load).
Runs alternate between the servers, so a loaded machine slows them alike.

``--stub``: the pool's ``fetch`` answers from a memo after its first call (both servers
read their page with ``asyncpg.Pool.fetch``), so what is left is the Python around the
read. ``--base DIR``: also serve the sereg code of another checkout (a before/after run).
``--profile CASE``: cProfile's top functions of sereg's requests of that case.
``--hashes``: SHA-256 of the answers to due-list, reminder and error requests (before and
after a change they must be byte-identical: run with and without ``--base``).
``--instructions CASE``: the instructions a request of that case executes, counted by
valgrind (cachegrind, no cache simulation) as the difference of two runs of each server,
one with ``--requests`` requests more than the other. Unlike CPU time it does not move
with the machine's speed or load (which here moved a small change's figure by more than
the change): a before/after comparison that can be trusted to a fraction of a percent.
(sereg's loop-lag watcher ticks 4 times a second, also under valgrind's slowdown: some
40 ticks more in the longer run, a few hundred instructions a request, 0.01-0.03 %.)
About 2.5 minutes with ``--base`` (measured 2 min 20 s here: the two runs of a server side by
side on two cores).

The child processes import only the standard library and the served code, so a ``--base``
checkout needs no copy of this file.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote

App = Callable[[dict[str, Any], Any, Any], Coroutine[Any, Any, None]]
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# --- the child: one server's code, driven over ASGI --------------------------------------


async def lifespan_start(app: App) -> tuple[asyncio.Queue[dict[str, Any]], asyncio.Task[None]]:
    """Run the app's startup (its database pool, the settled heap) as a server would."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started = asyncio.Event()
    outcome: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"].startswith("lifespan.startup"):
            outcome.append(message)
            started.set()

    await inbox.put({"type": "lifespan.startup"})
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    task: asyncio.Task[None] = asyncio.create_task(app(scope, inbox.get, send))
    await started.wait()
    if outcome[0]["type"] != "lifespan.startup.complete":
        raise SystemExit(f"startup failed: {outcome[0]}")
    return inbox, task


async def request(app: App, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """One GET as uvicorn hands it to the app; the status and the body."""
    raw, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(raw),
        "raw_path": raw.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    status = 0
    body: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(body)


def stub_fetch() -> None:
    """``asyncpg.Pool.fetch`` answers each (statement, arguments) from its first answer."""
    import asyncpg

    real = asyncpg.Pool.fetch
    memo: dict[tuple[str, tuple[Any, ...]], Any] = {}

    async def fetch(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        rows = memo.get((query, args))
        if rows is None:
            rows = memo[(query, args)] = await real(self, query, *args, **kwargs)
        return rows

    asyncpg.Pool.fetch = fetch


async def child(options: dict[str, Any]) -> dict[str, Any]:
    if options["stub"]:
        stub_fetch()
    if options["server"] == "floor":
        from bench.due_floor import app
    else:
        from sereg.asgi import app
    inbox, task = await lifespan_start(app)
    headers = [(b"host", b"127.0.0.1")]
    headers += [(k.lower().encode(), v.encode()) for k, v in options["headers"].items()]
    result: dict[str, Any] = {}
    try:
        if options.get("hashes"):
            for path in options["hashes"]:
                status, body = await request(app, path, headers)
                result[path] = [status, hashlib.sha256(body).hexdigest(), len(body)]
            return result
        n = options["requests"]
        for case, path in options["paths"].items():
            for _ in range(50):  # warm: prepared statements, caches, the pool grown
                status, body = await request(app, path, headers)
                assert status == 200, (path, status, body[:300])
            if options.get("profile"):
                if case != options["profile"]:
                    continue
                import cProfile
                import pstats

                profile = cProfile.Profile(time.process_time)
                profile.enable()
                for _ in range(n):
                    await request(app, path, headers)
                profile.disable()
                stats = pstats.Stats(profile)
                calls = stats.total_calls  # type: ignore[attr-defined]
                print(f"{case}: {calls / n:.0f} function calls a request", file=sys.stderr)
                stats.sort_stats("tottime").print_stats(options.get("top", 40))
                continue
            started = time.process_time()
            for _ in range(n):
                await request(app, path, headers)
            cpu = (time.process_time() - started) * 1000 / n
            import cProfile

            profile = cProfile.Profile()
            profile.enable()
            for _ in range(100):
                await request(app, path, headers)
            profile.disable()
            import pstats

            calls = pstats.Stats(profile).total_calls / 100  # type: ignore[attr-defined]
            result[case] = {"cpu_ms": cpu, "calls": calls, "bytes": len(body)}
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await task
    return result


# --- the parent: cases, processes, the table ---------------------------------------------


def instructions(server: str, cwd: str, env: dict[str, str], options: dict[str, Any]) -> int:
    """The instructions the child executes (valgrind's cachegrind, no cache simulation):
    a count that does not move with the machine's speed or load."""
    out = subprocess.run(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            sys.executable,
            os.path.abspath(__file__),
            "--child",
            json.dumps(options),
        ],
        cwd=cwd,
        # A fixed hash seed: the same dict layouts, hence the same work, run to run.
        env={**os.environ, **env, "PYTHONPATH": cwd, "PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
    )
    found = re.search(r"I\s+refs:\s+([0-9,]+)", out.stderr)
    if out.returncode != 0 or found is None:
        raise SystemExit(f"{server} in {cwd} under valgrind failed:\n{out.stderr[-3000:]}")
    return int(found.group(1).replace(",", ""))


def instructions_a_request(
    server: str, cwd: str, env: dict[str, str], options: dict[str, Any], n: int
) -> float:
    """Instructions a request: two runs under valgrind, one with ``n`` requests more than
    the other, side by side (the start, the warm-up and the rest cancel out)."""
    with ThreadPoolExecutor(2) as pool:
        few, many = pool.map(
            lambda requests: instructions(server, cwd, env, {**options, "requests": requests}),
            (1, 1 + n),
        )
    return (many - few) / n


def spawn(server: str, cwd: str, env: dict[str, str], options: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", json.dumps(options)],
        cwd=cwd,
        env={**os.environ, **env, "PYTHONPATH": cwd},
        capture_output=not options.get("profile"),
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"{server} in {cwd} failed:\n{out.stderr[-3000:]}")
    if options.get("profile"):
        return {}
    return json.loads(out.stdout.strip().splitlines()[-1])


async def prepare() -> tuple[Any, dict[str, str]]:
    import asyncpg

    from bench.due_floor import encode_cases
    from bench.due_list import due_cases, keep_session
    from equipment.services import clock
    from equipment.settings import settings_from_env

    database = settings_from_env().database
    pool = await asyncpg.create_pool(
        **database.postgres_config(), min_size=1, max_size=2, reset=keep_session
    )
    try:
        cases = await due_cases(pool, clock.today())
    finally:
        await pool.close()
    return cases, {"SEREG_FLOOR_CASES": encode_cases(cases.statements)}


def hash_paths(paths: dict[str, str]) -> list[str]:
    """Answers that must not change: the due lists (both languages, other filters, the
    change registrations, the reminders) and the filter's refusals."""
    first = paths["first"]
    return [
        *paths.values(),
        f"{paths['deep']}&lang=en",
        f"{first}&lang=en",
        f"{paths['upcoming']}&lang=en",
        "/api/v1/due?limit=20",
        "/api/v1/due?limit=5&sort=-grade",
        "/api/v1/due?window=all&category_prefix=3&grade=red&limit=10",
        "/api/v1/due?from=2020-01-01&to=2031-12-31&kind=statutory_inspection&limit=7",
        "/api/v1/due?district=%E6%A8%8A%E5%9F%8E%E5%8C%BA&limit=3",
        "/api/v1/due/change-registrations?limit=5",
        "/api/v1/reminders?limit=50",
        "/api/v1/reminders?limit=10&lang=en",
        # refusals: Litestar's and the domain's words, in both languages
        "/api/v1/due?within_days=99999",
        "/api/v1/due?within_days=abc&lang=en",
        "/api/v1/due?window=soon",
        "/api/v1/due?window=soon&lang=en",
        "/api/v1/due?grade=purple&lang=en",
        "/api/v1/due?limit=0",
        "/api/v1/due?limit=501&lang=en",
        "/api/v1/due?from=2020-13-01",
        "/api/v1/due?from=yesterday&lang=en",
        "/api/v1/due?district=999999",
        "/api/v1/due?district=999999&lang=en",
        "/api/v1/due?category=X9&lang=en",
        "/api/v1/due?category_prefix=9",
        "/api/v1/due?kind=nothing&lang=en",
        "/api/v1/due?user_unit_id=0",
        "/api/v1/due?area_id=-1&lang=en",
        "/api/v1/due?maintenance_company_id=x",
        "/api/v1/due?sort=name",
        "/api/v1/due?cursor=nonsense",
        "/api/v1/due?cursor=nonsense&lang=en",
        "/api/v1/due?kind=%00",
        f"{first}&cursor={'A' * 401}",
        "/api/v1/due?window=overdue&window=upcoming",
        "/api/v1/reminders?cursor=xyz&lang=en",
        "/api/v1/reminders?limit=-3",
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stub", action="store_true", help="the database read memoised")
    parser.add_argument("--base", help="also serve the sereg code of this checkout")
    parser.add_argument("--profile", choices=["first", "deep", "upcoming"])
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--hashes", action="store_true")
    parser.add_argument(
        "--instructions",
        choices=["first", "deep", "upcoming"],
        help="count the instructions a request of this case executes, under valgrind",
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(json.loads(args.child)))))
        return

    from bench.harness import admin_token, load_average, machine

    cases, floor_env = asyncio.run(prepare())
    auth = {"Authorization": f"Bearer {admin_token()}"}
    base = {"requests": args.requests, "stub": args.stub, "headers": auth}
    servers = [("sereg", ROOT)] + ([("base", os.path.abspath(args.base))] if args.base else [])
    if args.hashes:
        paths = hash_paths(cases.paths)
        answers = {
            name: spawn(name, cwd, {}, {**base, "server": "sereg", "hashes": paths})
            for name, cwd in servers
        }
        for path in paths:
            row = " | ".join(
                f"{a[path][0]} {a[path][1][:16]} {a[path][2]}" for a in answers.values()
            )
            same = len({a[path][1] for a in answers.values()}) == 1
            print(f"| {path} | {row} |{'' if same else ' **differs**'}")
        return
    if args.profile:
        options = {**base, "server": "sereg", "paths": cases.paths, "profile": args.profile}
        spawn("sereg", ROOT, {}, {**options, "top": args.top})
        return

    if args.instructions:
        case = args.instructions
        print(
            f"# due list in-process, {cases.labels[case]}: instructions a request"
            f" (valgrind, {args.requests} requests; "
            f"{'database read memoised' if args.stub else 'database read live'})"
        )
        print()
        print("| server | instructions a request | × floor |")
        print("| --- | ---: | ---: |")
        floor = instructions_a_request(
            "floor",
            ROOT,
            floor_env,
            {**base, "server": "floor", "paths": {case: _floor_paths()[case]}},
            args.requests,
        )
        print(f"| floor | {floor:,.0f} | 1.00 |")
        for name, cwd in servers:
            options = {**base, "server": "sereg", "paths": {case: cases.paths[case]}}
            count = instructions_a_request(name, cwd, {}, options, args.requests)
            print(f"| {name} | {count:,.0f} | {count / floor:.2f} |")
        return

    print(
        f"# due list in-process, {cases.units:,} units, {cases.listed:,} overdue in 420606;"
        f" {args.requests} requests a case a run, {args.runs} runs,"
        f" {'database read memoised' if args.stub else 'database read live'}"
    )
    print(f"machine: {machine()}; {load_average()} at start")
    runs: dict[str, list[dict[str, Any]]] = {"floor": []} | {name: [] for name, _ in servers}
    for _ in range(args.runs):
        runs["floor"].append(
            spawn("floor", ROOT, floor_env, {**base, "server": "floor", "paths": _floor_paths()})
        )
        for name, cwd in servers:
            options = {**base, "server": "sereg", "paths": cases.paths}
            runs[name].append(spawn(name, cwd, {}, options))
    print()
    print(
        "| case | server | CPU ms a request (runs) | median | × floor | calls a request | bytes |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for case in cases.paths:
        floor_median = statistics.median(r[case]["cpu_ms"] for r in runs["floor"])
        for name, results in runs.items():
            cpus = [r[case]["cpu_ms"] for r in results]
            median = statistics.median(cpus)
            print(
                f"| {cases.labels[case]} | {name} | {', '.join(f'{c:.3f}' for c in cpus)} |"
                f" {median:.3f} | {median / floor_median:.2f} | {results[0][case]['calls']:.0f} |"
                f" {results[0][case]['bytes']:,} |"
            )
    print()
    print(f"{load_average()} at the end")


def _floor_paths() -> dict[str, str]:
    return {case: f"/due/{case}" for case in ("first", "deep", "upcoming")}


if __name__ == "__main__":
    main()
