"""A real headless Chromium (Debian's package, driven by Playwright) on a phone-sized
screen against ``sereg serve --demo`` on PostgreSQL: read a unit's safety state on
/p/{code}, then send a citizen report from the page's form.

Never ``playwright install``: the browser is /usr/bin/chromium. Without it a developer's
machine skips this test; CI (CI=true) fails it (`.ci/run` installs chromium).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser_support import DemoService
from tests.conftest import service_missing

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def pg_service(demo_service: DemoService) -> tuple[str, dict[str, str]]:
    return demo_service.base, demo_service.tokens


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        service_missing(f"Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


async def test_a_phone_reads_the_state_and_sends_a_report(pg_service, chromium):
    from playwright.async_api import async_playwright

    base, tokens = pg_service
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        units = (await http.get("/api/v1/equipment?limit=1&category=3110", headers=admin)).json()
        code = units["items"][0]["code"]
        expected = (await http.get(f"/api/v1/public/equipment/{code}")).json()

    outside: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(
                viewport={"width": 390, "height": 844}, locale="zh-CN", java_script_enabled=True
            )

            async def only_this_service(route):
                # The page must need nothing from outside (a bureau intranet has no internet).
                if urlsplit(route.request.url).netloc != urlsplit(base).netloc:
                    outside.append(route.request.url)
                    await route.abort()
                else:
                    await route.continue_()

            await page.route("**/*", only_this_service)
            response = await page.goto(f"{base}/p/{code}")
            assert response is not None and response.status == 200
            state = page.locator("#safety-state")
            assert await state.get_attribute("data-state") == expected["safety_state"]
            assert expected["safety_label"] in await state.inner_text()
            # The state is the first thing on the screen, and nothing scrolls sideways.
            box = await state.bounding_box()
            assert box is not None and box["y"] < 100
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390
            await page.set_viewport_size({"width": 360, "height": 740})
            assert await page.evaluate("document.documentElement.scrollWidth") <= 360

            await page.get_by_label("遇到什么问题？").select_option("strange_noise")
            await page.get_by_label("问题描述").fill("浏览器测试：运行时有异响")
            await page.get_by_role("button", name="提交举报").click()
            await page.wait_for_url(f"{base}/p/{code}?lang=zh-CN&reported=1")
            assert "您的举报已提交" in await page.locator("main").inner_text()
        finally:
            await browser.close()
    assert outside == []

    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        reports = await http.get("/api/v1/citizen-reports", headers=admin)
        # The demo server is the session's: other journeys' reports may be on it.
        [report] = [r for r in reports.json()["items"] if r["code"] == code]
        assert report["text"] == "浏览器测试：运行时有异响"
