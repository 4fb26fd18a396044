"""Downloads of the whole city formatted in a worker process, off the event loop.

Formatting is pure Python (openpyxl cells, iCalendar lines): 18,700 rows take 2-3 s, and
a million-unit city's XLSX 7.6 s (measured). Paced on the event loop (a slice at a time)
it still took the GIL from the requests beside it — the fill permit's p99 rose from 3.9
to 9.9 ms while a download ran. So a large export is handed to a process of its own: the
rows travel pickled in slices (the loop is given back between slices), the worker builds
the file and sends back its bytes. Small exports (most: one company, one district's
month) are formatted in place, where a process hop would cost more than it saves.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import pickle
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from equipment.api.exports import Export
from equipment.services.pacing import Pacer

# Up to this many rows an export is formatted on the event loop, paced (~0.1 s of work).
INLINE_ROWS = 2_000
SLICE_ROWS = 500

_pool: list[ProcessPoolExecutor] = []


def _executor() -> ProcessPoolExecutor:
    if not _pool:
        # spawn: a fork of a process holding an event loop, asyncpg connections and
        # threads is not safe; the child imports the exports module only.
        _pool.append(
            ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        )
    return _pool[0]


def build(make: Callable[[], Export], slices: list[bytes]) -> bytes:
    """In the worker: the export of the pickled row slices."""
    export = make()
    for data in slices:
        for row in pickle.loads(data):
            export.add(row)
    return export.finish()


async def render(make: Callable[[], Export], rows: Sequence[dict[str, Any]]) -> bytes:
    """The download's bytes. ``make`` builds an empty export and must pickle (a class or a
    ``functools.partial`` of one): a large export is built in the worker process."""
    if len(rows) <= INLINE_ROWS:
        export = make()
        pacer = Pacer()
        try:
            for row in rows:
                export.add(row)
                await pacer.tick()
        except BaseException:  # a cancelled request too: the export is given up, closed
            export.close()
            raise
        # Finishing is zlib (XLSX) or one join of bytes: C code, and zlib lets the GIL go.
        return await asyncio.to_thread(export.finish)
    slices = []
    for start in range(0, len(rows), SLICE_ROWS):
        slices.append(pickle.dumps(rows[start : start + SLICE_ROWS], pickle.HIGHEST_PROTOCOL))
        await asyncio.sleep(0)  # ~1 ms per slice: the requests beside it go first
    return await asyncio.get_running_loop().run_in_executor(_executor(), build, make, slices)


def shutdown() -> None:
    """Stop the worker process (app shutdown)."""
    while _pool:
        _pool.pop().shutdown(wait=False, cancel_futures=True)
