"""The clean-up list's page (/ui/cleanup), on SQLite and PostgreSQL: scoped as its API is
(an inspection body's inspector sees its own body's kept reports, the registration
office every one), in Chinese by default, with the states as tabs."""

from __future__ import annotations

from html import unescape

import pytest

from equipment.domain.access import Principal, Role
from equipment.domain.report_sheets import ReportRow
from equipment.services import clock, inspection_feed
from tests import factories as f

pytestmark = pytest.mark.integration


def _report(report_no: str, code: str) -> ReportRow:
    today = clock.today()
    return ReportRow(
        1,
        {
            "report_no": report_no,
            "code": code,
            "kind": "定期检验",
            "inspected_on": today.isoformat(),
            "conclusion": "合格",
        },
    )


async def test_each_body_sees_its_own_kept_reports_and_the_office_all(staff) -> None:
    body_a = (await f.organisation("inspection_body"))["id"]
    body_b = (await f.organisation("inspection_body"))["id"]
    for body, report_no, code in (
        (body_a, "JY-A1", "31104206062099010001"),
        (body_b, "JY-B1", "31104206062099010002"),
    ):
        result = await inspection_feed.upload(
            Principal(Role.INSPECTOR, organisation_id=body),
            [_report(report_no, code)],
            today=clock.today(),
            now=clock.now(),
        )
        assert [kept[1] for kept in result.cleanup] == [report_no]

    inspector_a = await staff(Role.INSPECTOR, body_a)
    answer = await inspector_a.http.get("/ui/cleanup")
    assert answer.status_code == 200, answer.text
    text = unescape(answer.text)
    assert "数据清理清单" in text and "设备不在登记库中" in text and "定期检验" in text
    assert "JY-A1" in text and "31104206062099010001" in text
    assert "JY-B1" not in text  # another body's upload

    admin = await staff(Role.ADMIN)
    every = unescape((await admin.http.get("/ui/cleanup")).text)
    assert "JY-A1" in every and "JY-B1" in every
    # The home links the page; the other tabs hold nothing yet.
    assert 'href="/ui/cleanup"' in (await admin.http.get("/ui")).text
    dismissed = unescape((await admin.http.get("/ui/cleanup?state=dismissed")).text)
    assert "JY-A1" not in dismissed and "此清单为空。" in dismissed
    english = unescape((await admin.http.get("/ui/cleanup?lang=en")).text)
    assert "Data clean-up list" in english and "Periodic inspection" in english
