"""The enterprise client of a maintenance company (/ui/maint) and of a filling station
(/ui/station), logged in as their people, on both engines: each sees its own units,
alarms, fills and cylinders, and another company's are a 404 or absent."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook

from equipment.api import bodies
from equipment.domain import record_sheets
from equipment.domain.access import SYSTEM, Role
from equipment.domain.fills import verdict_label
from equipment.services import alarms, clock
from tests import factories as f
from tests.ingest_support import cylinder, fill_payload, fills_topic, ingest_now, station

pytestmark = pytest.mark.integration
DAY = timedelta(days=1)
ZH_HEADERS = [record_sheets.HEADERS_ZH[name] for name in record_sheets.FIELDS]


async def _contract(client, owner: dict, company: dict, units: list[dict]) -> None:
    made = await client.post(
        "/api/v1/contracts",
        json={
            "user_unit_id": owner["id"],
            "maintenance_company_id": company["id"],
            "starts_on": str(f.today() - 200 * DAY),
            "ends_on": str(f.today() + 165 * DAY),
            "equipment_ids": [u["id"] for u in units],
        },
        headers=await f.token(Role.USER_UNIT, owner["id"]),
    )
    assert made.status_code == 201, made.text


@pytest.fixture
async def companies(client, engine):
    """Company A maintains two lifts, company B one; each lift has an open entrapment."""
    owner = await f.organisation("user_unit")
    a, b = await f.organisation("maintenance_company"), await f.organisation("maintenance_company")
    ours = [await f.unit(owner["id"]) for _ in range(2)]
    theirs = await f.unit(owner["id"])
    await _contract(client, owner, a, ours)
    await _contract(client, owner, b, [theirs])
    now = clock.now()
    raised = {}
    for lift in (ours[0], theirs):
        row = await alarms.raise_alarm(
            SYSTEM,
            lift["id"],
            kind="entrapment",
            raised_at=now - timedelta(minutes=7),
            source="manual",
            now=now,
        )
        raised[lift["id"]] = row.id
    return {"a": a, "b": b, "ours": ours, "theirs": theirs, "alarms": raised}


def gbk_csv(rows: list[list[str]]) -> bytes:
    """What Excel's "CSV (逗号分隔)" writes on a Chinese Windows: GBK, CRLF, no BOM."""
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("gbk")


async def upload(staff_client, content: bytes, name: str = "维保记录.csv", csrf: bool = True):
    data = {"_csrf": staff_client.csrf} if csrf else {}
    return await staff_client.http.post(
        "/ui/maint/upload", data=data, files={"file": (name, content, "text/csv")}
    )


# ---- maintenance company ---------------------------------------------------------


async def test_units_and_unit_pages_are_the_companys_own(companies, staff) -> None:
    s = await staff(Role.MAINTENANCE, companies["a"]["id"])
    listed = await s.http.get("/ui/maint/units")
    assert listed.status_code == 200, listed.text
    for lift in companies["ours"]:
        assert lift["code"] in listed.text
    assert companies["theirs"]["code"] not in listed.text
    assert "在用" in listed.text  # the status's label, not the code
    one = await s.http.get(f"/ui/maint/units/{companies['ours'][0]['id']}")
    assert one.status_code == 200 and companies["ours"][0]["address"] in one.text
    hidden = await s.http.get(f"/ui/maint/units/{companies['theirs']['id']}")
    assert hidden.status_code == 404
    assert companies["theirs"]["code"] not in hidden.text
    # The home links to the company's pages.
    home = await s.http.get("/ui")
    for path in ("/ui/maint/units", "/ui/maint/overdue", "/ui/maint/upload", "/ui/maint/alarms"):
        assert f'href="{path}"' in home.text


async def test_overdue_maintenance_and_score(companies, staff) -> None:
    s = await staff(Role.MAINTENANCE, companies["a"]["id"])
    # No record in 200 days: both lifts' 15-day maintenance is overdue.
    overdue = await s.http.get("/ui/maint/overdue")
    assert overdue.status_code == 200, overdue.text
    for lift in companies["ours"]:
        assert lift["code"] in overdue.text
    assert companies["theirs"]["code"] not in overdue.text
    assert "15" in overdue.text and "TSG T5002-2017" in overdue.text
    score = await s.http.get("/ui/maint/score")
    assert score.status_code == 200, score.text
    assert 'id="score">0.0%' in score.text
    assert "2 台电梯中 0 台" in score.text
    for lift in companies["ours"]:
        assert lift["code"] in score.text  # both late, named
    assert companies["theirs"]["code"] not in score.text


async def test_upload_names_each_rejected_row_by_its_spreadsheet_number(companies, staff) -> None:
    s = await staff(Role.MAINTENANCE, companies["a"]["id"])
    form = await s.http.get("/ui/maint/upload")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
    a, b = (u["code"] for u in companies["ours"])
    day = f.today() - 3 * DAY
    content = gbk_csv(
        [
            ZH_HEADERS,
            ["WB-1", a, f"{day.year}/{day.month}/{day.day}", "半月", "门锁检查", "李强:T1-1"],
            ["WB-2", a, "2026年2月30日", "半月", "门锁检查", "李强:T1-1"],  # no such day
            ["WB-3", b, f"{day.year}/{day.month}/{day.day}", "半月", "门锁检查", "王伟:T1-2"],
            ["WB-4", companies["theirs"]["code"], str(day), "半月", "门锁检查", "王伟:T1-2"],
        ]
    )
    answer = await upload(s, content)
    assert answer.status_code == 200, answer.text
    page = answer.text
    assert "收到 4 行" in page and "存入 2 行" in page and "拒绝 2 行" in page
    # Each rejected row by the number the spreadsheet shows (the header is row 1).
    assert "第 3 行" in page and "第 5 行" in page
    assert "第 2 行" not in page and "第 4 行" not in page
    # Each named with its column (the template's header) and its reason, in Chinese.
    assert "<td>维保日期</td><td>维保日期 2026年2月30日 不是有效日期" in page
    assert f"<td>设备注册代码</td><td>登记系统中没有代码为 {companies['theirs']['code']}" in page
    # The stored record is on the unit's page.
    unit = await s.http.get(f"/ui/maint/units/{companies['ours'][0]['id']}")
    assert "WB-1" in unit.text and "WB-2" not in unit.text
    # Sent again: nothing stored twice.
    again = await upload(s, content)
    assert "存入 0 行" in again.text and "已有 2 行" in again.text


async def test_upload_refusals(companies, staff) -> None:
    s = await staff(Role.MAINTENANCE, companies["a"]["id"])
    empty = await s.http.post("/ui/maint/upload", data={"_csrf": s.csrf}, files={"file": ("", b"")})
    assert empty.status_code == 422 and 'id="e-file"' in empty.text
    assert "请选择" in empty.text
    not_a_sheet = await upload(s, b"\x00\x01\x02 not a sheet", name="x.pdf")
    assert not_a_sheet.status_code == 422 and 'id="e-file"' in not_a_sheet.text
    no_token = await upload(s, gbk_csv([ZH_HEADERS]), csrf=False)
    assert no_token.status_code == 403
    # Not a maintenance company: refused before the body is read (the guard, not the form).
    other = await staff(Role.STATION, (await station())["id"])
    refused = await other.http.post(
        "/ui/maint/upload", files={"file": ("a.csv", b"x", "text/csv")}, data={"_csrf": other.csrf}
    )
    assert refused.status_code == 403
    assert (await other.http.get("/ui/maint/upload")).status_code == 403
    # And a maintenance company reads no fills.
    assert (await s.http.get("/ui/station/fills")).status_code == 403
    # Larger than an upload may be: refused with a page, in Chinese, not stored.
    huge = await upload(s, b"x" * (bodies.MAINTENANCE_UPLOAD_MAX_BYTES + 1))
    assert huge.status_code == 413 and "文件过大" in huge.text


async def test_pages_speak_english_when_asked(companies, staff) -> None:
    s = await staff(Role.MAINTENANCE, companies["a"]["id"])
    english = await s.http.get("/ui/maint/alarms?lang=en")
    assert english.status_code == 200 and "Entrapment alarms" in english.text
    assert "Acknowledge" in english.text and "困人" not in english.text
    # Chosen once, remembered by the next page.
    assert "Overdue maintenance" in (await s.http.get("/ui/maint/overdue")).text


async def test_templates_are_reachable_with_the_session(companies, staff) -> None:
    s = await staff(Role.MAINTENANCE, companies["a"]["id"])
    sheet = await s.http.get("/ui/maint/template.csv")
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    assert sheet.content.decode("utf-8-sig").splitlines()[0].split(",")[:3] == ZH_HEADERS[:3]
    book = await s.http.get("/ui/maint/template.xlsx")
    assert book.status_code == 200
    first = next(load_workbook(io.BytesIO(book.content)).worksheets[0].iter_rows(values_only=True))
    assert list(first[:3]) == ZH_HEADERS[:3]


async def test_alarms_are_answered_step_by_step(companies, staff) -> None:
    s = await staff(Role.MAINTENANCE, companies["a"]["id"])
    ours = companies["alarms"][companies["ours"][0]["id"]]
    theirs = companies["alarms"][companies["theirs"]["id"]]
    listed = await s.http.get("/ui/maint/alarms")
    assert listed.status_code == 200, listed.text
    assert f'id="alarm-{ours}"' in listed.text and f'id="alarm-{theirs}"' not in listed.text
    assert "困人" in listed.text
    # The running clock: anchored at the raise, for the script to tick on; minutes so far.
    clock_span = re.search(r'<span class="clock" data-since="([^"]+)">(\d+) 分钟', listed.text)
    assert clock_span is not None, listed.text
    raised_at = (await alarms.visible(SYSTEM, ours)).raised_at
    assert datetime.fromisoformat(clock_span.group(1)) == raised_at
    assert int(clock_span.group(2)) >= 7
    assert f'action="/ui/maint/alarms/{ours}/acknowledge"' in listed.text
    for step in ("acknowledge", "arrive", "finish"):
        done = await s.post(f"/ui/maint/alarms/{ours}/{step}")
        assert done.status_code == 303, done.text
    after = (await s.http.get("/ui/maint/alarms")).text
    assert f'action="/ui/maint/alarms/{ours}/' not in after  # no step left
    twice = await s.post(f"/ui/maint/alarms/{ours}/finish")
    assert twice.status_code == 409 and 'role="alert"' in twice.text
    assert "已" in twice.text  # the conflict's reason, in Chinese
    # Another company's alarm: not found, and left as it was.
    assert (await s.post(f"/ui/maint/alarms/{theirs}/acknowledge")).status_code == 404
    assert (await alarms.visible(SYSTEM, theirs)).acknowledged_at is None
    assert (await s.post(f"/ui/maint/alarms/{ours}/dance")).status_code == 404
    assert (await s.http.post(f"/ui/maint/alarms/{theirs}/acknowledge")).status_code == 403
    closed = await s.http.get("/ui/maint/alarms?state=closed")
    assert closed.status_code == 200 and f'id="alarm-{theirs}"' not in closed.text


# ---- filling station ---------------------------------------------------------------


@pytest.fixture
async def stations(engine):
    home, other = await station(), await station()
    good, overdue = await cylinder(home), await cylinder(home, made=date(2020, 1, 1))
    foreign = await cylinder(other)
    for owner, unit in ((home, good), (other, foreign)):
        await ingest_now(
            fills_topic(owner["station_code"]), fill_payload(owner["station_code"], unit["code"])
        )
    await ingest_now(
        fills_topic(home["station_code"]),
        fill_payload(home["station_code"], overdue["code"]),
    )
    return {"home": home, "other": other, "good": good, "overdue": overdue, "foreign": foreign}


async def test_todays_and_refused_fills_are_the_stations_own(stations, staff) -> None:
    s = await staff(Role.STATION, stations["home"]["id"])
    today = await s.http.get("/ui/station/fills")
    assert today.status_code == 200, today.text
    assert stations["good"]["code"] in today.text and stations["overdue"]["code"] in today.text
    assert stations["foreign"]["code"] not in today.text
    assert f'<span class="verdict">00 {verdict_label("00", "zh-CN")}</span>' in today.text
    refused = await s.http.get("/ui/station/refused")
    assert refused.status_code == 200, refused.text
    assert stations["overdue"]["code"] in refused.text
    assert stations["good"]["code"] not in refused.text
    assert f'<span class="verdict">04 {verdict_label("04", "zh-CN")}</span>' in refused.text
    assert "拒绝充装" in refused.text
    assert stations["foreign"]["code"] not in refused.text
    # The alarm the refused fill raised is the station's to read, not to answer.
    its_alarms = await s.http.get("/ui/maint/alarms")
    assert its_alarms.status_code == 200 and stations["overdue"]["code"] in its_alarms.text
    assert 'action="/ui/maint/alarms/' not in its_alarms.text
    home = await s.http.get("/ui")
    for path in ("/ui/station/fills", "/ui/station/refused", "/ui/station/cylinders"):
        assert f'href="{path}"' in home.text


async def test_cylinder_lookup_answers_with_the_permit(stations, staff) -> None:
    s = await staff(Role.STATION, stations["home"]["id"])
    blank = await s.http.get("/ui/station/cylinders")
    assert blank.status_code == 200 and 'id="permit"' not in blank.text
    asked = {"code": stations["overdue"]["code"], "medium": "液化石油气"}
    overdue = await s.http.get("/ui/station/cylinders", params=asked)
    assert overdue.status_code == 200, overdue.text
    assert f"不得充装: 04 {verdict_label('04', 'zh-CN')}" in overdue.text
    assert "充装记录数" in overdue.text  # its own: the trace beside the answer
    # Opened from a list (no medium): the medium it is registered for.
    from_list = await s.http.get("/ui/station/cylinders", params={"code": stations["good"]["code"]})
    assert from_list.status_code == 200 and 'id="permit"' in from_list.text
    assert 'name="medium" value="LPG"' in from_list.text
    foreign = await s.http.get(
        "/ui/station/cylinders", params={"code": stations["foreign"]["code"], "medium": "LPG"}
    )
    assert foreign.status_code == 200
    assert f"不得充装: 08 {verdict_label('08', 'zh-CN')}" in foreign.text
    assert "充装记录数" not in foreign.text  # nothing of the owner's
    missing = await s.http.get(
        "/ui/station/cylinders", params={"code": stations["foreign"]["code"]}
    )
    assert missing.status_code == 422 and 'id="e-medium"' in missing.text
    bad = await s.http.get("/ui/station/cylinders", params={"code": " ", "medium": "LPG"})
    assert bad.status_code == 422 and 'id="e-code"' in bad.text


async def test_cylinders_due_are_the_stations_own(stations, staff) -> None:
    s = await staff(Role.STATION, stations["home"]["id"])
    listed = await s.http.get("/ui/station/due")
    assert listed.status_code == 200, listed.text
    assert stations["overdue"]["code"] in listed.text and "已超期" in listed.text
    assert stations["foreign"]["code"] not in listed.text


def test_fill_times_are_shown_in_china_time() -> None:
    from equipment.storage.fills import FillRow
    from equipment.web.station_pages import _fill_row

    at = datetime(2026, 1, 1, 16, 30, tzinfo=UTC)
    row = FillRow(
        id=1, station=1, station_code="S1", event_id="e1", cylinder=None, cylinder_code="C1",
        medium="LPG", filled_at=at, started_at=None, filled_mass_kg=None,
        final_pressure_mpa=None, pre_check_passed=True, post_check_passed=True, operator="",
        verdict="00", allowed=True, suspicious=False, reasons=[], received_at=at,
    )  # fmt: skip
    assert _fill_row(row, "zh-CN")["filled_local"] == "01-02 00:30"
