"""Reading an export as rows, streaming: CSV (UTF-8 or GBK/GB18030, detected) or XLSX
(openpyxl in read-only mode, one row at a time). The file is never held in memory. The
reading itself is ``equipment.domain.sheet_files``, the maintenance upload's reader too;
this module detects a CSV's encoding first (refusing bytes that do not say) and names it.

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
from typing import Any

from equipment.domain.errors import InvalidValue
from equipment.domain.imports.encoding import AmbiguousEncoding, detect_encoding
from equipment.domain.sheet_files import (
    csv_reader,
    file_chunks,
    is_blank,
    open_workbook,
    sheet_rows,
)

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


def _csv_rows(reader: Any, codec: str) -> Iterator[tuple[int, list[Any]]]:
    row_no = 1
    try:
        for cells in reader:
            row_no += 1
            if not is_blank(cells):
                yield row_no, cells
    except csv.Error as error:
        raise FileProblem(f"row {row_no + 1}: not CSV ({error})") from None
    except UnicodeDecodeError as error:
        # The lines before the bad bytes were read: the line after them holds them
        # (neither UTF-8 nor GB18030 has a multi-byte character holding a line feed).
        line_no = reader.line_num + 1
        raise FileProblem(
            f"line {line_no} is not {codec} ({error.reason}): name the file's encoding"
        ) from None


def _xlsx_rows(workbook: Any) -> Iterator[tuple[int, list[Any]]]:
    for row_no, cells in sheet_rows(workbook, min_row=2):
        values = list(cells)
        if not is_blank(values):
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
        _, reader = csv_reader(file_chunks(handle), codec)
        try:
            headers: list[str] = next(reader, [])
        except csv.Error as error:
            raise FileProblem(f"row 1: not CSV ({error})") from None
        except UnicodeDecodeError as error:
            line_no = 1
            raise FileProblem(
                f"line {line_no} is not {codec} ({error.reason}): name the file's encoding"
            ) from None
        if not headers:
            raise FileProblem("the file is empty: no header row")
        rows = _csv_rows(reader, codec)
        yield Table("csv", codec, reason, [h.strip() for h in headers], rows)


def _open_xlsx(path: Path) -> Iterator[Table]:
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = open_workbook(path)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise FileProblem(f"not an XLSX workbook: {error}") from None
    try:
        first = next(sheet_rows(book, min_row=1), None)
        if first is None:
            raise FileProblem("the workbook's first sheet is empty: no header row")
        headers = ["" if h is None else str(h).strip() for h in first[1]]
        yield Table("xlsx", "", "XLSX (no encoding to detect)", headers, _xlsx_rows(book))
    finally:
        book.close()
