"""The inspector pages on both engines: the home's counts and entrapment clocks, the due
list's filters, keyset pages and downloads, a unit's page and its two forms (field errors
in Chinese, POST-redirect-GET), the calendar feed, and every route refusing a unit
outside the caller's scope with a 404."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest

from equipment.domain.access import SYSTEM, Jurisdiction, Role
from equipment.services import accounts, alarms, clock, tokens
from tests import factories as f
from tests.web_support import new_client

pytestmark = pytest.mark.integration

NEXT = re.compile(r'href="([^"]+)" rel="next"')
FEED = re.compile(r'value="(http://sereg\.test/feeds/calendar/[^"]+\.ics)"')


async def world() -> dict:
    """An inspection body, a user unit, two overdue lifts in Fancheng (420606) and one in
    Xiangcheng (420602), never inspected since 2015."""
    body = await f.organisation("inspection_body")
    owner = await f.organisation("user_unit")
    inside = [await f.unit(owner["id"]) for _ in range(2)]
    outside = await f.unit(owner["id"], district_code="420602")
    return {"body": body["id"], "owner": owner["id"], "inside": inside, "outside": outside}


async def entrapment(unit_id: int, minutes_ago: int = 5) -> None:
    now = clock.now()
    await alarms.raise_alarm(
        SYSTEM,
        unit_id,
        kind="entrapment",
        raised_at=now - timedelta(minutes=minutes_ago),
        source="manual",
        now=now,
    )


async def test_the_home_shows_what_needs_the_inspector_in_the_jurisdiction(staff):
    w = await world()
    await entrapment(w["inside"][0]["id"])
    await entrapment(w["outside"]["id"])
    bound = await staff(Role.INSPECTOR, w["body"], jurisdiction="420606")
    home = (await bound.http.get("/ui")).text
    assert re.search(r'id="count-overdue">2<', home)
    assert re.search(r'id="count-alarms">1<', home)
    assert f'href="/ui/units/{w["inside"][0]["id"]}"' in home
    assert f'href="/ui/units/{w["outside"]["id"]}"' not in home
    assert w["inside"][0]["code"] in home and w["outside"]["code"] not in home
    # The clock starts from the server's timestamp and shows the elapsed time already.
    clock_tag = re.search(r'<time class="clock" datetime="([^"]+)">(\d+):(\d\d):\d\d<', home)
    assert clock_tag and clock_tag.group(2) == "0" and int(clock_tag.group(3)) >= 5
    assert "/static/staff/clock.js" in home
    assert "不读取充装记录" in home  # a bound inspector is refused fills: said, not hidden
    everywhere = await staff(Role.INSPECTOR, w["body"])
    home = (await everywhere.http.get("/ui")).text
    assert re.search(r'id="count-overdue">3<', home)
    assert re.search(r'id="count-alarms">2<', home)
    assert "没有被拒绝的充装" in home


async def test_the_due_list_filters_pages_and_downloads(staff):
    w = await world()
    inspector = await staff(Role.INSPECTOR, w["body"])
    answer = await inspector.http.get("/ui/due?window=overdue&district=420606&limit=1")
    assert answer.status_code == 200
    first = answer.text
    codes = {u["code"] for u in w["inside"]}
    shown = [c for c in codes if c in first]
    assert len(shown) == 1 and w["outside"]["code"] not in first
    second = (await inspector.http.get(unescape(NEXT.search(first).group(1)))).text
    assert [c for c in codes if c in second] == list(codes - set(shown))
    assert NEXT.search(second) is None and "上一页" not in second
    # Every filter of the API, checked as the API checks it, the error beside its field.
    bad = await inspector.http.get("/ui/due?within_days=soon&category=9999")
    assert bad.status_code == 200
    assert 'id="e-within_days"' in bad.text and "整数" in bad.text
    wrong = await inspector.http.get("/ui/due?category=9999")
    assert 'id="e-category"' in wrong.text
    assert w["inside"][0]["code"] not in wrong.text
    # The downloads take the same filters and run the API's export code.
    csv = await inspector.http.get("/ui/due/export.csv?window=overdue&district=420602")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    text = csv.content.decode("utf-8-sig")
    assert "下次检验日期" in text and w["outside"]["code"] in text
    assert not any(c in text for c in codes)
    xlsx = await inspector.http.get("/ui/due/export.xlsx?district=420606")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


async def test_a_failed_inspection_puts_the_unit_out_of_service(staff):
    w = await world()
    unit = w["inside"][0]
    inspector = await staff(Role.INSPECTOR, w["body"])
    page = await inspector.http.get(f"/ui/units/{unit['id']}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "TSG" in page.text  # each due date names its clause
    assert f'href="/p/{unit["code"]}"' in page.text
    assert "/static/leaflet/leaflet.js" in page.text
    # The risk grade (风险分级) in words, with the factors that add points.
    assert 'id="risk-grade"' in page.text and "风险分级" in page.text
    # Without the form token the result is refused.
    forged = await inspector.http.post(
        f"/ui/units/{unit['id']}/inspections", data={"kind": "periodic"}
    )
    assert forged.status_code == 403
    # A date in the future: the reason in Chinese next to the date field, nothing stored.
    future = (clock.today() + timedelta(days=3)).isoformat()
    refused = await inspector.post(
        f"/ui/units/{unit['id']}/inspections",
        {"kind": "periodic", "inspected_on": future, "conclusion": "fail", "report_no": "R-1"},
    )
    assert refused.status_code == 422
    error = re.search(r'id="inspection-inspected_on-error">([^<]+)<', refused.text)
    assert error and re.search(r"[\u4e00-\u9fff]", error.group(1)), refused.text
    assert 'value="R-1"' in refused.text  # the form keeps what was typed
    done = await inspector.post(
        f"/ui/units/{unit['id']}/inspections",
        {
            "kind": "periodic",
            "inspected_on": clock.today().isoformat(),
            "conclusion": "fail",
            "report_no": "R-2",
            "findings": "制动器磨损",
        },
    )
    assert (done.status_code, done.headers["location"]) == (
        303,
        f"/ui/units/{unit['id']}?done=inspection",
    )
    after = (await inspector.http.get(done.headers["location"])).text
    assert "制动器磨损" in after and 'id="not-fit"' in after
    public = await inspector.http.get(f"/p/{unit['code']}")
    assert "停止使用" in public.text


async def test_a_phoned_in_alarm_starts_its_clock(staff):
    w = await world()
    unit = w["inside"][0]
    inspector = await staff(Role.INSPECTOR, w["body"])
    refused = await inspector.post(f"/ui/units/{unit['id']}/alarms", {"kind": "fire"})
    assert refused.status_code == 422
    assert re.search(r'id="alarm-kind-error">[^<]*[\u4e00-\u9fff]', refused.text)
    done = await inspector.post(
        f"/ui/units/{unit['id']}/alarms", {"kind": "entrapment", "note": "96333 来电"}
    )
    assert done.status_code == 303
    page = (await inspector.http.get(done.headers["location"])).text
    assert "96333 来电" in page and "困人" in page
    home = (await inspector.http.get("/ui")).text
    assert '<time class="clock"' in home


async def test_every_route_refuses_a_unit_outside_the_scope(staff):
    w = await world()
    outside = w["outside"]
    bound = await staff(Role.INSPECTOR, w["body"], jurisdiction="420606")
    other_owner = await f.organisation("user_unit")
    stranger = await staff(Role.USER_UNIT, other_owner["id"])
    for person in (bound, stranger):
        page = await person.http.get(f"/ui/units/{outside['id']}")
        assert page.status_code == 404
        for form, data in (
            (
                "inspections",
                {"kind": "periodic", "inspected_on": "2026-01-05", "conclusion": "fail"},
            ),
            ("alarms", {"kind": "entrapment"}),
        ):
            answer = await person.post(f"/ui/units/{outside['id']}/{form}", data)
            # A user unit may not record inspections at all: refused before the scope.
            expected = 403 if (person, form) == (stranger, "inspections") else 404
            assert answer.status_code == expected, (form, answer.text)
    listed = (await bound.http.get("/ui/due")).text
    assert outside["code"] not in listed and w["inside"][0]["code"] in listed
    csv = (await bound.http.get("/ui/due/export.csv")).content.decode("utf-8-sig")
    assert outside["code"] not in csv and w["inside"][0]["code"] in csv
    # Nothing was written for the unit outside.
    owner = await staff(Role.USER_UNIT, w["owner"])
    own_page = (await owner.http.get(f"/ui/units/{outside['id']}")).text
    assert "unit-alarms" not in own_page


async def test_the_calendar_feed_is_secret_revocable_and_scoped(staff):
    w = await world()
    bound = await staff(Role.INSPECTOR, w["body"], jurisdiction="420606")
    made = await bound.post("/ui/due/calendar")
    assert made.status_code == 200
    url = FEED.search(made.text).group(1)
    async with new_client() as anonymous:  # a calendar app: no cookie, no header
        feed = await anonymous.get(url)
        assert feed.status_code == 200
        assert feed.headers["content-type"].startswith("text/calendar")
        assert "BEGIN:VCALENDAR" in feed.text
        assert w["inside"][0]["code"] in feed.text and w["outside"]["code"] not in feed.text
        # Only the hash is kept: the page never shows the secret again.
        due_page = (await bound.http.get("/ui/due")).text
        assert url.rsplit("/", 1)[1].removesuffix(".ics") not in due_page
        assert "/ui/due/calendar/revoke" in due_page
        # A new secret stops the old one.
        newer = FEED.search((await bound.post("/ui/due/calendar")).text).group(1)
        assert (await anonymous.get(url)).status_code == 404
        assert (await anonymous.get(newer)).status_code == 200
        # Revoked: it stops.
        revoked = await bound.post("/ui/due/calendar/revoke")
        assert (revoked.status_code, revoked.headers["location"]) == (303, "/ui/due")
        assert (await anonymous.get(newer)).status_code == 404
        # A disabled account's feed stops too.
        latest = FEED.search((await bound.post("/ui/due/calendar")).text).group(1)
        assert (await anonymous.get(latest)).status_code == 200
        await accounts.disable_account(SYSTEM, bound.username, now=clock.now())
        assert (await anonymous.get(latest)).status_code == 404
        assert (await anonymous.get("/feeds/calendar/nonsense.ics")).status_code == 404


async def test_the_due_summary_of_a_jurisdiction_bound_token_counts_its_units(client):
    # The API behind the home's counts: it failed for a jurisdiction before (its
    # inspections query mangled the jurisdiction clause).
    w = await world()
    secret, _ = await tokens.create_token(
        SYSTEM,
        role=Role.INSPECTOR,
        organisation_id=w["body"],
        label="bound",
        now=clock.now(),
        jurisdiction=Jurisdiction.parse("420606"),
    )
    answer = await client.get("/api/v1/due/summary", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200, answer.text
    assert {row["district_code"] for row in answer.json()} == {"420606"}
    assert sum(row["overdue"] for row in answer.json()) == 2
