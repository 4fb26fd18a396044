"""The enterprise client in a real headless Chromium (Debian's package, driven by
Playwright) on a 390x844 phone screen against one ``sereg serve --demo`` on PostgreSQL:

- the demo maintenance company uploads a GBK CSV (what Chinese Excel writes) with two bad
  rows and sees both named by the row numbers the spreadsheet shows, in Chinese;
- the demo filling station sees a refused fill the ingest stored (through the ingest's
  own commit path, on the served database).

A screenshot of each journey's last page is written to the test's tmp_path (an
artefact, never committed)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import httpx
import pytest
from piccolo.engine.postgres import PostgresEngine

from equipment.services import clock
from equipment.settings import DatabaseSettings
from equipment.storage import db
from tests.browser_support import DemoService, block_outside_network
from tests.conftest import pg_url
from tests.ingest_support import fill_payload, fills_topic, ingest_now
from tests.service_support import ACCOUNTS

pytestmark = pytest.mark.integration
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def demo(demo_service: DemoService) -> tuple[str, dict[str, str], str]:
    """The session's demo server for the module's journeys: (base URL, its tokens,
    database name)."""
    return demo_service.base, demo_service.tokens, demo_service.database


def log_in(browser, base: str, role: str):
    username, password = ACCOUNTS[base][role]
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    outside = block_outside_network(context)
    page = context.new_page()
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/ui")
    return context, page, outside


def gbk_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("gbk")


@pytest.fixture
def bad_upload(demo, tmp_path):
    """A GBK CSV of four records for two of the company's lifts: rows 3 and 5 are bad."""
    base, tokens, _ = demo
    listed = httpx.get(
        f"{base}/api/v1/equipment",
        params={"status": "in_use", "category_prefix": "3", "limit": 2},
        headers={"Authorization": f"Bearer {tokens['maintenance']}"},
    )
    assert listed.status_code == 200, listed.text
    a, b = (u["code"] for u in listed.json()["items"])
    day = clock.today() - timedelta(days=2)
    excel_day = f"{day.year}/{day.month}/{day.day}"
    path = tmp_path / "维保记录.csv"
    path.write_bytes(
        gbk_csv(
            [
                ["维保记录编号", "设备注册代码", "维保日期", "维保类别", "维保项目", "维保人员"],
                ["WB-B1", a, excel_day, "半月", "曳引机润滑；门锁检查", "李强:T1-4206-0001"],
                ["WB-B2", a, "2026年2月30日", "半月", "门锁检查", "李强:T1-4206-0001"],
                ["WB-B3", b, excel_day, "半月", "门锁检查", "王伟:T1-4206-0002"],
                ["WB-B4", b, excel_day, "半月", "门锁检查", ""],
            ]
        )
    )
    return path


def test_a_maintenance_company_uploads_a_gbk_csv_and_sees_the_bad_rows(
    demo, bad_upload, browser, tmp_path
):
    base = demo[0]
    context, page, outside = log_in(browser, base, "maintenance")
    page.locator('nav.main a[href="/ui/maint/upload"]').click()
    page.wait_for_url(f"{base}/ui/maint/upload")
    page.get_by_label("CSV 或 XLSX 文件").set_input_files(str(bad_upload))
    page.get_by_role("button", name="上传").click()
    page.locator("#report").wait_for()
    assert "收到 4 行：存入 2 行，已有 0 行，拒绝 2 行。" in page.locator("#report").inner_text()
    rows = page.locator("#rejected tbody tr")
    assert rows.count() == 2
    first, second = rows.nth(0).inner_text(), rows.nth(1).inner_text()
    assert first.startswith("第 3 行") and second.startswith("第 5 行")
    assert "维保日期" in first  # the column by the template's own header
    # The reasons in Chinese: the impossible day, the missing technician.
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in text[5:]) for text in (first, second))
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(tmp_path / "maint_upload.png"), full_page=True)
    assert outside == []
    context.close()


@pytest.fixture
async def refused_fill(demo):
    """A fill of a cylinder code not on file at the demo station: the ingest refuses it
    (07). Stored through the ingest's commit path against the served database."""
    base, tokens, name = demo
    async with httpx.AsyncClient(base_url=base) as http:
        asked = await http.get(
            "/api/v1/cylinders/NOPE-0001/fill-permit",
            params={"medium": "LPG"},
            headers={"Authorization": f"Bearer {tokens['station']}"},
        )
    assert asked.status_code == 200, asked.text
    station_code = asked.json()["station_code"]
    previous = db.engine()
    engine = PostgresEngine(config=DatabaseSettings(url=pg_url(name)).postgres_config())
    await engine.start_connection_pool(min_size=1, max_size=2)
    db.bind(engine)
    try:
        result = await ingest_now(
            fills_topic(station_code), fill_payload(station_code, "XY-NOT-ON-FILE-77")
        )
        assert [v.verdict["code"] for v in result.verdicts] == ["07"]
    finally:
        await engine.close_connection_pool()
        db.bind(previous)
    return "XY-NOT-ON-FILE-77"


def test_a_station_sees_a_refused_fill(demo, refused_fill, browser, tmp_path):
    base = demo[0]
    context, page, outside = log_in(browser, base, "station")
    page.locator('nav.main a[href="/ui/station/refused"]').click()
    page.wait_for_url(f"{base}/ui/station/refused")
    row = page.locator("table.fills tbody tr", has_text=refused_fill)
    assert row.count() == 1
    text = row.inner_text()
    assert "07" in text and "拒绝充装" in text
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(tmp_path / "station_refused.png"), full_page=True)
    assert outside == []
    context.close()
