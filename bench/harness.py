"""Open-loop load at a fixed rate, latency percentiles, and the machine description."""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


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


HEADER = (
    "| case | requests | errors | p50 ms | p95 ms | p99 ms | achieved req/s |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def percentile(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return float("nan")
    index = min(len(sorted_ms) - 1, max(0, round(q * (len(sorted_ms) - 1))))
    return sorted_ms[index]


async def fixed_rate(
    name: str,
    call: Callable[[int], Awaitable[bool]],
    *,
    rate: float,
    seconds: float,
    warmup: int = 20,
) -> Latency:
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
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return Latency(
        name,
        total,
        errors,
        statistics.median(ordered),
        percentile(ordered, 0.95),
        percentile(ordered, 0.99),
        total / elapsed,
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
