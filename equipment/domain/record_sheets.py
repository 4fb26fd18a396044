"""Maintenance-record spreadsheets: the CSV and XLSX files maintenance companies upload,
read into the field mappings ``maintenance.parse_record`` checks, and the template they
fill in.

What Chinese offices send is what Excel writes: CSV in UTF-8 (with or without a BOM) or in
GBK/GB18030 (Excel's "CSV (逗号分隔)" on a Chinese Windows), XLSX, Chinese or English
column headers, dates as 2026/12/4, 2026-12-04, 2026年12月4日, date cells or bare serial
numbers. Every row is named by the number the spreadsheet shows beside it (the header is
row 1 when it is the first row; blank rows and rows a quoted cell spans count as Excel
counts them), so a clerk can find each rejected row.

Pure: bytes in, rows out; no file, network, clock or database. Reading a workbook is CPU
work on untrusted input, so callers run it in a worker thread (equipment.services.
maintenance does); the row cap is enforced while reading and a workbook's unpacked size
is capped before any XML is parsed (a zip bomb is refused, not unpacked).
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from typing import Final, Literal

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils.datetime import from_excel
from openpyxl.worksheet.datavalidation import DataValidation

from equipment.domain.errors import InvalidValue
from equipment.domain.sheet_files import SNIFF_BYTES, csv_reader, open_workbook, sheet_rows

__all__ = [
    "CSV_MEDIA_TYPES",
    "FIELDS",
    "MAX_UNPACKED_BYTES",
    "SNIFF_BYTES",
    "XLSX_MEDIA_TYPE",
    "SheetKind",
    "SheetRow",
    "field_of_header",
    "parse_day",
    "read_csv",
    "read_sheet",
    "read_stream",
    "read_xlsx",
    "sheet_kind",
    "template",
]

XLSX_MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPES: Final = frozenset({"text/csv", "application/csv", "application/vnd.ms-excel"})
# A workbook of 10,000 full rows unpacks to some 15-25 MB of XML; more than this is not a
# maintenance upload (a zip bomb unpacks to gigabytes from a few kilobytes).
MAX_UNPACKED_BYTES: Final = 48 * 2**20
MAX_ZIP_MEMBERS: Final = 2_000
# Title rows above the header (a sheet's caption, a company name) are skipped up to here.
HEADER_SEARCH_ROWS: Final = 10
# The columns read of a worksheet (a record has nine): a workbook claiming 16,384 columns
# would otherwise make every one of its rows that wide.
MAX_COLUMNS: Final = 100
# A worksheet holds no more rows than this (Excel's limit); no upload is longer.
MAX_SHEET_ROWS: Final = 1_048_576
# UTF-8 or GB18030 is decided on SNIFF_BYTES of the file from its first non-ASCII byte
# (equipment.domain.sheet_files, the reader this module shares with the register import).

Lang = Literal["zh", "en"]


class SheetKind(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


# The record fields in template order (equipment.domain.maintenance.parse_record's keys).
FIELDS: Final = (
    "record_id",
    "code",
    "maintained_on",
    "level",
    "items",
    "technicians",
    "findings",
    "hazards",
    "signed_off_by",
)

# The template's Chinese headers; the English ones are the field names themselves, which
# is the CSV format the API took before files in Chinese were accepted.
HEADERS_ZH: Final[Mapping[str, str]] = {
    "record_id": "维保记录编号",
    "code": "设备注册代码",
    "maintained_on": "维保日期",
    "level": "维保类别",
    "items": "维保项目",
    "technicians": "维保人员及证号",
    "findings": "维保情况",
    "hazards": "发现隐患",
    "signed_off_by": "使用单位签字人",
}

# Every header a company's own sheet may use for a field, normalised by _header_key.
# Several headers of one field may stand side by side (注册代码 and 设备代码): a row takes
# the first of them that is filled in, in this order.
_ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    "record_id": (
        "record_id", "record_no", "维保记录编号", "记录编号", "维保记录号",
        "维保单号", "维保编号", "记录号", "单号",
    ),
    "code": (
        "code", "registration_code", "equipment_code", "设备注册代码", "注册代码",
        "使用登记代码", "设备代码", "设备编号", "设备编码", "产品编号",
    ),
    "maintained_on": (
        "maintained_on", "date", "maintenance_date", "维保日期", "保养日期",
        "维护保养日期", "维保时间", "日期",
    ),
    "level": (
        "level", "maintenance_level", "维保类别", "维保类型", "维保级别", "保养类别",
        "保养类型", "维保项目类别", "类别",
    ),
    "items": ("items", "维保项目", "保养项目", "维保内容", "保养内容", "项目"),
    "technicians": (
        "technicians", "technician", "维保人员及证号", "维保人员", "维保人", "保养人员",
        "作业人员", "维保人员(证号)",
    ),
    "findings": (
        "findings", "notes", "维保情况", "维保记录", "检查情况", "保养情况", "情况说明",
        "备注",
    ),
    "hazards": ("hazards", "发现隐患", "隐患", "安全隐患", "存在问题"),
    "signed_off_by": (
        "signed_off_by", "signed_by", "使用单位签字人", "使用单位签字", "签字确认人",
        "使用单位确认人", "确认人", "签字人",
    ),
}  # fmt: skip


def _header_key(text: str) -> str:
    """維保日期*, 'Maintained On', '维保日期（年/月/日）' → the key the alias table uses."""
    text = unicodedata.normalize("NFKC", text).strip().lstrip("\ufeff").strip()
    text = re.sub(r"\s*[(\[][^)\]]*[)\]]\s*$", "", text)  # a trailing hint: (必填), (YYYY/M/D)
    text = text.strip().strip("*").strip()
    return re.sub(r"[\s\-]+", "_", text.lower())


_ALIAS_FIELD: Final[Mapping[str, str]] = {
    _header_key(alias): name for name, aliases in _ALIASES.items() for alias in aliases
} | {_header_key(header): name for name, header in HEADERS_ZH.items()}


def field_of_header(header: object) -> str | None:
    """The record field a column header names (Chinese or English), or None."""
    if not isinstance(header, str):
        return None
    return _ALIAS_FIELD.get(_header_key(header))


@dataclass(frozen=True)
class SheetRow:
    """One filled-in row: the number the spreadsheet shows, its fields as parse_record takes
    them, and why it was refused while reading (a date no one can read), if it was."""

    number: int
    fields: Mapping[str, object]
    problem: InvalidValue | None = None


# Dates -------------------------------------------------------------------------------------

# Years have four digits, month and day one or two, separated as Excel writes them in
# China (2026/12/4, the short date) or as people type them (2026-12-04, 2026.12.04,
# 2026年12月4日); a time Excel adds to a date-time cell (" 0:00", " 00:00:00") is dropped.
_DAY_TEXT = re.compile(
    r"(?P<y>\d{4})\s*(?:(?P<sep>[-/.])\s*(?P<m1>\d{1,2})\s*(?P=sep)\s*(?P<d1>\d{1,2})"
    r"|年\s*(?P<m2>\d{1,2})\s*月\s*(?P<d2>\d{1,2})\s*[日号]?)"
    r"(?:[\sT]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)
# Excel's serial days of 1900-01-01 .. 9999-12-31 (the 1900 date system).
_SERIAL_MIN, _SERIAL_MAX = 1, 2_958_465
_EPOCH_1900: Final = datetime(1899, 12, 30)

DAY_FORMATS_HINT: Final = "YYYY-MM-DD, YYYY/M/D, YYYY年M月D日"


def parse_day(value: object, *, epoch: datetime = _EPOCH_1900) -> date:
    """A maintenance day from what a cell holds: a date or date-time, an Excel serial
    number (of the workbook's ``epoch``), or text in one of the forms Excel writes.

    InvalidValue (field ``maintained_on``) for anything else, an impossible day (2026-02-30)
    included.
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        raise InvalidValue(
            f"maintained_on {value} is not a date ({DAY_FORMATS_HINT})", field="maintained_on"
        )
    if isinstance(value, int | float):
        if not _SERIAL_MIN <= value <= _SERIAL_MAX:
            raise InvalidValue(
                f"maintained_on {value} is not a date ({DAY_FORMATS_HINT})",
                field="maintained_on",
            )
        # openpyxl is untyped; a serial of 1 or more is a datetime (below 1, a time of day).
        moment: datetime = from_excel(value, epoch)
        return moment.date()
    text = unicodedata.normalize("NFKC", str(value or "")).strip()
    if not text:
        raise InvalidValue(f"maintained_on is required ({DAY_FORMATS_HINT})", field="maintained_on")
    match = _DAY_TEXT.fullmatch(text)
    if match is not None:
        year = int(match["y"])
        month = int(match["m1"] or match["m2"])
        day = int(match["d1"] or match["d2"])
        try:
            return date(year, month, day)
        except ValueError:
            pass
    raise InvalidValue(
        f"maintained_on {text} is not a date ({DAY_FORMATS_HINT})", field="maintained_on"
    )


# Cells -------------------------------------------------------------------------------------

# What Excel shows for a long digit string it took for a number: 4.2E+19, 4.20602E+19.
_SCIENTIFIC = re.compile(r"\d(?:\.\d+)?E\+\d+", re.IGNORECASE)
# The longest integer a float holds exactly: longer numeric codes have lost digits.
_EXACT_FLOAT = 2**53


def _text(value: object, name: str) -> str:
    """A text field from a cell: numbers as typed (12 not 12.0), dates as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, bool):
        text = "TRUE" if value else "FALSE"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        if name in ("code", "record_id") and abs(value) >= _EXACT_FLOAT:
            raise InvalidValue(
                f"{name} {value:.6g} was turned into a number by Excel and lost digits; "
                "format the column as text and type it again",
                field=name,
            )
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, datetime):
        text = value.date().isoformat() if value.time() == time() else value.isoformat()
    elif isinstance(value, date | time):
        text = value.isoformat()
    else:
        text = str(value)
    if name in ("code", "record_id") and _SCIENTIFIC.fullmatch(text):
        raise InvalidValue(
            f"{name} {text} was turned into a number by Excel and lost digits; format the "
            "column as text and type it again",
            field=name,
        )
    if name in ("items", "technicians", "hazards"):
        # A Chinese input method types the separators full-width.
        text = text.replace("；", ";").replace("：", ":")
    return text


def _filled(cell: object) -> bool:
    return cell is not None and not (isinstance(cell, str) and not cell.strip())


def _blank(cells: Sequence[object]) -> bool:
    # Counting is C speed: a sheet may hold a million empty rows between two filled ones.
    if cells.count(None) + cells.count("") == len(cells):
        return True
    return not any(_filled(c) for c in cells)


@dataclass
class _Layout:
    """Which cells of a row hold which field, found from the header row."""

    columns: dict[str, list[int]] = field(default_factory=dict)
    # The sheet's fields in FIELDS order; a column the sheet lacks is left out, for
    # parse_record to say whether it is required.
    order: list[tuple[str, list[int]]] = field(default_factory=list)

    @classmethod
    def of(cls, header: Sequence[object]) -> _Layout:
        layout = cls()
        for index, cell in enumerate(header):
            name = field_of_header(cell)
            if name is not None:
                layout.columns.setdefault(name, []).append(index)
        layout.order = [(name, layout.columns[name]) for name in FIELDS if name in layout.columns]
        return layout

    def row(self, number: int, cells: Sequence[object], epoch: datetime) -> SheetRow:
        fields: dict[str, object] = {}
        width = len(cells)
        try:
            for name, indexes in self.order:
                chosen = None
                for i in indexes:
                    if i < width and _filled(cells[i]):
                        chosen = cells[i]
                        break
                if name == "maintained_on":
                    fields[name] = parse_day(chosen, epoch=epoch)
                else:
                    fields[name] = _text(chosen, name)
        except InvalidValue as problem:
            return SheetRow(number, fields, problem)
        return SheetRow(number, fields)


def _rows(
    numbered: Iterable[tuple[int, Sequence[object]]], *, max_rows: int, epoch: datetime
) -> Iterator[SheetRow]:
    """The filled-in rows under the header, refused past ``max_rows`` as they are read."""
    layout: _Layout | None = None
    seen = 0
    count = 0
    empty: Sequence[object] | None = None
    for number, cells in numbered:
        if number > MAX_SHEET_ROWS:
            raise InvalidValue(
                f"the file has more than {MAX_SHEET_ROWS:,} rows, more than a worksheet holds"
            )
        if cells is empty:
            continue  # openpyxl fills a gap of rows with one tuple: a million cost 7 s unseen
        if _blank(cells):
            empty = cells
            continue
        if layout is None:
            seen += 1
            found = _Layout.of(cells)
            if found.columns:
                layout = found
            elif seen >= HEADER_SEARCH_ROWS:
                break
            continue
        count += 1
        if count > max_rows:
            raise InvalidValue(
                f"an upload holds at most {max_rows:,} rows; this file has more "
                "(reading stopped there): send the rest in another upload"
            )
        yield layout.row(number, cells, epoch)
    if layout is None:
        names = ", ".join(HEADERS_ZH.values())
        raise InvalidValue(
            f"no header row names a column of a maintenance record; the first row holds "
            f"the column names: {names} (or {', '.join(FIELDS)})"
        )


# CSV ---------------------------------------------------------------------------------------


def read_csv(chunks: Iterable[bytes], *, max_rows: int) -> list[SheetRow]:
    """The rows of a CSV file arriving in ``chunks`` (any cut), read one at a time and
    refused at the first filled-in row past ``max_rows``: nothing after it is pulled.

    InvalidValue for the whole file when it cannot be read (an encoding that is neither
    UTF-8 nor GB18030, a cell longer than the csv module takes), naming the row.
    """
    text, reader = csv_reader(chunks)
    number = 0

    def numbered() -> Iterator[tuple[int, list[str]]]:
        nonlocal number
        for cells in reader:
            number += 1
            yield number, [c.lstrip("\ufeff") if i == 0 else c for i, c in enumerate(cells)]

    try:
        return list(_rows(numbered(), max_rows=max_rows, epoch=_EPOCH_1900))
    except csv.Error as exc:
        raise InvalidValue(f"row {number + 1} of the CSV file cannot be read: {exc}") from None
    except UnicodeDecodeError:
        if text.encoding == "gb18030":
            raise InvalidValue(
                "the CSV file is neither UTF-8 nor GBK/GB18030 text; save it from Excel as "
                "'CSV UTF-8' or 'CSV (逗号分隔)'"
            ) from None
        raise InvalidValue(
            f"the CSV file changes its encoding at row {number + 1}: the rows before it are "
            "UTF-8, that one is not; save the whole file again as 'CSV UTF-8'"
        ) from None


# XLSX --------------------------------------------------------------------------------------


def _check_archive(data: bytes, max_unpacked_bytes: int) -> None:
    """Refuse what is not a workbook, and a workbook that would unpack to too much, before
    anything is unpacked (zipfile stops each member at its declared size)."""
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise InvalidValue(
            "the file is an old Excel 97-2003 workbook (.xls) or an encrypted one; save it "
            "as 'Excel 工作簿 (.xlsx)' or as CSV, without a password"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise InvalidValue(
            "the file is not an XLSX workbook; save it as 'Excel 工作簿 (.xlsx)' or as CSV"
        ) from None
    unpacked = sum(m.file_size for m in members)
    if len(members) > MAX_ZIP_MEMBERS or unpacked > max_unpacked_bytes:
        raise InvalidValue(
            f"the workbook unpacks to more than {max_unpacked_bytes // 2**20} MiB; a "
            "maintenance upload is far smaller: send its rows in several files"
        )


def read_xlsx(
    data: bytes, *, max_rows: int, max_unpacked_bytes: int = MAX_UNPACKED_BYTES
) -> list[SheetRow]:
    """The rows of the first worksheet of an XLSX workbook (cached formula values, date
    cells and serial numbers read with the workbook's own date system), read in openpyxl's
    streaming mode and refused at the first filled-in row past ``max_rows``."""
    _check_archive(data, max_unpacked_bytes)
    try:
        workbook = open_workbook(io.BytesIO(data))
    except Exception as exc:  # any failure on a client's file is the file's
        raise InvalidValue(f"the XLSX workbook cannot be read: {_short(exc)}") from None
    try:
        # Rows come numbered from 1 with the empty ones in between filled in.
        rows = sheet_rows(workbook, max_col=MAX_COLUMNS)
        return list(_rows(rows, max_rows=max_rows, epoch=workbook.epoch))
    except InvalidValue:
        raise
    except Exception as exc:  # a malformed sheet inside a valid archive
        raise InvalidValue(f"the XLSX workbook cannot be read: {_short(exc)}") from None
    finally:
        workbook.close()


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


# Either ----------------------------------------------------------------------------------


def sheet_kind(media_type: str | None, filename: str | None, head: bytes) -> SheetKind:
    """XLSX or CSV, by the file's first bytes (a zip, or an OLE .xls refused later with its
    reason), whatever the name or media type say: a CSV saved under .xlsx or sent as a
    workbook is still read. Only an empty file goes by its name or media type."""
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        return SheetKind.XLSX
    if head:
        return SheetKind.CSV
    media = (media_type or "").split(";")[0].strip().lower()
    name = (filename or "").lower()
    if media == XLSX_MEDIA_TYPE or name.endswith((".xlsx", ".xlsm")):
        return SheetKind.XLSX
    return SheetKind.CSV


def read_stream(
    chunks: Iterable[bytes],
    *,
    media_type: str | None = None,
    max_rows: int,
    max_unpacked_bytes: int = MAX_UNPACKED_BYTES,
) -> list[SheetRow]:
    """The rows of a file arriving in ``chunks`` (a request body): a CSV is read as it
    arrives (nothing past the row cap is pulled); a workbook, told by its first bytes
    whatever the media type says, is gathered first (a zip is read from its end)."""
    pieces = iter(chunks)
    head = b""
    for chunk in pieces:
        head += chunk
        if len(head) >= 8:
            break
    if sheet_kind(media_type, None, head[:8]) is SheetKind.XLSX:
        data = head + b"".join(pieces)
        return read_xlsx(data, max_rows=max_rows, max_unpacked_bytes=max_unpacked_bytes)
    return read_csv(itertools.chain([head], pieces), max_rows=max_rows)


def read_sheet(
    data: bytes,
    *,
    media_type: str | None = None,
    filename: str | None = None,
    max_rows: int,
    max_unpacked_bytes: int = MAX_UNPACKED_BYTES,
) -> list[SheetRow]:
    """The rows of an uploaded file held in memory (a multipart part), CSV or XLSX."""
    if sheet_kind(media_type, filename, data[:8]) is SheetKind.XLSX:
        return read_xlsx(data, max_rows=max_rows, max_unpacked_bytes=max_unpacked_bytes)
    step = 64 * 2**10
    return read_csv((data[i : i + step] for i in range(0, len(data), step)), max_rows=max_rows)


# Template ---------------------------------------------------------------------------------

_LEVELS: Final[Mapping[Lang, tuple[str, ...]]] = {
    "zh": ("半月", "季度", "半年", "年度"),
    "en": ("half_monthly", "quarterly", "half_yearly", "yearly"),
}
_NOTES: Final[Mapping[Lang, tuple[tuple[str, str], ...]]] = {
    "zh": (
        ("维保记录编号", "贵公司的记录编号，同一编号只保存一次（重复上传不会重复保存）"),
        ("设备注册代码", "设备注册代码（未注册的填设备代码）"),
        ("维保日期", "2026/12/4、2026-12-04 或 2026年12月4日，不能晚于今天"),
        ("维保类别", "半月、季度、半年 或 年度（TSG T5002-2017）"),
        ("维保项目", "多个项目用分号隔开：曳引机润滑;门锁检查"),
        (
            "维保人员及证号",
            "姓名:作业人员证号，多人用分号隔开：李强:T1-4206-0001;王伟:T1-4206-0002",
        ),
        ("维保情况", "可不填"),
        ("发现隐患", "多个隐患用分号隔开，可不填"),
        ("使用单位签字人", "可不填"),
        ("行号", "被拒绝的行按表格左侧的行号列出（标题行为第 1 行）"),
    ),
    "en": (
        ("record_id", "your record number; a number is stored once (uploading again is safe)"),
        ("code", "the registration code (the equipment code if not registered yet)"),
        ("maintained_on", "2026-12-04, 2026/12/4 or 2026年12月4日; not after today"),
        ("level", "half_monthly, quarterly, half_yearly or yearly (TSG T5002-2017)"),
        ("items", "items separated by semicolons: traction machine lubricated;door locks"),
        ("technicians", "name:certificate number; several separated by semicolons"),
        ("findings", "optional"),
        ("hazards", "hazards found, separated by semicolons; optional"),
        ("signed_off_by", "the user unit's person who signed; optional"),
        ("rows", "rejected rows are named by the row number the sheet shows (header: row 1)"),
    ),
}


def template_headers(lang: Lang) -> tuple[str, ...]:
    return tuple(HEADERS_ZH[f] for f in FIELDS) if lang == "zh" else FIELDS


def template(kind: SheetKind, lang: Lang = "zh") -> bytes:
    """The empty sheet to fill in: the header row in ``lang``; the XLSX also keeps codes
    and record numbers as text (Excel would turn a long code into 4.2E+19), offers the
    levels as a list, and explains each column on a second sheet."""
    headers = template_headers(lang)
    if kind is SheetKind.CSV:
        out = io.StringIO(newline="")
        csv.writer(out, lineterminator="\r\n").writerow(headers)
        # With a BOM, Excel opens UTF-8 as UTF-8 (without one it guesses GBK in China).
        return ("\ufeff" + out.getvalue()).encode("utf-8")
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "维保记录" if lang == "zh" else "records"
    sheet.append(headers)
    bold = Font(bold=True)
    for cell in sheet[1]:
        cell.font = bold
    sheet.freeze_panes = "A2"
    for index, name in enumerate(FIELDS, start=1):
        column = sheet.cell(row=1, column=index).column_letter
        sheet.column_dimensions[column].width = 14 if name != "findings" else 30
        if name in ("record_id", "code"):
            sheet.column_dimensions[column].number_format = "@"
        if name == "maintained_on":
            sheet.column_dimensions[column].number_format = "yyyy/m/d"
        if name == "level":
            levels = DataValidation(type="list", formula1='"' + ",".join(_LEVELS[lang]) + '"')
            levels.add(f"{column}2:{column}10001")
            sheet.add_data_validation(levels)
    notes = workbook.create_sheet("填写说明" if lang == "zh" else "instructions")
    for row in _NOTES[lang]:
        notes.append(row)
    notes.column_dimensions["A"].width = 16
    notes.column_dimensions["B"].width = 80
    out_bytes = io.BytesIO()
    workbook.save(out_bytes)
    return out_bytes.getvalue()
