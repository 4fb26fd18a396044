"""The API process reports how long its event loop was held (``sereg_event_loop_lag_seconds``),
and its request middleware labels each answer with the language its words were chosen in."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from prometheus_client import REGISTRY

from equipment.api.language import ANSWERED_IN
from sereg.observability import RequestMiddleware, watch_event_loop

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


async def _answer(chosen: list[str], own: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The headers the middleware sends for a handler that negotiated ``chosen`` (in a
    child task, as Litestar resolves dependencies) and set ``own`` itself."""

    async def handler(scope: Any, receive: Any, send: Any) -> None:
        async def negotiate() -> None:
            cell = ANSWERED_IN.get()
            assert cell is not None
            cell.extend(chosen)

        await asyncio.create_task(negotiate())
        await send({"type": "http.response.start", "status": 200, "headers": list(own)})
        await send({"type": "http.response.body", "body": b"{}"})

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path_template": "/t", "headers": []}
    await RequestMiddleware(handler)(scope, None, send)  # type: ignore[arg-type]
    assert ANSWERED_IN.get() is None  # nothing outlives the request
    return [(k, v) for k, v in sent[0]["headers"] if k != b"x-request-id"]


@pytest.mark.parametrize(
    ("chosen", "own", "expected"),
    [
        ([], [], []),  # no words to translate: nothing said
        (["en"], [], [(b"content-language", b"en"), (b"vary", b"Accept-Language")]),
        (["en", "zh-CN"], [], [(b"content-language", b"zh-CN"), (b"vary", b"Accept-Language")]),
        (  # the handler's own label and Vary are kept, Accept-Language added to the Vary
            ["en"],
            [(b"Content-Language", b"zh-CN"), (b"vary", b"Cookie")],
            [(b"Content-Language", b"zh-CN"), (b"vary", b"Cookie"), (b"vary", b"Accept-Language")],
        ),
        (
            ["en"],
            [(b"vary", b"Origin, accept-language")],
            [(b"vary", b"Origin, accept-language"), (b"content-language", b"en")],
        ),
        (["en"], [(b"vary", b"*")], [(b"vary", b"*"), (b"content-language", b"en")]),
    ],
)
async def test_an_answer_says_the_language_its_handler_chose(
    chosen: list[str], own: list[tuple[bytes, bytes]], expected: list[tuple[bytes, bytes]]
) -> None:
    assert await _answer(chosen, own) == expected
