"""A real headless Chromium (Debian's package, driven by Playwright) on a 390x844 phone
screen against ``sereg serve --demo`` on PostgreSQL: the demo inspector logs in with the
account the quick start printed and reaches the home page, with nothing loaded from
outside and nothing scrolling sideways."""

from __future__ import annotations

import pytest

from tests.browser_support import DemoService, block_outside_network
from tests.service_support import ACCOUNTS

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_service(demo_service: DemoService) -> str:
    return demo_service.base


def test_the_inspector_logs_in_on_a_phone_and_reaches_home(pg_service, browser, tmp_path):
    base = pg_service
    username, password = ACCOUNTS[base]["inspector"]
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    outside = block_outside_network(context)
    page = context.new_page()
    page.goto(f"{base}/")
    assert page.url == f"{base}/login"
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/ui")
    assert page.locator("h1").inner_text() == "安全监察员"
    assert page.get_by_role("button", name="退出登录").is_visible()
    # Mobile first: the page fits the phone's width.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "staff_home.png"))  # an artefact, not committed
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(f"{base}/login")
    assert outside == []
    context.close()
