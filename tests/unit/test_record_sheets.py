"""The maintenance-record spreadsheet reader: encodings, headers, dates, row numbers, caps,
and the template, on files built here the way Excel writes them."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, to_excel

from equipment.domain import record_sheets as rs
from equipment.domain.errors import InvalidValue
from equipment.domain.maintenance import parse_record

ZH = [rs.HEADERS_ZH[f] for f in rs.FIELDS]


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows: dict[int, list[object]], *, epoch: datetime | None = None) -> bytes:
    """A workbook whose first sheet holds ``rows`` at the given row numbers."""
    workbook = Workbook()
    if epoch is not None:
        workbook.epoch = epoch
    sheet = workbook.active
    for number, cells in rows.items():
        for column, value in enumerate(cells, start=1):
            sheet.cell(row=number, column=column, value=value)
    workbook.create_sheet("other").append(["record_id", "not", "read"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def rewritten(data: bytes, member: str, change) -> bytes:
    """The workbook with one member's bytes changed (as a hostile generator writes them)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item)
            target.writestr(item, change(content) if item.filename == member else content)
    return out.getvalue()


SHEET = "xl/worksheets/sheet1.xml"


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


GOOD = ["R1", "31104206002026000001", "2026/12/4", "半月", "润滑；门锁", "李强：T1-0001"]


# Dates -------------------------------------------------------------------------------------

DAYS = st.dates(min_value=date(1900, 3, 1), max_value=date(9999, 12, 31))
WRITERS = {
    "iso": lambda d: d.isoformat(),
    "slash": lambda d: f"{d.year}/{d.month}/{d.day}",
    "slash padded": lambda d: f"{d.year}/{d.month:02}/{d.day:02}",
    "dots": lambda d: f"{d.year}.{d.month:02}.{d.day:02}",
    "chinese": lambda d: f"{d.year}年{d.month}月{d.day}日",
    "chinese padded, 号": lambda d: f"{d.year}年{d.month:02}月{d.day:02}号",
    "chinese, no day mark": lambda d: f"{d.year}年{d.month}月{d.day}",
    "full-width digits": lambda d: f"{d.year}年{d.month}月{d.day}日".translate(
        {ord(c): ord(c) + 0xFEE0 for c in "0123456789"}
    ),
    "excel date-time text": lambda d: f"{d.year}/{d.month}/{d.day} 0:00",
    "iso date-time text": lambda d: f"{d.isoformat()} 08:30:00",
    "iso T": lambda d: f"{d.isoformat()}T08:30",
    "spaced": lambda d: f" {d.year} / {d.month} / {d.day} ",
    "date cell": lambda d: d,
    "date-time cell": lambda d: datetime(d.year, d.month, d.day, 13, 45),
    "serial": lambda d: int(to_excel(d)),
    "serial with time": lambda d: float(to_excel(datetime(d.year, d.month, d.day, 18))),
}


@settings(max_examples=300, deadline=None)
@given(day=DAYS, writer=st.sampled_from(sorted(WRITERS)))
def test_any_day_written_any_way_reads_back(day: date, writer: str):
    assert rs.parse_day(WRITERS[writer](day)) == day


@settings(max_examples=100, deadline=None)
@given(day=st.dates(min_value=date(1904, 1, 2), max_value=date(9999, 12, 31)))
def test_serials_of_the_1904_date_system_read_with_its_epoch(day: date):
    serial = to_excel(day, CALENDAR_MAC_1904)
    assert rs.parse_day(serial, epoch=CALENDAR_MAC_1904) == day
    assert rs.parse_day(serial, epoch=CALENDAR_WINDOWS_1900) == day - timedelta(days=1462)


@pytest.mark.parametrize(
    "value",
    [
        "2026-02-30",
        "2026/13/1",
        "2026年2月29日",
        "20261204",  # would pass date.fromisoformat; ambiguous beside a serial number
        "12/4/2026",  # m/d/y or d/m/y: not guessed
        "4.12.2026",
        "2026-12",
        "2026-12-04x",
        "二〇二六年十二月四日",
        "",
        "   ",
        None,
        0,
        -1,
        2_958_466,
        float("nan"),
        float("inf"),
        True,
    ],
)
def test_what_is_not_a_day_is_refused_naming_the_field(value):
    with pytest.raises(InvalidValue) as refused:
        rs.parse_day(value)
    assert refused.value.field == "maintained_on"


# Headers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "field"),
    [
        *((rs.HEADERS_ZH[f], f) for f in rs.FIELDS),
        *((f, f) for f in rs.FIELDS),
        ("registration_code", "code"),
        ("Registration Code", "code"),
        ("注册代码", "code"),
        ("设备代码", "code"),
        ("date", "maintained_on"),
        ("Maintained-On", "maintained_on"),
        ("维保日期（必填）", "maintained_on"),
        ("维保日期(YYYY/M/D)", "maintained_on"),
        ("*维保日期*", "maintained_on"),
        ("\ufeff维保记录编号", "record_id"),
        ("  维保类别 ", "level"),
        ("ＲＥＣＯＲＤ＿ＩＤ", "record_id"),  # full-width letters from a Chinese input method
        ("维保人员", "technicians"),
        ("备注", "findings"),
    ],
)
def test_headers_name_their_field(header: str, field: str):
    assert rs.field_of_header(header) == field


@pytest.mark.parametrize("header", ["", "序号", "remarks2", "维保", None, 3, "id"])
def test_other_headers_name_nothing(header):
    assert rs.field_of_header(header) is None


def test_every_alias_of_one_field_names_it_and_no_other():
    # Two fields claiming one header would silently move a column; the table must not.
    for field, aliases in rs._ALIASES.items():
        for alias in aliases:
            assert rs.field_of_header(alias) == field, alias


# CSV ---------------------------------------------------------------------------------------

CHINESE_TEXT = st.text(
    alphabet=st.sampled_from("润滑门锁检查曳引机制动器李强王伟张三物业经理正常无隐患"),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(
    order=st.permutations(rs.FIELDS),
    encoding=st.sampled_from(["gbk", "gb18030", "utf-8", "utf-8-sig"]),
    cut=st.integers(min_value=1, max_value=97),
    texts=st.lists(CHINESE_TEXT, min_size=3, max_size=3),
    crlf=st.booleans(),
)
def test_chinese_headers_round_trip_in_any_encoding_and_any_cut(order, encoding, cut, texts, crlf):
    values = {
        "record_id": "维保-0001",
        "code": "31104206002026000001",
        "maintained_on": "2026年12月4日",
        "level": "季度",
        "items": f"{texts[0]}；{texts[1]}",
        "technicians": f"{texts[2]}:T1-4206-0001",
        "findings": texts[0],
        "hazards": "",
        "signed_off_by": texts[1],
    }
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n" if crlf else "\n")
    writer.writerow([rs.HEADERS_ZH[f] for f in order])
    writer.writerow([values[f] for f in order])
    data = out.getvalue().encode(encoding)
    [row] = rs.read_csv(pieces(data, cut), max_rows=10)
    assert row.number == 2 and row.problem is None
    expected = {**values, "maintained_on": date(2026, 12, 4)}
    expected["items"] = expected["items"].replace("；", ";")
    assert row.fields == expected
    record = parse_record(row.fields)
    assert record.items == (texts[0], texts[1]) and record.level.value == "quarterly"


def test_rows_are_numbered_as_the_spreadsheet_shows_them():
    text = (
        "维保记录上传\r\n"  # a title row above the header
        "\r\n"
        + ",".join(ZH)
        + "\r\n"
        + ",".join(GOOD)
        + "\r\n"
        + ",,,,,\r\n"  # an empty row Excel keeps: counted, not a record
        + 'R2,X,2026-12-05,半月,"门锁\r\n两行",李强:T1\r\n'  # one row over two lines
        + "R3,X,2026-02-30,半月,门锁,李强:T1\r\n"
    )
    rows = rs.read_csv([text.encode("gbk")], max_rows=10)
    assert [r.number for r in rows] == [4, 6, 7]
    assert rows[1].fields["items"] == "门锁\r\n两行"
    assert rows[2].problem is not None and rows[2].problem.field == "maintained_on"
    assert "2026-02-30" in rows[2].problem.reason


def test_a_file_without_a_header_is_refused_whole():
    with pytest.raises(InvalidValue, match="no header row"):
        rs.read_csv([b"a,b,c\r\n1,2,3\r\n"], max_rows=10)
    with pytest.raises(InvalidValue, match="no header row"):
        rs.read_csv([b""], max_rows=10)
    assert rs.read_csv([",".join(ZH).encode("gbk")], max_rows=10) == []


def test_a_missing_column_is_left_for_the_record_check_to_name():
    [row] = rs.read_csv([b"record_id,code\r\nR1,X\r\n"], max_rows=10)
    assert row.fields == {"record_id": "R1", "code": "X"} and row.problem is None
    with pytest.raises(InvalidValue) as refused:
        parse_record(row.fields)
    assert refused.value.field == "maintained_on"


def test_side_by_side_columns_of_one_field_take_the_first_filled_in():
    data = csv_bytes([["注册代码", "设备代码", "维保日期"], ["", "EQ-1", "2026/1/2"]])
    [row] = rs.read_csv([data], max_rows=10)
    assert row.fields == {"code": "EQ-1", "maintained_on": date(2026, 1, 2)}


def test_a_code_excel_turned_into_a_number_is_refused_with_why():
    data = csv_bytes([["维保记录编号", "设备注册代码"], ["R1", "3.11042E+19"]])
    [row] = rs.read_csv([data], max_rows=10)
    assert row.problem is not None and row.problem.field == "code"
    assert "Excel" in row.problem.reason


def test_the_row_cap_is_enforced_while_reading():
    pulled = 0

    def body():
        nonlocal pulled
        header = b"record_id,code,maintained_on\n"
        pulled += 1
        yield header
        for i in range(1_000_000):  # far more than is ever read
            pulled += 1
            yield f"R{i},X,2026-01-01\n".encode()

    with pytest.raises(InvalidValue, match="at most 100 rows"):
        rs.read_csv(body(), max_rows=100)
    assert pulled <= 1 + 101 + 1  # the header, the rows, the one past the cap (and a lookahead)


def test_blank_rows_do_not_count_toward_the_cap_but_a_sheet_has_an_end(monkeypatch):
    data = b"record_id\r\n" + b"\r\n" * 50 + b"R1\r\n"
    [row] = rs.read_csv([data], max_rows=1)
    assert row.number == 52
    monkeypatch.setattr(rs, "MAX_SHEET_ROWS", 40)
    with pytest.raises(InvalidValue, match="more than 40 rows"):
        rs.read_csv([data], max_rows=1)


def test_encodings_that_cannot_be_read_are_refused_whole():
    latin = b"record_id,findings\r\nR1," + b"\xff\xfe\xff\r\n"
    with pytest.raises(InvalidValue, match="neither UTF-8 nor GBK"):
        rs.read_csv([latin], max_rows=10)
    # UTF-8 over the first 64 KiB of non-ASCII text, then GBK: named at the row it changes.
    utf8 = ("record_id,findings\r\n" + "R,润滑正常\r\n" * 6000).encode()
    assert len(utf8) > rs.SNIFF_BYTES
    mixed = utf8 + "R9,门锁\r\n".encode("gbk")
    with pytest.raises(InvalidValue, match="changes its encoding at row 6002"):
        rs.read_csv(pieces(mixed, 4096), max_rows=10_000)


def test_a_cell_too_long_for_the_csv_module_names_its_row():
    data = b'record_id,findings\r\nR1,ok\r\nR2,"' + b"x" * 140_000 + b'"\r\n'
    with pytest.raises(InvalidValue, match="row 3 of the CSV file"):
        rs.read_csv([data], max_rows=10)


# XLSX --------------------------------------------------------------------------------------


def test_a_workbook_reads_dates_serials_and_numbers_as_typed():
    data = xlsx_bytes(
        {
            1: ["维保记录上传（示例公司）"],
            3: ZH,
            4: [1001, "31104206002026000001", 46360, "半月", "润滑", "李强:T1"],
            6: ["R2", 31104206, datetime(2026, 12, 4, 9, 30), "季度", "门锁", "李强:T1"],
            7: ["R3", "X", "2026/12/4", "年度", "门锁", "李强:T1"],
            8: ["R4", 3.1104206002026e19, "2026/12/4", "年度", "门锁", "李强:T1"],
            9: ["R5", "X", 12.5, "年度", "门锁", "李强:T1"],
        }
    )
    rows = rs.read_xlsx(data, max_rows=10)
    assert [r.number for r in rows] == [4, 6, 7, 8, 9]
    assert rows[0].fields["record_id"] == "1001"
    assert rows[0].fields["maintained_on"] == date(2026, 12, 4)  # serial 46360
    assert rows[1].fields["code"] == "31104206"
    assert rows[1].fields["maintained_on"] == date(2026, 12, 4)
    assert rows[2].fields["maintained_on"] == date(2026, 12, 4)
    assert rows[3].problem is not None and rows[3].problem.field == "code"
    assert rows[4].fields["maintained_on"] == date(1900, 1, 12)  # a number is a serial
    for row in rows[:3]:
        assert row.problem is None
        parse_record(row.fields)


def test_a_1904_workbook_reads_its_serials_with_its_own_epoch():
    data = xlsx_bytes({1: ["维保日期"], 2: [to_excel(date(2026, 12, 4), CALENDAR_MAC_1904)]},
                      epoch=CALENDAR_MAC_1904)  # fmt: skip
    [row] = rs.read_xlsx(data, max_rows=10)
    assert row.fields["maintained_on"] == date(2026, 12, 4)


def test_the_workbook_row_cap_is_enforced_while_reading():
    data = xlsx_bytes({1: ["record_id"], **{n: [f"R{n}"] for n in range(2, 60)}})
    with pytest.raises(InvalidValue, match="at most 50 rows"):
        rs.read_xlsx(data, max_rows=50)


def test_a_zip_bomb_is_refused_before_it_is_unpacked():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (2 * 2**20))
    with pytest.raises(InvalidValue, match="unpacks to more than 1 MiB"):
        rs.read_xlsx(out.getvalue(), max_rows=10, max_unpacked_bytes=2**20)
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w") as archive:
        for i in range(rs.MAX_ZIP_MEMBERS + 1):
            archive.writestr(f"m{i}", b"")
    with pytest.raises(InvalidValue, match="unpacks to more than"):
        rs.read_xlsx(many.getvalue(), max_rows=10)


def test_a_sheet_claiming_a_million_rows_and_columns_reads_only_what_it_holds():
    # The <dimension> a hostile generator writes: every row 16,384 cells wide.
    data = rewritten(
        xlsx_bytes({1: ["record_id"], 2: ["R1"]}),
        SHEET,
        lambda xml: (
            xml.replace(b'ref="A1:A2"', b'ref="A1:XFD1048576"')
            .replace(b'<row r="2"', b'<row r="1000000"')
            .replace(b'r="A2"', b'r="A1000000"')
        ),
    )
    [row] = rs.read_xlsx(data, max_rows=10)
    assert row.number == 1_000_000 and row.fields == {"record_id": "R1"}
    # Without a <dimension>, nothing but the row numbers bounds the rows openpyxl fills in.
    beyond = rewritten(
        data,
        SHEET,
        lambda xml: re.sub(rb"<dimension[^>]*>", b"", xml.replace(b"1000000", b"99999999")),
    )
    with pytest.raises(InvalidValue, match="more than a worksheet holds"):
        rs.read_xlsx(beyond, max_rows=10)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "Excel 97-2003"),
        (b"PK\x03\x04 not really a zip", "not an XLSX workbook"),
        (b"", "not an XLSX workbook"),
    ],
)
def test_what_is_not_a_workbook_is_refused_with_what_to_do(data: bytes, reason: str):
    with pytest.raises(InvalidValue, match=reason):
        rs.read_xlsx(data, max_rows=10)


def test_a_zip_that_is_no_workbook_is_refused_not_crashed_on():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", b"hi")
    with pytest.raises(InvalidValue, match="cannot be read"):
        rs.read_xlsx(out.getvalue(), max_rows=10)
    broken = rewritten(
        xlsx_bytes({1: ["record_id"], 2: ["R1"]}),
        SHEET,
        lambda xml: xml.replace(b"<sheetData>", b"<sheetData"),
    )
    with pytest.raises(InvalidValue, match="cannot be read"):
        rs.read_sheet(broken, max_rows=10)


# Either, and the template -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("media", "name", "head", "kind"),
    [
        ("text/csv", "a.csv", b"record_id", rs.SheetKind.CSV),
        (None, None, b"record_id", rs.SheetKind.CSV),
        ("application/octet-stream", "维保.xlsx", b"record_id", rs.SheetKind.CSV),
        (rs.XLSX_MEDIA_TYPE, None, b"record_id", rs.SheetKind.CSV),
        (rs.XLSX_MEDIA_TYPE, None, b"", rs.SheetKind.XLSX),  # empty: the label decides
        (None, "维保.XLSX", b"", rs.SheetKind.XLSX),
        ("text/csv", "a.csv", b"", rs.SheetKind.CSV),
        ("text/csv", "a.csv", b"PK\x03\x04\x14\x00", rs.SheetKind.XLSX),  # the bytes decide
        ("text/plain", "a.txt", b"\xd0\xcf\x11\xe0", rs.SheetKind.XLSX),
    ],
)
def test_the_kind_of_file(media, name, head, kind):
    assert rs.sheet_kind(media, name, head) is kind


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_csv_template_is_read_back_with_rows_added(lang):
    template = rs.template(rs.SheetKind.CSV, lang)
    assert template.startswith(b"\xef\xbb\xbf")
    header = template.decode("utf-8-sig").strip().split(",")
    assert header == (ZH if lang == "zh" else list(rs.FIELDS))
    data = template + ",".join(GOOD).encode()
    [row] = rs.read_sheet(data, filename="template.csv", max_rows=10)
    assert row.number == 2 and row.problem is None
    parse_record(row.fields)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_xlsx_template_is_read_back_with_rows_added(lang):
    workbook = load_workbook(io.BytesIO(rs.template(rs.SheetKind.XLSX, lang)))
    sheet = workbook.worksheets[0]
    headers = [c.value for c in sheet[1]]
    assert headers == (ZH if lang == "zh" else list(rs.FIELDS))
    assert sheet.column_dimensions["B"].number_format == "@"  # codes stay text
    assert len(workbook.worksheets) == 2  # the instructions
    sheet.append(["R1", "31104206002026000001", date(2026, 12, 4), "半月", "润滑", "李强:T1"])
    out = io.BytesIO()
    workbook.save(out)
    [row] = rs.read_sheet(out.getvalue(), max_rows=10)
    assert row.number == 2 and row.fields["maintained_on"] == date(2026, 12, 4)
    assert parse_record(row.fields).code == "31104206002026000001"


@pytest.mark.parametrize("media", [rs.XLSX_MEDIA_TYPE, "text/csv", "application/vnd.ms-excel"])
def test_a_streamed_body_is_read_as_what_its_bytes_are(media):
    workbook = xlsx_bytes({1: ZH, 2: GOOD})
    comma = rs.template(rs.SheetKind.CSV) + ",".join(GOOD).encode()
    for data in (workbook, comma):
        [row] = rs.read_stream(pieces(data, 3), media_type=media, max_rows=10)
        assert row.number == 2 and row.problem is None, data[:4]
        assert row.fields["maintained_on"] == date(2026, 12, 4)
