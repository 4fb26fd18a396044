"""双随机、一公开 in a real headless Chromium (Debian's package, driven by Playwright), on the
session's ``sereg serve --demo`` on PostgreSQL:

- the demo inspector (the roster's first, so he has open tasks) opens "my tasks", opens
  one, records its supervision check from the task's page and closes the task with it;
- the bureau sees the plan on its page with the draw verified (一致), and the results late
  to publish;
- once published, the public /p/draws page shows the task's result.

A screenshot of the last page is written to the test's tmp_path (a test artefact, never
committed)."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.browser_support import DemoService, block_outside_network
from tests.service_support import ACCOUNTS

pytestmark = pytest.mark.integration

PHONE = {"width": 390, "height": 844}
FINDINGS = "浏览器抽查：现场资料齐全"


def api(base: str, token: str, method: str, path: str, **kw) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.request(method, f"{base}{path}", headers=headers, timeout=30, **kw)


def log_in(context, base: str, role: str):
    username, password = ACCOUNTS[base][role]
    page = context.new_page()
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/ui")
    return page


def test_an_inspector_closes_a_drawn_task_and_the_public_sees_its_result(
    demo_service: DemoService, browser, tmp_path
) -> None:
    base, admin = demo_service.base, demo_service.tokens["admin"]
    # The demo inspector's account is the roster's first entry: an open task of his.
    roster = api(base, admin, "GET", "/api/v1/draws/roster").json()
    mine = next(r["id"] for r in roster if r["account_id"] is not None)
    open_tasks = api(base, admin, "GET", "/api/v1/draws/tasks?state=open").json()
    task = next(
        t for t in open_tasks if mine in t["inspectors"] and t["enterprise_kind"] == "user_unit"
    )

    # ---- the inspector: my tasks → the task → its check → closed -----------------------
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    outside = block_outside_network(context)
    page = log_in(context, base, "inspector")
    page.get_by_role("link", name="双随机抽查任务").first.click()
    page.wait_for_url(f"{base}/ui/draws/tasks")
    page.locator(f"#task-{task['id']} h2 a").click()
    page.wait_for_url(f"{base}/ui/draws/tasks/{task['id']}")
    assert page.locator("h1").inner_text() == task["enterprise"]
    page.locator("#record-check").click()
    page.wait_for_url(re.compile(rf"/ui/checks/new\?.*task_id={task['id']}"))
    page.get_by_label("安全监察员").fill("浏览器测试")
    page.get_by_role("button", name="保存检查记录").click()
    page.wait_for_url(re.compile(rf"/ui/draws/tasks/{task['id']}\?check_id=\d+"))
    check_id = page.url.rsplit("=", 1)[1]
    assert page.locator("#f-check_id").input_value() == check_id  # carried over
    page.locator("#f-findings").fill(FINDINGS)
    page.get_by_role("button", name="完成任务").click()
    page.wait_for_url(f"{base}/ui/draws/tasks/{task['id']}")
    assert "已完成" in page.locator("dl").inner_text()
    assert FINDINGS in page.locator("dl").inner_text()
    assert outside == []
    context.close()
    done = api(base, admin, "GET", f"/api/v1/draws/tasks/{task['id']}").json()
    assert (done["state"], str(done["check_id"])) == ("done", check_id)

    # ---- the bureau: the plan, its draw verified --------------------------------------
    context = browser.new_context(locale="zh-CN")
    page = log_in(context, base, "admin")
    page.goto(f"{base}/ui/draws/plans")
    plan = api(base, admin, "GET", f"/api/v1/draws/plans/{task['plan_id']}").json()
    card = page.locator("section.card", has_text=plan["title"])
    assert card.locator("tbody tr").count() >= 1
    assert "一致" in card.locator("tbody").inner_text() and "不一致" not in card.inner_text()
    # The results late to publish, from the same page (an alarm when there are any).
    late = api(base, admin, "GET", "/api/v1/draws/tasks/late").json()
    assert page.locator("#late-alarm").count() == (1 if late else 0)
    page.locator('a[href="/ui/draws/late"]').click()
    page.wait_for_url(f"{base}/ui/draws/late")
    assert page.locator("h1").inner_text() == "逾期未公示的抽查结果"
    assert page.locator("#late-results tbody tr").count() == len(late)
    context.close()

    # ---- 一公开: published, the public page shows the result ----------------------------
    published = api(
        base, admin, "POST", "/api/v1/draws/tasks/publish", json={"task_ids": [task["id"]]}
    )
    assert published.json() == {"published": 1}
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base}/p/draws")
    page.get_by_role("link", name=plan["title"]).click()
    page.wait_for_url(re.compile(rf"/p/draws/{task['plan_id']}"))
    row = page.locator("tr", has_text=task["enterprise"])
    assert FINDINGS in row.inner_text() and "符合要求" in row.inner_text()
    assert "浏览器测试" not in page.content()  # never the inspectors
    page.screenshot(path=str(tmp_path / "public_draw_result.png"), full_page=True)
    context.close()
