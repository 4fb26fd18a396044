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


async def test_the_forms_file_an_entry_under_a_unit_or_dismiss_it(staff) -> None:
    body = (await f.organisation("inspection_body"))["id"]
    owner = (await f.organisation("user_unit"))["id"]
    unit = await f.unit(owner)
    elsewhere = await f.unit(owner, district_code="420602")
    result = await inspection_feed.upload(
        Principal(Role.INSPECTOR, organisation_id=body),
        [_report("JY-P1", "31104206062099010011"), _report("JY-P2", "31104206062099010012")],
        today=clock.today(),
        now=clock.now(),
    )
    first, second = (kept[3] for kept in result.cleanup)
    inspector = await staff(Role.INSPECTOR, body, "420606")
    listed = unescape((await inspector.http.get("/ui/cleanup")).text)
    assert f'action="/ui/cleanup/{first}/match"' in listed and "归入该设备" in listed

    # No token: refused, nothing filed.
    no_token = await inspector.http.post(
        f"/ui/cleanup/{first}/match", data={"code": unit["equipment_code"]}
    )
    assert no_token.status_code == 403
    # A code no unit has, then one outside the inspector's jurisdiction: the same field
    # error next to the field, in Chinese, the code kept in the input.
    for code in ("NO-SUCH-UNIT", elsewhere["registration_code"]):
        bad = await inspector.post(f"/ui/cleanup/{first}/match", {"code": code})
        assert bad.status_code == 422, bad.text
        text = unescape(bad.text)
        assert f'id="e-{first}-code"' in text and "登记库中没有代码为" in text
        assert f'value="{code}"' in text
    # A dismissal needs its reason.
    blank = await inspector.post(f"/ui/cleanup/{second}/dismiss", {"reason": " "})
    assert blank.status_code == 422
    assert f'id="e-{second}-reason"' in blank.text and "请说明作废该报告的原因" in blank.text

    matched = await inspector.post(f"/ui/cleanup/{first}/match", {"code": unit["equipment_code"]})
    assert matched.status_code == 303
    shown = unescape((await inspector.http.get(matched.headers["location"])).text)
    assert "报告 JY-P1 已归入其设备" in shown
    assert f'id="cleanup-{first}"' not in shown  # no longer open
    filed = unescape((await inspector.http.get("/ui/cleanup?state=resolved")).text)
    assert "JY-P1" in filed and f'href="/ui/units/{unit["id"]}"' in filed

    dismissed = await inspector.post(f"/ui/cleanup/{second}/dismiss", {"reason": "重复上传"})
    assert dismissed.status_code == 303
    assert "报告 JY-P2 已作废" in unescape(
        (await inspector.http.get(dismissed.headers["location"])).text
    )
    closed = unescape((await inspector.http.get("/ui/cleanup?state=dismissed")).text)
    assert "JY-P2" in closed and "作废原因：重复上传" in closed
    # Closed already: said above the list, 409.
    again = await inspector.post(f"/ui/cleanup/{second}/dismiss", {"reason": "再次"})
    assert again.status_code == 409 and "不再待处理" in unescape(again.text)
