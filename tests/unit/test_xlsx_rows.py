"""The due list's Excel file is openpyxl's, byte for byte, though its rows are written
as text (equipment/api/xlsx_rows.py): the sheet for any rows (text of any characters,
with the formula guard and XML's illegal characters dropped, dates, empty cells), and
every other part of the package."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from bench.xlsx_rows import DATE_FORMAT, openpyxl_book
from equipment.api import exports
from equipment.api.xlsx_rows import SHEET_PART, SheetWriter


def parts(book: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(book)) as package:
        # core.xml holds the moment each was made
        return {n: package.read(n) for n in package.namelist() if n != "docProps/core.xml"}


TEXT = st.lists(
    st.sampled_from(
        [*"aZ09 \t\n\r&<>\"'=+-@;,.", "\x00", "\x01", "\x0b", "樊城区", "电梯", "\u3000"]
    ),
    max_size=12,
).map("".join)
VALUE = st.one_of(st.none(), TEXT, st.dates(date(1900, 3, 1), date(2100, 12, 31)))


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.fixed_dictionaries({c.key: VALUE for c in exports.COLUMNS}),
        min_size=1,
        max_size=6,
    ),
    lang=st.sampled_from(["zh", "en"]),
)
def test_the_due_list_workbook_is_openpyxls(
    rows: list[Mapping[str, Any]], lang: exports.Lang
) -> None:
    # At least one date: openpyxl registers the date style at its first date.
    rows = [{**rows[0], "due_on": date(2026, 12, 7)}, *rows[1:]]
    export = exports.XlsxExport(lang)
    for row in rows:
        export.add(row)
    ours = export.finish()
    cells = [[exports._cell(r, c, lang, xml=True) for c in exports.COLUMNS] for r in rows]
    title = "应检设备" if lang == "zh" else "Due"
    theirs = openpyxl_book(title, exports.COLUMNS, lang, cells)
    assert parts(ours)[SHEET_PART] == parts(theirs)[SHEET_PART]
    assert parts(ours) == parts(theirs)


def test_numbers_and_empty_text_are_written_as_openpyxl_writes_them() -> None:
    columns = tuple(exports.Column(f"c{i}", f"C{i}", f"列{i}", 10) for i in range(5))
    values = [date(2026, 1, 2), 7, -3.25, "", 2**40 + 0.5]
    writer = SheetWriter("表", [c.header("zh") for c in columns], [10] * 5, DATE_FORMAT)
    writer.add(values)
    ours = writer.finish()
    assert parts(ours) == parts(openpyxl_book("表", columns, "zh", [values]))
    sheet = load_workbook(io.BytesIO(ours)).active
    assert [c.value for c in sheet[2]] == [datetime(2026, 1, 2), 7, -3.25, None, 2**40 + 0.5]
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold
    assert sheet["A2"].number_format == DATE_FORMAT


def test_booleans_are_excel_booleans() -> None:
    writer = SheetWriter("表", ["是", "否"], [10, 10], DATE_FORMAT)
    writer.add([True, False])
    sheet = load_workbook(io.BytesIO(writer.finish())).active
    assert [c.value for c in sheet[2]] == [True, False]


def test_a_datetime_is_written_as_its_serial_in_the_date_style() -> None:
    # (openpyxl itself adds a datetime format it then replaces: no byte comparison.)
    writer = SheetWriter("表", ["时间"], [10], DATE_FORMAT)
    writer.add([datetime(2026, 1, 2, 6, 30)])
    sheet = load_workbook(io.BytesIO(writer.finish())).active
    assert sheet["A2"].value == datetime(2026, 1, 2, 6, 30)
    assert sheet["A2"].number_format == DATE_FORMAT


def test_an_export_given_up_leaves_nothing_open() -> None:
    export = exports.XlsxExport()
    export.add({"code": "X1", "due_on": date(2026, 12, 7)})
    export.close()  # a cancelled download: no error now, none when collected
    assert exports.XlsxExport().finish().startswith(b"PK")  # no rows: the header alone


def test_text_is_cut_as_openpyxl_cuts_it_and_illegal_characters_are_refused() -> None:
    columns = (exports.Column("c", "C", "列", 10),)
    writer = SheetWriter("表", ["列"], [10], DATE_FORMAT)
    writer.add(["x" * 40000])
    theirs = openpyxl_book("表", columns, "zh", [["x" * 40000]])
    # The sheet only: without a date openpyxl's styles lack the date style ours always has.
    assert parts(writer.finish())[SHEET_PART] == parts(theirs)[SHEET_PART]
    with pytest.raises(ValueError, match="cannot"):
        SheetWriter("表", ["列"], [10], DATE_FORMAT).add(["a\x01b"])


def test_the_zip_entries_are_openpyxls_in_order_flags_and_permissions() -> None:
    """Not zip64, as openpyxl writes a sheet this size: a zip64 local header beside a
    plain central directory is what some Excel builds refuse."""
    rows = [{"code": f"X{i}", "due_on": date(2026, 12, 7), "address": "樊城区"} for i in range(300)]
    export = exports.XlsxExport()
    for row in rows:
        export.add(row)
    cells = [[exports._cell(r, c, "zh", xml=True) for c in exports.COLUMNS] for r in rows]
    theirs = openpyxl_book("应检设备", exports.COLUMNS, "zh", cells)

    def entries(book: bytes) -> list[tuple[Any, ...]]:
        with zipfile.ZipFile(io.BytesIO(book)) as package:
            return [
                (i.filename, i.compress_type, i.create_system, i.create_version,
                 i.extract_version, i.flag_bits, i.external_attr, i.extra)
                for i in package.infolist()
            ]  # fmt: skip

    assert entries(export.finish()) == entries(theirs)


def test_text_stays_text_and_non_finite_numbers_are_empty() -> None:
    writer = SheetWriter("表", ["a", "b", "c", "d"], [10] * 4, DATE_FORMAT)
    writer.add(["#N/A", "=1+1", float("nan"), float("inf")])
    xml = parts(writer.finish())[SHEET_PART]
    assert b'<c r="A2" t="inlineStr"><is><t>#N/A</t></is></c>' in xml
    assert b'<c r="B2" t="inlineStr"><is><t>=1+1</t></is></c>' in xml
    assert b'<c r="C2" t="n"><v /></c><c r="D2" t="n"><v /></c>' in xml


def test_a_row_refused_leaves_no_gap_in_the_numbering() -> None:
    writer = SheetWriter("表", ["a"], [10], DATE_FORMAT)
    with pytest.raises(TypeError):
        writer.add([object()])
    writer.add(["x"])
    assert b'<row r="2">' in parts(writer.finish())[SHEET_PART]
