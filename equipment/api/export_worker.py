"""Downloads of the whole city read and formatted in a worker process, off the event loop.

A due-list download is up to 100,000 rows: reading them (the driver decoding each row,
the service deriving its state and names, a dict per row) and formatting them (openpyxl
cells, iCalendar lines) is seconds of pure Python, and a million-unit city's XLSX 7.6 s
(measured). On the server's event loop, even paced a slice at a time, it took turns with
every request beside it; handed to a worker process as rows, it still cost the server a
pickle of every row (the fill permit's p99 beside downloads rose from 3.4 to 19.5 ms, and
the loop's stalls were the reading and pickling: bench/fill_permit.py, docs/benchmarks.md).

So the server only says what to read: the caller (its ``Principal``: the worker asks the
same service, ``due.iterate_due``, with the same scope, so the rows are exactly those the
caller may see), the filter, the day and where the database is. The worker process opens
a connection of its own, reads and formats every row, and writes the file to a temporary
path; the server opens it, unlinks it and relays its bytes (``Stream``): nothing per row
on the loop. The path is the job's lease: when the download is given up (the client went
away, the request was cancelled) the server unlinks it, and the worker stops at its next
page rather than finish a file nobody will read.

Small exports (one company, one district's month: most) fit in the first page the
server reads to tell which they are; they are formatted there, paced, where a process
hop and a connection would cost more than they save.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import IO, Any

from litestar import Request, Response
from litestar.response import Stream

from equipment.api.exports import Export
from equipment.domain.access import Principal
from equipment.domain.errors import Busy, DomainError
from equipment.i18n import N_
from equipment.services import due
from equipment.services.pacing import Pacer
from equipment.storage import db

log = logging.getLogger(__name__)

# What the server reads itself to tell a small export from a large one: one page of the
# due list (about 1 ms of the loop, as a due-list request). More than this goes to the worker.
INLINE_ROWS = 250
# The worker shares no loop: larger pages, fewer round trips.
WORKER_PAGE_ROWS = 2_000
# How often the worker looks whether its download is still wanted (a stat of the path).
LEASE_ROWS = 500
CHUNK_BYTES = 256 * 1024
# The worker's CPU priority below the server's (nice(2): 10 is a tenth of the weight).
WORKER_NICENESS = 10

WORKER_FAILED = N_("the download could not be prepared: the export worker stopped; try again")
READ_FAILED = N_("the download could not read the register just now; try again shortly")

_pool: list[ProcessPoolExecutor] = []


def _executor() -> ProcessPoolExecutor:
    if not _pool:
        # spawn: a fork of a process holding an event loop, asyncpg connections and
        # threads is not safe; the child imports what the job needs only. One worker: a
        # download takes one core at most, the other is left to the requests.
        _pool.append(
            ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
        )
    return _pool[0]


def _start_worker(parent: int) -> None:
    """In the worker, once: yield the CPU to the server, and exit when the server is gone.

    A download is batch work, the requests beside it (the filling scales' permit) are
    not. Where a core is free the worker runs at full speed anyway; where none is (two
    cores, a loaded machine) the server's process must win it: niced 10, the worker has a
    tenth of a busy core (measured: without it the permit's p50 beside downloads was
    seconds on a loaded machine, the downloads done faster). Not SCHED_IDLE (sched(7)),
    which runs it only on a core nothing else wants: on a saturated machine (a CI run) a
    download, and the worker's own start, then waited past a client's 10 s timeout; and
    its gain for the permit beside downloads was within this machine's noise
    (bench/fill_permit.py, a 2-core VM: p99 +2.6 to +3.7 ms with it, +3.6 to +3.9 niced).
    A process that only computes at SCHED_IDLE cost the permit +2.8 to +4.3 ms there:
    what is left is the machine (its cores slow each other down), not the export.

    And a pool's worker waits on a queue whose writing end it holds itself, so a server
    killed outright (SIGKILL, out of memory) would leave it waiting for ever (seen: an
    orphaned worker idle half an hour later): a thread looks for its parent.
    """
    yield_cpu()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def yield_cpu() -> None:
    """This process's CPU priority to the worker's (see ``_start_worker``)."""
    os.nice(WORKER_NICENESS)


def _forget_pool() -> None:
    """After the worker died (killed for memory, say): the next download starts a new one."""
    while _pool:
        _pool.pop().shutdown(wait=False, cancel_futures=True)


def shutdown() -> None:
    """Stop the worker process (app shutdown)."""
    _forget_pool()


# ---------------------------------------------------------------------------------------
# In the worker process


@dataclass(frozen=True)
class DueJob:
    """A due-list download for the worker: everything it needs, picklable."""

    database: db.EngineSpec
    principal: Principal
    filters: due.DueFilter
    today: date
    max_rows: int
    make: Callable[[], Export]  # a class or a functools.partial of one: it must pickle
    path: str  # the lease: made by the server, written here, gone when given up


class GivenUp(Exception):
    """The server unlinked the job's path: nobody waits for this download any more."""


def build_due_file(job: DueJob) -> int:
    """In the worker: read the caller's due list, format it, write it to ``job.path``;
    its size in bytes. Domain errors (a refused filter) come back as they are; a database
    that cannot be reached now as ``Busy``; anything else as an error that names itself
    (the server logs it with this process's traceback)."""
    try:
        return asyncio.run(_build_due_file(job))
    except (DomainError, GivenUp):
        raise
    except Exception as exc:
        if db.is_transient(exc):
            raise Busy(READ_FAILED) from None
        # A driver's exception may not pickle: send its words, with the traceback text.
        raise RuntimeError(f"export worker: {type(exc).__name__}: {exc}") from None


async def _build_due_file(job: DueJob) -> int:
    async with db.opened(job.database):
        export = job.make()
        try:
            rows = 0
            async for item in due.iterate_due(
                job.principal,
                job.filters,
                today=job.today,
                max_rows=job.max_rows,
                page_rows=WORKER_PAGE_ROWS,
            ):
                export.add(item)
                rows += 1
                # ASYNC240: this loop runs the one job, there is nothing beside it to block.
                if rows % LEASE_ROWS == 0 and not os.path.exists(job.path):  # noqa: ASYNC240
                    raise GivenUp(job.path)
            content = export.finish()
        except BaseException:
            export.close()
            raise
    try:
        # Not created here: a path the server has unlinked stays gone.
        fd = os.open(job.path, os.O_WRONLY | os.O_TRUNC)
    except FileNotFoundError:
        raise GivenUp(job.path) from None
    with os.fdopen(fd, "wb") as out:
        out.write(content)
    return len(content)


# ---------------------------------------------------------------------------------------
# In the server


@dataclass(frozen=True)
class Download:
    """A download's body: the bytes of a small one, or the open (already unlinked) file
    the worker wrote for a large one."""

    content: bytes = b""
    file: IO[bytes] | None = None
    size: int = 0

    def response(self, media_type: str, headers: Mapping[str, str]) -> Response[Any]:
        if self.file is None:
            return Response(self.content, media_type=media_type, headers=dict(headers))
        # The length is known: clients show progress, and no chunked encoding is needed.
        length = {"Content-Length": str(self.size)}
        return Stream(_chunks(self.file), media_type=media_type, headers={**headers, **length})


async def _chunks(file: IO[bytes]) -> AsyncIterator[bytes]:
    """The file's bytes a chunk at a time. A read of a file just written is a copy from
    the page cache (tens of microseconds a chunk): cheaper here than a thread hop. Closed
    when the response ends or is given up (the generator's close)."""
    try:
        while chunk := file.read(CHUNK_BYTES):
            yield chunk
    finally:
        file.close()


async def due_download(
    principal: Principal,
    filters: due.DueFilter,
    make: Callable[[], Export],
    *,
    today: date,
    max_rows: int,
    disconnected: Callable[[], Awaitable[None]] | None = None,
) -> Download | None:
    """The caller's due list as a download; None when the client went away first.

    The first page is read here (the permission and the filter are checked on it, so a
    refusal is the same 403 or 422 as the list's): if it holds every row the export is
    formatted here, else the worker reads and formats the whole list itself.
    ``disconnected`` returns when the client has gone (the request's ASGI ``receive``
    said so): the worker's job is then given up.
    """
    first = [
        item
        async for item in due.iterate_due(
            principal, filters, today=today, max_rows=min(max_rows, INLINE_ROWS + 1)
        )
    ]
    if len(first) <= INLINE_ROWS or max_rows <= INLINE_ROWS:
        return Download(content=await render(make, first))
    fd, path = tempfile.mkstemp(prefix="sereg-export-", suffix=".part")
    os.close(fd)
    job = DueJob(db.engine_spec(), principal, filters, today, max_rows, make, path)
    try:
        try:
            built = asyncio.get_running_loop().run_in_executor(_executor(), build_due_file, job)
        except BrokenProcessPool:  # it died since the last download: start another
            _forget_pool()
            built = asyncio.get_running_loop().run_in_executor(_executor(), build_due_file, job)
        size = await _unless_gone(built, disconnected)
        if size is None:
            return None
        # Opened before the unlink below: the file lives on as long as the response reads it
        # (and _chunks closes it).
        file = await asyncio.to_thread(open, path, "rb")
        return Download(file=file, size=size)
    except BrokenProcessPool:
        _forget_pool()
        log.error("the export worker stopped while preparing a download")
        raise Busy(WORKER_FAILED) from None
    finally:
        # The lease ends: a worker still at it stops at its next page.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


async def _unless_gone(
    built: asyncio.Future[int], disconnected: Callable[[], Awaitable[None]] | None
) -> int | None:
    """The worker's answer, or None when the client goes first. A job not started yet is
    taken off the worker's queue when its request is cancelled or given up."""
    gone = asyncio.ensure_future(disconnected()) if disconnected is not None else None
    try:
        waiting: set[asyncio.Future[Any]] = {built} if gone is None else {built, gone}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if not built.done():
            return None
        return built.result()
    finally:
        if gone is not None:
            gone.cancel()
        if not built.done():
            built.cancel()
            # The job's answer (GivenUp, most likely) is not wanted: retrieve it so that
            # asyncio does not log it as never retrieved.
            built.add_done_callback(_ignore)


def _ignore(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


async def due_response(
    request: Request,
    principal: Principal,
    filters: due.DueFilter,
    make: Callable[[], Export],
    *,
    today: date,
    max_rows: int,
    media_type: str,
    headers: Mapping[str, str],
) -> Response[Any]:
    """A due-list download route's response (the API's, the staff pages', the calendar
    feed's): ``due_download`` watching the request's connection."""
    download = await due_download(
        principal,
        filters,
        make,
        today=today,
        max_rows=max_rows,
        disconnected=partial(until_disconnected, request.receive),
    )
    if download is None:
        # Nobody reads it: the client is gone (499 "client closed request", as nginx logs).
        return Response(b"", status_code=499)
    return download.response(media_type, headers)


async def until_disconnected(receive: Callable[[], Awaitable[Mapping[str, Any]]]) -> None:
    """Return when the ASGI ``receive`` of a GET says the client disconnected (its first
    message is the empty request body; nothing else reads it while the download is
    prepared)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def render(make: Callable[[], Export], rows: Sequence[Mapping[str, Any]]) -> bytes:
    """The bytes of a small export formatted here from rows in hand, paced (the loop is
    given back between slices of rows)."""
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
