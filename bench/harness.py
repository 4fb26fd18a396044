"""Open-loop load at a fixed rate, latency percentiles, the machine description, and the
helpers the API benchmarks share (a ``sereg serve`` on a free port, an admin token)."""

from __future__ import annotations

import asyncio
import gc
import os
import platform
import random
import select
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx


@dataclass(frozen=True)
class Latency:
    name: str
    count: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    achieved_rate: float

    def row(self) -> str:
        return (
            f"| {self.name} | {self.count} | {self.errors} | {self.p50_ms:.2f} | "
            f"{self.p95_ms:.2f} | {self.p99_ms:.2f} | {self.achieved_rate:.0f} |"
        )


class LeanHttp:
    """Keep-alive HTTP/1.1 GETs on a pool of plain asyncio connections: the load side of
    the latency benchmarks.

    httpx costs 2-5 ms of the client's own time per request once its pool holds a few
    dozen connections (measured here: a /health at 200 req/s then took seconds, the
    server ~30 % busy), so it measured itself. This client does nothing but write the
    request and read the status, headers and a Content-Length body.
    """

    def __init__(self, port: int, *, host: str = "127.0.0.1", size: int = 50) -> None:
        self.host, self.port, self.size = host, port, size
        self._idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )
        self._opened = 0

    async def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        if self._idle.empty() and self._opened < self.size:
            self._opened += 1
            try:
                connection = await asyncio.open_connection(self.host, self.port)
            except BaseException:
                self._opened -= 1  # never opened: a failed connect must not use up a slot
                raise
        else:
            connection = await self._idle.get()
        try:
            status, body = await self._exchange(*connection, request)
            if status is None:  # the server closed it while idle (keep-alive timeout)
                connection[1].close()
                connection = await asyncio.open_connection(self.host, self.port)
                status, body = await self._exchange(*connection, request)
            if status is None:
                raise ConnectionError("the server closed the connection")
        except Exception:
            self._opened -= 1  # this connection is gone; a new one replaces it
            connection[1].close()
            raise
        self._idle.put_nowait(connection)
        return status, body

    @staticmethod
    async def _exchange(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
    ) -> tuple[int | None, bytes]:
        writer.write(request)
        status_line = await reader.readline()
        if not status_line:
            return None, b""
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return int(status_line.split()[1]), await reader.readexactly(length)

    async def close(self) -> None:
        while not self._idle.empty():
            _, writer = self._idle.get_nowait()
            writer.close()


HEADER = (
    "| case | requests | errors | p50 ms | p95 ms | p99 ms | achieved req/s |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def percentile(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return float("nan")
    index = min(len(sorted_ms) - 1, max(0, round(q * (len(sorted_ms) - 1))))
    return sorted_ms[index]


@dataclass
class Samples:
    """The raw outcome of one fixed-rate run: what ``Latency`` summarises."""

    latencies_ms: list[float]
    errors: int
    total: int  # requests measured
    sent: int  # requests sent, warm-up included (what the server's CPU was spent on)
    elapsed_s: float


async def fixed_rate_samples(
    call: Callable[[int], Awaitable[bool]],
    *,
    rate: float,
    seconds: float,
    warmup: int = 20,
) -> Samples:
    """Start ``call(i)`` every 1/rate seconds regardless of replies (no coordinated omission).

    Latency is measured from each request's scheduled start, so a stalled server shows.
    """
    for i in range(warmup):
        await call(-1 - i)
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()

    async def one(i: int, scheduled: float) -> None:
        nonlocal errors
        ok = await call(i)
        latencies.append((time.perf_counter() - scheduled) * 1000)
        if not ok:
            errors += 1

    tasks = []
    for i in range(total):
        scheduled = started + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(i, scheduled)))
    await asyncio.gather(*tasks)
    return Samples(latencies, errors, total, warmup + total, time.perf_counter() - started)


def summarise(name: str, runs: list[Samples]) -> Latency:
    """One ``Latency`` of the runs' requests pooled (a case measured in several rounds)."""
    ordered = sorted(ms for run in runs for ms in run.latencies_ms)
    total = sum(run.total for run in runs)
    return Latency(
        name,
        total,
        sum(run.errors for run in runs),
        statistics.median(ordered),
        percentile(ordered, 0.95),
        percentile(ordered, 0.99),
        total / sum(run.elapsed_s for run in runs),
    )


async def fixed_rate(
    name: str,
    call: Callable[[int], Awaitable[bool]],
    *,
    rate: float,
    seconds: float,
    warmup: int = 20,
) -> Latency:
    """``fixed_rate_samples``, summarised."""
    return summarise(
        name, [await fixed_rate_samples(call, rate=rate, seconds=seconds, warmup=warmup)]
    )


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            models = [line.split(":", 1)[1].strip() for line in info if "model name" in line]
        if models:
            cpu = models[0]
    except OSError:
        pass
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB RAM"
    except (ValueError, OSError):
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} cores ({cpu}){memory}, {system}, Python {platform.python_version()}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def admin_token() -> str:
    """A fresh admin token in the register ``DATABASE_URL`` names (``sereg token create``)."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sereg.cli",
            "token",
            "create",
            "--role",
            "admin",
            "--label",
            "bench",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()[-1]


def start_server(port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sereg.cli", "serve", "--port", str(port)],
        env={**os.environ, "SEREG_DB_POOL_MAX": "10"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# A downloader in a process of its own (so that reading megabytes does not stall the load
# client's loop): the same GET again and again until killed, one line per download.
_DOWNLOADER = """
import sys, time, urllib.request
url, token = sys.argv[1], sys.argv[2]
while True:
    started = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": token})) as r:
        size = len(r.read())
    print(r.status, size, round(time.perf_counter() - started, 3), flush=True)
"""


class Downloads:
    """``path`` downloaded back to back from the server on ``port`` while it is open: what
    an inspector's export puts on the process beside the requests being measured."""

    def __init__(self, port: int, path: str, authorization: str) -> None:
        self.args = [sys.executable, "-c", _DOWNLOADER, f"http://127.0.0.1:{port}{path}"]
        self.args.append(authorization)
        self.lines: list[str] = []

    def __enter__(self) -> Downloads:
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True)
        return self

    def __exit__(self, *_: object) -> None:
        self.process.kill()
        out, _err = self.process.communicate()
        self.lines = out.split("\n")[:-1]

    def summary(self) -> str:
        """How many downloads completed, their size and median seconds."""
        done = [line.split() for line in self.lines if line.startswith("200 ")]
        if not done:
            return "no download completed"
        seconds = statistics.median(float(d[2]) for d in done)
        return f"{len(done)} downloads of {int(done[0][1]):,} bytes, median {seconds:.2f} s each"


# Python work at the export worker's CPU priority (export_worker.yield_cpu), in a process
# of its own, until killed: formatting rows as XML text, as an XLSX export does, without
# the database or the server. "1" on stdout once the priority is set.
_BUSY_PROCESS = """
import sys
from equipment.api.export_worker import yield_cpu
yield_cpu()
print(1, flush=True)
while True:
    rows = [{"code": f"X{i}", "n": i, "text": str(i) * 3} for i in range(5000)]
    "".join(f"<c r='{r['code']}'><v>{r['n']}</v><is>{r['text']}</is></c>" for r in rows)
"""


class BusyProcess:
    """A process that keeps a core busy at the export worker's CPU priority (this
    checkout's ``yield_cpu``), doing nothing the server knows of: the permit beside it is
    compared with the permit beside downloads. On a machine whose cores slow each other
    down (a VM's vCPUs sharing a host core, a shared cache), any work on the other core
    costs the server's requests something, whatever the export does. It is busier than
    the worker (it never waits for the database), and with ``--before`` it is this
    checkout's process beside both sides."""

    START_S = 120.0  # importing the app took 34 s at load 17 (bench/due_list.py)

    def __init__(self, root: Path) -> None:
        self.args = [sys.executable, "-c", _BUSY_PROCESS]
        self.root = root
        self.cpu_s = 0.0

    def __enter__(self) -> BusyProcess:
        self.process = subprocess.Popen(self.args, cwd=self.root, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], self.START_S)
        if not ready or self.process.stdout.readline().strip() != "1":  # priority set
            self.process.kill()
            self.process.communicate()
            raise SystemExit("the busy low-priority process did not start")
        return self

    def __exit__(self, *_: object) -> None:
        self.cpu_s = process_cpu_seconds([self.process.pid])
        self.process.kill()
        self.process.communicate()

    def summary(self) -> str:
        return f"a low-priority process, {self.cpu_s:.1f} s of CPU"


async def wait_until_up(http: httpx.AsyncClient, attempts: int = 1200) -> None:
    for _ in range(attempts):
        try:
            await http.get("/health")
            return
        except httpx.TransportError:
            await asyncio.sleep(0.1)


def http_case(
    http: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None
) -> Callable[[int], Awaitable[bool]]:
    """One GET per call; a call counts as an error unless the reply is 200 (a timeout too,
    so an overloaded server shows as errors instead of ending the run)."""

    async def call(_: int) -> bool:
        try:
            response = await http.get(path, headers=headers)
        except httpx.TransportError:
            return False
        return response.status_code == 200

    return call


def sql_case(pool: Any, sql: str, *args: Any) -> Callable[[int], Awaitable[bool]]:
    """One ``pool.fetch(sql, *args)`` per call (an asyncpg pool)."""

    async def call(_: int) -> bool:
        await pool.fetch(sql, *args)
        return True

    return call


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, printed beside every figure (the machine is
    shared: a figure taken at load 8 is not one taken at load 1)."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def process_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of ``pids`` and their children so far (/proc/<pid>/stat)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state is field 0; utime, stime, cutime, cstime are 11-14.
        total += sum(int(f) for f in fields[11:15]) / tick
    return total


def server_pids(parent: int) -> list[int]:
    """``parent`` and its child processes (uvicorn's workers)."""
    pids = [parent]
    try:
        with open(f"/proc/{parent}/task/{parent}/children") as children:
            pids += [int(p) for p in children.read().split()]
    except OSError:
        pass
    return pids


def lean_case(
    http: LeanHttp,
    paths: str | list[str],
    headers: dict[str, str] | None = None,
    seed: int = 0,
) -> Callable[[int], Awaitable[bool]]:
    """One GET of ``paths`` (a random one of them, when a list) per call, over the light
    client; an error unless the reply is 200 (a dropped connection too, so an overloaded
    server shows as errors instead of ending the run)."""
    choices = [paths] if isinstance(paths, str) else paths
    rng = random.Random(seed)

    async def call(_: int) -> bool:
        try:
            status, _body = await http.get(rng.choice(choices), headers)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            return False
        return status == 200

    return call


async def quiet_fixed_rate(
    name: str, call: Callable[[int], Awaitable[bool]], *, rate: float, seconds: float
) -> Latency:
    """``fixed_rate`` with the client's garbage collector held off: its pauses would show
    as server latency."""
    gc.collect()
    gc.disable()
    try:
        return await fixed_rate(name, call, rate=rate, seconds=seconds)
    finally:
        gc.enable()


async def on_register(
    units: int, measure: Callable[[str], Awaitable[int]], *, root: Path, scratch: Any
) -> int:
    """``measure(url)`` on the register ``DATABASE_URL`` names (migrated first), or on a
    scratch one of ``units`` (``scratch``: bench.ingest_support.scratch_register) when
    it is unset. ``start_server`` and the token command read the register from the
    environment, so the scratch one's URL is put there."""
    os.environ["PICCOLO_CONF"] = "piccolo_conf"
    given = os.environ.get("DATABASE_URL")
    if given:
        migrate = [sys.executable, "-m", "sereg.cli", "migrate"]
        await asyncio.to_thread(subprocess.run, migrate, cwd=root, check=True)
        return await measure(given)
    async with scratch(units) as url:
        os.environ["DATABASE_URL"] = url
        return await measure(url)


async def sustainable_rate(
    name: str,
    call: Callable[[int], Awaitable[bool]],
    *,
    rates: list[float],
    seconds: float,
    p99_limit_ms: float = 50.0,
) -> tuple[float | None, list[Latency]]:
    """The highest of ``rates`` (tried in rising order, stopping at the first miss) at
    which ``call``'s p99 stays under ``p99_limit_ms`` with no errors."""
    best: float | None = None
    tried: list[Latency] = []
    for rate in sorted(rates):
        result = await fixed_rate(f"{name} @ {rate:.0f}/s", call, rate=rate, seconds=seconds)
        tried.append(result)
        if result.p99_ms >= p99_limit_ms or result.errors or result.achieved_rate < 0.95 * rate:
            break
        best = rate
    return best, tried
