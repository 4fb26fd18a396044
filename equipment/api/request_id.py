"""The id of the request being served, for the error answers (equipment.api.errors) and
the logs (sereg.observability, whose middleware sets it). It lives here, below both, so
the error map does not import the process's top package."""

from __future__ import annotations

import contextvars

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "sereg_request_id", default=None
)
