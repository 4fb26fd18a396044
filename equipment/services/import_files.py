"""Reading an export as rows, streaming: CSV (UTF-8 or GBK/GB18030, detected) or XLSX
(openpyxl in read-only mode, one row at a time). The file is never held in memory.

Rows come with the number the spreadsheet shows (the header is row 1): the row-number
contract of equipment.domain.imports.checks. Blank rows are skipped but keep numbering.
"""

from __future__ import annotations

import csv
import hashlib
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from equipment.domain.errors import InvalidValue
from equipment.domain.imports.encoding import AmbiguousEncoding, detect_encoding

SAMPLE_BYTES = 256 * 1024
_ZIP_MAGIC = b"PK\x03\x04"


class FileProblem(InvalidValue):
    """A file that cannot be read as a table, with the reason (and the row, if any)."""


@dataclass
class Table:
    kind: str  # "csv" or "xlsx"
    encoding: str  # the codec read with ("" for XLSX)
    encoding_reason: str
    headers: list[str]
    rows: Iterator[tuple[int, list[Any]]] = field(repr=False)


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _is_blank(cells: list[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _lines(handle: IO[bytes], codec: str) -> Iterator[str]:
    """The file's lines decoded one at a time, so a byte that does not decode is named by
    its line (neither UTF-8 nor GB18030 has a multi-byte character holding a line feed)."""
    for line_no, raw in enumerate(handle, start=1):
        try:
            yield raw.decode(codec)
        except UnicodeDecodeError as error:
            raise FileProblem(
                f"line {line_no} is not {codec} ({error.reason}): name the file's encoding"
            ) from None


def _csv_rows(reader: Any, encoding: str) -> Iterator[tuple[int, list[Any]]]:
    row_no = 1
    try:
        for cells in reader:
            row_no += 1
            if not _is_blank(cells):
                yield row_no, cells
    except csv.Error as error:
        raise FileProblem(f"row {row_no + 1}: not CSV ({error})") from None


def _xlsx_rows(sheet: Any) -> Iterator[tuple[int, list[Any]]]:
    for row_no, cells in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
        values = list(cells)
        if not _is_blank(values):
            yield row_no, values


@contextmanager
def open_table(path: Path, *, encoding: str | None = None) -> Iterator[Table]:
    """The file's headers and a lazy iterator of its rows."""
    with path.open("rb") as raw:
        sample = raw.read(SAMPLE_BYTES)
        complete = len(sample) < SAMPLE_BYTES
    if sample.startswith(_ZIP_MAGIC):
        yield from _open_xlsx(path)
        return
    if encoding:
        codec = {"gbk": "gb18030", "utf8": "utf-8"}.get(encoding.lower(), encoding.lower())
        if codec not in ("utf-8", "utf-8-sig", "gb18030"):
            raise FileProblem(f"encoding must be utf-8 or gb18030 (gbk), not {encoding!r}")
        if codec == "utf-8" and sample.startswith(b"\xef\xbb\xbf"):
            codec = "utf-8-sig"
        reason = "named by the caller"
    else:
        try:
            detected = detect_encoding(sample, complete=complete)
        except AmbiguousEncoding as error:
            raise FileProblem(error.reason) from None
        codec, reason = detected.encoding, detected.reason
    with path.open("rb") as handle:
        reader = csv.reader(_lines(handle, codec))
        try:
            headers = next(reader, [])
        except csv.Error as error:
            raise FileProblem(f"row 1: not CSV ({error})") from None
        if not headers:
            raise FileProblem("the file is empty: no header row")
        rows = _csv_rows(reader, codec)
        yield Table("csv", codec, reason, [h.strip() for h in headers], rows)


def _open_xlsx(path: Path) -> Iterator[Table]:
    from openpyxl import load_workbook  # a second's import: only when a workbook comes
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise FileProblem(f"not an XLSX workbook: {error}") from None
    try:
        sheet = book.worksheets[0]
        first = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), None)
        if first is None:
            raise FileProblem("the workbook's first sheet is empty: no header row")
        headers = ["" if h is None else str(h).strip() for h in first]
        yield Table("xlsx", "", "XLSX (no encoding to detect)", headers, _xlsx_rows(sheet))
    finally:
        book.close()
