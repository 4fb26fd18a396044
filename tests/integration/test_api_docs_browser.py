"""The API documentation in a real browser on a network with no way out: Swagger UI's
files come from the service itself, so the operations are listed and Authorize works."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser_support import DemoService, block_outside_network

pytestmark = pytest.mark.integration


@pytest.fixture
def service(demo_service: DemoService) -> tuple[str, dict[str, str]]:
    # The docs page reads no table: one engine is enough here (the session's demo server).
    return demo_service.base, demo_service.tokens


@pytest.mark.parametrize("path", ["/schema/swagger", "/schema"])
def test_swagger_lists_the_operations_with_the_outside_network_blocked(browser, service, path):
    base, _ = service
    spec = httpx.get(f"{base}/schema/openapi.json", timeout=10).json()
    operations = sum(
        method in {"get", "post", "put", "patch", "delete"}
        for item in spec["paths"].values()
        for method in item
    )
    context = browser.new_context()
    blocked = block_outside_network(context)
    page = context.new_page()
    page.goto(f"{base}{path}")
    # Swagger UI renders one .opblock per operation once its script has run.
    try:
        page.locator(".opblock").first.wait_for(state="visible", timeout=20_000)
    except PlaywrightTimeout:
        pytest.fail(
            f"{path}: no operation listed within 20 s (blank page); "
            f"outside requests aborted: {blocked}"
        )
    assert page.locator(".opblock").count() == operations
    # The bearer scheme gives the Authorize button; its dialog offers the scheme.
    page.locator("button.authorize").first.click()
    page.get_by_text("BearerToken").first.wait_for(state="visible", timeout=5_000)
    assert blocked == [], f"the page asked for outside resources: {blocked}"
    context.close()
