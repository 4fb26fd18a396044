"""The staff pages against hostile data and a full worker: a unit address holding a
script is shown as text on every page that shows it (and no browser runs it), and a
stream refused for want of room is a 503 page, not a 400."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from equipment.domain.access import SYSTEM, Role
from equipment.services import alarms, clock
from equipment.settings import StreamSettings
from tests import factories as f
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import service_missing
from tests.web_support import account, log_in

pytestmark = pytest.mark.integration

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def dialogs_in(pages: dict[str, str]) -> list[str]:
    """Each page's HTML loaded in Chromium (its own thread: Playwright's sync API cannot
    run inside this test's event loop): the dialogs any of them opened."""
    from playwright.sync_api import sync_playwright

    opened: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            # The pages' own assets are not served here; only their markup is under test.
            page.route("**/*", lambda route: route.abort())
            page.on("dialog", lambda dialog: (opened.append(dialog.message), dialog.dismiss()))
            for name, html in pages.items():
                page.set_content(html, wait_until="domcontentloaded")
                # Anything a script would do was done by the time this round trip returns.
                page.evaluate("1")
                assert page.locator("body").inner_text(), name
        finally:
            browser.close()
    return opened


async def test_a_script_in_an_address_is_shown_as_text(staff, engine):
    body = (await f.organisation("inspection_body"))["id"]
    owner = (await f.organisation("user_unit"))["id"]
    unit = await f.unit(owner, address=SCRIPT)
    now = clock.now()
    alarm = await alarms.raise_alarm(
        SYSTEM, unit["id"], kind="entrapment", raised_at=now, source="manual", now=now
    )
    inspector = await staff(Role.INSPECTOR, body)
    pages: dict[str, str] = {}
    for name, path in (
        ("home", "/ui"),
        ("unit", f"/ui/units/{unit['id']}"),
        ("due list", "/ui/due?window=all"),
        ("alarm board", "/ui/alarms"),
        ("alarm card", f"/ui/alarms/{alarm.id}/card"),
    ):
        answer = await inspector.http.get(path)
        assert answer.status_code == 200, (name, answer.text)
        assert SCRIPT not in answer.text, name
        assert ESCAPED in answer.text, name
        pages[name] = answer.text
    # The map's popups are built from JSON by map.js with textContent: the address is
    # data there, exactly as stored, never markup.
    lifts = await inspector.http.get(
        "/ui/map/data/lifts?min_lon=112.0&min_lat=31.9&max_lon=112.3&max_lat=32.2"
    )
    assert lifts.headers["content-type"].startswith("application/")
    shown = [p["properties"] for p in lifts.json()["features"]]
    assert [p["address"] for p in shown if p["id"] == unit["id"]] == [SCRIPT]
    if engine.__class__.__name__ == "PostgresEngine":  # one browser check is enough
        if not CHROMIUM.exists():
            service_missing("Chromium (apt-get install chromium)")
        assert await asyncio.to_thread(dialogs_in, pages) == []


async def test_a_stream_refused_for_want_of_room_is_a_503_page(engine, configure):
    full = configure(stream=StreamSettings(max_streams=0))
    transport = httpx.ASGITransport(app=full.app(manage_db=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://sereg.test") as http:
        assert (await log_in(http, await account(Role.CALL_CENTRE))).status_code == 303
        refused = await http.get("/ui/alarms/stream")
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "5"
        assert "服务繁忙" in refused.text
