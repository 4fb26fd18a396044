"""The one error map: domain errors and storage conflicts to HTTP statuses."""

from __future__ import annotations

import logging
import sqlite3

import asyncpg
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE

from equipment.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidValue,
    NotFound,
    StaleVersion,
    Unauthenticated,
    VersionRequired,
)
from sereg.observability import REQUEST_ID

log = logging.getLogger(__name__)

STATUS: dict[type[DomainError], int] = {
    InvalidValue: 422,
    NotFound: 404,
    Conflict: 409,
    StaleVersion: 412,
    VersionRequired: 428,
    Forbidden: 403,
    Unauthenticated: 401,
}


def _problem(
    status: int,
    detail: str,
    extra: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {"status_code": status, "detail": detail, "extra": extra or []}
    return Response(body, status_code=status, headers=headers)


def domain_error(_: Request, exc: DomainError) -> Response:
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
    extra = [{"key": exc.field, "message": exc.reason}] if exc.field else []
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return _problem(status, exc.reason, extra, headers)


def validation_error(_: Request, exc: ValidationException) -> Response:
    extra = [
        {"key": str(item.get("key", "")), "message": str(item.get("message", ""))}
        for item in (exc.extra or [])
        if isinstance(item, dict)
    ]
    return _problem(400, exc.detail, extra)


def http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        limit = request.route_handler.resolve_request_max_body_size()
        return _problem(
            exc.status_code,
            f"the body is larger than the {limit:,} bytes this request accepts; "
            "send less at a time",
        )
    return _problem(exc.status_code, exc.detail, headers=exc.headers)


def integrity_error(_: Request, exc: Exception) -> Response:
    # Services check uniqueness first; this catches the race where two requests pass the
    # check together and the database's constraint decides.
    log.info("integrity conflict: %s", exc)
    return _problem(409, "the change conflicts with a record stored meanwhile; retry")


def unexpected_error(request: Request, exc: Exception) -> Response:
    # Every error not mapped above is a fault of ours: log it with its traceback and the
    # request id (which the client also gets, in X-Request-ID and in the body), and tell
    # the client nothing of the internals.
    request_id = REQUEST_ID.get() or "-"
    log.error(
        "unhandled %s on %s %s [request %s]",
        type(exc).__name__,
        request.method,
        request.url.path,
        request_id,
        exc_info=exc,
    )
    return _problem(
        500,
        f"internal error; the operators can find it in the logs by request id {request_id}",
    )


EXCEPTION_HANDLERS = {
    DomainError: domain_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    asyncpg.IntegrityConstraintViolationError: integrity_error,
    sqlite3.IntegrityError: integrity_error,
    Exception: unexpected_error,
}
