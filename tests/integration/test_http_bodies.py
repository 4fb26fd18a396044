"""What an attacker's bodies do to the HTTP API: every body-taking route, found in the route
table (so a new route is covered without editing this file), is sent oversized, deeply
nested, extreme and malformed bodies, anonymously and with a token. None may cost memory
before authentication, read past its cap, or answer 500."""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

from equipment.api import controllers
from equipment.api.auth import require_token
from equipment.domain.access import Role
from sereg.app import create_app
from tests import factories as f

pytestmark = pytest.mark.integration
# The assertions below read the English message ids; test_language.py covers Chinese.
ACCEPT_LANGUAGE = "en"

BODY_METHODS = {"POST", "PUT", "PATCH"}
PUBLIC: set[tuple[str, str]] = set()
CHUNK = 64 * 1024


def takes_body(path: str, handler: HTTPRouteHandler) -> bool:
    """Whether a body is read: every staff page's (the router reads the form for its
    CSRF token), else a handler's with a ``data`` parameter or the request itself (an
    upload reads its stream). An API POST without either (reapply, assess) never reads
    one, so a client's body costs it nothing and there is no cap to hold it to."""
    parameters = inspect.signature(handler.fn).parameters
    return path.startswith("/ui/") or "data" in parameters or "request" in parameters


def body_routes() -> list[tuple[str, str, int]]:
    """(method, path with its parameters filled, body cap) of every route that takes a body."""
    # A route without the token hook is public by design (the citizen report form): it
    # is held to its body cap and the corpus anonymously instead of to a 401.
    found = []
    for route in create_app(manage_db=False).routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not takes_body(route.path, handler):
                continue
            for method in sorted(set(handler.http_methods) & BODY_METHODS):
                path = re.sub(r"\{[^}:]+:int\}", "1", route.path)
                path = re.sub(r"\{[^}:]+:str\}", "x", path)
                found.append((method, path, handler.resolve_request_max_body_size()))
                if handler.resolve_before_request() is not require_token:
                    PUBLIC.add((method, path))
    assert len(found) >= 20, found  # the table was read, not an empty list
    return found


BODY_ROUTES = body_routes()
ROUTE_IDS = [f"{m} {p}" for m, p, _ in BODY_ROUTES]


class CountedBody:
    """A streamed request body that counts how much of it the server pulled."""

    def __init__(self, total: int, chunk: bytes = b"[" * CHUNK) -> None:
        self.total, self.chunk, self.pulled = total, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        while sent < self.total:
            piece = self.chunk[: self.total - sent]
            self.pulled += len(piece)
            sent += len(piece)
            yield piece


@pytest.fixture
async def ctx(engine):
    owner = await f.organisation("user_unit")
    company = await f.organisation("maintenance_company")
    lift = await f.unit(owner["id"])
    return {
        "owner": owner["id"],
        "company": company["id"],
        "lift": lift,
        "admin": await f.token(Role.ADMIN),
        "company_token": await f.token(Role.MAINTENANCE, company["id"]),
    }


def to_login(response: httpx.Response) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith("/login")


async def anonymous_body_is_refused_unread(client, ctx, method, path, cap):
    # 120 MiB once answered 401 after 15 s and 1 GB of RSS: now not one byte is read.
    if (method, path) in PUBLIC:
        path = on_the_lift(path, ctx)
        body = CountedBody(cap + 64 * CHUNK)
        response = await client.request(
            method, path, content=body, headers={"Content-Type": "application/json"}
        )
        # 403: the form's signed token is checked from the query before any body is read;
        # 303 to /login: a staff page without a session (checked before the body too).
        assert response.status_code in (403, 413) or to_login(response), response.text
        assert body.pulled <= cap + CHUNK, f"{body.pulled:,} bytes read past a cap of {cap:,}"
        return
    body = CountedBody(max(cap, 0) + 64 * CHUNK)
    response = await client.request(
        method, path, content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401, response.text
    assert body.pulled == 0, f"{body.pulled:,} bytes read before the token was checked"
    bad_token = CountedBody(cap + 64 * CHUNK)
    response = await client.request(
        method,
        path,
        content=bad_token,
        headers={"Content-Type": "application/json", "Authorization": "Bearer nope"},
    )
    assert response.status_code == 401 and bad_token.pulled == 0


async def body_past_its_cap_is_413_after_reading_at_most_the_cap(client, ctx, method, path, cap):
    assert cap is not None and cap <= 16 * 2**20, f"{method} {path} has no small body cap"
    path = on_the_lift(path, ctx)
    for token in (ctx["admin"], ctx["company_token"]):
        body = CountedBody(cap + 64 * CHUNK)
        response = await client.request(
            method, path, content=body, headers={**token, "Content-Type": "application/json"}
        )
        # 403: a role that may not use the route (or a public form without its signed
        # token) is refused before its body is read; a bearer token is no staff session.
        assert response.status_code in (403, 413) or to_login(response), response.text
        assert body.pulled <= cap + CHUNK, f"{body.pulled:,} bytes read past a cap of {cap:,}"
        if response.status_code == 413:
            assert f"{cap:,} bytes" in response.json()["detail"]
    declared = await client.request(
        method,
        path,
        content=b"{}",
        headers={
            **ctx["admin"],
            "Content-Type": "application/json",
            "Content-Length": str(cap + 1),
        },
    )
    assert declared.status_code in (403, 413) or to_login(declared)


# The adversarial corpus: every body below goes to every body-taking route.
DEEP = 5_000
EXTREME_TIMESTAMPS = [
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59+08:00",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01",
    "9999-12-31",
    "1970-01-01T00:00:00-23:59",
]
FIELD_NAMES = [
    "category", "district_code", "user_unit_id", "registration_code", "equipment_code",
    "manufacture_date", "commissioning_date", "registered_on", "inspected_on", "on",
    "at", "raised_at", "starts_on", "ends_on", "valid_until", "expires_at", "kind", "name",
    "note", "reason", "role", "organisation_id", "maintenance_company_id", "equipment_ids",
    "result", "conclusion", "next_due_on", "type", "features", "coordinates", "geometry",
]  # fmt: skip


def corpus() -> list[tuple[str, bytes]]:
    bodies: list[tuple[str, bytes]] = [
        ("deep arrays", b"[" * DEEP + b"]" * DEEP),
        ("deep objects", b'{"a":' * DEEP + b"1" + b"}" * DEEP),
        ("deep under a known field", b'{"note":' + b"[" * DEEP + b"]" * DEEP + b"}"),
        ("not UTF-8", b'{"name": "\xff\xfe\xfd", "note": "\xc3"}'),
        ("NUL", b'{"name": "a\\u0000b", "note": "\\u0000", "kind": "\\u0000"}'),
        ("raw NUL", b'{"name": "a\x00b"}'),
        ("truncated", b'{"name": "a'),
        ("empty", b""),
        ("huge field", b'{"name": "' + b"x" * 500_000 + b'", "note": "' + b"y" * 300_000 + b'"}'),
        ("huge number", b'{"user_unit_id": 1' + b"0" * 5000 + b"}"),
        ("lone surrogate", b'{"name": "\\ud800"}'),
    ]
    for stamp in EXTREME_TIMESTAMPS:
        body = "{" + ",".join(f'"{n}": "{stamp}"' for n in FIELD_NAMES) + "}"
        bodies.append((f"every field {stamp}", body.encode()))
    numbers = "{" + ",".join(f'"{n}": 9223372036854775808' for n in FIELD_NAMES) + "}"
    bodies.append(("every field 2**63", numbers.encode()))
    return bodies


CORPUS = corpus()


def on_the_lift(path: str, ctx) -> str:
    """The route's path naming the test's lift instead of a made-up one."""
    path = path.replace("/equipment/1/", f"/equipment/{ctx['lift']['id']}/")
    return path.replace("/p/x/", f"/p/{ctx['lift']['registration_code']}/")


async def adversarial_corpus_never_answers_500(client, ctx, method, path, caplog):
    public = (method, path) in PUBLIC
    path = on_the_lift(path, ctx)
    failures = []
    for token in (ctx["admin"], ctx["company_token"], {}):
        for content_type in ("application/json", "text/csv"):
            for name, body in CORPUS:
                response = await client.request(
                    method,
                    path,
                    content=body,
                    headers={**token, "Content-Type": content_type, "If-Match": '"1"'},
                )
                refused = response.status_code == 401 or public
                if response.status_code >= 500 or (not token and not refused):
                    failures.append((name, content_type, response.status_code, response.text))
    assert not failures, failures[:5]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(("method", "path", "cap"), BODY_ROUTES, ids=ROUTE_IDS)
async def test_every_body_route_under_attack(client, ctx, method, path, cap, caplog):
    # One test per route (not three): each database setup costs seconds on a busy machine.
    await anonymous_body_is_refused_unread(client, ctx, method, path, cap)
    await body_past_its_cap_is_413_after_reading_at_most_the_cap(client, ctx, method, path, cap)
    await adversarial_corpus_never_answers_500(client, ctx, method, path, caplog)


async def test_deep_json_is_refused_with_a_reason(client, ctx):
    response = await client.post(
        "/api/v1/equipment", content=b"[" * 1000 + b"]" * 1000, headers=ctx["admin"]
    )
    assert response.status_code == 422, response.text
    assert "nested too deeply" in response.json()["detail"]


def csv_rows(count: int, start: int = 0) -> bytes:
    return "".join(f"R{i},X,,\n" for i in range(start, start + count)).encode()


async def test_csv_upload_stops_reading_past_the_row_cap(client, ctx):
    # 5 million tiny rows once cost 1.1 GB; the parser must stop at row 10,001.
    header = b"record_id,code,maintained_on,level\n"
    first = header + csv_rows(10_000)
    rest_rows = 500_000

    class Upload(CountedBody):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            for start in range(0, len(first), 4096):
                piece = first[start : start + 4096]
                self.pulled += len(piece)
                yield piece
            for start in range(10_000, 10_000 + rest_rows, 1000):
                piece = csv_rows(1000, start)
                self.pulled += len(piece)
                yield piece

    body = Upload(0)
    response = await client.post(
        "/api/v1/maintenance/records",
        content=body,
        headers={**ctx["company_token"], "Content-Type": "text/csv"},
    )
    assert response.status_code == 422, response.text
    assert "10,000 rows" in response.json()["detail"]
    total = len(first) + len(csv_rows(rest_rows, 10_000))
    assert body.pulled < len(first) + 2 * len(csv_rows(1000, 10_000)), (body.pulled, total)


async def test_csv_field_over_the_limit_names_its_row(client, ctx):
    body = (
        "record_id,code,maintained_on,level,findings\n"
        "R1,X,2026-01-01,half_monthly,ok\n"
        f'R2,X,2026-01-01,half_monthly,"{"长" * 140_000}"\n'
    ).encode()
    response = await client.post(
        "/api/v1/maintenance/records",
        content=body,
        headers={**ctx["company_token"], "Content-Type": "text/csv"},
    )
    assert response.status_code == 422, response.text
    assert "row 3 " in response.json()["detail"], response.json()  # the header is row 1


async def test_csv_lines_cut_anywhere_read_as_one_file(client, ctx, engine):
    # The same file sent in one piece and a byte at a time (CRLF, CR and UTF-8 sequences cut
    # in half) gives the same report.
    text = (
        "\ufeffrecord_id,code,maintained_on,level,findings\r\n"
        'R1,X,2026-01-01,half_monthly,"门锁\r\n两行"\r\n'
        "R2,Y,2026-01-02,half_monthly,润滑\rR3,Z,2026-01-03,half_monthly,清洁\n"
    ).encode()

    class Bytewise(CountedBody):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            for i in range(len(text)):
                yield text[i : i + 1]

    answers = []
    for content in (text, Bytewise(0)):
        response = await client.post(
            "/api/v1/maintenance/records",
            content=content,
            headers={**ctx["company_token"], "Content-Type": "text/csv"},
        )
        assert response.status_code == 200, response.text
        answers.append(response.json())
    assert answers[0] == answers[1]
    # Spreadsheet rows: the header is row 1, the quoted line break stays within row 2.
    assert answers[0]["received"] == 3 and [r["row"] for r in answers[0]["rejected"]] == [2, 3, 4]


async def test_unhandled_error_is_logged_with_the_request_id_and_leaks_nothing(
    client, monkeypatch, caplog
):
    def broken(code: str) -> Any:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(controllers.catalogue, "category", broken)
    with caplog.at_level(logging.ERROR):
        response = await client.get(
            "/api/v1/categories", headers={"X-Request-ID": "probe-500-request"}
        )
    assert response.status_code == 500
    assert "secret" not in response.text and "Traceback" not in response.text
    assert "probe-500-request" in response.json()["detail"]
    assert response.headers["x-request-id"] == "probe-500-request"
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "probe-500-request" in record.getMessage()
    assert record.exc_info and "secret internal detail" in str(record.exc_info[1])


# Every list filter of these names is validated, found from the OpenAPI document so a new
# list that takes one is covered without editing this file.
BAD_FILTERS = {
    "district": ["abc", "42060", "999999", "420600x", "429000"],
    "category": ["abc", "9999", "31"],
    "category_prefix": ["abc", "Z", "99"],
}
GOOD_FILTERS = {"district": "420606", "category": "3110", "category_prefix": "3"}
# Where a filter of the same name means something else: citizen reports' category is the
# kind of report (trapped, strange noise...), validated against its own vocabulary.
OWN_VOCABULARY = {
    ("/api/v1/citizen-reports", "category"): (["abc", "3110"], "trapped"),
    ("/api/v1/citizen-reports/counts", "category"): (["abc", "3110"], "trapped"),
}
REQUIRED = {"min_lon": 112, "min_lat": 32, "max_lon": 112.3, "max_lat": 32.2, "lon": 112.1,
            "lat": 32.0, "radius_m": 1000}  # fmt: skip


def filter_routes() -> list[tuple[str, str]]:
    schema = create_app(manage_db=False).openapi_schema
    found = []
    for path, item in schema.paths.items():
        for parameter in (item.get.parameters or []) if item.get else []:
            if getattr(parameter, "name", None) in BAD_FILTERS:
                found.append((re.sub(r"\{[^}]+\}", "1", path), parameter.name))
    return sorted(found)


FILTER_ROUTES = filter_routes()


async def test_every_malformed_list_filter_is_refused_naming_it(client, ctx):
    failures = []
    for path, name in FILTER_ROUTES:
        required = {k: v for k, v in REQUIRED.items() if "/geo/" in path}
        bad, good_value = OWN_VOCABULARY.get((path, name), (BAD_FILTERS[name], GOOD_FILTERS[name]))
        for value in bad:
            response = await client.get(
                path, params={**required, name: value}, headers=ctx["admin"]
            )
            # 400 when the text is too long for the parameter, 422 when it is no such code.
            extra = response.json().get("extra") if response.status_code < 500 else None
            if response.status_code not in (400, 422) or not extra or extra[0]["key"] != name:
                failures.append((path, name, value, response.status_code, response.text[:200]))
        good = await client.get(path, params={**required, name: good_value}, headers=ctx["admin"])
        if good.status_code not in (200, 404):  # 404: area 1 does not exist
            failures.append((path, name, good_value, good.status_code, good.text[:200]))
    assert not failures, failures


def test_filter_routes_were_found():
    paths = {p for p, n in FILTER_ROUTES if n == "district"}
    assert {"/api/v1/equipment", "/api/v1/due", "/api/v1/alarms"} <= paths
    assert len(FILTER_ROUTES) >= 15


async def test_downloads_name_their_charset_once(client, ctx):
    for path, media in (
        ("/api/v1/due/export.csv", "text/csv"),
        ("/api/v1/due/calendar.ics", "text/calendar"),
    ):
        response = await client.get(path, headers=ctx["admin"])
        assert response.status_code == 200
        assert response.headers["content-type"] == f"{media}; charset=utf-8"
