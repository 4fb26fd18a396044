"""Inspection bodies' report uploads (归集检验数据): the rows of a JSON array, a CSV or an
XLSX sheet, checked one by one into reports ready to file, or a reason per row.

Kept small on purpose: the register import (issue 23's other half) brings the full
parse/check pipeline with mapping profiles; this reads the columns an institute's export
has, in Chinese or English, and says what is wrong with a row in words a clerk can act
on, naming the row as the spreadsheet shows it (the header is row 1).

Pure: bytes or objects in, rows out; no file, network, clock or database (``today`` is
passed). Reading a workbook is CPU work on untrusted input: callers run it in a thread.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from openpyxl import load_workbook

from equipment.domain import aliases
from equipment.domain.errors import InvalidValue
from equipment.domain.record_sheets import SheetKind, parse_day, sheet_kind
from equipment.domain.rules.model import CONCLUSIONS, INSPECTION_KINDS

MAX_ROWS: Final = 5_000
# A workbook of 5,000 report rows unpacks to a few MB of XML; a zip bomb to gigabytes.
MAX_UNPACKED_BYTES: Final = 32 * 2**20
MAX_COLUMNS: Final = 40
DAY_FORMATS: Final = "YYYY-MM-DD, YYYY/M/D, YYYY年M月D日"

# Field → the headers an institute's export may use for it (normalised by _key).
_HEADERS: Final[Mapping[str, tuple[str, ...]]] = {
    "report_no": ("report_no", "报告编号", "检验报告编号", "报告号"),
    "code": (
        "code", "registration_code", "equipment_code", "设备注册代码", "注册代码",
        "设备代码", "使用登记代码",
    ),
    "kind": ("kind", "检验类别", "检验性质", "检验类型"),
    "inspected_on": ("inspected_on", "检验日期", "检验完成日期"),
    "conclusion": ("conclusion", "检验结论", "结论"),
    "next_due_stated": ("next_due_stated", "next_due", "下次检验日期", "下次检验日期(报告)"),
    "safety_grade": ("safety_grade", "安全状况等级", "安全等级"),
    "reason": ("reason", "监督检验原因"),
    "findings": ("findings", "检验意见", "问题及处理意见", "主要问题"),
}  # fmt: skip


def _key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().lstrip("\ufeff").strip().strip("*")
    return text.lower().replace(" ", "_")


_FIELD_OF: Final = {_key(h): name for name, headers in _HEADERS.items() for h in headers}


@dataclass(frozen=True)
class ReportRow:
    """One row as received: the number the sheet shows (a JSON array's index from 1)."""

    number: int
    fields: Mapping[str, object]


@dataclass(frozen=True)
class ReportInput:
    """A checked report, ready to file under the unit ``code`` names."""

    report_no: str
    code: str
    kind: str
    inspected_on: date
    conclusion: str
    next_due_stated: date | None
    safety_grade: int | None
    reason: str
    findings: str

    def as_inspection(self) -> dict[str, Any]:
        """The fields ``inspections.record_inspection`` takes."""
        return {
            "report_no": self.report_no,
            "kind": self.kind,
            "inspected_on": self.inspected_on,
            "conclusion": self.conclusion,
            "next_due_stated": self.next_due_stated,
            "safety_grade": self.safety_grade,
            "reason": self.reason,
            "findings": self.findings,
        }

    def as_json(self) -> dict[str, Any]:
        found = self.as_inspection()
        found["code"] = self.code
        for name in ("inspected_on", "next_due_stated"):
            found[name] = found[name].isoformat() if found[name] else None
        return found

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReportInput:
        due = data.get("next_due_stated")
        return cls(
            report_no=data["report_no"],
            code=data["code"],
            kind=data["kind"],
            inspected_on=date.fromisoformat(data["inspected_on"]),
            conclusion=data["conclusion"],
            next_due_stated=date.fromisoformat(due) if due else None,
            safety_grade=data.get("safety_grade"),
            reason=data.get("reason", ""),
            findings=data.get("findings", ""),
        )


def _text(fields: Mapping[str, object], name: str, limit: int) -> str:
    value = fields.get(name)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if len(text) > limit:
        raise ReportProblem(f"{name} is longer than {limit} characters", field=name)
    return text


class ReportProblem(InvalidValue):
    """A row that is no report: the reason and field (what the uploader is told) and the
    rule code the import's report counts it under (``invalid_date``, ``date_in_future``
    or ``invalid_report``)."""

    def __init__(self, reason: str, *, field: str, rule: str = "invalid_report") -> None:
        super().__init__(reason, field=field)
        self.rule = rule


# How a cell becomes a day: the upload's fixed forms (``parse_day``), or an import
# profile's date formats (``sereg import inspections``). Raises on a cell that is no day.
DayReader = Callable[[object], date | None]


def _day(
    fields: Mapping[str, object], name: str, *, required: bool, read: DayReader
) -> date | None:
    value = fields.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ReportProblem(
                f"{name} is required ({DAY_FORMATS})", field=name, rule="invalid_date"
            )
        return None
    try:
        day = read(value)
    except (InvalidValue, ValueError):
        day = None
    if day is None:
        raise ReportProblem(
            f"{name} {value} is not a date ({DAY_FORMATS})", field=name, rule="invalid_date"
        )
    return day


def check_report(
    fields: Mapping[str, object],
    *,
    today: date,
    read_day: DayReader = parse_day,
    values: Callable[[str, str], str] | None = None,
) -> ReportInput:
    """A row's report, or ReportProblem naming the first thing wrong and its field.

    The one check of an inspection report, for the bodies' upload and for ``sereg import
    inspections`` alike: the import passes its profile's date formats (``read_day``) and
    value maps (``values(field, text)``, applied to kind and conclusion before the
    aliases)."""
    mapped = values or (lambda _field, text: text)
    report_no = _text(fields, "report_no", 64)
    if not report_no:
        raise ReportProblem("report_no is required: it keys the report", field="report_no")
    code = _text(fields, "code", 40).upper()
    if not code:
        raise ReportProblem(
            "code is required: the unit's registration or equipment code", field="code"
        )
    kind_text = _text(fields, "kind", 20)
    kind = aliases.inspection_kind_code(mapped("kind", kind_text) if kind_text else "periodic")
    if kind not in INSPECTION_KINDS:
        raise ReportProblem(
            f"kind {kind} is not an inspection kind ({', '.join(sorted(INSPECTION_KINDS))})",
            field="kind",
        )
    inspected_on = _day(fields, "inspected_on", required=True, read=read_day)
    assert inspected_on is not None
    if inspected_on > today:
        raise ReportProblem(
            f"{inspected_on.isoformat()} is in the future",
            field="inspected_on",
            rule="date_in_future",
        )
    conclusion = aliases.conclusion_code(mapped("conclusion", _text(fields, "conclusion", 20)))
    if conclusion not in CONCLUSIONS:
        raise ReportProblem(
            f"conclusion {conclusion or '(empty)'} is not pass, conditional_pass or fail"
            " (合格, 基本符合要求, 不合格)",
            field="conclusion",
        )
    next_due = _day(fields, "next_due_stated", required=False, read=read_day)
    if next_due is not None and next_due <= inspected_on:
        raise ReportProblem(
            "next_due_stated is not after the inspection day", field="next_due_stated"
        )
    grade_text = _text(fields, "safety_grade", 2)
    grade: int | None = None
    if grade_text:
        if not grade_text.isdigit() or not 1 <= int(grade_text) <= 5:
            raise ReportProblem(
                f"safety_grade {grade_text} is not a grade from 1 to 5", field="safety_grade"
            )
        grade = int(grade_text)
    return ReportInput(
        report_no=report_no,
        code=code,
        kind=kind,
        inspected_on=inspected_on,
        conclusion=conclusion,
        next_due_stated=next_due,
        safety_grade=grade,
        reason=_text(fields, "reason", 20),
        findings=_text(fields, "findings", 4000),
    )


# Reading files ---------------------------------------------------------------------------


def json_rows(payload: object) -> list[ReportRow]:
    """A decoded JSON body: an array of report objects."""
    if not isinstance(payload, list) or not all(isinstance(p, dict) for p in payload):
        raise InvalidValue("send a JSON array of reports, a CSV file or an XLSX workbook")
    if len(payload) > MAX_ROWS:
        raise InvalidValue(f"an upload holds at most {MAX_ROWS:,} reports")
    return [ReportRow(n, row) for n, row in enumerate(payload, start=1)]


def _rows(numbered: Iterator[tuple[int, Sequence[object]]]) -> list[ReportRow]:
    layout: dict[str, int] | None = None
    found: list[ReportRow] = []
    for number, cells in numbered:
        if not any(c is not None and str(c).strip() for c in cells):
            continue
        if layout is None:
            names = {i: _FIELD_OF.get(_key(str(c))) for i, c in enumerate(cells) if c is not None}
            layout = {name: i for i, name in sorted(names.items(), reverse=True) if name}
            if not layout:
                raise InvalidValue(
                    "the first row names no column of an inspection report: 报告编号, "
                    "设备注册代码, 检验类别, 检验日期, 检验结论, 下次检验日期 (or report_no, "
                    "code, kind, inspected_on, conclusion, next_due_stated)"
                )
            continue
        if len(found) >= MAX_ROWS:
            raise InvalidValue(f"an upload holds at most {MAX_ROWS:,} reports")
        found.append(
            ReportRow(number, {n: cells[i] if i < len(cells) else None for n, i in layout.items()})
        )
    return found


def read_csv(data: bytes) -> list[ReportRow]:
    """UTF-8 (with or without Excel's BOM) or, failing that, GB18030 (Excel's "CSV (逗号
    分隔)" on a Chinese Windows): decided on the whole file, never mixed."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise InvalidValue(
                "the CSV file is neither UTF-8 nor GBK/GB18030 text; save it as 'CSV UTF-8'"
            ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _rows((n, row) for n, row in enumerate(reader, start=1))
    except csv.Error as exc:
        raise InvalidValue(f"the CSV file cannot be read: {exc}") from None


def read_xlsx(data: bytes) -> list[ReportRow]:
    """The first worksheet, in openpyxl's streaming mode; the archive's unpacked size is
    checked before any XML is parsed."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(m.file_size for m in archive.infolist())
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise InvalidValue("the file is not an XLSX workbook; save it as .xlsx or CSV") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise InvalidValue(
            f"the workbook unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MiB; "
            "send its rows in several files"
        )
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # any failure on a client's file is the file's
        raise InvalidValue("the XLSX workbook cannot be read") from None
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)
        return _rows((n, _cells(row)) for n, row in enumerate(rows, start=1))
    finally:
        workbook.close()


def _cells(row: Sequence[object]) -> list[object]:
    # A date cell is a day; the checks read the rest as text.
    return [c.date() if isinstance(c, datetime) else c for c in row]


def read_file(data: bytes, media_type: str | None) -> list[ReportRow]:
    if sheet_kind(media_type, None, data[:8]) is SheetKind.XLSX:
        return read_xlsx(data)
    return read_csv(data)
