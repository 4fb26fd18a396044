"""A real headless Chromium (Debian's ``chromium`` package) driven by Playwright.

Never ``playwright install``: the browser is the system's, at ``executable_path``. A
machine without it skips the browser tests; CI (``CI=true``) fails them instead, and
``.ci/run`` installs the package when it is absent.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import (
    create_pg_database,
    drop_pg_database_later,
    in_own_loop,
    pg_url,
    sereg_env,
    service_missing,
)
from tests.service_support import serve_demo

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


@dataclass(frozen=True)
class DemoService:
    """A running ``sereg serve --demo`` on its own PostgreSQL database."""

    base: str  # http://127.0.0.1:<port>
    tokens: dict[str, str]  # the demo tokens it printed, by role
    env: dict[str, str]  # the environment it runs with (DATABASE_URL...), for run_sereg
    database: str  # the PostgreSQL database's name


@pytest.fixture(scope="session")
def demo_service() -> Iterator[DemoService]:
    """One ``sereg serve --demo`` on PostgreSQL shared by the session's browser journeys
    (one per xdist worker that runs any): starting one loads the 400-unit demo city, which
    costs far more than the journeys themselves. Each journey makes the records it then
    looks for (its own codes, accounts, uploads), so none depends on what another did."""
    name = in_own_loop(create_pg_database("sereg_browser_demo"))
    if name is None:
        service_missing("PostgreSQL")
    env = sereg_env(DATABASE_URL=pg_url(name))
    service = serve_demo(env)
    try:
        base, tokens = next(service)
        yield DemoService(base, tokens, env, name)
    finally:
        service.close()
        drop_pg_database_later(name)
