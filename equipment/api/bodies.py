"""Request bodies: how much each route may be sent, and reading them without letting one
request hold the process (memory or event loop).

The caps are Litestar's ``request_max_body_size`` (413 before a byte is read when the
Content-Length says so, else as soon as the stream passes it). They are small on purpose:
msgspec and the csv module hold the GIL while they decode, so a thread would not free the
event loop; the cap is what bounds how long one decode can take.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from typing import Any

import anyio.from_thread
import anyio.to_thread
import msgspec
from litestar import Request

from equipment.domain.errors import InvalidValue

# A JSON body of the API's forms: a unit, an inspection, a contract of many units.
JSON_MAX_BYTES = 1 * 2**20
# 10,000 maintenance rows of some 800 bytes each (CSV or JSON).
MAINTENANCE_UPLOAD_MAX_BYTES = 8 * 2**20
# An area import: a city's old residential communities, districts and streets (about
# 200,000 vertices at full precision); a larger set is imported in several files (areas
# are matched by id or code, so the files add up).
AREA_IMPORT_MAX_BYTES = 16 * 2**20


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


async def csv_records(request: Request, *, max_rows: int) -> list[dict[str, Any]]:
    """The rows of a CSV body with a header line, read as the body arrives and refused
    (422) at the first row past ``max_rows``: nothing past it is read from the client.

    The csv module wants a plain iterator of lines, so it runs in a worker thread that
    pulls each chunk of the body from the event loop; between rows the thread gives the
    GIL back, so the loop keeps serving other requests.
    """
    chunks = request.stream()

    async def next_chunk() -> bytes | None:
        try:
            return await chunks.__anext__()
        except StopAsyncIteration:
            return None

    def pull() -> bytes | None:
        return anyio.from_thread.run(next_chunk)

    try:
        return await anyio.to_thread.run_sync(_parse_csv, pull, max_rows)
    finally:
        await chunks.aclose()


def _parse_csv(pull: Callable[[], bytes | None], max_rows: int) -> list[dict[str, Any]]:
    reader = csv.DictReader(_lines(pull))
    rows: list[dict[str, Any]] = []
    try:
        for row in reader:
            if len(rows) == max_rows:
                raise InvalidValue(
                    f"an upload holds at most {max_rows:,} rows; this file has more "
                    "(reading stopped there): send the rest in another upload"
                )
            rows.append(row)
    except csv.Error as exc:
        raise InvalidValue(
            f"row {len(rows) + 1} of the CSV file (line {reader.line_num}) cannot be read: {exc}"
        ) from None
    except UnicodeDecodeError:
        raise InvalidValue(
            f"the CSV file is not UTF-8 (from row {len(rows) + 1}); save it as 'CSV UTF-8'"
        ) from None
    return rows


def _lines(pull: Callable[[], bytes | None]) -> Iterator[str]:
    """Lines as ``open(newline="")`` gives them (ends kept, CR, LF or CRLF), from chunks
    that may cut a line, a CRLF or a UTF-8 sequence anywhere."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    parts: list[str] = []
    while (chunk := pull()) is not None:
        text = decoder.decode(chunk)
        parts.append(text)
        if "\n" not in text and "\r" not in text:
            continue  # no line ends here: join the parts once, when one does
        lines = io.StringIO("".join(parts), newline="").readlines()
        # The last line may go on in the next chunk (or be a CR whose LF follows).
        parts = [] if lines[-1].endswith("\n") else [lines.pop()]
        yield from lines
    tail = "".join(parts) + decoder.decode(b"", final=True)
    if tail:
        yield from io.StringIO(tail, newline="").readlines()
