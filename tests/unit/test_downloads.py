"""Small downloads are formatted in the server a slice at a time, so that other requests
of the process run meanwhile (large ones are read and formatted in the export worker:
tests/integration/test_export_worker.py)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import pytest

from equipment.api import controllers
from equipment.services import pacing
from tests.loop_support import other_work


class Clock:
    """A stand-in for ``perf_counter``: time moves only when a row is formatted."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class SlowExport:
    """Each row costs ``row_s`` of the (fake) clock; records what happened in what order."""

    def __init__(self, clock: Clock, events: list[str], row_s: float) -> None:
        self.clock, self.events, self.row_s = clock, events, row_s

    def add(self, row: Mapping[str, Any]) -> None:
        self.clock.now += self.row_s
        self.events.append(f"row {row['n']}")

    def finish(self) -> bytes:
        return ",".join(e for e in self.events if e.startswith("row")).encode()


async def render_beside_other_work(monkeypatch, *, rows: int, row_s: float) -> list[str]:
    clock, events = Clock(), []
    monkeypatch.setattr(pacing, "perf_counter", clock)
    async with other_work(events):
        body = await controllers.render(
            lambda: SlowExport(clock, events, row_s), [{"n": i} for i in range(rows)]
        )
    assert body.decode() == ",".join(f"row {i}" for i in range(rows))
    return events


async def test_other_work_runs_between_slices_of_a_download(monkeypatch) -> None:
    slice_s = pacing.SLICE_S
    # A hair over a quarter slice each, so that float sums cannot make it five.
    events = await render_beside_other_work(monkeypatch, rows=100, row_s=slice_s / 4 * 1.001)
    formatting = events[events.index("row 0") : events.index("row 99") + 1]
    # Four rows fill a slice: the loop is given back after every fourth row, never later.
    runs = "".join("r" if e.startswith("row") else "o" for e in formatting).split("o")
    assert max(len(run) for run in runs) == 4
    assert formatting.count("other") >= 100 // 4 - 1


async def test_a_row_longer_than_a_slice_gives_the_loop_back_after_it(monkeypatch) -> None:
    events = await render_beside_other_work(monkeypatch, rows=10, row_s=pacing.SLICE_S * 3)
    rows_at = [i for i, e in enumerate(events) if e.startswith("row")]
    assert all(b - a > 1 for a, b in itertools.pairwise(rows_at))


@pytest.mark.parametrize("rows", [0, 1])
async def test_a_short_download_is_finished_at_once(monkeypatch, rows: int) -> None:
    events = await render_beside_other_work(monkeypatch, rows=rows, row_s=0.0)
    assert events.count("row 0") == rows
