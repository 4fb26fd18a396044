"""A server process with a ticker on its event loop that writes down every stall.

    <checkout>/.venv/bin/python <this file> OUT -m sereg.cli serve --port N   (cwd: the checkout)

Runs ``python -m sereg.cli ...`` of the checkout it is started in (its own code and venv:
bench/fill_permit.py starts the "before" revision's server this way too), with one more
task on uvicorn's loop: it sleeps ``TICK_S`` again and again and appends to ``OUT`` a line
``<unix time> <ms late>`` whenever it woke ``RECORD_MS`` or more after it should have. A
callback that holds the loop (Python work between two awaits) shows as one late wake of
its length, whichever request it belongs to, so the bench can count the stalls that fell
in a case's window and the longest of them. What it measures is the loop, not the load:
on a loaded machine the process also waits for a core, which shows here too, so compare
two servers measured in the same run. Kept out of the product: nothing in ``sereg``
imports it, and it hooks uvicorn's public ``Server.serve`` in this process only.

With ``LOOP_STALLS_DEBUG=<ms>`` the server runs on the standard library's loop in debug
mode instead of uvloop, and asyncio's own report of every callback that held the loop
longer than that (which task, which coroutine) goes to ``OUT.slow``: it says what the
stalls are, at debug mode's cost (its timings are not the product's).
"""

from __future__ import annotations

import asyncio
import logging
import os
import runpy
import sys
import time
from typing import TextIO

# Every 5 ms: a wake costs the server ~20 µs of CPU on a loaded machine, so a 1 ms tick
# was itself a few per cent of a core (and of the CPU per request the bench reports). A
# stall shorter than the tick can fall between two wakes and be missed; one of 5 ms or
# more is seen as a wake late by 0-5 ms, and one of 10 ms or more always shows.
TICK_S = 0.005
# libuv (uvloop) keeps timers in whole milliseconds: a wake up to ~1 ms late is the timer,
# not a stall.
RECORD_MS = 2.0


async def _ticker(out: TextIO) -> None:
    while True:
        asked = time.perf_counter() + TICK_S
        await asyncio.sleep(TICK_S)
        late_ms = (time.perf_counter() - asked) * 1000
        if late_ms >= RECORD_MS:
            out.write(f"{time.time():.4f} {late_ms:.3f}\n")  # line-buffered: one write


def main() -> None:
    path, args = sys.argv[1], sys.argv[2:]
    if args[:1] != ["-m"] or len(args) < 2:
        raise SystemExit("usage: loop_stalls.py OUT -m MODULE [ARGS...]")
    # Run as a script, this file's folder came first on the path: the checkout's own
    # packages must be found instead, as ``python -m`` in it would find them.
    sys.path[0] = os.getcwd()
    import uvicorn

    serve = uvicorn.Server.serve
    debug_ms = float(os.environ.get("LOOP_STALLS_DEBUG") or 0)
    if debug_ms:
        uvicorn.Config.get_loop_factory = lambda self: asyncio.new_event_loop  # type: ignore[method-assign]
        slow = logging.FileHandler(f"{path}.slow")
        logging.getLogger("asyncio").addHandler(slow)
        logging.getLogger("asyncio").setLevel(logging.WARNING)

    async def serve_with_ticker(self: uvicorn.Server, sockets: object = None) -> None:
        if debug_ms:
            loop = asyncio.get_running_loop()
            loop.set_debug(True)
            loop.slow_callback_duration = debug_ms / 1000
        ticker = asyncio.ensure_future(_ticker(out))
        try:
            await serve(self, sockets)  # type: ignore[arg-type]
        finally:
            ticker.cancel()

    uvicorn.Server.serve = serve_with_ticker  # type: ignore[method-assign]
    sys.argv = [args[1], *args[2:]]
    with open(path, "a", buffering=1) as out:
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
