"""Two journeys in a real headless Chromium (Debian's, driven by Playwright) on a 390x844
phone against ``sereg serve`` on PostgreSQL:

- a maintenance company's dispatcher keeps the live alarm board open; an entrapment
  published over MQTT to an ingest worker (this test's process, same database) appears on
  it without a reload, its clock running; the dispatcher acknowledges it;
- an inspector opens the map of old residential areas: the district outlines as the base
  (no tiles configured), the areas and the lift points drawn, the ranking beside it, and
  no request leaves loopback.

A screenshot of each journey's last page is written to the test's tmp_path (an artefact,
never committed). After the board, the session's stream ends once the session does.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from equipment.domain.access import SYSTEM, Role
from equipment.services import alarms, areas, clock
from tests import factories
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, LOOPBACK
from tests.conftest import ROOT, pg_url, sereg_env, service_missing
from tests.ingest_support import at, encode, event_payload, events_topic
from tests.integration.test_map import AREA
from tests.service_support import free_port
from tests.web_support import PASSWORD, account, log_in

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("engine", ["postgres"], indirect=True),
]
PHONE = {"width": 390, "height": 844}
DISTRICT = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": "BOARD-D",
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[112.0, 31.95], [112.3, 31.95], [112.3, 32.15], [112.0, 32.15], [112.0, 31.95]]
                ],
            },
            "properties": {"kind": "district", "name": "樊城区", "code": "420606"},
        }
    ],
}


@pytest.fixture
def served(engine, pg_database) -> Iterator[str]:
    """``sereg serve`` on the test's database (keep-alive every second)."""
    env = sereg_env(
        DATABASE_URL=pg_url(pg_database), SEREG_STREAM_POLL_MS="50", SEREG_STREAM_KEEPALIVE_S="1"
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sereg.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the service did not come up"
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
async def chromium() -> AsyncIterator:
    if not CHROMIUM.exists():
        service_missing("Chromium (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def phone(browser) -> tuple:
    """A zh-CN phone context and page, and the list of every URL the page requested."""
    context = await browser.new_context(viewport=PHONE, locale="zh-CN")
    requested: list[str] = []
    page = await context.new_page()
    page.on("request", lambda request: requested.append(request.url))
    # A script error fails the journey where it happened, not as a later timeout.
    page.on("pageerror", lambda error: requested.append(f"script error: {error}"))
    # (A missing resource is reported below with its URL; the browser's favicon.ico
    # probe only says so on the console.)
    page.on(
        "console",
        lambda m: (
            m.type == "error"
            and not m.text.startswith("Failed to load resource")
            and requested.append(f"console: {m.text}")
        ),
    )
    page.on(
        "response",
        lambda r: r.status >= 400 and requested.append(f"{r.status}: {r.url}"),
    )
    return context, page, requested


async def log_in_page(page, base: str, username: str, target: str) -> None:
    await page.goto(f"{base}{target}")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url(f"{base}{target}")


def outside(requested: list[str]) -> list[str]:
    return [url for url in requested if urlsplit(url).hostname not in LOOPBACK]


async def test_dispatcher_sees_an_mqtt_entrapment_live_and_acknowledges_it(
    served, chromium, consumers, publisher, tmp_path
):
    base = served
    owner = await factories.organisation("user_unit")
    company = await factories.organisation("maintenance_company")
    lift = await factories.unit(owner["id"], maintenance_company_id=company["id"])
    dispatcher = await account(Role.MAINTENANCE, company["id"])
    await consumers()

    context, page, requested = await phone(chromium)
    await log_in_page(page, base, dispatcher, "/ui/alarms")
    await page.get_by_text("没有未关闭的报警。").wait_for()
    # Subscribed once the stream answered: nothing published after this is missed.
    await page.locator("body[data-live=true]").wait_for(timeout=30_000)

    publisher.publish(
        events_topic(lift["registration_code"]), encode(event_payload("entrapment", at(), floor=3))
    )
    card = page.locator("li.alarm", has_text="困人")
    await card.wait_for(timeout=30_000)
    assert lift["registration_code"] in await card.inner_text()
    clock_text = await card.locator(".clock").inner_text()
    assert clock_text != "—" and ":" in clock_text

    await card.get_by_role("button", name="确认接警").click()
    # Acknowledged: the card now offers the next step, and the register says so.
    await card.get_by_role("button", name="已到场").wait_for(timeout=15_000)
    [alarm] = (
        await alarms.list_alarms(SYSTEM, alarms.AlarmFilter(state="open"), cursor=None, limit=5)
    ).items
    assert alarm.acknowledged_at is not None and alarm.equipment == lift["id"]
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.screenshot(path=str(tmp_path / "alarm_board.png"), full_page=True)
    await context.close()
    assert outside(requested) == []

    # The session's stream ends within a keep-alive once that session is logged out.
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(30)) as http:
        assert (await log_in(http, dispatcher)).status_code == 303
        csrf = (await http.get("/ui")).text.split('name="_csrf" value="')[1].split('"')[0]
        async with http.stream("GET", "/ui/alarms/stream") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            assert await anext(lines) == ": connected"
            async with httpx.AsyncClient(base_url=base, cookies=http.cookies) as other:
                assert (await other.post("/logout", data={"_csrf": csrf})).status_code == 303

            async def drain() -> None:
                async for _line in lines:
                    pass

            await asyncio.wait_for(drain(), 20)  # ends (not a timeout)
        again = await http.get("/ui/alarms/stream")
        assert again.status_code == 303 and again.headers["location"].startswith("/login")


async def test_inspector_map_draws_areas_and_points_from_loopback_only(served, chromium, tmp_path):
    base = served
    owner = await factories.organisation("user_unit")
    company = await factories.organisation("maintenance_company")
    for _ in range(3):
        await factories.unit(owner["id"], maintenance_company_id=company["id"])
    await areas.import_feature_collection(SYSTEM, DISTRICT, crs="wgs84", now=clock.now())
    await areas.import_feature_collection(SYSTEM, AREA, crs="wgs84", now=clock.now())
    body = await factories.organisation("inspection_body")
    inspector = await account(Role.INSPECTOR, body["id"])

    context, page, requested = await phone(chromium)
    await log_in_page(page, base, inspector, "/ui/map")
    await page.locator("#map[data-loaded=true]").wait_for(timeout=30_000)
    # The district (base) and the old residential area are drawn as SVG outlines; the
    # three lifts as points or as a marker cluster.
    assert await page.locator("#map path").count() >= 2
    points = page.locator("#map path.lift, #map .marker-cluster")
    assert await points.count() >= 1
    assert "3" in await page.locator("#map-status").inner_text()
    # Click through: a cluster opens (the three lifts share a spot: spiderfied), a point
    # shows its unit, whose page the popup links to.
    if not await page.locator("#map path.lift").count():
        await page.locator("#map .marker-cluster").first.click()
    await page.locator("#map path.lift").first.click()
    link = page.locator(".leaflet-popup a.unit-link")
    await link.wait_for()
    assert re.fullmatch(r"/ui/units/\d+", await link.get_attribute("href") or "")
    ranking = page.locator("#ranking tbody tr")
    assert await ranking.count() == 1 and "测试小区" in await ranking.inner_text()
    await page.get_by_label("风险（未关闭报警）").check()
    await page.locator(".legend-risk").wait_for()
    await page.get_by_role("button", name="超期未检").click()
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.screenshot(path=str(tmp_path / "map.png"), full_page=True)
    await context.close()
    assert outside(requested) == []
    assert any("/ui/map/data/lifts" in url for url in requested)
