"""A real headless Chromium (Debian's ``chromium`` package) driven by Playwright.

Never ``playwright install``: the browser is the system's, at ``executable_path``. A
machine without it skips the browser tests; CI (``CI=true``) fails them instead, and
``.ci/run`` installs the package when it is absent.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import service_missing

CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture
def browser() -> Iterator:
    """A launched Chromium; closed after the test."""
    if not CHROMIUM.exists():
        service_missing("Chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


def block_outside_network(context) -> list[str]:
    """Abort every request to a host that is not loopback, as on an intranet with no
    internet; returns the list the aborted URLs are appended to."""
    blocked: list[str] = []

    def route(route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    return blocked
