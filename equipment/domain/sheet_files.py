"""Reading a spreadsheet file as numbered rows: the one reader of the maintenance upload
(``record_sheets``) and the register import (``equipment.services.import_files``).

- CSV: bytes arriving in chunks (any cut) decoded as UTF-8 (with or without Excel's BOM)
  or GB18030 (a superset of GBK), then split into lines as ``open(newline="")`` does and
  read by the csv module. The codec is named by the caller (the import names the one
  ``equipment.domain.imports.encoding.detect_encoding`` found, which refuses bytes that
  read as Chinese both ways instead of guessing), or, when the caller names none, chosen
  on the first ``SNIFF_BYTES`` from the first non-ASCII byte: UTF-8 when they decode as
  UTF-8, else GB18030 (the maintenance upload's rule). Bytes that do not decode raise
  ``UnicodeDecodeError`` after the text before them, so the caller names the row.
- XLSX: openpyxl's read-only (streaming) mode, cached formula values; the first
  worksheet's rows numbered as the sheet shows them (from 1).
- Rows: ``numbered(reader)`` gives each CSV record the number the spreadsheet shows (a
  quoted cell spanning lines is one row, as Excel counts it); ``is_blank`` tells an
  empty row; ``header_text`` a header cell as matched (no BOM, no surrounding space).

Pure: no file, network or clock; a caller holding a path passes its chunks.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any, Final

__all__ = [
    "SNIFF_BYTES",
    "DecodedText",
    "csv_reader",
    "file_chunks",
    "header_text",
    "is_blank",
    "lines",
    "numbered",
    "open_workbook",
    "sheet_rows",
]

SNIFF_BYTES: Final = 64 * 2**10


class DecodedText:
    """Chunks of bytes as text pieces, in ``codec`` or, with none named, UTF-8 or
    GB18030 decided on the first SNIFF_BYTES from the first non-ASCII byte (UTF-8
    strictly first: GBK text is almost never valid UTF-8 over more than a few characters;
    the ASCII before it reads the same in both). ``encoding`` is the codec once known."""

    def __init__(self, chunks: Iterable[bytes], codec: str | None = None) -> None:
        self.chunks = iter(chunks)
        self.encoding: str | None = codec

    def _choose(self, head: bytes, final: bool) -> None:
        try:
            codecs.getincrementaldecoder("utf-8")().decode(head, final=final)
            self.encoding = "utf-8-sig"
        except UnicodeDecodeError:
            self.encoding = "gb18030"

    def __iter__(self) -> Iterator[str]:
        pending = b""
        decoder: codecs.IncrementalDecoder | None = None
        if self.encoding is not None:
            decoder = codecs.getincrementaldecoder(self.encoding)()
        for chunk in self.chunks:
            if decoder is None:
                pending += chunk
                if pending.isascii():
                    # The same in every candidate; a BOM is not ASCII, so none is lost.
                    yield pending.decode("ascii")
                    pending = b""
                    continue
                if len(pending) < SNIFF_BYTES:
                    continue
                self._choose(pending, final=False)
                decoder = codecs.getincrementaldecoder(self.encoding or "utf-8")()
                chunk, pending = pending, b""
            yield from self._decoded(decoder, chunk)
        if decoder is None:
            if not pending:
                return
            self._choose(pending, final=True)
            decoder = codecs.getincrementaldecoder(self.encoding or "utf-8")()
            yield from self._decoded(decoder, pending)
        yield from self._decoded(decoder, b"", final=True)

    @staticmethod
    def _decoded(
        decoder: codecs.IncrementalDecoder, chunk: bytes, *, final: bool = False
    ) -> Iterator[str]:
        try:
            yield decoder.decode(chunk, final=final)
        except UnicodeDecodeError as exc:
            # The text before the bad bytes first, so the rows it holds are read and the
            # error names the row the bad bytes are in.
            yield exc.object[: exc.start].decode(exc.encoding, errors="replace")
            raise


def lines(texts: Iterable[str]) -> Iterator[str]:
    """Lines as ``open(newline="")`` gives them (ends kept, CR, LF or CRLF), from pieces
    that may cut a line or a CRLF anywhere."""
    parts: list[str] = []
    for text in texts:
        if not text:
            continue
        parts.append(text)
        if "\n" not in text and "\r" not in text:
            continue  # no line ends here: join the parts once, when one does
        found = io.StringIO("".join(parts), newline="").readlines()
        # The last line may go on in the next piece (or be a CR whose LF follows).
        parts = [] if found[-1].endswith("\n") else [found.pop()]
        yield from found
    tail = "".join(parts)
    if tail:
        yield from io.StringIO(tail, newline="").readlines()


def csv_reader(chunks: Iterable[bytes], codec: str | None = None) -> tuple[DecodedText, Any]:
    """A csv reader over CSV bytes in chunks, and the text it decodes (its ``encoding``
    is the codec, once known). The reader's ``line_num`` counts the lines read."""
    text = DecodedText(chunks, codec)
    return text, csv.reader(lines(text))


def numbered(reader: Iterable[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """Each record with the row number the spreadsheet shows (the first record is 1)."""
    return enumerate(reader, start=1)


def file_chunks(handle: IO[bytes], size: int = 1 << 20) -> Iterator[bytes]:
    """An open binary file's bytes in chunks (a file on disk is read as a stream)."""
    while chunk := handle.read(size):
        yield chunk


def is_blank(cells: Sequence[object]) -> bool:
    """No cell holds anything but white space."""
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def header_text(value: object) -> str:
    """A header cell as matched: text, without a BOM or surrounding white space."""
    return "" if value is None else str(value).strip().lstrip("\ufeff").strip()


def open_workbook(source: Any) -> Any:
    """An XLSX workbook (a path or a binary file) in openpyxl's read-only mode with
    cached formula values; the caller closes it. openpyxl's own errors pass through:
    each caller words what its users are told."""
    from openpyxl import load_workbook  # a second's import: only when a workbook comes

    return load_workbook(source, read_only=True, data_only=True)


def sheet_rows(
    workbook: Any, *, min_row: int = 1, max_col: int | None = None
) -> Iterator[tuple[int, tuple[object, ...]]]:
    """The first worksheet's rows from ``min_row`` with the numbers the sheet shows."""
    sheet = workbook.worksheets[0]
    rows = sheet.iter_rows(min_row=min_row, max_col=max_col, values_only=True)
    return enumerate(rows, start=min_row)
