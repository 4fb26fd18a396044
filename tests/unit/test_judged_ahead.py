"""The consumer's pipeline without a broker or a database: each batch is judged with the
fills of the batches still in flight laid over the register; after a batch that did not
commit as judged, the ones behind it are judged in their own commits, and judging ahead
resumes with the next."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import NamedTuple

import pytest

from equipment.services import ingest
from equipment.settings import Settings
from ingest_mqtt import consumer as consumer_module
from ingest_mqtt.client import LinkCounters
from ingest_mqtt.consumer import Batch, _Pipeline
from sereg.bootstrap import bootstrap


class Fill(NamedTuple):
    name: str
    filled_at: datetime


def _fill(n: int) -> Fill:
    return Fill(f"fill of batch {n}", datetime(2026, 12, 1, 8, n, tzinfo=UTC))


def _pipeline(monkeypatch, judge_fills, commit) -> _Pipeline:
    """A pipeline over a consumer whose judging and committing are the test's own."""
    # A link that never connects: the pipeline only needs its counters for the metrics.
    consumer = bootstrap(Settings()).consumer(link=SimpleNamespace(counters=LinkCounters()))
    monkeypatch.setattr(consumer_module.ingest, "judge_fills", judge_fills)
    monkeypatch.setattr(consumer, "_decode", lambda deliveries: list(deliveries))
    monkeypatch.setattr(consumer, "_commit", commit)
    return _Pipeline(consumer, depth=3)


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_judged_over_what_is_in_flight_and_resumed_after_a_batch_not_as_judged(
    monkeypatch,
) -> None:
    overlays: dict[str, dict] = {}
    commits: dict[str, asyncio.Future[bool]] = {}
    committed: list[tuple[str, bool]] = []

    async def judge_fills(items, *, context, overlay):
        name = items[0]
        overlays[name] = {cylinder: fill.name for cylinder, fill in overlay.items()}
        return ingest.JudgedFills(latest={7: _fill(int(name[1:]))})

    async def commit(batch: Batch) -> bool:
        name = batch.items[0]
        commits[name] = asyncio.get_running_loop().create_future()
        committed.append((name, batch.judged is not None))
        return await commits[name]

    pipeline = _pipeline(monkeypatch, judge_fills, commit)

    await pipeline.put(["b1"])
    await _settle()
    assert overlays["b1"] == {}  # nothing in flight: the register alone
    await pipeline.put(["b2"])
    assert overlays["b2"] == {7: "fill of batch 1"}  # b1 is still committing
    await pipeline.put(["b3"])
    assert overlays["b3"] == {7: "fill of batch 2"}  # the later fill of the two wins

    commits["b1"].set_result(False)  # b1 needed a retry: what was judged over it is void
    await _settle()
    assert [b.judged for b in pipeline.in_flight] == [None, None]
    commits["b2"].set_result(True)
    await _settle()

    # b4 waits for b3 (judged in its own commit) before it is judged ahead again.
    put_b4 = asyncio.create_task(pipeline.put(["b4"]))
    await _settle()
    assert "b4" not in overlays
    commits["b3"].set_result(True)
    await put_b4
    assert overlays["b4"] == {}  # b1-b3 are in the register now
    await pipeline.put(["b5"])
    assert overlays["b5"] == {7: "fill of batch 4"}  # judging ahead has resumed

    await _settle()
    commits["b4"].set_result(True)
    await _settle()
    commits["b5"].set_result(True)
    await pipeline.close()
    assert committed == [
        ("b1", True), ("b2", False), ("b3", False), ("b4", True), ("b5", True),
    ]  # fmt: skip


async def test_a_failed_writer_is_raised_by_the_next_put(monkeypatch) -> None:
    async def judge_fills(items, *, context, overlay):
        return ingest.JudgedFills()

    async def commit(batch: Batch) -> bool:
        raise RuntimeError("the database refused even one by one")

    pipeline = _pipeline(monkeypatch, judge_fills, commit)
    await pipeline.put(["b1"])
    await _settle()
    with pytest.raises(RuntimeError, match="one by one"):
        await pipeline.put(["b2"])


async def test_a_writer_failing_while_the_queue_is_full_is_raised_not_waited_on(
    monkeypatch,
) -> None:
    first: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    async def judge_fills(items, *, context, overlay):
        return ingest.JudgedFills()

    async def commit(batch: Batch) -> bool:
        return await first  # the first commit hangs, then fails

    pipeline = _pipeline(monkeypatch, judge_fills, commit)
    for name in ("b1", "b2", "b3"):  # b1 with the writer, b2 and b3 fill the queue
        await pipeline.put([name])
        await _settle()
    blocked = asyncio.create_task(pipeline.put(["b4"]))
    await _settle()
    assert not blocked.done()
    first.set_exception(RuntimeError("the database refused even one by one"))
    with pytest.raises(RuntimeError, match="one by one"):
        await asyncio.wait_for(blocked, 2)
