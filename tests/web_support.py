"""Logging in to the staff pages in tests: an account of a role, and an httpx client
holding its session cookie and its CSRF token.

    async def test_my_page(staff):
        inspector = await staff(Role.INSPECTOR, org_id, jurisdiction="420602")
        answer = await inspector.http.get("/ui/my-page")
        answer = await inspector.post("/ui/my-page", {"field": "value"})  # CSRF added

The fixture is registered in tests/conftest.py (pytest_plugins): no import needed.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from litestar import Litestar

from equipment.domain.access import SYSTEM, Jurisdiction, Role
from equipment.services import accounts, clock
from sereg.app import create_app
from sereg.bootstrap import Bootstrap
from tests.apps import shared_app

CSRF = re.compile(r'name="_csrf" value="([^"]+)"')
PASSWORD = "correct horse battery"
_serial = itertools.count(1)


async def account(role: Role, organisation_id: int | None = None, jurisdiction: str = "") -> str:
    """A new account of ``role``; its password is ``PASSWORD``. Returns the user name."""
    username = f"{role.value.replace('_', '-')}-{next(_serial)}"
    await accounts.create_account(
        SYSTEM,
        username=username,
        password=PASSWORD,
        role=role,
        organisation_id=organisation_id,
        jurisdiction=Jurisdiction.parse(jurisdiction),
        now=clock.now(),
    )
    return username


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


async def log_in(
    http: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> httpx.Response:
    """The login form as a browser fills it: GET (cookie and token), then POST."""
    form = (await http.get("/login")).text
    # The login form's own token (a logged-in page also has the logout form's).
    token = csrf_of(form[form.index('action="/login"') :])
    return await http.post(
        "/login", data={"username": username, "password": password, "_csrf": token}
    )


@dataclass
class Staff:
    http: httpx.AsyncClient
    username: str
    csrf: str

    async def post(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.post(path, data={**(data or {}), "_csrf": self.csrf})


def new_client(app: Litestar | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app or create_app(manage_db=False))
    return httpx.AsyncClient(transport=transport, base_url="http://sereg.test")


@pytest.fixture
async def staff(engine, boot: Bootstrap) -> AsyncIterator[Callable[..., Awaitable[Staff]]]:
    """``await staff(role, org_id=None, jurisdiction="")``: a logged-in Staff client of
    the test's bootstrap (its settings and clock)."""
    clients: list[httpx.AsyncClient] = []
    # One app for the people of a test (the process's for these settings): each client
    # still has its own cookies, so its own session.
    app = shared_app(boot)

    async def logged_in(
        role: Role, organisation_id: int | None = None, jurisdiction: str = ""
    ) -> Staff:
        username = await account(role, organisation_id, jurisdiction)
        http = new_client(app)
        clients.append(http)
        answer = await log_in(http, username)
        assert answer.status_code == 303, answer.text
        home = await http.get("/ui")
        assert home.status_code == 200, home.text
        return Staff(http, username, csrf_of(home.text))

    yield logged_in
    for http in clients:
        await http.aclose()
