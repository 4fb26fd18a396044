"""A 200 JSON answer encoded by its handler and sent as the two ASGI messages it is.

For the hottest list (the due list): Litestar's way from a handler's ``Response`` to the
wire builds a header multidict, merges the layers' headers, cookies and type encoders and
picks a serializer, about a tenth of a due-list request's Python under cProfile. An
answer that has none of those (no cookie, no header of its own, a body msgspec encodes
without help) needs only its bytes, its type and its length.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response
from litestar.types import ASGIApp, Receive, Scope, Send

# Dates, structs, lists and strings: msgspec encodes them natively, so Litestar's hook
# for other types is never called and the bytes are those Litestar would send.
_ENCODER = msgspec.json.Encoder()
_JSON = (b"content-type", b"application/json")


class EncodedJson(Response):
    """``content`` answered 200 as JSON, encoded once, without a header multidict."""

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> ASGIApp:  # type: ignore[override]
        body = _ENCODER.encode(self.content)
        start = {
            "type": "http.response.start",
            "status": 200,
            "headers": [_JSON, (b"content-length", str(len(body)).encode())],
        }
        message = {"type": "http.response.body", "body": body, "more_body": False}

        async def answer(scope: Scope, receive: Receive, send: Send) -> None:
            await send(start)  # type: ignore[arg-type]
            await send(message)  # type: ignore[arg-type]

        return answer
