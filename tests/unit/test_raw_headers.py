"""A header read straight from the ASGI scope says what Litestar's ``request.headers``
says for the same request (the token hook and the language read it so)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from litestar.datastructures import Headers

from equipment.api.raw_headers import header

NAMES = st.sampled_from([b"authorization", b"accept-language", b"host", b"x-request-id", b"a"])
VALUES = st.binary(max_size=40).filter(lambda v: b"\r" not in v and b"\n" not in v)


@given(st.lists(st.tuples(NAMES, VALUES), max_size=6), NAMES)
def test_the_scope_header_is_litestars_first_value(raw: list[tuple[bytes, bytes]], name: bytes):
    scope: dict = {"type": "http", "headers": raw}
    assert header(scope, name) == Headers(raw).get(name.decode())  # type: ignore[arg-type]


def test_a_missing_header_is_none_and_the_first_of_repeats_wins() -> None:
    scope: dict = {"headers": [(b"authorization", b"Bearer a\xe9"), (b"authorization", b"x")]}
    assert header(scope, b"authorization") == "Bearer aé"  # type: ignore[arg-type]
    assert header(scope, b"accept-language") is None  # type: ignore[arg-type]
