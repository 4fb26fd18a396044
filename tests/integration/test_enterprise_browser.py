"""The enterprise client in a real headless Chromium against ``sereg serve --demo`` on
PostgreSQL: the demo user unit applies for a new lift on a 390x844 phone, and the
registration office registers it from its queue of pending registrations."""

from __future__ import annotations

import time

import pytest

from tests import factories as f
from tests.browser_support import DemoService, block_outside_network
from tests.service_support import ACCOUNTS

pytestmark = pytest.mark.integration
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def pg_service(demo_service: DemoService) -> str:
    return demo_service.base


def log_in(context, base: str, role: str):
    username, password = ACCOUNTS[base][role]
    page = context.new_page()
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/ui")
    return page


def test_a_user_unit_applies_for_a_lift_and_the_office_registers_it(pg_service, browser, tmp_path):
    base = pg_service
    # Unique within the demo city's codes: this process's clock in the serial part.
    equipment_code = f"3110B10012024{int(time.time()) % 100000:05d}"
    phone = browser.new_context(viewport=PHONE, locale="zh-CN")
    outside = block_outside_network(phone)
    page = log_in(phone, base, "user_unit")
    page.get_by_role("link", name="申请新设备登记").first.click()
    page.wait_for_url(f"{base}/ui/units/new")
    page.get_by_label("设备类别").select_option("3110")
    page.get_by_label("区县", exact=True).select_option("420606")
    page.get_by_label("设备代码").fill(equipment_code)
    page.get_by_label("制造日期").fill("2024-03-01")
    page.get_by_label("投入使用日期").fill("2024-04-01")
    page.get_by_label("设备使用地点").fill("樊城区长虹路8号")
    page.get_by_role("button", name="提交申请").click()  # without the floors a lift needs
    page.wait_for_load_state()
    error = page.locator("#e-floors")
    assert error.is_visible() and "必" in error.inner_text()  # next to the field, in Chinese
    page.get_by_label("层站数").fill("18")
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url(f"{base}/ui/my/units/*")
    assert "申请已提交" in page.locator("p.notice").inner_text()
    assert page.locator("h1 .tag").inner_text() == "未办理使用登记"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.close()

    office = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    outside += block_outside_network(office)
    page = log_in(office, base, "admin")
    page.get_by_role("link", name="待办理登记").first.click()
    page.wait_for_url(f"{base}/ui/registrations")
    page.get_by_label("代码或地址").fill(equipment_code)
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url(f"{base}/ui/registrations?q=*")
    card = page.locator("section.card", has_text=equipment_code)
    assert "逾期" in card.locator("h2").inner_text()  # in service since 2024: late
    # The demo numbers its codes from 0001: the 9000s are free.
    code = f.registration_code("3110", "420606")[:-4] + f"{9000 + int(time.time()) % 1000}"
    card.get_by_label("设备注册代码").fill(code)
    card.get_by_role("button", name="办理登记").click()
    page.wait_for_load_state()
    page.wait_for_url(f"{base}/ui/registrations?registered=*")
    assert page.locator("p.notice").inner_text() == f"已登记：{code}"
    assert page.locator("section.card", has_text=equipment_code).count() == 0
    page.screenshot(path=str(tmp_path / "enterprise_registered.png"))  # artefact, not committed
    assert outside == []
    office.close()
