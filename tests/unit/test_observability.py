"""The API process reports how long its event loop was held (``sereg_event_loop_lag_seconds``)."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import REGISTRY

from sereg.observability import watch_event_loop

NAME = "sereg_event_loop_lag_seconds"


def _count(le: str | None = None) -> float:
    if le is None:
        return REGISTRY.get_sample_value(f"{NAME}_count") or 0.0
    return REGISTRY.get_sample_value(f"{NAME}_bucket", {"le": le}) or 0.0


async def test_a_held_loop_is_observed_as_lag() -> None:
    total, quick = _count(), _count("0.1")
    watcher = asyncio.create_task(watch_event_loop(interval_s=0.01))
    try:
        await asyncio.sleep(0.05)  # a few ordinary ticks
        time.sleep(0.3)  # noqa: ASYNC251 - a handler holding the loop, on purpose
        await asyncio.sleep(0.05)
    finally:
        watcher.cancel()
    assert _count() - total >= 3
    # The tick that waited behind the held loop was late by most of those 0.3 s.
    assert (_count() - total) - (_count("0.1") - quick) >= 1
    assert _count("5.0") == _count()
