"""A request header read straight from the ASGI scope.

Litestar's ``request.headers`` builds a case-insensitive multidict of every header the
first time it is read: 2.4 % of a due-list request's CPU (py-spy), where the request
middleware, the token hook and the language each want one header. ASGI servers hand header
names lower-cased (uvicorn does, and so do the test clients); the value is read as
latin-1, as Litestar reads it, and the first of repeated headers wins, as with Litestar's
``headers.get``.
"""

from __future__ import annotations

from litestar.types import Scope


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of the header ``name`` (lower-case bytes), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None
