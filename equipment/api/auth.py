"""Bearer-token authentication: the request's Principal, as a Litestar dependency."""

from __future__ import annotations

from typing import Literal, overload

from litestar import Request
from litestar.connection import ASGIConnection

from equipment.api.raw_headers import header as raw_header
from equipment.domain.access import Principal
from equipment.domain.errors import InvalidValue, Unauthenticated, VersionRequired
from equipment.services import tokens


async def require_token(request: Request) -> None:
    """``before_request`` hook of the token-taking router, for every route that takes a
    ``principal``: Litestar calls it before it reads and decodes the body (dependencies
    come after), so an anonymous caller is answered 401 without one byte of its body read
    or held in memory. A hook rather than a guard: Litestar hands each guard a copy of the
    route handler (66 attributes), 3 % of a due-list request's CPU under cProfile)."""
    if "principal" in request.route_handler.parsed_fn_signature.parameters:
        # The request's state namespace (what ``request.state`` wraps, read here without
        # building a State object twice a request).
        request.scope["state"][_PRINCIPAL] = await _principal(request)


async def authenticate(request: Request) -> Principal:
    """The ``principal`` dependency: the one the hook found (looked up once a request)."""
    principal = request.scope["state"].get(_PRINCIPAL)
    return principal if principal is not None else await _principal(request)


_PRINCIPAL = "principal"


async def _principal(connection: ASGIConnection) -> Principal:
    header = raw_header(connection.scope, b"authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(
            "send 'Authorization: Bearer <token>'; create one with 'sereg token create'"
        )
    principal = await tokens.principal_for(token.strip())
    if principal is None:
        raise Unauthenticated("the token is unknown or revoked")
    return principal


@overload
def version_from_if_match(if_match: str | None, *, required: Literal[True]) -> int: ...
@overload
def version_from_if_match(if_match: str | None, *, required: bool) -> int | None: ...
def version_from_if_match(if_match: str | None, *, required: bool) -> int | None:
    """The version an ETag names: '"7"', 'W/"7"' or 7."""
    if if_match is None:
        if required:
            raise VersionRequired(
                "send If-Match with the ETag of the version you edited, so that a "
                "concurrent change is never silently overwritten"
            )
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    if not raw.isdigit() or len(raw) > 9:
        raise InvalidValue(
            f"If-Match {if_match!r} is not an ETag this API issued", field="If-Match"
        )
    return int(raw)


def etag(version: int) -> str:
    return f'"{version}"'
