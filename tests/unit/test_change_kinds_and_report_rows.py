"""Pure rules of issue 23's data in and out: the changes feed's kinds and cursors, and
the checks of an inspection body's report row."""

from __future__ import annotations

from datetime import date

import pytest

from equipment.domain import report_sheets
from equipment.domain.changes import (
    ChangeKind,
    format_cursor,
    kind_of,
    parse_cursor,
    parse_kinds,
)
from equipment.domain.errors import InvalidValue

TODAY = date(2026, 12, 6)


@pytest.mark.parametrize(
    ("entity", "action", "kind"),
    [
        ("equipment", "create", ChangeKind.REGISTER),
        ("equipment", "update", ChangeKind.REGISTER),
        ("equipment", "import", ChangeKind.REGISTER),
        ("equipment", "inspection", ChangeKind.INSPECTION),
        ("equipment", "register", ChangeKind.STATUS),
        ("equipment", "suspend", ChangeKind.STATUS),
        ("equipment", "change_maintainer", ChangeKind.STATUS),
        ("hazard", "list", ChangeKind.HAZARD),
        ("hazard", "verify", ChangeKind.HAZARD),
    ],
)
def test_each_audit_entry_has_its_kind(entity, action, kind):
    assert kind_of(entity, action) is kind


@pytest.mark.parametrize(("txid", "entry"), [(0, 0), (0, 17), (812345, 9), (2**63 - 1, 2**63 - 1)])
def test_a_cursor_reads_back_as_given(txid, entry):
    assert parse_cursor(format_cursor(txid, entry)) == (txid, entry)


@pytest.mark.parametrize("bad", ["x", "1", "1-", "-1", "1-2-3", " 1-2", "9223372036854775808-1"])
def test_a_cursor_not_given_out_is_refused(bad):
    with pytest.raises(InvalidValue):
        parse_cursor(bad)


def test_kinds_are_named_or_refused():
    assert parse_kinds("") == frozenset()
    assert parse_kinds("status, inspection") == {ChangeKind.STATUS, ChangeKind.INSPECTION}
    with pytest.raises(InvalidValue, match="alarm"):
        parse_kinds("register,alarm")


GOOD = {
    "report_no": "JY-1",
    "code": "31104206062024010001",
    "kind": "定期检验",
    "inspected_on": "2026/12/4",
    "conclusion": "合格",
}


def test_a_good_row_reads_in_the_stored_codes():
    report = report_sheets.check_report(
        {**GOOD, "next_due_stated": "2027年12月4日", "safety_grade": 2.0}, today=TODAY
    )
    assert (report.kind, report.conclusion, report.inspected_on) == (
        "periodic",
        "pass",
        date(2026, 12, 4),
    )
    assert (report.next_due_stated, report.safety_grade) == (date(2027, 12, 4), 2)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"report_no": ""}, "report_no"),
        ({"report_no": "x" * 65}, "report_no"),
        ({"code": " "}, "code"),
        ({"kind": "大修"}, "kind"),
        ({"inspected_on": ""}, "inspected_on"),
        ({"inspected_on": "2026-02-30"}, "inspected_on"),
        ({"inspected_on": "2026-12-07"}, "inspected_on"),
        ({"conclusion": "还行"}, "conclusion"),
        ({"next_due_stated": "2026-12-04"}, "next_due_stated"),
        ({"safety_grade": "6"}, "safety_grade"),
        ({"safety_grade": "A"}, "safety_grade"),
    ],
)
def test_each_bad_field_is_named(change, field):
    with pytest.raises(InvalidValue) as caught:
        report_sheets.check_report({**GOOD, **change}, today=TODAY)
    assert caught.value.field == field


def test_a_csv_in_gbk_reads_its_rows_by_the_numbers_the_sheet_shows():
    text = "报告编号,设备注册代码,检验日期,检验结论\r\n\r\nJY-1,3110,2026/12/4,合格\r\n"
    rows = report_sheets.read_csv(text.encode("gb18030"))
    assert [(r.number, r.fields["report_no"]) for r in rows] == [(3, "JY-1")]
    with pytest.raises(InvalidValue, match="names no column"):
        report_sheets.read_csv(b"a,b\r\n1,2\r\n")
