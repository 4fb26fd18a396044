"""The API's token check runs before any body is read, on every route that takes a caller.

It is the token-taking router's ``before_request`` hook (``equipment.api.auth.require_token``);
a handler or controller that set a hook of its own would replace it, and its route would
read the body of an anonymous caller before the ``principal`` dependency refused it.
"""

from __future__ import annotations

from litestar.routes import HTTPRoute

from equipment.api.auth import require_token
from sereg.app import create_app


def test_every_api_route_that_takes_a_caller_checks_the_token_first() -> None:
    checked, missed = 0, []
    for route in create_app(manage_db=False).routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/api/"):
            continue
        for handler in route.route_handlers:
            if "principal" not in handler.parsed_fn_signature.parameters:
                continue
            if handler.resolve_before_request() is require_token:
                checked += 1
            else:
                missed.append(f"{sorted(handler.http_methods)} {route.path}")
    assert not missed, missed
    assert checked >= 100, checked  # the route table was read
