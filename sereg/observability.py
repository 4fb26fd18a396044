"""Logs, request ids and metrics for both processes (the API and the ingest workers).

Logs are lines of text, or one JSON object per line with ``SEREG_LOG_JSON=1`` for a log
shipper. Every request gets an id (the caller's ``X-Request-ID`` when it sends a sane one,
else a new one), returned in the response and attached to every log record written while
the request runs, so one failing request can be followed through the logs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Histogram

from equipment.api.request_id import REQUEST_ID

__all__ = ["REQUEST_ID", "JsonFormatter", "RequestIdMiddleware", "watch_event_loop"]

EVENT_LOOP_LAG = Histogram(
    "sereg_event_loop_lag_seconds",
    "How late the process's event loop ran a timer: how long every request in flight waited"
    " behind work that held the loop",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
)


async def watch_event_loop(interval_s: float = 0.25) -> None:
    """Observe ``EVENT_LOOP_LAG`` until cancelled. One process serves everyone, so a
    handler that formats, parses or computes in one go holds up the filling scales'
    permits behind it (a due-list download once held them for 3 s): this shows it."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + interval_s
        await asyncio.sleep(interval_s)
        EVENT_LOOP_LAG.observe(max(0.0, loop.time() - due))


_SANE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
_HEADER = b"x-request-id"


class RequestIdMiddleware:
    """Plain ASGI middleware: cheaper than a framework hook on every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", ()) if k == _HEADER), None)
        request_id = (
            given.decode() if given is not None and _SANE_ID.fullmatch(given) else uuid.uuid4().hex
        )
        token = REQUEST_ID.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (_HEADER, request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "-")
        if request_id != "-":
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(*, json_lines: bool, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
