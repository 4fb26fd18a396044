"""The public side against the app on both engines: the safety state on /p/{code} and in
the JSON lookup, the 404 page, QR codes, the label sheet, and citizen reports."""

from __future__ import annotations

import re
from datetime import date, timedelta

import httpx
import pytest
import segno

from equipment.api import public_controllers
from equipment.domain.access import Role
from equipment.domain.rules.dates import add_months
from equipment.services import citizen_reports
from equipment.settings import PublicSettings
from tests import factories as f
from tests.conftest import app_client
from tests.ingest_support import cylinder

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)


@pytest.fixture
async def ctx(engine):
    citizen_reports.forget_cached_key()
    owner = await f.organisation("user_unit", name="襄阳汉江物业服务有限公司")
    company = await f.organisation("maintenance_company", name="汉江电梯工程有限公司")
    station = await f.organisation("filling_station", name="襄阳隆中液化气充装站")
    body = await f.organisation("inspection_body")
    return {
        "owner": owner["id"],
        "company": company["id"],
        "station": station,
        "admin": await f.token(Role.ADMIN),
        "inspector": await f.token(Role.INSPECTOR, body["id"]),
        "owner_token": await f.token(Role.USER_UNIT, owner["id"]),
        "company_token": await f.token(Role.MAINTENANCE, company["id"]),
    }


async def lift(ctx, installed: date) -> dict:
    unit = await f.unit(
        ctx["owner"],
        maintenance_company_id=ctx["company"],
        manufacture_date=str(installed - 200 * DAY),
        commissioning_date=str(installed),
        registered_on=str(installed),
    )
    return unit


async def inspect(client, ctx, unit_id: int, **body) -> None:
    body.setdefault("report_no", "XY-2026-001")
    body = {k: str(v) if isinstance(v, date) else v for k, v in body.items()}
    response = await client.post(
        f"/api/v1/equipment/{unit_id}/inspections", json=body, headers=ctx["inspector"]
    )
    assert response.status_code == 201, response.text


async def act(client, ctx, unit_id: int, action: str, body: dict) -> None:
    response = await client.post(
        f"/api/v1/equipment/{unit_id}/{action}", json=body, headers=ctx["admin"]
    )
    assert response.status_code == 200, response.text


async def state_of(client, code: str) -> tuple[dict, str]:
    """The JSON lookup and the page of one unit, which must agree on the state."""
    answer = await client.get(f"/api/v1/public/equipment/{code}")
    assert answer.status_code == 200, answer.text
    page = await client.get(f"/p/{code}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    body = answer.json()
    shown = re.search(r'id="safety-state" data-state="([a-z_]+)"', page.text)
    assert shown is not None and shown.group(1) == body["safety_state"]
    return body, page.text


async def test_a_lift_failing_its_inspection_is_out_of_service(client, ctx):
    installed = add_months(f.today(), -10)
    unit = await lift(ctx, installed)
    await inspect(client, ctx, unit["id"], kind="supervisory", inspected_on=installed,
                  conclusion="pass", reason="installation")  # fmt: skip
    healthy, page = await state_of(client, unit["code"])
    assert healthy["safety_state"] == "in_use" and healthy["safety_label"] == "正常使用"
    assert "正常使用" in page and healthy["safe_to_use"] is True

    failed_on = f.today() - 3 * DAY
    await inspect(client, ctx, unit["id"], kind="periodic", inspected_on=failed_on,
                  conclusion="fail")  # fmt: skip
    body, page = await state_of(client, unit["code"])
    assert body["safety_state"] == "out_of_service"
    assert body["safety_label"] == "停止使用"
    assert body["safety_since"] == str(failed_on)
    assert body["safe_to_use"] is False
    assert body["last_inspection_conclusion"] == "fail"
    assert body["last_inspection_conclusion_label"] == "不合格"
    assert str(failed_on) in body["safety_reason"] and "检验不合格" in body["safety_reason"]
    assert "停止使用" in page and "请勿使用本设备" in page
    english = (await client.get(f"/api/v1/public/equipment/{unit['code']}?lang=en")).json()
    assert english["safety_label"] == "Out of service"
    assert english["safety_state"] == "out_of_service"  # the code never changes
    assert (body["status"], body["status_label"]) == ("in_use", "在用")
    assert (english["status"], english["status_label"]) == ("in_use", "In use")


async def test_scrapped_and_suspended_units_show_their_state(client, ctx):
    scrapped = await lift(ctx, add_months(f.today(), -30))
    await act(
        client, ctx, scrapped["id"], "scrap", {"on": str(f.today() - 5 * DAY), "reason": "报废"}
    )
    body, page = await state_of(client, scrapped["code"])
    assert body["safety_state"] == "out_of_service" and "报废" in body["safety_reason"]
    assert body["safety_since"] == str(f.today() - 5 * DAY)

    suspended = await lift(ctx, add_months(f.today(), -10))
    installed = add_months(f.today(), -10)
    await inspect(client, ctx, suspended["id"], kind="supervisory", inspected_on=installed,
                  conclusion="pass", reason="installation")  # fmt: skip
    suspension = {"suspended_from": str(f.today() - 2 * DAY), "notified_on": str(f.today()),
                  "reason": "装修"}  # fmt: skip
    await act(client, ctx, suspended["id"], "suspend", suspension)
    body, page = await state_of(client, suspended["code"])
    assert body["safety_state"] == "suspended" and body["safety_label"] == "暂停使用"
    assert "暂停使用" in page
    assert (body["status"], body["status_label"]) == ("suspended", "暂停使用")


async def test_an_overdue_lift_shows_overdue(client, ctx):
    installed = add_months(f.today(), -12 * 3 - 1)  # year-1 periodic inspection never done
    unit = await lift(ctx, installed)
    await inspect(client, ctx, unit["id"], kind="supervisory", inspected_on=installed,
                  conclusion="pass", reason="installation")  # fmt: skip
    body, page = await state_of(client, unit["code"])
    assert body["safety_state"] == "inspection_overdue" and body["safety_label"] == "超期未检"
    due = date.fromisoformat(body["next_inspection_due"])
    assert due < f.today() and body["safety_since"] == str(due + DAY)
    assert body["inspection_overdue"] is True and "超期未检" in page


async def test_cylinders_overdue_past_service_life_and_scrapped(client, ctx):
    station = ctx["station"]
    overdue = await cylinder(station, made=add_months(f.today(), -12 * 5))
    body, page = await state_of(client, overdue["code"])
    assert body["safety_state"] == "inspection_overdue"
    assert body["filling_station"] == "襄阳隆中液化气充装站" and "襄阳隆中液化气充装站" in page
    assert body["maintenance_company"] is None

    # LPG steel: 8 years (TSG 23-2021); inspected recently, so only the life has ended.
    old = await cylinder(station, made=add_months(f.today(), -12 * 9))
    await inspect(client, ctx, old["id"], kind="periodic", inspected_on=f.today() - 100 * DAY,
                  conclusion="pass")  # fmt: skip
    body, page = await state_of(client, old["code"])
    assert body["safety_state"] == "past_service_life", body
    assert body["safety_label"] == "超过设计使用年限" and "超过设计使用年限" in page
    end = date.fromisoformat(body["end_of_service_life"])
    assert end < f.today() and body["safety_since"] == str(end + DAY)

    scrapped = await cylinder(station, made=add_months(f.today(), -12 * 2))
    await act(client, ctx, scrapped["id"], "scrap", {"on": str(f.today()), "reason": "报废"})
    body, _ = await state_of(client, scrapped["code"])
    assert body["safety_state"] == "out_of_service"


async def test_the_page_is_small_chinese_first_and_english_on_request(client, ctx):
    unit = await lift(ctx, add_months(f.today(), -10))
    page = await client.get(f"/p/{unit['code']}")
    assert page.status_code == 200
    assert len(page.content) < 50 * 1024
    assert "<script" not in page.text.lower()
    assert '<html lang="zh-CN">' in page.text and "应急救援电话：96333" in page.text
    assert 'name="viewport"' in page.text and "<label" in page.text
    # The state is the first thing in the body.
    assert page.text.index('id="safety-state"') < page.text.index('<section class="card"')
    english = await client.get(f"/p/{unit['code']}", headers={"Accept-Language": "en-GB,en"})
    assert '<html lang="en">' in english.text and "Emergency: call 96333" in english.text
    assert english.headers["content-language"] == "en"
    by_query = await client.get(f"/p/{unit['code']}?lang=en", headers={"Accept-Language": "zh"})
    assert "Report a problem" in by_query.text


@pytest.mark.parametrize("code", ["31104206062099019999", "not-a-code!", "x" * 60])
async def test_unknown_or_malformed_codes_get_a_helpful_404_page(client, ctx, code):
    page = await client.get(f"/p/{code}")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "未找到该设备" in page.text and "96333" in page.text
    english = await client.get(f"/p/{code}?lang=en")
    assert "Unit not found" in english.text and "scan its QR code again" in english.text


async def test_qr_codes_encode_the_public_page_and_follow_the_scope(engine, ctx, configure):
    boot = configure(public=PublicSettings(base_url="https://tzsb.xiangyang.example/"))
    async with app_client(boot) as client:
        unit = await lift(ctx, add_months(f.today(), -10))
        url = f"https://tzsb.xiangyang.example/p/{unit['code']}"
        png = await client.get(f"/api/v1/equipment/{unit['id']}/qr.png", headers=ctx["owner_token"])
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
        expected = segno.make(url, error="m", micro=False, mask=public_controllers.QR_MASK)
        assert png.content == _png(expected)  # the same symbol as the page's URL makes
        svg = await client.get(f"/api/v1/equipment/{unit['id']}/qr.svg", headers=ctx["admin"])
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        assert svg.text.lstrip().startswith("<?xml") and "<svg" in svg.text
        other = await f.organisation("user_unit")
        outsider = await f.token(Role.USER_UNIT, other["id"])
        hidden = await client.get(f"/api/v1/equipment/{unit['id']}/qr.svg", headers=outsider)
        assert hidden.status_code == 404
        anonymous = await client.get(f"/api/v1/equipment/{unit['id']}/qr.png")
        assert anonymous.status_code == 401


def _png(qr: segno.QRCode) -> bytes:
    import io

    out = io.BytesIO()
    qr.save(out, kind="png", scale=8, border=4, compresslevel=public_controllers.PNG_COMPRESSION)
    return out.getvalue()


async def test_label_sheet_is_scoped_and_print_ready(client, ctx):
    mine = [await lift(ctx, add_months(f.today(), -10)) for _ in range(3)]
    sheet = await client.get(f"/api/v1/organisations/{ctx['owner']}/labels",
                             headers=ctx["owner_token"])  # fmt: skip
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/html")
    assert "@media print" in sheet.text and "@page" in sheet.text
    assert sheet.text.count('class="label"') == 3 and sheet.text.count("<svg") == 3
    for unit in mine:
        assert unit["code"] in sheet.text
    assert "特种设备使用标志" in sheet.text and "13800000000" not in sheet.text
    other = await f.organisation("user_unit")
    refused = await client.get(f"/api/v1/organisations/{other['id']}/labels",
                               headers=ctx["owner_token"])  # fmt: skip
    assert refused.status_code == 404
    by_admin = await client.get(f"/api/v1/organisations/{other['id']}/labels",
                                headers=ctx["admin"])  # fmt: skip
    assert by_admin.status_code == 200 and by_admin.text.count('class="label"') == 0
    company = await client.get(f"/api/v1/organisations/{ctx['owner']}/labels",
                               headers=ctx["company_token"])  # fmt: skip
    assert company.status_code == 403


def _token(page: str) -> str:
    found = re.search(r'name="token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


async def _form(client, code: str) -> dict[str, str]:
    page = await client.get(f"/p/{code}")
    return {"token": _token(page.text), "category": "strange_noise", "text": "运行时有异响",
            "phone": ""}  # fmt: skip


async def test_a_citizen_report_is_stored_for_inspectors_and_never_shown(client, ctx):
    unit = await lift(ctx, add_months(f.today(), -10))
    form = await _form(client, unit["code"])
    form["phone"] = "139 0000 1111"
    sent = await client.post(f"/p/{unit['code']}/report", data=form)
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/p/{unit['code']}?lang=zh-CN&reported=1"
    thanks = await client.get(sent.headers["location"])
    assert "您的举报已提交" in thanks.text
    assert "运行时有异响" not in thanks.text and "139 0000 1111" not in thanks.text
    public = await client.get(f"/api/v1/public/equipment/{unit['code']}")
    assert "运行时有异响" not in public.text

    listed = await client.get("/api/v1/citizen-reports", headers=ctx["inspector"])
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item["code"] == unit["code"] and item["category"] == "strange_noise"
    assert item["category_label"] == "异响或抖动" and item["phone"] == "139 0000 1111"
    filtered = await client.get("/api/v1/citizen-reports?category=trapped", headers=ctx["admin"])
    assert filtered.json()["items"] == []
    by_unit = await client.get(f"/api/v1/citizen-reports?equipment_id={unit['id']}",
                               headers=ctx["admin"])  # fmt: skip
    assert len(by_unit.json()["items"]) == 1
    counts = await client.get("/api/v1/citizen-reports/counts", headers=ctx["inspector"])
    assert [(c["code"], c["reports"]) for c in counts.json()] == [(unit["code"], 1)]
    for role in ("owner_token", "company_token"):
        refused = await client.get("/api/v1/citizen-reports", headers=ctx[role])
        assert refused.status_code == 403
    assert (await client.get("/api/v1/citizen-reports")).status_code == 401


async def test_bad_reports_are_refused_with_reasons_and_nothing_stored(client, ctx):
    unit = await lift(ctx, add_months(f.today(), -10))
    form = await _form(client, unit["code"])
    wrong = await client.post(f"/p/{unit['code']}/report",
                              data={**form, "category": "nonsense", "phone": "abc"})  # fmt: skip
    assert wrong.status_code == 422
    assert "请选择问题类型" in wrong.text and "请填写只含数字的电话号码" in wrong.text
    assert 'aria-describedby="category-error"' in wrong.text
    forged = await client.post(f"/p/{unit['code']}/report", data={**form, "token": "1.abc"})
    assert forged.status_code == 403 and "表单已过期" in forged.text
    # A token is bound to its unit: one from another unit's page does not work here.
    other = await lift(ctx, add_months(f.today(), -10))
    crossed = await client.post(f"/p/{other['code']}/report", data=form)
    assert crossed.status_code == 403
    # A multipart post with a file where the token belongs is refused like a forged token.
    as_file = await client.post(
        f"/p/{unit['code']}/report",
        data={k: v for k, v in form.items() if k != "token"},
        files={"token": ("token.txt", form["token"].encode())},
    )
    assert as_file.status_code == 403
    huge = await client.post(f"/p/{unit['code']}/report", data={**form, "text": "长" * 5000})
    assert huge.status_code == 413
    assert huge.headers["content-type"].startswith("text/html") and "举报内容过长" in huge.text
    long_text = await client.post(f"/p/{unit['code']}/report", data={**form, "text": "长" * 501})
    assert long_text.status_code == 422 and "不超过500个字" in long_text.text
    listed = await client.get("/api/v1/citizen-reports", headers=ctx["admin"])
    assert listed.json()["items"] == []


def _client_from(boot, address: str) -> httpx.AsyncClient:
    return app_client(boot, client=(address, 50000))


async def test_reports_are_rate_limited_per_client_and_per_unit(ctx, configure):
    boot = configure(public=PublicSettings(reports_per_client_hour=2, reports_per_unit_hour=3))
    unit = await f.unit(ctx["owner"])
    other = await f.unit(ctx["owner"])
    async with _client_from(boot, "10.0.0.1") as one:
        for code in (unit["code"], other["code"]):
            sent = await one.post(f"/p/{code}/report", data=await _form(one, code))
            assert sent.status_code == 303
        refused = await one.post(f"/p/{unit['code']}/report",
                                 data=await _form(one, unit["code"]))  # fmt: skip
        assert refused.status_code == 429 and refused.headers["retry-after"] == "3600"
        assert "一小时内已提交多次举报" in refused.text
    for address in ("10.0.0.2", "10.0.0.3", "10.0.0.4"):
        async with _client_from(boot, address) as sender:
            sent = await sender.post(f"/p/{unit['code']}/report",
                                     data=await _form(sender, unit["code"]))  # fmt: skip
            expected = 303 if address != "10.0.0.4" else 429
            assert sent.status_code == expected, (address, sent.text[:300])
    assert "该设备一小时内已收到多次举报" in sent.text
    async with _client_from(boot, "10.0.0.9") as fresh:
        # Another unit is not held back by the first one's limit.
        ok = await fresh.post(f"/p/{other['code']}/report",
                              data=await _form(fresh, other["code"]))  # fmt: skip
        assert ok.status_code == 303
