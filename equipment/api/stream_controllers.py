"""The live alarm stream: server-sent events of every alarm change the caller may see."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

import msgspec
from litestar import Request, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from equipment.api import api_docs, views
from equipment.domain.access import Principal
from equipment.domain.errors import InvalidValue
from equipment.services import alarm_feed, tokens
from equipment.services.alarm_feed import AlarmFeed, Change, Subscriber

# A client further behind than this many changes is told to reload (event ``reset``).
MAX_REPLAY = alarm_feed.MAX_REPLAY
# How long a browser waits before reconnecting (EventSource's retry), in milliseconds.
RETRY_MS = 3000
_ENCODE = msgspec.json.Encoder()


def _message(change: Change) -> ServerSentEventMessage:
    data = {"seq": change.seq, "event": change.event, "alarm": views.alarm(change.alarm)}
    return ServerSentEventMessage(data=_ENCODE.encode(data).decode(), event="alarm", id=change.seq)


def resume_point(last_event_id: str | None, after: int | None) -> int | None:
    raw = last_event_id if last_event_id not in (None, "") else after
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidValue("Last-Event-ID must be a change number", field="Last-Event-ID") from exc
    if value < 0:
        raise InvalidValue("Last-Event-ID must be a change number", field="Last-Event-ID")
    return value


async def _events(
    feed: AlarmFeed,
    sub: Subscriber,
    resume: int | None,
    keepalive_s: float,
    still_allowed: Callable[[], Awaitable[bool]],
) -> AsyncIterator[ServerSentEventMessage]:
    try:
        # The first bytes say the stream is open (and subscribed: nothing after this is
        # missed), and how long a browser should wait before reconnecting.
        yield ServerSentEventMessage(data=None, comment="connected", retry=RETRY_MS)
        cursor = sub.start if resume is None else resume
        # Too far behind to replay, or ahead of every change this database ever made (a
        # restored database, another city's id): the client reloads and starts from now.
        if sub.start - cursor > MAX_REPLAY or (
            cursor > sub.start and cursor > await alarm_feed.head()
        ):
            yield ServerSentEventMessage(
                data=_ENCODE.encode({"seq": sub.start}).decode(), event="reset", id=sub.start
            )
            cursor = sub.start
        # What committed before (or while) the stream opened, read from the table until
        # it has no more; later changes come through the queue (seq dedups the overlap).
        while True:
            changes, last = await alarm_feed.visible_changes(sub.principal, cursor)
            for replayed in changes:
                yield _message(replayed)
            if last == cursor:
                break
            cursor = last
        checked = time.monotonic()
        while not sub.dropped:
            # A stream outlives its request: its credential is asked again as often as the
            # keep-alive, so a revoked token stops seeing alarms within seconds.
            if time.monotonic() - checked >= keepalive_s:
                if not await still_allowed():
                    break
                checked = time.monotonic()
            try:
                change = await asyncio.wait_for(sub.queue.get(), keepalive_s)
            except TimeoutError:
                yield ServerSentEventMessage(data=None, comment="keep-alive")
                continue
            if change is None or sub.dropped:
                break  # the process is stopping, or this client fell behind: reconnect
            if change.seq <= cursor:
                continue
            cursor = change.seq
            yield _message(change)
    finally:
        feed.unsubscribe(sub)


@get(
    "/alarms/stream",
    tags=["alarms"],
    responses={
        **api_docs.READ,
        **api_docs.errors(503),
        200: ResponseSpec(
            data_container=str,
            media_type="text/event-stream",
            description=(
                "Server-sent events. `event: alarm`, `id: <seq>`, data"
                ' {"seq", "event", "alarm": AlarmView}; event is raised, acknowledged,'
                " arrived, finished, closed, reopened, escalated, late or reassigned."
                " `event: reset` (data {seq}): the client was too far behind; reload the"
                " board. Comment lines keep the stream alive."
            ),
            generate_examples=False,
        ),
    },
)
async def alarm_stream(
    principal: NamedDependency[Principal],
    state: State,
    request: Request,
    last_event_id: Annotated[
        str | None,
        HeaderParameter(
            name="Last-Event-ID",
            max_length=20,
            required=False,
            description="the last change seen (browsers send it when they reconnect)",
        ),
    ] = None,
    after: Annotated[
        int | None,
        QueryParameter(
            name="after",
            ge=0,
            le=2**63 - 1,
            required=False,
            description="start after this change (for a first connection; Last-Event-ID wins)",
        ),
    ] = None,
) -> ServerSentEvent:
    """The caller's alarms as they change, live: new alarms, acknowledged, arrived,
    finished, closed, escalated. Resume with Last-Event-ID (or ``after``): nothing that
    changed meanwhile is missed. A client that cannot keep up is disconnected and should
    reconnect; each worker holds a limited number of streams (503 past it)."""
    resume = resume_point(last_event_id, after)
    secret = request.headers.get("authorization", "").partition(" ")[2].strip()

    async def still_allowed() -> bool:
        return await tokens.principal_for(secret) == principal

    return await open_stream(principal, state.alarm_feed, resume, still_allowed)


async def open_stream(
    principal: Principal,
    feed: AlarmFeed,
    resume: int | None,
    still_allowed: Callable[[], Awaitable[bool]],
) -> ServerSentEvent:
    """The caller's stream (the API's, and the staff alarm board's with a session):
    ``still_allowed`` asks the credential again every keep-alive."""
    sub = await feed.subscribe(principal)
    keepalive = float(feed.settings.keepalive_s)
    return ServerSentEvent(
        _events(feed, sub, resume, keepalive, still_allowed),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
