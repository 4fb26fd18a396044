"""The inspection bodies' feed (归集检验数据, issue 23): reports uploaded in bulk as a JSON
array, a CSV (GBK, Chinese headers) or an XLSX workbook; report numbers keep it
idempotent, unknown units go to the clean-up list, every rejected row says why, and the
units' due dates move."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date, timedelta

import pytest
from openpyxl import Workbook

from equipment.domain.access import SYSTEM, Jurisdiction, Role
from equipment.domain.record_sheets import XLSX_MEDIA_TYPE
from equipment.services import clock, tokens
from equipment.storage.tables import AuditEntry
from tests import factories as f

pytestmark = pytest.mark.integration
ACCEPT_LANGUAGE = "en"


@pytest.fixture
async def ctx(engine):
    owner = (await f.organisation("user_unit"))["id"]
    body = (await f.organisation("inspection_body"))["id"]
    return {
        "units": [await f.unit(owner) for _ in range(4)],
        "admin": await f.token(Role.ADMIN),
        "inspector": await f.token(Role.INSPECTOR, body),
        "body": body,
    }


async def due_of(client, ctx, unit: dict) -> date:
    read = await client.get(f"/api/v1/equipment/{unit['id']}", headers=ctx["admin"])
    return date.fromisoformat(read.json()["next_inspection_due"])


def report(unit_code: str, number: str, **extra) -> dict:
    return {
        "report_no": number,
        "code": unit_code,
        "kind": "定期检验",
        "inspected_on": str(f.today()),
        "conclusion": "合格",
        **extra,
    }


async def upload(client, ctx, content: bytes | list, media: str | None = None) -> dict:
    if isinstance(content, list):
        response = await client.post(
            "/api/v1/inspections/reports", json=content, headers=ctx["inspector"]
        )
    else:
        response = await client.post(
            "/api/v1/inspections/reports",
            content=content,
            headers={**ctx["inspector"], "Content-Type": media or "text/csv"},
        )
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_json_upload_files_keeps_and_rejects_row_by_row_and_again_changes_nothing(
    client, ctx
):
    lift, _, _, _ = ctx["units"]
    before = await due_of(client, ctx, lift)
    assert before <= f.today()  # never inspected: overdue
    unknown = f.registration_code()
    rows = [
        report(lift["code"], "JY-1"),
        report(unknown, "JY-2"),
        report(lift["code"], "JY-3", conclusion="还行"),
        report(lift["code"], "JY-4", inspected_on=str(f.today() + timedelta(days=3))),
        report(lift["code"], "JY-1"),
        report(lift["code"], "", conclusion="合格"),
        report(lift["code"], "JY-5", kind="大修"),
    ]
    result = await upload(client, ctx, rows)
    assert (result["received"], result["stored"], result["unchanged"]) == (7, 1, 0)
    assert result["units_touched"] == [lift["id"]]
    assert [(k["row"], k["report_no"], k["code"]) for k in result["cleanup"]] == [
        (2, "JY-2", unknown)
    ]
    assert [(r["row"], r["field"]) for r in result["rejected"]] == [
        (3, "conclusion"),
        (4, "inspected_on"),
        (5, "report_no"),
        (6, "report_no"),
        (7, "kind"),
    ]
    assert "in the future" in result["rejected"][1]["reason"]
    assert "repeated in this upload" in result["rejected"][2]["reason"]
    after = await due_of(client, ctx, lift)
    assert after > f.today()  # the periodic inspection moved the due date

    again = await upload(client, ctx, rows)
    assert (again["stored"], again["unchanged"]) == (0, 1)
    assert again["cleanup"][0]["cleanup_id"] == result["cleanup"][0]["cleanup_id"]
    assert len(again["rejected"]) == 5
    assert await due_of(client, ctx, lift) == after
    listed = await client.get("/api/v1/inspections/cleanup", headers=ctx["inspector"])
    assert [(e["report_no"], e["unit_code"], e["reason"]) for e in listed.json()] == [
        ("JY-2", unknown, "unit_not_found")
    ]


async def test_csv_in_gbk_and_xlsx_uploads_name_the_rows_the_sheet_shows(client, ctx):
    _, second, third, _ = ctx["units"]
    text = io.StringIO()
    sheet = csv.writer(text)
    sheet.writerow(["报告编号", "设备注册代码", "检验类别", "检验日期", "检验结论", "下次检验日期"])
    sheet.writerow(["JY-C1", second["code"], "定期检验", f"{f.today():%Y/%m/%d}", "合格", ""])
    sheet.writerow(["JY-C2", second["code"], "定期检验", "2026年13月1日", "合格", ""])
    result = await upload(client, ctx, text.getvalue().encode("gb18030"))
    assert (result["stored"], len(result["rejected"])) == (1, 1)
    [rejected] = result["rejected"]
    assert (rejected["row"], rejected["field"]) == (3, "inspected_on")
    assert await due_of(client, ctx, second) > f.today()

    book = Workbook()
    ws = book.active
    ws.append(["report_no", "code", "kind", "inspected_on", "conclusion"])
    ws.append(["JY-X1", third["code"], "periodic", f.today(), "pass"])
    ws.append([])
    ws.append(["JY-X2", third["code"], "periodic", f.today(), "pass", "extra"])
    ws.append(["JY-X3", "", "periodic", f.today(), "pass"])
    data = io.BytesIO()
    book.save(data)
    result = await upload(client, ctx, data.getvalue(), XLSX_MEDIA_TYPE)
    assert result["stored"] == 2  # one report a unit a day is the body's business
    assert [(r["row"], r["field"]) for r in result["rejected"]] == [(5, "code")]
    assert await due_of(client, ctx, third) > f.today()

    broken = await client.post(
        "/api/v1/inspections/reports",
        content=b"PK\x03\x04 not a workbook",
        headers={**ctx["inspector"], "Content-Type": XLSX_MEDIA_TYPE},
    )
    assert broken.status_code == 422 and "not an XLSX workbook" in broken.text


async def kept_entry(client, ctx, number: str) -> int:
    result = await upload(client, ctx, [report("31103506002016059999", number)])
    [kept] = result["cleanup"]
    return kept["cleanup_id"]


async def test_a_kept_report_matched_by_code_is_filed_and_the_due_date_moves(client, ctx):
    *_, fourth = ctx["units"]
    before = await due_of(client, ctx, fourth)
    entry = await kept_entry(client, ctx, "JY-K1")
    url = f"/api/v1/inspections/cleanup/{entry}"
    unknown = await client.post(f"{url}/match", json={"code": "NO-SUCH"}, headers=ctx["admin"])
    assert unknown.status_code == 404 and "NO-SUCH" in unknown.text
    blank = await client.post(f"{url}/match", json={"code": ""}, headers=ctx["admin"])
    assert blank.status_code == 400, blank.text
    in_chinese = await client.post(
        f"{url}/match", json={"code": "   "}, headers={**ctx["admin"], "Accept-Language": "zh-CN"}
    )
    assert in_chinese.status_code == 422 and "设备代码" in in_chinese.json()["detail"]
    matched = await client.post(
        f"{url}/match", json={"code": fourth["equipment_code"]}, headers=ctx["inspector"]
    )
    assert matched.status_code == 200, matched.text
    answer = matched.json()
    assert (answer["state"], answer["equipment_id"]) == ("resolved", fourth["id"])
    assert answer["resolved_at"] and answer["resolved_by"].startswith("token:")
    assert await due_of(client, ctx, fourth) > max(before, f.today())
    filed = await client.get(f"/api/v1/equipment/{fourth['id']}/inspections", headers=ctx["admin"])
    [inspection] = filed.json()
    assert inspection["report_no"] == "JY-K1"
    assert inspection["inspection_body_id"] == ctx["body"]
    twice = await client.post(f"{url}/dismiss", json={"reason": "重复"}, headers=ctx["admin"])
    assert twice.status_code == 409
    assert (await client.get("/api/v1/inspections/cleanup", headers=ctx["admin"])).json() == []
    listed = await client.get("/api/v1/inspections/cleanup?state=resolved", headers=ctx["admin"])
    assert [e["id"] for e in listed.json()] == [entry]
    # Sent again now that it is filed: nothing changes, nothing is kept again.
    again = await upload(client, ctx, [report("31103506002016059999", "JY-K1")])
    assert (again["unchanged"], again["cleanup"]) == (1, [])


async def test_of_two_concurrent_closes_one_wins_and_the_other_gets_409(client, ctx):
    first, *_ = ctx["units"]
    entry = await kept_entry(client, ctx, "JY-K2")
    url = f"/api/v1/inspections/cleanup/{entry}"
    answers = await asyncio.gather(
        client.post(
            f"{url}/match", json={"code": first["registration_code"]}, headers=ctx["admin"]
        ),
        client.post(f"{url}/dismiss", json={"reason": "不是本市设备"}, headers=ctx["admin"]),
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    won = next(a for a in answers if a.status_code == 200).json()
    filed = await client.get(f"/api/v1/equipment/{first['id']}/inspections", headers=ctx["admin"])
    # Filed exactly when the match won; never both.
    assert len(filed.json()) == (1 if won["state"] == "resolved" else 0)


async def test_a_dismissal_needs_its_reason_and_shows_it(client, ctx):
    entry = await kept_entry(client, ctx, "JY-K3")
    url = f"/api/v1/inspections/cleanup/{entry}/dismiss"
    missing = await client.post(url, json={}, headers=ctx["inspector"])
    assert missing.status_code == 400 and "reason" in missing.text
    blank = await client.post(url, json={"reason": "  "}, headers=ctx["inspector"])
    assert blank.status_code == 422 and "dismissed" in blank.text
    done = await client.post(url, json={"reason": "重复上传"}, headers=ctx["inspector"])
    assert done.status_code == 200, done.text
    assert (done.json()["state"], done.json()["note"]) == ("dismissed", "重复上传")
    [trail] = (
        await AuditEntry.select(AuditEntry.action, AuditEntry.after)
        .where((AuditEntry.entity == "inspection_cleanup") & (AuditEntry.entity_id == entry))
        .output(load_json=True)
    )
    assert trail["action"] == "dismissed" and trail["after"]["reason"] == "重复上传"


async def test_an_entry_or_unit_outside_the_callers_scope_is_not_found(client, ctx):
    first, *_ = ctx["units"]
    elsewhere = await f.unit(first["user_unit"], district_code="420602")
    entry = await kept_entry(client, ctx, "JY-K4")
    url = f"/api/v1/inspections/cleanup/{entry}"
    other_body = await f.token(Role.INSPECTOR, (await f.organisation("inspection_body"))["id"])
    for action, body in (("match", {"code": first["code"]}), ("dismiss", {"reason": "x"})):
        hidden = await client.post(f"{url}/{action}", json=body, headers=other_body)
        assert hidden.status_code == 404, hidden.text
    owner = await f.token(Role.USER_UNIT, first["user_unit"])
    refused = await client.post(f"{url}/dismiss", json={"reason": "x"}, headers=owner)
    assert refused.status_code == 403
    secret, _ = await tokens.create_token(
        SYSTEM,
        role=Role.INSPECTOR,
        organisation_id=ctx["body"],
        label="bound",
        now=clock.now(),
        jurisdiction=Jurisdiction.parse("420606"),
    )
    bound = {"Authorization": f"Bearer {secret}"}
    outside = await client.post(
        f"{url}/match", json={"code": elsewhere["registration_code"]}, headers=bound
    )
    assert outside.status_code == 404, outside.text
    assert (
        await client.get(f"/api/v1/equipment/{elsewhere['id']}/inspections", headers=ctx["admin"])
    ).json() == []
    inside = await client.post(f"{url}/match", json={"code": first["code"]}, headers=bound)
    assert inside.status_code == 200, inside.text
