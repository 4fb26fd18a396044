"""The live alarm feed: every alarm change, from any process, to each API process's streams.

Database triggers write an ``alarm_change`` row for every change the board shows, in the
transaction that made it (migration 2026-12-06T09:09:30). From there:

- PostgreSQL: the trigger's NOTIFY reaches every listening process on commit (never for a
  rolled-back change). Each process then *stamps* committed rows with the public ``seq``
  under one advisory lock, in turn: a stamp commits before the next one starts, so seqs
  become visible in increasing order and a reader that saw seq N never later finds a new
  one below N (ids themselves are taken before commit, in another order than commits).
  The listening connection is a dedicated one, outside the pool.
- SQLite (one process, one writer at a time): ``seq`` is the row id; the feed polls for a
  higher one.

Each process reads new changes once and hands each stream the ones its caller may see
(the alarms' own scope query), through a bounded queue: a stream whose client cannot keep
up is dropped, not buffered without end; its client reconnects with Last-Event-ID and
reads what it missed from the table. The table is pruned by age (SEREG_RETAIN_ALARM_CHANGE_DAYS),
never within the last MAX_REPLAY changes.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from equipment.domain.access import Permission, Principal
from equipment.domain.errors import Busy
from equipment.services import alarms
from equipment.settings import StreamSettings
from equipment.storage import reads
from equipment.storage.alarms import AlarmRecord

log = logging.getLogger("sereg.alarm_feed")

CHANNEL = "sereg_alarm_change"
# A reader asks for changes in pages of this many.
PAGE = 200
# PostgreSQL: how often the feed looks for changes without being notified, in case a
# notification was lost (one sent while the listening connection was being replaced).
RESYNC_S = 60.0
# A stream resuming further behind than this many changes is told to reload (event
# ``reset``) instead of being replayed an old day's changes one by one; the retention
# job (services/retention.py) keeps at least this many behind the head, whatever their
# age, so any resume it allows finds every change it asks for.
MAX_REPLAY = 1000


@dataclass(frozen=True, slots=True)
class Change:
    """One change of an alarm; ``alarm`` is the alarm as it is now (its row)."""

    seq: int
    event: str
    alarm: AlarmRecord


async def stamp() -> None:
    """Give committed, unstamped changes their seq (PostgreSQL; SQLite's triggers did)."""
    await reads().alarm_changes.stamp()


async def head() -> int:
    """The highest seq given so far (0 before any change)."""
    return await reads().alarm_changes.head()


async def changes_after(after: int, *, limit: int = PAGE) -> tuple[list[Change], int]:
    """Up to ``limit`` changes with seq above ``after``, in seq order, and the last seq
    read (``after`` when there was none)."""
    store = reads()
    rows = await store.alarm_changes.after(after, limit=limit)
    if not rows:
        return [], after
    by_id = {a.id: a for a in await store.alarms.of_ids(list({r.alarm for r in rows}))}
    changes = [Change(r.seq, r.event, by_id[r.alarm]) for r in rows if r.alarm in by_id]
    return changes, rows[-1].seq


async def visible_changes(
    principal: Principal, after: int, *, limit: int = PAGE
) -> tuple[list[Change], int]:
    """``changes_after`` narrowed to the alarms ``principal`` may see."""
    changes, last = await changes_after(after, limit=limit)
    seen = await alarms.visible_ids(principal, list({c.alarm.id for c in changes}))
    return [c for c in changes if c.alarm.id in seen], last


@dataclass(eq=False)
class Subscriber:
    """One open stream: its caller, where it started, and its bounded queue."""

    principal: Principal
    start: int
    queue: asyncio.Queue[Change | None]
    dropped: bool = field(default=False)


class AlarmFeed:
    """One per API process: listens (or polls), reads each change once, fans it out."""

    def __init__(self, settings: StreamSettings) -> None:
        self.settings = settings
        self.subscribers: set[Subscriber] = set()
        self.head = 0
        self.dropped_total = 0
        self._task: asyncio.Task[None] | None = None
        self._started: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._closing = False

    # -------------------------------------------------------------- streams

    async def subscribe(self, principal: Principal) -> Subscriber:
        principal.require(Permission.ALARM_READ)
        if self._closing:
            raise Busy("the service is stopping; reconnect to another worker")
        if len(self.subscribers) >= self.settings.max_streams:
            raise Busy(
                f"all {self.settings.max_streams} live streams of this worker are open;"
                " try again later"
            )
        await self._ensure_running()
        sub = Subscriber(principal, self.head, asyncio.Queue(self.settings.queue_size))
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    async def deliver(self, changes: list[Change]) -> None:
        """Hand each subscriber the changes its caller may see; drop one that is full."""
        subs = list(self.subscribers)
        if not subs or not changes:
            return
        ids = list({c.alarm.id for c in changes})
        visible: dict[Principal, set[int]] = {}
        for principal in {s.principal for s in subs}:
            visible[principal] = await alarms.visible_ids(principal, ids)
        for sub in subs:
            seen = visible[sub.principal]
            for change in changes:
                if change.alarm.id not in seen:
                    continue
                try:
                    sub.queue.put_nowait(change)
                except asyncio.QueueFull:
                    self._drop(sub)
                    break

    def _drop(self, sub: Subscriber) -> None:
        sub.dropped = True
        self.dropped_total += 1
        self.subscribers.discard(sub)
        log.warning("alarm stream dropped: its client fell %d changes behind", sub.queue.maxsize)

    # -------------------------------------------------------------- the loop

    async def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._started = asyncio.Event()
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="alarm-feed")
        assert self._started is not None
        await self._started.wait()

    def _notified(self, *_: Any) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _catch_up(self) -> None:
        await stamp()
        while True:
            changes, last = await changes_after(self.head, limit=PAGE)
            if last == self.head:
                return
            await self.deliver(changes)
            self.head = last

    async def _run(self) -> None:
        assert self._started is not None and self._wake is not None
        backoff = 0.5
        while not self._closing:
            connection: Any | None = None
            try:
                # PostgreSQL: a connection of its own, LISTENing; a lost connection wakes
                # the loop at once, to reconnect and catch up. SQLite: none, the feed polls.
                connection = await reads().alarm_changes.listen(CHANNEL, self._notified)
                interval = RESYNC_S if connection is not None else self.settings.poll_ms / 1000
                if not self._started.is_set():
                    self.head = await head()
                await self._catch_up()
                self._started.set()
                backoff = 0.5
                while not self._closing:
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), interval)
                    self._wake.clear()
                    if connection is not None and connection.is_closed():
                        raise ConnectionError("the listening connection was closed")
                    await self._catch_up()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: retry, the streams wait
                log.warning(
                    "alarm feed: %s: %s; retrying in %.1f s", type(exc).__name__, exc, backoff
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
            finally:
                if connection is not None:
                    with suppress(Exception):
                        await connection.close(timeout=2)

    async def close(self) -> None:
        """End every stream (a None in its queue) and stop listening."""
        self._closing = True
        for sub in list(self.subscribers):
            with suppress(asyncio.QueueFull):
                sub.queue.put_nowait(None)
        self.subscribers.clear()
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
