"""Long loops on the shared event loop, run in slices.

One API process answers every caller from one event loop. A loop over thousands of rows
run in one go holds every other request for as long: a due-list download held the filling
scales' permits for 3 s, a 10,000-row maintenance upload for 0.1 s (measured). Formatting
and validating are Python code holding the GIL, so a thread would not help either.
"""

from __future__ import annotations

import asyncio
from time import perf_counter

# Long enough that yielding costs little (a loop turn is ~20 µs), short enough that a
# request arriving meanwhile waits a fraction of a millisecond per step it takes.
SLICE_S = 0.00025


class Pacer:
    """``await pacer.tick()`` once per row: it gives the loop back once a slice is used up."""

    __slots__ = ("_deadline", "slice_s")

    def __init__(self, slice_s: float = SLICE_S) -> None:
        self.slice_s = slice_s
        self._deadline = perf_counter() + slice_s

    async def tick(self) -> None:
        if perf_counter() >= self._deadline:
            await asyncio.sleep(0)
            self._deadline = perf_counter() + self.slice_s
