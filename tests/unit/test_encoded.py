"""A handler's pre-encoded JSON answer (equipment.api.encoded.EncodedJson) is the answer
Litestar's own ``Response`` would send: the same bytes, type and length. And the routes
that send one have nothing on their layers that the shortcut would leave out."""

from __future__ import annotations

from datetime import date
from typing import Any, get_type_hints

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar import MediaType, Response, get
from litestar.routes import HTTPRoute
from litestar.testing import create_test_client

from equipment.api.encoded import EncodedJson
from equipment.api.schemas import DueItem, DuePage
from sereg.app import create_app


def _field(annotation: object) -> st.SearchStrategy[Any]:
    """Values of a DueItem field's type: text of any code point (the names and addresses
    are Chinese), any 64-bit integer, any date."""
    return {
        int: st.integers(-(2**63), 2**63 - 1),
        str: st.text(),
        str | None: st.none() | st.text(),
        int | None: st.none() | st.integers(-(2**63), 2**63 - 1),
        date: st.dates(),
        bool: st.booleans(),
    }[annotation]  # type: ignore[index]


items = st.builds(DueItem, **{name: _field(kind) for name, kind in get_type_hints(DueItem).items()})
pages = st.builds(DuePage, items=st.lists(items, max_size=3), next_cursor=st.none() | st.text())

_content: list[DuePage] = []


@get("/litestar")
async def by_litestar() -> Response[DuePage]:
    return Response(_content[0])


@get("/encoded")
async def by_shortcut() -> Response[DuePage]:
    return EncodedJson(_content[0])


@settings(max_examples=60, deadline=None)
@given(pages)
def test_an_encoded_answer_is_the_one_litestar_sends(page: DuePage) -> None:
    _content[:] = [page]
    with create_test_client([by_litestar, by_shortcut]) as client:
        litestar = client.get("/litestar")
        encoded = client.get("/encoded")
    assert encoded.status_code == litestar.status_code == 200
    assert encoded.content == litestar.content
    for name in ("content-type", "content-length"):
        assert encoded.headers[name] == litestar.headers[name], name
    assert msgspec.json.decode(encoded.content, type=DuePage) == page


def test_the_routes_that_answer_encoded_have_nothing_it_would_drop() -> None:
    # What Litestar would apply in ``to_asgi_response``, which the shortcut replaces: a
    # layer's response headers or cookies, an after_request hook, a background task, a
    # status or media type other than 200 JSON, a return DTO. (Type encoders, which the
    # app has for pydantic's types, only apply to what msgspec cannot encode itself, and
    # EncodedJson refuses that rather than encode it differently.)
    encoded = {"/api/v1/due"}
    found = set()
    for route in create_app(manage_db=False).routes:
        if not isinstance(route, HTTPRoute) or route.path not in encoded:
            continue
        for handler in route.route_handlers:
            found.add(route.path)
            assert not handler.resolve_response_headers(), route.path
            assert not handler.resolve_response_cookies(), route.path
            assert handler.background is None, route.path
            assert not any(layer.after_request for layer in handler.ownership_layers)
            assert handler.status_code == 200, route.path
            # Unset (a Response's own, JSON, applies) or JSON.
            assert handler.media_type in ("", MediaType.JSON), route.path
            assert handler.resolve_return_dto() is None, route.path
    assert found == encoded
