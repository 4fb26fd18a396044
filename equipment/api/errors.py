"""The one error map: domain errors and storage conflicts to HTTP statuses, every detail
and field message said in the caller's language (zh-CN unless ``?lang=en`` or
Accept-Language asks for English)."""

from __future__ import annotations

import logging
import sqlite3

import asyncpg
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE
from litestar.types import ExceptionHandlersMap

from equipment.api.language import request_language
from equipment.api.request_id import REQUEST_ID
from equipment.domain.errors import (
    Busy,
    Conflict,
    DomainError,
    Forbidden,
    InvalidValue,
    NotFound,
    StaleVersion,
    TooManyAttempts,
    Unauthenticated,
    VersionRequired,
)
from equipment.i18n import N_
from equipment.i18n.spoken import speak

log = logging.getLogger(__name__)

STATUS: dict[type[DomainError], int] = {
    InvalidValue: 422,
    NotFound: 404,
    Conflict: 409,
    StaleVersion: 412,
    VersionRequired: 428,
    Forbidden: 403,
    Unauthenticated: 401,
    Busy: 503,
    TooManyAttempts: 429,
}


# What Litestar and msgspec say (in English) about a request they refuse, as message ids:
# spoken like the domain's own messages (equipment/i18n/spoken.py).
FRAMEWORK_MESSAGES = (
    N_("Validation failed for {request}"),
    N_("Expected `{expected}`, got `{got}`"),
    N_("Expected `{expected}` <= {limit}"),
    N_("Expected `{expected}` >= {limit}"),
    N_("Expected `{expected}` < {limit}"),
    N_("Expected `{expected}` > {limit}"),
    N_("Expected `{expected}` of length <= {limit}"),
    N_("Expected `{expected}` of length >= {limit}"),
    N_("Expected `{expected}` matching regex {regex}"),
    N_("Expected `{expected}`"),
    N_("Invalid enum value {value}"),
    N_("Object missing required field `{field}`"),
    N_("Object contains unknown field `{field}`"),
    N_("{message} - at `{path}`"),
    N_("Missing required {source} parameter {name} for path {path}"),
    N_("JSON is malformed: {why}"),
    N_("Invalid RFC3339 encoded datetime"),
    N_("Invalid RFC3339 encoded date"),
    N_("Not Found"),
    N_("Method Not Allowed"),
    N_("Request Entity Too Large"),
    N_("Unsupported Media Type"),
    N_("Internal Server Error"),
)


TOO_LARGE = N_(
    "the body is larger than the {limit} bytes this request accepts; send less at a time"
)
INTERNAL = N_("internal error; the operators can find it in the logs by request id {request_id}")


def _problem(
    request: Request,
    status: int,
    detail: str,
    extra: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The error body; the one place where an error's words are put in the request's
    language (keys stay the API's English field names)."""
    lang = request_language(request)
    body = {
        "status_code": status,
        "detail": speak(lang, detail),
        "extra": [{"key": i["key"], "message": speak(lang, i["message"])} for i in extra or []],
    }
    return Response(body, status_code=status, headers={**(headers or {}), "Content-Language": lang})


def domain_error(request: Request, exc: DomainError) -> Response:
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
    extra = [{"key": exc.field, "message": exc.reason}] if exc.field else []
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, TooManyAttempts):
        headers = {"Retry-After": str(exc.retry_after)}
    return _problem(request, status, exc.reason, extra, headers)


def validation_error(request: Request, exc: ValidationException) -> Response:
    extra = [
        {"key": str(item.get("key", "")), "message": str(item.get("message", ""))}
        for item in (exc.extra or [])
        if isinstance(item, dict)
    ]
    return _problem(request, 400, exc.detail, extra)


def http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        limit = request.route_handler.resolve_request_max_body_size()
        return _problem(request, exc.status_code, TOO_LARGE.format(limit=f"{limit:,}"))
    return _problem(request, exc.status_code, exc.detail, headers=exc.headers)


def integrity_error(request: Request, exc: Exception) -> Response:
    # Services check uniqueness first; this catches the race where two requests pass the
    # check together and the database's constraint decides.
    log.info("integrity conflict: %s", exc)
    return _problem(request, 409, N_("the change conflicts with a record stored meanwhile; retry"))


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
    return _problem(request, 500, INTERNAL.format(request_id=request_id))


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: domain_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    asyncpg.IntegrityConstraintViolationError: integrity_error,
    sqlite3.IntegrityError: integrity_error,
    Exception: unexpected_error,
}
