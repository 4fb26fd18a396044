"""Request bodies: how much each route may be sent, and reading them without letting one
request hold the process (memory or event loop).

The caps are Litestar's ``request_max_body_size`` (413 before a byte is read when the
Content-Length says so, else as soon as the stream passes it). They are small on purpose:
msgspec and the csv module hold the GIL while they decode, so a thread would not free the
event loop; the cap is what bounds how long one decode can take.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import anyio.from_thread
import anyio.to_thread
import msgspec
from litestar import Request

from equipment.domain.errors import InvalidValue

T = TypeVar("T")

# A JSON body of the API's forms: a unit, an inspection, a contract of many units.
JSON_MAX_BYTES = 1 * 2**20
# 10,000 maintenance rows of some 800 bytes each (CSV, XLSX, a multipart file or JSON).
MAINTENANCE_UPLOAD_MAX_BYTES = 8 * 2**20
# An area import: a city's old residential communities, districts and streets (about
# 200,000 vertices at full precision); a larger set is imported in several files (areas
# are matched by id or code, so the files add up).
AREA_IMPORT_MAX_BYTES = 16 * 2**20
# A hazard's evidence file: one photo or scanned document (the settings may lower it).
EVIDENCE_MAX_BYTES = 10 * 2**20


class SeregRequest(Request):
    """Litestar's request, but a JSON body nested too deeply for the decoder (RecursionError
    at about 1,000 levels) is the client's error, not a 500."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            raise InvalidValue(TOO_DEEP) from None


TOO_DEEP = "the JSON body is nested too deeply; no request of this API nests more than a few levels"


def decode_json(body: bytes) -> Any:
    """A JSON body the handler decodes itself, with the same errors as the others."""
    try:
        return msgspec.json.decode(body)
    except RecursionError:
        raise InvalidValue(TOO_DEEP) from None
    except msgspec.DecodeError as exc:
        raise InvalidValue(f"the body is not JSON: {exc}") from exc


async def read_streamed(request: Request, read: Callable[[Iterator[bytes]], T]) -> T:
    """``read(chunks)`` run in a worker thread over the body's chunks as they arrive: a
    reader that stops early (a CSV refused at its row cap) stops the body being read
    from the client there.

    The thread pulls each chunk from the event loop; a reader giving the GIL back between
    rows (the csv module does) lets the loop keep serving other requests.
    """
    chunks = request.stream()

    async def next_chunk() -> bytes | None:
        try:
            return await chunks.__anext__()
        except StopAsyncIteration:
            return None

    def pulled() -> Iterator[bytes]:
        while (chunk := anyio.from_thread.run(next_chunk)) is not None:
            yield chunk

    try:
        return await anyio.to_thread.run_sync(read, pulled())
    finally:
        await chunks.aclose()
