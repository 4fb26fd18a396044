"""The one spreadsheet reader (equipment.domain.sheet_files): the maintenance upload and
the register import number the same file's rows alike, whatever the chunks' cuts."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from equipment.domain import record_sheets as rs
from equipment.domain.sheet_files import DecodedText, csv_reader, header_text, lines
from equipment.services.import_files import open_table

# The header is row 1; a blank row keeps its number; a quoted line break is one row (as
# Excel counts it); GBK text.
CSV = (
    "维保记录编号,设备注册代码,维保日期,维保类别\r\n"
    "R1,31104206062016050001,2026-12-01,半月\r\n"
    ",,,\r\n"
    '"R2\r\n续",31104206062016050002,2026-12-02,季度\r\n'
    "R3,31104206062016050003,2026年12月3日,半年\r\n"
)


def _cut(data: bytes, step: int) -> list[bytes]:
    return [data[i : i + step] for i in range(0, len(data), step)]


@pytest.mark.parametrize("step", [1, 3, 7, 4096])
def test_both_readers_number_the_rows_alike(tmp_path: Path, step: int) -> None:
    data = CSV.encode("gbk")
    maintenance = rs.read_csv(_cut(data, step), max_rows=10)
    path = tmp_path / "records.csv"
    path.write_bytes(data)
    with open_table(path) as table:
        imported = list(table.rows)
        assert table.encoding == "gb18030"
    assert [r.number for r in maintenance] == [n for n, _ in imported] == [2, 4, 5]
    assert [r.fields["record_id"] for r in maintenance] == [c[0] for _, c in imported]


def test_a_named_codec_is_used_and_a_chosen_one_is_told() -> None:
    text = "代码\n北京\n"
    named = DecodedText(_cut(text.encode("gbk"), 2), "gb18030")
    assert "".join(named) == text
    chosen = DecodedText([text.encode("utf-8")])
    assert "".join(chosen) == text
    assert chosen.encoding == "utf-8-sig"


def test_bytes_that_do_not_decode_raise_after_the_lines_before_them() -> None:
    data = b"a\n1\n" + "襄阳\n".encode("gbk")
    _, reader = csv_reader([data], "utf-8")
    assert next(reader) == ["a"]
    assert next(reader) == ["1"]
    with pytest.raises(UnicodeDecodeError):
        next(reader)
    assert reader.line_num == 2  # the caller names line 3


def test_lines_keep_their_ends_across_any_cut() -> None:
    text = "a\r\nb\rc\n\nd"
    for step in (1, 2, 3):
        assert list(lines(text[i : i + step] for i in range(0, len(text), step))) == [
            "a\r\n",
            "b\r",
            "c\n",
            "\n",
            "d",
        ]


def test_xlsx_rows_and_headers(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["\ufeff 设备注册代码 ", "经度"])
    sheet.append(["A", 112.1])
    path = tmp_path / "x.xlsx"
    book.save(path)
    with open_table(path) as table:
        assert table.headers[1] == "经度"
        assert header_text(table.headers[0]) == "设备注册代码"
        assert [(n, c[0]) for n, c in table.rows] == [(2, "A")]
