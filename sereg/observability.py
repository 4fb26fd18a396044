"""Logs, request ids and metrics for both processes (the API and the ingest workers).

Logs are lines of text, or one JSON object per line with ``SEREG_LOG_JSON=1`` for a log
shipper. Every request gets an id (the caller's ``X-Request-ID`` when it sends a sane one,
else a new one), returned in the response and attached to every log record written while
the request runs, so one failing request can be followed through the logs.

The request middleware that does this also labels an answer with the language its words
were chosen in (``Content-Language``, ``Vary: Accept-Language``): one wrapper of ``send``
a request for both, as for the id and the metrics.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import logging
import re
import uuid
from datetime import UTC, datetime
from time import perf_counter
from typing import Any, cast

from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram

from equipment.api.language import ANSWERED_IN
from equipment.api.raw_headers import header
from equipment.api.request_id import REQUEST_ID

__all__ = ["REQUEST_ID", "JsonFormatter", "RequestMiddleware", "watch_event_loop"]

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


_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_HEADER = b"x-request-id"

# The HTTP metrics, as Litestar's Prometheus plugin named them (prefix ``sereg_http``,
# ``group_path``): per route template, method and status, with the app's name.
_LABELS = ("method", "path", "status_code", "app_name")
APP_NAME = "sereg"
REQUESTS = Counter("sereg_http_requests_total", "Total requests", _LABELS)
REQUEST_TIME = Histogram(
    "sereg_http_request_duration_seconds", "Request duration, in seconds", _LABELS
)
IN_PROGRESS = Gauge(
    "sereg_http_requests_in_progress",
    "Total requests currently in progress",
    _LABELS,
    multiprocess_mode="livesum",
)
ERRORS = Counter("sereg_http_requests_error_total", "Total errors in requests", _LABELS)
UNMEASURED = frozenset({"/metrics"})
"""Route templates left out of the metrics: the scrape itself."""


_ID_PREFIX = uuid.uuid4().hex[:16]
_ID_SEQUENCE = itertools.count(1)


def _new_id() -> str:
    """A new request id: 32 hex digits, this process's random half and its request count
    (unique across processes and restarts; a uuid4 a request was a getrandom system call
    each, 3 % of a /health request's CPU)."""
    return f"{_ID_PREFIX}{next(_ID_SEQUENCE):016x}"


class RequestMiddleware:
    """Every request's id and its metrics, in one plain ASGI middleware (one wrapper of
    ``send`` where there were two, and no framework request object): the due list's CPU
    went a tenth to these two before (bench.due_list).

    The id is the caller's ``X-Request-ID`` when it sends a sane one, else a new one; it
    is returned in the response and set in ``REQUEST_ID`` while the request runs. The
    metrics count each request by route template (``scope["path_template"]``), method and
    status, time it to its last body message, and keep the requests in flight; the labels'
    children are looked up once per (method, route, status) and kept. An answer whose
    handler negotiated a language (``equipment.api.language.request_language``) gets
    ``Content-Language`` and ``Vary: Accept-Language`` unless it set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = header(scope, _HEADER)
        request_id = given if given is not None and _SANE_ID.fullmatch(given) else _new_id()
        token = REQUEST_ID.set(request_id)
        template: str = scope["path_template"]  # set by the router: one series per route
        if template in UNMEASURED:
            try:
                await self.app(scope, receive, _with_id(send, request_id))
            finally:
                REQUEST_ID.reset(token)
            return
        method: str = cast(HTTPScope, scope)["method"]
        start = perf_counter()
        span = [200, 0.0]  # status, duration
        id_header = (_HEADER, request_id.encode())
        answered_in: list[str] = []
        language_token = ANSWERED_IN.set(answered_in)

        async def measured_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                span[0] = message["status"]
                headers = [*message.get("headers", ()), id_header]
                if answered_in:
                    _label_language(headers, answered_in[-1])
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                span[1] = perf_counter() - start
            await send(message)

        in_progress = _in_progress(method, template)
        in_progress.inc()
        try:
            await self.app(scope, receive, measured_send)
        finally:
            in_progress.dec()
            status = span[0]
            count, time_, errors = _children(method, template, status)
            if errors is not None:
                errors.inc()
            count.inc()
            time_.observe(span[1])
            ANSWERED_IN.reset(language_token)
            REQUEST_ID.reset(token)


def _label_language(headers: list[tuple[bytes, bytes]], lang: str) -> None:
    """Say in ``headers`` which language the answer is in and that Accept-Language chose
    it (so a shared cache keeps one copy per language), unless the handler said so."""
    has_language = False
    varies = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-language":
            has_language = True
        elif lowered == b"vary" and (value == b"*" or b"accept-language" in value.lower()):
            varies = True
    if not has_language:
        headers.append((b"content-language", lang.encode()))
    if not varies:
        headers.append((b"vary", b"Accept-Language"))


def _with_id(send: Send, request_id: str) -> Send:
    id_header = (_HEADER, request_id.encode())

    async def send_with_id(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", ()), id_header]
            message = {**message, "headers": headers}
        await send(message)

    return send_with_id


@functools.cache
def _in_progress(method: str, template: str) -> Any:
    # The plugin's gauge carried the status label too, always 200 while in flight.
    return IN_PROGRESS.labels(method, template, "200", APP_NAME)


@functools.cache
def _children(method: str, template: str, status: int) -> tuple[Any, Any, Any]:
    labels = (method, template, str(status), APP_NAME)
    errors = ERRORS.labels(*labels) if status >= 500 else None
    return REQUESTS.labels(*labels), REQUEST_TIME.labels(*labels), errors


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
