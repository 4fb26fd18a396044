"""The inspector's journeys in a real headless Chromium (Debian's package, driven by
Playwright) on a 390x844 phone screen, against one ``sereg serve --demo`` on PostgreSQL
for the module:

- the demo inspector logs in, filters the overdue list, opens a unit, records a failed
  inspection and sees the unit's public page turn to 停止使用;
- an inspector bound to one district cannot reach a unit outside it, by page or by API.

A screenshot of each journey's last page is written under pytest's tmp_path (a test
artefact, never committed)."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.browser_support import DemoService, block_outside_network
from tests.conftest import (
    run_sereg,
)
from tests.service_support import ACCOUNTS

pytestmark = pytest.mark.integration

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def demo(demo_service: DemoService) -> tuple[str, dict[str, str], dict[str, str]]:
    """The session's demo service on PostgreSQL for the module's journeys: (url, tokens,
    env)."""
    return demo_service.base, demo_service.tokens, demo_service.env


def api(base: str, token: str, path: str) -> httpx.Response:
    return httpx.get(f"{base}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def fits_the_phone(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def log_in(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/ui")


def test_an_inspector_fails_a_unit_and_its_public_page_says_out_of_service(demo, browser, tmp_path):
    base, tokens, _ = demo
    # The unit: an overdue lift in use and still fit for use, on the first page of the
    # filtered list the inspector will see (the page and the API share one order).
    listed = api(base, tokens["inspector"], "/api/v1/due?window=overdue&category_prefix=3")
    unit = None
    for item in listed.json()["items"]:
        facts = api(base, tokens["inspector"], f"/api/v1/equipment/{item['equipment_id']}")
        if facts.json()["status"] == "in_use" and not facts.json()["not_fit_for_use"]:
            unit = facts.json()
            break
    assert unit is not None, "the demo city has no overdue lift in use"
    username, password = ACCOUNTS[base]["inspector"]
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    outside = block_outside_network(context)
    page = context.new_page()
    log_in(page, base, username, password)
    assert page.locator("#count-overdue").inner_text().isdigit()
    assert fits_the_phone(page)

    page.get_by_role("link", name="到期清单").first.click()
    page.wait_for_url(f"{base}/ui/due")
    page.get_by_text("筛选条件").click()
    page.get_by_label("范围").select_option("overdue")
    page.get_by_label("类别代码前缀").fill("3")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(re.compile(r"/ui/due\?.*window=overdue"))
    assert page.locator("#due-table tbody tr").count() > 0
    assert (
        page.locator("#due-table .state-overdue").count()
        == page.locator("#due-table tbody tr").count()
    )
    assert fits_the_phone(page)

    page.get_by_role("link", name=unit["code"], exact=True).first.click()
    page.wait_for_url(f"{base}/ui/units/{unit['id']}")
    assert page.locator("h1").inner_text() == unit["code"]
    assert fits_the_phone(page)
    public = context.new_page()
    public.goto(f"{base}/p/{unit['code']}")
    assert "停止使用" not in public.content()
    public.close()

    form = page.locator("#inspection-form")
    form.get_by_label("类别").select_option("periodic")
    form.get_by_label("检验结论").select_option("fail")
    form.get_by_label("报告编号").fill("JY-2026-0001")
    form.get_by_label("发现的问题").fill("制动器制动力不足")
    form.get_by_role("button", name="录入结果").click()
    page.wait_for_url(f"{base}/ui/units/{unit['id']}?done=inspection")
    assert page.locator("#not-fit").is_visible()
    assert "制动器制动力不足" in page.locator("#unit-inspections").inner_text()

    page.locator("#qr-link").click()
    page.wait_for_url(f"{base}/p/{unit['code']}")
    assert page.get_by_text("停止使用").first.is_visible()
    page.screenshot(path=str(tmp_path / "inspector_failed_unit.png"), full_page=True)
    assert outside == []
    context.close()


def test_an_inspector_bound_to_a_district_cannot_reach_a_unit_outside_it(demo, browser, tmp_path):
    base, tokens, env = demo
    admin = tokens["admin"]
    units = api(base, admin, "/api/v1/equipment?limit=200").json()["items"]
    district = units[0]["district_code"]
    inside = next(u for u in units if u["district_code"] == district)
    beyond = next(u for u in units if u["district_code"] != district)
    body = api(base, tokens["inspector"], "/api/v1/me").json()["organisation_id"]
    made = run_sereg(
        "user", "create", "--username", "insp-bound", "--role", "inspector",
        "--org", str(body), "--jurisdiction", district,
        env={**env, "SEREG_PASSWORD": "bound inspector pw 1"},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    token = run_sereg(
        "token", "create", "--role", "inspector", "--org", str(body),
        "--jurisdiction", district, "--label", "bound",
        env=env,
    )  # fmt: skip
    assert token.returncode == 0, token.stderr
    bound_token = token.stdout.strip().rsplit(" ", 1)[1]
    # By API: the unit outside is unknown (404), the one inside is there.
    assert api(base, bound_token, f"/api/v1/equipment/{beyond['id']}").status_code == 404
    assert api(base, bound_token, f"/api/v1/equipment/{beyond['id']}/schedule").status_code == 404
    assert api(base, bound_token, f"/api/v1/equipment/{inside['id']}").status_code == 200

    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    outside = block_outside_network(context)
    page = context.new_page()
    log_in(page, base, "insp-bound", "bound inspector pw 1")
    assert district in page.content()  # the home names the jurisdiction
    answer = page.goto(f"{base}/ui/units/{inside['id']}")
    assert answer.status == 200
    answer = page.goto(f"{base}/ui/units/{beyond['id']}")
    assert answer.status == 404
    assert page.locator("h1").inner_text() == "未找到"
    assert beyond["code"] not in page.content()
    # Nor through the due list or its download.
    page.goto(f"{base}/ui/due?limit=200")
    assert beyond["code"] not in page.content()
    download = page.request.get(f"{base}/ui/due/export.csv")
    assert download.status == 200 and beyond["code"] not in download.text()
    # The session is no API credential: the API still asks for a token.
    assert page.request.get(f"{base}/api/v1/equipment/{beyond['id']}").status == 401
    assert fits_the_phone(page)
    page.goto(f"{base}/ui/units/{beyond['id']}")
    page.screenshot(path=str(tmp_path / "inspector_outside_jurisdiction.png"), full_page=True)
    assert outside == []
    context.close()
