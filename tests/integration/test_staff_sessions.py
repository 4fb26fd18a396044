"""Accounts and sessions of the staff pages on both engines: login and logout, no session
fixation, a disabled account locked out, the login throttle, CSRF refused without the
token, the cookie flags, and sessions shared by workers through the database."""

from __future__ import annotations

import httpx
import pytest

from equipment.domain.access import Role
from equipment.services import accounts
from sereg.app import create_app
from tests.web_support import PASSWORD, account, csrf_of, log_in, new_client

pytestmark = pytest.mark.integration


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie header by cookie name."""
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


async def test_anonymous_pages_go_to_the_login_and_back(engine):
    async with new_client() as http:
        root = await http.get("/")
        assert (root.status_code, root.headers["location"]) == (303, "/login")
        page = await http.get("/ui/accounts")
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=%2Fui%2Faccounts"
        login = await http.get(page.headers["location"])
        assert login.status_code == 200
        assert "登录" in login.text and 'lang="zh-CN"' in login.text  # Chinese first
        username = await account(Role.ADMIN)
        done = await http.post(
            "/login?next=/ui/accounts",
            data={"username": username, "password": PASSWORD, "_csrf": csrf_of(login.text)},
        )
        assert (done.status_code, done.headers["location"]) == (303, "/ui/accounts")
        assert (await http.get("/")).headers["location"] == "/ui"


async def test_login_never_redirects_to_another_site(engine):
    async with new_client() as http:
        username = await account(Role.ADMIN)
        for target in ("https://evil.example/ui", "//evil.example/ui", "/ui//evil", "/api/v1"):
            form = (await http.get("/login")).text
            token = csrf_of(form[form.index('action="/login"') :])
            done = await http.post(
                f"/login?next={target}",
                data={"username": username, "password": PASSWORD, "_csrf": token},
            )
            assert done.headers["location"] == "/ui", target


async def test_cookies_are_httponly_samesite_and_secure_over_tls(engine):
    username = await account(Role.ADMIN)
    for base, secure in (("http://sereg.test", False), ("https://sereg.test", True)):
        transport = httpx.ASGITransport(app=create_app(manage_db=False))
        async with httpx.AsyncClient(transport=transport, base_url=base) as http:
            form = await http.get("/login")
            done = await log_in(http, username)
            for header in (
                set_cookies(form)["sereg_login_csrf"],
                set_cookies(done)["sereg_session"],
            ):
                flags = {part.strip().lower() for part in header.split(";")}
                assert "httponly" in flags and "samesite=lax" in flags, header
                assert ("secure" in flags) is secure, header


async def test_logout_ends_the_session_for_every_worker(staff):
    admin = await staff(Role.ADMIN)
    cookie = admin.http.cookies["sereg_session"]
    # Another worker (another app instance on the same database) knows the session.
    async with new_client() as other:
        other.cookies.set("sereg_session", cookie, domain="sereg.test")
        assert (await other.get("/ui")).status_code == 200
        out = await admin.post("/logout")
        assert (out.status_code, out.headers["location"]) == (303, "/login")
        # The other worker's next request is refused, though it still sends the cookie.
        assert (await other.get("/ui")).status_code == 303


async def test_logout_without_the_form_token_is_refused(staff):
    admin = await staff(Role.ADMIN)
    refused = await admin.http.post("/logout", data={})
    assert refused.status_code == 403
    assert (await admin.http.get("/ui")).status_code == 200


async def test_a_planted_session_id_is_never_the_logged_in_one(engine):
    """Session fixation: whatever session id the browser had, login issues a new one."""
    username = await account(Role.ADMIN)
    async with new_client() as victim:
        # The attacker's chosen id, and then a real session of the attacker's own.
        victim.cookies.set("sereg_session", "attacker-chosen-id", domain="sereg.test")
        await log_in(victim, username)
        first = victim.cookies["sereg_session"]
        assert first != "attacker-chosen-id"
        await log_in(victim, username)
        second = victim.cookies["sereg_session"]
        assert second != first
    async with new_client() as attacker:
        for known in ("attacker-chosen-id", first):
            attacker.cookies.set("sereg_session", known, domain="sereg.test")
            assert (await attacker.get("/ui")).status_code == 303, known
        attacker.cookies.set("sereg_session", second, domain="sereg.test")
        assert (await attacker.get("/ui")).status_code == 200  # the real one works


async def test_a_disabled_account_is_locked_out_at_its_next_request(staff):
    admin = await staff(Role.ADMIN)
    inspector = await staff(Role.INSPECTOR)
    assert (await inspector.http.get("/ui")).status_code == 200
    done = await admin.post(f"/ui/accounts/{inspector.username}/disable")
    assert done.status_code == 303
    assert (await inspector.http.get("/ui")).status_code == 303
    page = await admin.http.get("/ui/accounts")
    assert "已停用" in page.text
    async with new_client() as http:  # and it cannot log in again
        assert (await log_in(http, inspector.username)).status_code == 401


async def test_the_admin_creates_an_account_that_can_log_in(staff):
    admin = await staff(Role.ADMIN)
    created = await admin.post(
        "/ui/accounts",
        {
            "username": "li-lei",
            "password": "a long password",
            "role": "inspector",
            "org": "",
            "jurisdiction": "420602,area:3",
        },
    )
    assert (created.status_code, created.headers["location"]) == (303, "/ui/accounts")
    async with new_client() as http:
        assert (await log_in(http, "li-lei", "a long password")).status_code == 303
        home = await http.get("/ui")
        assert "420602,area:3" in home.text
    # A bad field is named next to the field, in Chinese, and nothing is stored.
    refused = await admin.post(
        "/ui/accounts",
        {"username": "x", "password": "short", "role": "user_unit", "org": "", "jurisdiction": ""},
    )
    assert refused.status_code == 422
    assert "用户名为 3 至 64 个字母" in refused.text
    assert "x" not in {a.username for a in await accounts.list_accounts(_admin())}


def _admin():
    from equipment.domain.access import SYSTEM

    return SYSTEM


async def test_only_the_admin_manages_accounts(staff):
    inspector = await staff(Role.INSPECTOR)
    assert (await inspector.http.get("/ui/accounts")).status_code == 403
    refused = await inspector.post(
        "/ui/accounts",
        {"username": "mallory", "password": "0123456789", "role": "admin", "org": ""},
    )
    assert refused.status_code == 403
    assert "mallory" not in {a.username for a in await accounts.list_accounts(_admin())}


async def test_a_form_without_the_csrf_token_is_refused(staff):
    admin = await staff(Role.ADMIN)
    body = {"username": "eve-1", "password": "0123456789", "role": "admin", "org": ""}
    for sent in ({}, {"_csrf": "forged"}):
        refused = await admin.http.post("/ui/accounts", data={**body, **sent})
        assert refused.status_code == 403, sent
        assert "表单已过期或并非来自本站" in refused.text
    assert "eve-1" not in {a.username for a in await accounts.list_accounts(_admin())}
    # Another session's token is no better than none.
    other = await staff(Role.ADMIN)
    refused = await admin.http.post("/ui/accounts", data={**body, "_csrf": other.csrf})
    assert refused.status_code == 403
    # The login form too: without the token that came with the form, nothing happens.
    async with new_client() as http:
        username = await account(Role.ADMIN)
        bare = await http.post("/login", data={"username": username, "password": PASSWORD})
        assert bare.status_code == 403 and "sereg_session" not in http.cookies


async def test_five_failed_logins_in_a_minute_slow_the_account_and_the_address(engine):
    victim = await account(Role.ADMIN)
    bystander = await account(Role.ADMIN)
    async with new_client() as http:
        for _ in range(5):
            wrong = await log_in(http, victim, "not the password")
            assert wrong.status_code == 401
            assert "用户名或密码错误" in wrong.text
        # The right password now waits too, and the reason is said in Chinese.
        held = await log_in(http, victim)
        assert held.status_code == 429
        assert held.headers["retry-after"] == "60"
        assert "登录失败次数过多" in held.text
        assert "sereg_session" not in http.cookies
        # The address is held for any account...
        assert (await log_in(http, bystander)).status_code == 429
    # ...and the account from any address.
    elsewhere = httpx.ASGITransport(app=create_app(manage_db=False), client=("10.1.2.3", 5000))
    async with httpx.AsyncClient(transport=elsewhere, base_url="http://sereg.test") as other:
        assert (await log_in(other, victim)).status_code == 429
        assert (await log_in(other, bystander)).status_code == 303


async def test_the_language_switch_is_remembered(staff):
    admin = await staff(Role.ADMIN)
    english = await admin.http.get("/ui?lang=en")
    assert 'lang="en"' in english.text and "Log out" in english.text
    again = await admin.http.get("/ui/accounts")
    assert 'lang="en"' in again.text and "Accounts" in again.text
    back = await admin.http.get("/ui?lang=zh-CN")
    assert "退出登录" in back.text
