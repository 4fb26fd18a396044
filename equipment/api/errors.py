"""The one error map: domain errors and storage conflicts to HTTP statuses."""

from __future__ import annotations

import logging
import sqlite3

import asyncpg
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

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


def http_error(_: Request, exc: HTTPException) -> Response:
    return _problem(exc.status_code, exc.detail, headers=exc.headers)


def integrity_error(_: Request, exc: Exception) -> Response:
    # Services check uniqueness first; this catches the race where two requests pass the
    # check together and the database's constraint decides.
    log.info("integrity conflict: %s", exc)
    return _problem(409, "the change conflicts with a record stored meanwhile; retry")


EXCEPTION_HANDLERS = {
    DomainError: domain_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    asyncpg.IntegrityConstraintViolationError: integrity_error,
    sqlite3.IntegrityError: integrity_error,
}
