"""Reading exports: encoding detection (never a silent guess) and the row-number contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from equipment.domain.imports.encoding import AmbiguousEncoding, detect_encoding, is_plausible
from equipment.services.import_files import FileProblem, open_table

TEXT = "设备注册代码,使用单位名称\n31104206062018050001,襄阳汉江物业服务有限公司\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("gbk"), "gb18030"),
        (TEXT.encode("gb18030"), "gb18030"),
        (b"code,name\n1,a\n", "utf-8"),
    ],
)
def test_encodings_the_bytes_decide(data: bytes, expected: str) -> None:
    assert detect_encoding(data, complete=True).encoding == expected


def test_a_sample_cut_inside_a_character_is_not_an_error() -> None:
    data = TEXT.encode("utf-8")
    cut = data[: data.index("襄".encode()) + 1]
    assert detect_encoding(cut, complete=False).encoding == "utf-8"
    with pytest.raises(AmbiguousEncoding):
        detect_encoding(cut, complete=True)


def test_bytes_both_encodings_read_as_chinese_are_refused_with_the_reason() -> None:
    # GBK 联通 is C1AA CDA8: valid UTF-8 too, but as UTF-8 it reads as Cyrillic and a
    # combining mark, which no register holds: decided. The bytes of 中文 in GBK are not
    # UTF-8. A sequence that is plausible both ways must be refused.
    assert detect_encoding("联通".encode("gbk"), complete=True).encoding == "gb18030"
    both = "鍖椾含".encode("gb18030")  # "北京" in UTF-8 read as GBK: both decode to CJK
    assert "北京".encode() == both
    with pytest.raises(AmbiguousEncoding, match="name the encoding"):
        detect_encoding(both, complete=True)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("café,naïve\n".encode("latin-1"), "neither UTF-8 nor GBK"),
        (b"\xff\xfe" + "设备".encode("utf-16-le"), "UTF-16"),
    ],
)
def test_other_encodings_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(AmbiguousEncoding, match=reason):
        detect_encoding(data, complete=True)


def test_plausible_text() -> None:
    assert is_plausible("襄阳（樊城）·一号楼—Ⅱ类 φ200")
    assert not is_plausible("Ѫͨ")


def _write(tmp_path: Path, text: str, encoding: str) -> Path:
    path = tmp_path / "export.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_rows_carry_the_numbers_the_spreadsheet_shows(tmp_path: Path) -> None:
    text = 'a,b\n1,x\n,\n\n2,y\n"3\nstill 3",z\n4,w\n'
    with open_table(_write(tmp_path, text, "utf-8"), encoding=None) as table:
        assert table.headers == ["a", "b"]
        rows = list(table.rows)
    # Blank rows are skipped but keep their numbers; a quoted line break is one row.
    assert [(n, cells[0]) for n, cells in rows] == [(2, "1"), (5, "2"), (6, "3\nstill 3"), (7, "4")]


def test_xlsx_rows_carry_the_sheet_row_numbers(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["设备注册代码", "经度"])
    sheet.append(["A", 112.1])
    sheet.append([None, None])
    sheet.append(["B", None])
    path = tmp_path / "export.xlsx"
    book.save(path)
    with open_table(path) as table:
        assert table.kind == "xlsx"
        assert [(n, c[0]) for n, c in table.rows] == [(2, "A"), (4, "B")]


def test_a_named_encoding_that_does_not_fit_names_the_row(tmp_path: Path) -> None:
    text = "a,b\n" + "1,x\n" * 3 + "2,襄阳\n"
    path = _write(tmp_path, text, "gbk")
    with (
        open_table(path, encoding="utf-8") as table,
        pytest.raises(FileProblem, match="line 5 is not utf-8"),
    ):
        list(table.rows)


def test_an_ambiguous_file_is_refused_before_any_row(tmp_path: Path) -> None:
    ambiguous = _write(tmp_path, "代码\n北京\n", "utf-8")
    with pytest.raises(FileProblem, match="name the encoding"), open_table(ambiguous):
        pass
    with open_table(_write(tmp_path, "代码\n北京\n", "utf-8"), encoding="utf-8") as table:
        assert [c for _, c in table.rows] == [["北京"]]


def test_garbage_is_a_file_problem(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(FileProblem, match="XLSX"), open_table(path):
        pass
