"""The inspectors' due-list downloads: CSV, Excel and iCalendar.

Formatting only. The rows are the plain dicts the due-list service already yields, so
this module imports neither the ORM, the web framework nor the broker and can be tested
with a list literal. It lives under ``api/`` because choosing a file format is an edge
concern, like choosing JSON.

Addresses, unit names and explanations are typed by users, so every text cell passes
through a guard against spreadsheet formula injection (OWASP "CSV injection") before it
reaches CSV or Excel.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, Literal, Protocol

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from equipment.api.xlsx_rows import SheetWriter
from equipment.domain import labels
from equipment.i18n import gettext
from equipment.i18n.spoken import speak

__all__ = [
    "COLUMNS",
    "CSV_MEDIA_TYPE",
    "ICS_MEDIA_TYPE",
    "KIND_ZH",
    "STATE_ZH",
    "XLSX_MEDIA_TYPE",
    "Column",
    "CsvExport",
    "Export",
    "IcsExport",
    "Lang",
    "Sheet",
    "XlsxExport",
    "to_csv",
    "to_icalendar",
    "to_xlsx",
    "to_xlsx_book",
]

Lang = Literal["zh", "en"]

# Litestar adds "; charset=utf-8" to every text/* type itself (naming it here doubled it).
CSV_MEDIA_TYPE: Final = "text/csv"
XLSX_MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ICS_MEDIA_TYPE: Final = "text/calendar"

# The names the inspectors' own forms use (TSG 08-2017 and the TSG inspection rules): the
# catalogue's zh-CN labels of the codes, the same words the API's ``*_label`` fields give.
KIND_ZH: Final[Mapping[str, str]] = {
    code: gettext("zh-CN", text) for code, text in labels.DUE_KIND.items()
}
STATE_ZH: Final[Mapping[str, str]] = {
    code: gettext("zh-CN", text) for code, text in labels.DUE_STATE.items()
}
# Values shown translated in the Chinese downloads. The English ones keep the codes the
# API uses, so a spreadsheet filter matches the API's query parameters.
_TRANSLATED: Final[Mapping[str, Mapping[str, str]]] = {"kind": KIND_ZH, "state": STATE_ZH}


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # the row dict's key
    en: str
    zh: str
    # Excel width in characters (a Chinese character counts about two). Fixed, because
    # the streaming writer must set widths before the first row and cannot measure.
    width: float

    def header(self, lang: Lang) -> str:
        return self.zh if lang == "zh" else self.en


COLUMNS: Final[tuple[Column, ...]] = (
    Column("code", "Code", "注册代码/设备代码", 24),
    Column("category", "Category code", "设备类别代码", 10),
    Column("category_name", "Category", "设备类别", 20),
    Column("kind", "Kind", "检验类别", 14),
    Column("due_on", "Due on", "下次检验日期", 13),
    Column("reminder_on", "Apply by", "申报提醒日期", 13),
    Column("state", "State", "状态", 12),
    # The code as well as the name: the name is None for a district outside the table.
    Column("district_code", "District code", "区划代码", 10),
    Column("district_name", "District", "区县", 10),
    Column("address", "Address", "使用地点", 40),
    Column("user_unit_name", "User unit", "使用单位", 30),
    Column("maintenance_company_name", "Maintenance company", "维保单位", 30),
    Column("source", "Source", "依据", 30),
    Column("explanation", "Explanation", "说明", 50),
)

# What a spreadsheet reads as the start of a formula (OWASP: = + - @, and tab / CR,
# which some importers strip before looking at the next character).
_FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")


def export_lang(lang: str) -> Lang:
    """The export's language for a negotiated request language (equipment.i18n)."""
    return "en" if lang == "en" else "zh"


# Rule texts written in English (equipment/domain/rules), said from the catalogue.
_SPOKEN: Final = frozenset({"source", "explanation"})


def _neutralise(text: str) -> str:
    """Keep user text from being run as a formula: a leading apostrophe makes it text."""
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def _cell(row: Mapping[str, Any], column: Column, lang: Lang, *, xml: bool = False) -> Any:
    """One value ready for a spreadsheet: None, a date, a number or guarded text.

    ``xml``: drop the control characters XML 1.0 cannot hold. openpyxl raises on them,
    and one stray byte in a user's address must not fail the whole download. They go
    before the formula guard looks at the first character, or "\\x01=..." would slip by.
    """
    value = row.get(column.key)
    if value is None or isinstance(value, date | int | float):
        return value
    text = str(value)
    if lang == "zh" and column.key in _TRANSLATED:
        # An unknown code passes through rather than failing the whole download.
        text = _TRANSLATED[column.key].get(text, text)
    elif lang == "zh" and column.key in _SPOKEN:
        text = speak("zh-CN", text)
    if xml:
        text = ILLEGAL_CHARACTERS_RE.sub("", text)
    return _neutralise(text)


def _kind_zh(kind: str) -> str:
    return KIND_ZH.get(kind, kind)


# ---------------------------------------------------------------------------------------
# CSV


class CsvExport:
    """The due list as CSV: a header row, then one line per obligation.

    UTF-8 with a byte-order mark, because Excel on a Chinese Windows otherwise decodes
    the file as GBK and shows mojibake; CRLF line ends (the csv module's default, and
    what RFC 4180 asks for); dates as ISO 8601.
    """

    # Rows are encoded a few hundred at a time, so that finishing is a join of bytes
    # rather than one encode of the whole text (tens of MB for a large district).
    _ROWS_PER_PART: Final = 256

    def __init__(self, lang: Lang = "zh") -> None:
        self.lang = lang
        self._parts: list[bytes] = [codecs.BOM_UTF8]
        self._out = io.StringIO()
        self._writer = csv.writer(self._out)
        self._writer.writerow([c.header(lang) for c in COLUMNS])
        self._pending = 1

    def add(self, row: Mapping[str, Any]) -> None:
        line = []
        for column in COLUMNS:
            value = _cell(row, column, self.lang)
            if value is None:
                value = ""
            elif isinstance(value, date):
                value = value.isoformat()
            line.append(value)
        self._writer.writerow(line)
        self._pending += 1
        if self._pending >= self._ROWS_PER_PART:
            self._flush()

    def _flush(self) -> None:
        self._parts.append(self._out.getvalue().encode())
        self._out.seek(0)
        self._out.truncate()
        self._pending = 0

    def finish(self) -> bytes:
        self._flush()
        return b"".join(self._parts)

    def close(self) -> None:
        """Nothing to release: the parts are plain bytes."""


def to_csv(rows: Iterable[Mapping[str, Any]], lang: Lang = "zh") -> bytes:
    return _whole(CsvExport(lang), rows)


# ---------------------------------------------------------------------------------------
# Excel

_SHEET_TITLE: Final[Mapping[Lang, str]] = {"zh": "应检设备", "en": "Due"}
_DATE_FORMAT: Final = "yyyy-mm-dd"


class XlsxExport:
    """The due list as an Excel workbook with one sheet.

    Rows are streamed into the sheet as they come (``xlsx_rows.SheetWriter``: openpyxl's
    package, the rows' XML written directly, a fifth of the CPU of openpyxl's cells), so a
    district's whole list is exported in bounded memory. Dates are real Excel dates (they
    sort and filter as dates), the header is bold and stays in view when scrolling.

    The package is made at the first row or at ``finish`` (an export made and then
    refused, say for want of a permission, never makes it); ``close`` drops an export
    given up half-way (a cancelled request).
    """

    def __init__(
        self,
        lang: Lang = "zh",
        *,
        columns: tuple[Column, ...] = COLUMNS,
        title: Mapping[Lang, str] | None = None,
    ) -> None:
        # Other tables (a campaign's progress) reuse the writer with their own columns.
        self.lang = lang
        self.columns = columns
        self._sheet = SheetWriter(
            (title or _SHEET_TITLE)[lang],
            [column.header(lang) for column in columns],
            [column.width for column in columns],
            _DATE_FORMAT,
        )

    def add(self, row: Mapping[str, Any]) -> None:
        lang = self.lang
        self._sheet.add([_cell(row, column, lang, xml=True) for column in self.columns])

    def finish(self) -> bytes:
        return self._sheet.finish()

    def close(self) -> None:
        self._sheet.close()


def to_xlsx(rows: Iterable[Mapping[str, Any]], lang: Lang = "zh") -> bytes:
    return _whole(XlsxExport(lang), rows)


@dataclass(frozen=True, slots=True)
class Sheet:
    """One sheet of a workbook: its title per language, its columns and its rows (plain
    dicts keyed by the columns' keys, values already in the export's language)."""

    title_zh: str
    title_en: str
    columns: tuple[Column, ...]
    rows: Iterable[Mapping[str, Any]]


def to_xlsx_book(sheets: Iterable[Sheet], lang: Lang = "zh") -> bytes:
    """Several sheets in one workbook (a ledger and its lists), written like the due
    list's: streaming, bold frozen header, real dates, every text cell guarded."""
    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    for spec in sheets:
        sheet = workbook.create_sheet(spec.title_zh if lang == "zh" else spec.title_en)
        for index, column in enumerate(spec.columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = column.width
        sheet.freeze_panes = "A2"
        header = []
        for column in spec.columns:
            cell = WriteOnlyCell(sheet, value=column.header(lang))
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for row in spec.rows:
            cells: list[Any] = []
            for column in spec.columns:
                value = row.get(column.key)
                if isinstance(value, bool):
                    value = int(value)
                elif isinstance(value, str):
                    value = _neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))
                if isinstance(value, date):
                    dated = WriteOnlyCell(sheet, value=value)
                    dated.number_format = _DATE_FORMAT
                    cells.append(dated)
                else:
                    cells.append(value)
            sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# ---------------------------------------------------------------------------------------
# iCalendar (RFC 5545)

_CRLF: Final = "\r\n"
_MAX_LINE_OCTETS: Final = 75  # RFC 5545 3.1, not counting the CRLF
_NEWLINES: Final = re.compile(r"\r\n|\r|\n")
# Unicode's Cc category (C0, DEL and C1) but tab and line feed: one regex pass instead of a
# category lookup per character (a third of a calendar's formatting time, measured).
_CONTROLS: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _escape_text(text: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): escape \\ ; , and newlines, drop other controls.

    A content line may hold no control character but tab (3.1 VALUE-CHAR), so the
    others are dropped rather than letting one stray byte make a strict client reject
    the whole calendar. CRLF and CR count as newlines.
    """
    text = _CONTROLS.sub("", _NEWLINES.sub("\n", text))
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


# An escape pair (a backslash and the character after it) is one unit when folding: RFC 5545
# allows a break inside it, but a client that unescapes before it unfolds would then show a
# stray backslash.
_FOLD_UNITS: Final = re.compile(r"\\.|.", re.DOTALL)


def _fold(line: str) -> str:
    """Fold a content line at 75 octets of UTF-8 (RFC 5545 3.1).

    Counts bytes, not characters: a Chinese character is three octets and an emoji four,
    and a break never falls inside one, so every physical line is valid UTF-8 by itself.
    Each continuation line starts with one space, which counts towards its 75 octets.
    """
    if len(line.encode()) <= _MAX_LINE_OCTETS:
        return line
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for unit in _FOLD_UNITS.findall(line):
        octets = len(unit.encode())
        if size + octets > _MAX_LINE_OCTETS:
            pieces.append("".join(current))
            current, size = [" "], 1
        current.append(unit)
        size += octets
    pieces.append("".join(current))
    return _CRLF.join(pieces)


def _utc_stamp(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        # A naive time is ambiguous (the server may run on China Standard Time), and an
        # 8-hour error in DTSTAMP would go unnoticed: make the caller say which zone.
        raise ValueError("generated_at must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _description(row: Mapping[str, Any]) -> str:
    """What an inspector needs without opening the register, one fact a line."""
    facts = [
        ("注册代码/设备代码", row.get("code")),
        ("使用地点", row.get("address")),
        ("区县", row.get("district_name")),
        ("使用单位", row.get("user_unit_name")),
        ("维保单位", row.get("maintenance_company_name")),
        ("状态", STATE_ZH.get(row.get("state") or "", row.get("state"))),
        ("申报截止", _iso(row.get("reminder_on"))),
        ("依据", row.get("source") and speak("zh-CN", row["source"])),
        # last: it may run over several lines
        ("说明", row.get("explanation") and speak("zh-CN", row["explanation"])),
    ]
    return "\n".join(f"{label}：{value}" for label, value in facts if value is not None)


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _event(row: Mapping[str, Any], stamp: str) -> list[str]:
    due_on: date = row["due_on"]
    code, kind = row["code"], row["kind"]
    kind_zh = _kind_zh(kind)
    # The alarm fires on reminder_on, the last day to apply (one calendar month before
    # the due date, TSG 08-2017). A fixed -P30D would fire after that day whenever the
    # month before has 31 days, so the offset is counted from the row's own dates.
    alarm_days = max((due_on - row["reminder_on"]).days, 0)
    summary = f"{row['category_name']} {code} {kind_zh}到期"
    uid = f"{row['equipment_id']}-{kind}@sereg"
    alarm_text = f"今日为{code}{kind_zh}申报截止日"
    lines = [
        "BEGIN:VEVENT",
        f"UID:{_escape_text(uid)}",
        f"DTSTAMP:{stamp}",
        f"DTSTART;VALUE=DATE:{due_on:%Y%m%d}",
        f"DTEND;VALUE=DATE:{due_on + timedelta(days=1):%Y%m%d}",
        f"SUMMARY:{_escape_text(summary)}",
        f"DESCRIPTION:{_escape_text(_description(row))}",
    ]
    if row.get("address"):
        lines.append(f"LOCATION:{_escape_text(row['address'])}")
    lines += [
        # An all-day deadline is not a meeting: it must not show the day as busy.
        "TRANSP:TRANSPARENT",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        # A DISPLAY alarm must carry a DESCRIPTION (RFC 5545 3.6.6).
        f"DESCRIPTION:{_escape_text(alarm_text)}",
        f"TRIGGER:-P{alarm_days}D",
        "END:VALARM",
        "END:VEVENT",
    ]
    return lines


class IcsExport:
    """The due list as an iCalendar feed: one all-day event on each due date.

    ``generated_at`` must be timezone-aware; it becomes every event's DTSTAMP in UTC.
    UTF-8 text with CRLF line ends and lines folded at 75 octets.
    """

    def __init__(self, *, calendar_name: str, generated_at: datetime) -> None:
        self._stamp = _utc_stamp(generated_at)
        self._parts: list[bytes] = []
        self._put(
            [
                "BEGIN:VCALENDAR",
                "VERSION:2.0",
                "PRODID:-//sereg//due dates//ZH",
                "CALSCALE:GREGORIAN",
                "METHOD:PUBLISH",
                f"X-WR-CALNAME:{_escape_text(calendar_name)}",
            ]
        )

    def _put(self, lines: list[str]) -> None:
        # Folded as they come, so that the work is spread over the rows.
        self._parts.append("".join(_fold(line) + _CRLF for line in lines).encode())

    def add(self, row: Mapping[str, Any]) -> None:
        self._put(_event(row, self._stamp))

    def finish(self) -> bytes:
        return b"".join([*self._parts, b"END:VCALENDAR" + _CRLF.encode()])

    def close(self) -> None:
        """Nothing to release: the lines are plain text."""


def to_icalendar(
    rows: Iterable[Mapping[str, Any]], *, calendar_name: str, generated_at: datetime
) -> str:
    export = IcsExport(calendar_name=calendar_name, generated_at=generated_at)
    return _whole(export, rows).decode()


# ---------------------------------------------------------------------------------------
# Any format


class Export(Protocol):
    """A download built one row at a time, so that the web layer can give the event loop
    back between rows: a whole district's list takes seconds to format (measured: 2.6 s
    for 18,700 rows as XLSX), and every other request of the process would wait that long."""

    def add(self, row: Mapping[str, Any]) -> None: ...

    def finish(self) -> bytes: ...

    def close(self) -> None:
        """Release what an export given up before ``finish`` holds."""


def _whole(export: Export, rows: Iterable[Mapping[str, Any]]) -> bytes:
    for row in rows:
        export.add(row)
    return export.finish()
