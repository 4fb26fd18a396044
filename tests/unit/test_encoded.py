"""A handler's pre-encoded JSON answer (equipment.api.encoded.EncodedJson) is the answer
Litestar's own ``Response`` would send: the same bytes, type and length. And the routes
that send one have nothing on their layers that the shortcut would leave out."""

from __future__ import annotations

from datetime import date

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar import Response, get
from litestar.routes import HTTPRoute
from litestar.testing import create_test_client

from equipment.api.encoded import EncodedJson
from sereg.app import create_app


class Row(msgspec.Struct):
    text: str
    day: date
    count: int | None
    ratio: float
    tags: list[str]


class Page(msgspec.Struct):
    items: list[Row]
    next_cursor: str | None


rows = st.builds(
    Row,
    text=st.text(),
    day=st.dates(),
    count=st.none() | st.integers(-(2**63), 2**63 - 1),
    ratio=st.floats(allow_nan=False, allow_infinity=False),
    tags=st.lists(st.text(max_size=5), max_size=3),
)
pages = st.builds(Page, items=st.lists(rows, max_size=4), next_cursor=st.none() | st.text())

_content: list[Page] = []


@get("/litestar")
async def by_litestar() -> Response[Page]:
    return Response(_content[0])


@get("/encoded")
async def by_shortcut() -> Response[Page]:
    return EncodedJson(_content[0])


@settings(max_examples=60, deadline=None)
@given(pages)
def test_an_encoded_answer_is_the_one_litestar_sends(page: Page) -> None:
    _content[:] = [page]
    with create_test_client([by_litestar, by_shortcut]) as client:
        litestar = client.get("/litestar")
        encoded = client.get("/encoded")
    assert encoded.status_code == litestar.status_code == 200
    assert encoded.content == litestar.content
    for name in ("content-type", "content-length"):
        assert encoded.headers[name] == litestar.headers[name], name
    assert msgspec.json.decode(encoded.content, type=Page) == page


def test_the_routes_that_answer_encoded_have_nothing_it_would_drop() -> None:
    # Response headers or cookies set on a layer, an after_request hook or a background
    # task: Litestar adds them in ``to_asgi_response``, which the shortcut replaces.
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
    assert found == encoded
