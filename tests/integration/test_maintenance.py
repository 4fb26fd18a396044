"""Maintenance contracts, record uploads, overdue maintenance, scores and entrapment response."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from equipment.domain.access import SYSTEM, Role
from equipment.services import clock, credit, maintenance, pacing
from equipment.settings import ClockSettings
from equipment.storage.tables import Equipment
from tests import factories as f
from tests.loop_support import other_work

pytestmark = pytest.mark.integration
# These tests read the English message ids (the default answer language is Chinese).
ACCEPT_LANGUAGE = "en"
DAY = timedelta(days=1)
# China's midnight is 16:00 UTC: the instants either side of it the clock is pinned to.
BEFORE_MIDNIGHT = datetime(2030, 3, 31, 15, 59, 59, 900_000, tzinfo=UTC)
AFTER_MIDNIGHT = datetime(2030, 3, 31, 16, 0, 0, 100_000, tzinfo=UTC)
AROUND_MIDNIGHT = pytest.mark.parametrize(
    "clock_settings",
    [
        ClockSettings(),
        ClockSettings(pinned_at=BEFORE_MIDNIGHT),
        ClockSettings(pinned_at=AFTER_MIDNIGHT),
    ],
    ids=["real", "pinned-before-midnight", "pinned-after-midnight"],
)


@pytest.fixture
async def ctx(engine, boot):  # boot: the test's clock is installed before its data is made
    owner = await f.organisation("user_unit")
    company = await f.organisation("maintenance_company", name="汉江电梯")
    rival = await f.organisation("maintenance_company", name="隆中电梯")
    await credit.set_override(
        SYSTEM, company["id"], "B", "约谈后核定", today=f.today(), now=clock.now()
    )
    return {
        "owner": owner["id"],
        "company": company["id"],
        "rival": rival["id"],
        "admin": await f.token(Role.ADMIN),
        "owner_token": await f.token(Role.USER_UNIT, owner["id"]),
        "company_token": await f.token(Role.MAINTENANCE, company["id"]),
        "rival_token": await f.token(Role.MAINTENANCE, rival["id"]),
    }


async def contract(client, ctx, units, *, starts=None, ends=None, company=None, **extra):
    body = {
        "user_unit_id": ctx["owner"],
        "maintenance_company_id": company or ctx["company"],
        "starts_on": str(starts or f.today() - 200 * DAY),
        "ends_on": str(ends or f.today() + 165 * DAY),
        "equipment_ids": [u["id"] for u in units],
        **extra,
    }
    return await client.post("/api/v1/contracts", json=body, headers=ctx["owner_token"])


def record(code: str, day, record_id: str, **extra) -> dict:
    return {
        "record_id": record_id,
        "code": code,
        "maintained_on": str(day),
        "level": "half_monthly",
        "items": ["曳引机润滑", "门锁检查"],
        "technicians": [{"name": "李强", "certificate_no": "T1-4206-0001"}],
        "signed_off_by": "物业王经理",
        **extra,
    }


async def test_a_company_without_a_contract_is_refused(client, ctx):
    lift = await f.unit(ctx["owner"])
    response = await client.post(
        "/api/v1/maintenance/records",
        json=record(lift["code"], f.today(), "R1"),
        headers=ctx["company_token"],
    )
    assert response.status_code == 422
    assert "under a maintenance contract of this company" in response.json()["detail"]


async def test_contract_makes_the_company_the_maintainer_and_records_store_once(client, ctx):
    lift = await f.unit(ctx["owner"])
    made = await contract(client, ctx, [lift])
    assert made.status_code == 201, made.text
    unit = (await client.get(f"/api/v1/equipment/{lift['id']}", headers=ctx["admin"])).json()
    assert unit["maintenance_company_id"] == ctx["company"]
    first = await client.post(
        "/api/v1/maintenance/records",
        json=record(lift["code"], f.today() - DAY, "R-1"),
        headers=ctx["company_token"],
    )
    assert first.status_code == 201 and first.json()["stored"] == 1
    again = await client.post(
        "/api/v1/maintenance/records",
        json=record(lift["code"], f.today() - DAY, "R-1"),
        headers=ctx["company_token"],
    )
    assert again.status_code == 200 and again.json() == {
        "received": 1,
        "stored": 0,
        "duplicates": 1,
        "rejected": [],
    }
    records = (
        await client.get(f"/api/v1/equipment/{lift['id']}/maintenance", headers=ctx["owner_token"])
    ).json()
    assert len(records) == 1 and records[0]["technicians"][0]["certificate_no"] == "T1-4206-0001"
    public = (await client.get(f"/api/v1/public/equipment/{lift['code']}")).json()
    assert public["last_maintenance_on"] == str(f.today() - DAY)
    assert public["maintenance_company"] == "汉江电梯"


async def test_rejections_reveal_nothing_of_another_companys_unit(client, ctx):
    # The rival's scrapped lift and its lift commissioned in 2024 must be answered exactly
    # like a code that is on no register (both leaked their state and date through uploads).
    theirs = await f.unit(ctx["owner"], commissioning_date="2024-06-01")
    scrapped = await f.unit(ctx["owner"])
    assert (
        await contract(client, ctx, [theirs, scrapped], company=ctx["rival"])
    ).status_code == 201
    await maintenance_scrap(scrapped["id"])
    unknown = "31103506002016059999"

    async def reason(code: str, day) -> str:
        response = await client.post(
            "/api/v1/maintenance/records",
            json=record(code, day, f"S-{code}-{day}"),
            headers=ctx["company_token"],
        )
        assert response.status_code == 422, response.text
        return response.json()["detail"].replace(code, "<code>")

    for day in (f.today() - 10 * DAY, date(2023, 1, 1)):
        expected = await reason(unknown, day)
        assert await reason(theirs["code"], day) == expected
        assert await reason(scrapped["code"], day) == expected
    assert "scrapped" not in expected and "commissioning" not in expected
    # The rival itself still hears why its own records are refused.
    response = await client.post(
        "/api/v1/maintenance/records",
        json=record(theirs["code"], date(2023, 1, 1), "OWN-1"),
        headers=ctx["rival_token"],
    )
    assert "commissioning" in response.json()["detail"]


async def maintenance_scrap(equipment_id: int) -> None:
    await Equipment.update({Equipment.status: "scrapped"}).where(Equipment.id == equipment_id)


async def test_overlapping_contracts_are_refused(client, ctx):
    lift = await f.unit(ctx["owner"])
    assert (await contract(client, ctx, [lift])).status_code == 201
    clash = await contract(client, ctx, [lift], company=ctx["rival"])
    assert clash.status_code == 409 and "one maintenance contract per unit" in clash.text


async def test_on_demand_needs_iot_insurance_and_a_good_class(client, ctx):
    plain = await f.unit(ctx["owner"])
    refused = await contract(client, ctx, [plain], on_demand=True, cycle_days=30)
    assert refused.status_code == 422
    assert "IoT" in refused.json()["detail"] and "insurance" in refused.json()["detail"]
    # Within its inspection validity: commissioned 100 days ago, year 1 is next year.
    recent = f.today() - 100 * DAY
    smart = await f.unit(
        ctx["owner"],
        parameters={**f.LIFT_PARAMETERS, "iot_monitored": True},
        manufacture_date=str(recent - 200 * DAY),
        commissioning_date=str(recent),
        registered_on=str(recent),
    )
    allowed = await contract(
        client, ctx, [smart], on_demand=True, cycle_days=30, liability_insured=True
    )
    assert allowed.status_code == 201, allowed.text
    low_class = await contract(
        client,
        ctx,
        [await f.unit(ctx["owner"], parameters={**f.LIFT_PARAMETERS, "iot_monitored": True})],
        company=ctx["rival"],
        on_demand=True,
        cycle_days=30,
        liability_insured=True,
    )
    assert low_class.status_code == 422 and "supervision class" in low_class.text
    assert "inspection validity" in low_class.text  # commissioned 2015, never inspected
    fixed = await contract(client, ctx, [await f.unit(ctx["owner"])], cycle_days=20)
    assert fixed.status_code == 422 and fixed.json()["extra"][0]["key"] == "cycle_days"


def csv_body(rows: list[dict]) -> bytes:
    out = io.StringIO()
    fields = [
        "record_id",
        "code",
        "maintained_on",
        "level",
        "items",
        "technicians",
        "findings",
        "hazards",
        "signed_off_by",
    ]
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    for r in rows:
        writer.writerow({k: r.get(k, "") for k in fields})
    return out.getvalue().encode("utf-8-sig")


async def test_ten_thousand_row_csv_with_bad_rows(client, ctx):
    lifts = [await f.unit(ctx["owner"]) for _ in range(5)]
    assert (await contract(client, ctx, lifts)).status_code == 201
    stranger = await f.unit(ctx["owner"])  # not under this company's contract
    # Rows are named as the spreadsheet shows them: the header is row 1, record i is row i+2.
    rows, expected_bad = [], {}
    for i in range(10_000):
        lift = lifts[i % 5]
        row = {
            "record_id": f"CSV-{i}",
            "code": lift["code"],
            "maintained_on": str(f.today() - (i % 150) * DAY),
            "level": "half_monthly",
            "items": "润滑;清洁",
            "technicians": "李强:T1-0001;张伟:T1-0002",
        }
        if i % 1000 == 7:
            row["technicians"] = "李强:"
            expected_bad[i + 2] = "certificate"
        elif i % 1000 == 8:
            row["maintained_on"] = str(f.today() + DAY)
            expected_bad[i + 2] = "future"
        elif i % 1000 == 9:
            row["code"] = stranger["code"]
            expected_bad[i + 2] = "no unit with code"
        elif i % 1000 == 10:
            row["level"] = "weekly"
            expected_bad[i + 2] = "level must be"
        elif i % 1000 == 11:
            row["maintained_on"] = "2026-02-30"
            expected_bad[i + 2] = "is not a date"
        rows.append(row)
    response = await client.post(
        "/api/v1/maintenance/records",
        content=csv_body(rows),
        headers={**ctx["company_token"], "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["received"] == 10_000
    assert report["stored"] == 10_000 - len(expected_bad) and report["duplicates"] == 0
    assert {r["row"] for r in report["rejected"]} == set(expected_bad)
    for r in report["rejected"]:
        assert expected_bad[r["row"]] in r["reason"], r
    again = await client.post(
        "/api/v1/maintenance/records",
        content=csv_body(rows[:100]),
        headers={**ctx["company_token"], "Content-Type": "text/csv"},
    )
    assert again.json()["stored"] == 0 and again.json()["duplicates"] == 100 - 5


async def test_other_requests_run_while_a_large_upload_is_checked(client, ctx, monkeypatch):
    # A clock on which every reading is two slices later: the upload must give the loop
    # back row by row (a 10,000-row upload held it for 0.1 s in one go, measured).
    ticks = iter(range(1, 10**9))
    monkeypatch.setattr(pacing, "perf_counter", lambda: next(ticks) * 2 * pacing.SLICE_S)
    events: list[str] = []
    for step in ("parse_record", "check_record", "_record_values"):
        real = getattr(maintenance, step)

        def logged(*args, _real=real, _step=step, **kwargs):
            events.append(_step)
            return _real(*args, **kwargs)

        monkeypatch.setattr(maintenance, step, logged)
    lifts = [await f.unit(ctx["owner"]) for _ in range(2)]
    assert (await contract(client, ctx, lifts)).status_code == 201
    rows = [
        record(lifts[i % 2]["code"], f.today() - (i % 30) * DAY, f"P-{i}", items="润滑;清洁",
               technicians="李强:T1-0001")
        for i in range(300)
    ]  # fmt: skip
    async with other_work(events):
        response = await client.post(
            "/api/v1/maintenance/records",
            content=csv_body(rows),
            headers={**ctx["company_token"], "Content-Type": "text/csv"},
        )
    assert response.status_code == 200 and response.json()["stored"] == 300, response.text
    # Each pass over the rows (read, check, store) lets other work run between any two rows.
    for step in ("parse_record", "check_record", "_record_values"):
        assert events.count(step) == 300
        assert not any(a == b == step for a, b in itertools.pairwise(events)), step


async def test_too_many_rows_and_garbage_are_4xx(client, ctx):
    too_many = [{"record_id": str(i)} for i in range(10_001)]
    response = await client.post(
        "/api/v1/maintenance/records", json=too_many, headers=ctx["company_token"]
    )
    assert response.status_code == 422 and "10,000" in response.json()["detail"]
    garbage = await client.post(
        "/api/v1/maintenance/records",
        content=b"\xff\x00{",
        headers={**ctx["company_token"], "Content-Type": "application/json"},
    )
    assert garbage.status_code == 422
    owner = await client.post("/api/v1/maintenance/records", json=[], headers=ctx["owner_token"])
    assert owner.status_code == 403


@AROUND_MIDNIGHT
async def test_overdue_maintenance_crosses_the_cycle_boundary(client, ctx):
    lift = await f.unit(ctx["owner"])
    assert (await contract(client, ctx, [lift])).status_code == 201
    for day, rid in ((f.today() - 15 * DAY, "A"),):
        await client.post(
            "/api/v1/maintenance/records",
            json=record(lift["code"], day, rid),
            headers=ctx["company_token"],
        )
    query = "/api/v1/due?kind=maintenance&window=overdue"
    on_the_day = (await client.get(query, headers=ctx["company_token"])).json()["items"]
    assert on_the_day == []  # due today (15 days after), not yet overdue
    await client.post(
        "/api/v1/maintenance/records",
        json=record(lift["code"], f.today() - 16 * DAY, "B"),
        headers=ctx["company_token"],
    )
    assert (await client.get(query, headers=ctx["company_token"])).json()["items"] == []
    second = await f.unit(ctx["owner"])
    assert (await contract(client, ctx, [second])).status_code == 201
    await client.post(
        "/api/v1/maintenance/records",
        json=record(second["code"], f.today() - 16 * DAY, "C"),
        headers=ctx["company_token"],
    )
    overdue = (await client.get(query, headers=ctx["company_token"])).json()["items"]
    assert [i["equipment_id"] for i in overdue] == [second["id"]]
    assert overdue[0]["due_on"] == str(f.today() - DAY)
    district = (await client.get(query + "&district=420606", headers=ctx["admin"])).json()
    assert [i["equipment_id"] for i in district["items"]] == [second["id"]]
    rival = (await client.get(query, headers=ctx["rival_token"])).json()["items"]
    assert rival == []


@pytest.mark.parametrize("clock_settings", [ClockSettings(pinned_at=BEFORE_MIDNIGHT)])
async def test_china_midnight_moves_the_service_and_the_tests_today_together(
    client, ctx, move_clock
):
    """The clock crosses China's midnight (16:00 UTC) between two questions: the unit
    due today becomes overdue since yesterday, for the service and for the factories'
    ``today()`` alike (nothing of the test keeps the day it started on)."""
    started_on = f.today()
    assert started_on == date(2030, 3, 31) and clock.today() == started_on
    lift = await f.unit(ctx["owner"])
    assert (await contract(client, ctx, [lift])).status_code == 201
    await client.post(
        "/api/v1/maintenance/records",
        json=record(lift["code"], f.today() - 15 * DAY, "M"),
        headers=ctx["company_token"],
    )
    query = "/api/v1/due?kind=maintenance&window=overdue"
    assert (await client.get(query, headers=ctx["company_token"])).json()["items"] == []

    move_clock(AFTER_MIDNIGHT)
    assert f.today() == started_on + DAY == date(2030, 4, 1)
    overdue = (await client.get(query, headers=ctx["company_token"])).json()["items"]
    assert [i["equipment_id"] for i in overdue] == [lift["id"]]
    assert overdue[0]["due_on"] == str(f.today() - DAY) == str(started_on)


async def test_contract_ending_mid_cycle(client, ctx):
    lift = await f.unit(ctx["owner"])
    made = (
        await contract(client, ctx, [lift], starts=f.today() - 60 * DAY, ends=f.today() + 100 * DAY)
    ).json()
    ended = await client.post(
        f"/api/v1/contracts/{made['id']}/terminate",
        json={"on": str(f.today() - 10 * DAY)},
        headers=ctx["owner_token"],
    )
    assert ended.status_code == 200 and ended.json()["terminated_on"] == str(f.today() - 10 * DAY)
    before_end = await client.post(
        "/api/v1/maintenance/records",
        json=record(lift["code"], f.today() - 12 * DAY, "in"),
        headers=ctx["company_token"],
    )
    assert before_end.status_code == 201
    after_end = await client.post(
        "/api/v1/maintenance/records",
        json=record(lift["code"], f.today() - 5 * DAY, "out"),
        headers=ctx["company_token"],
    )
    assert after_end.status_code == 422
    unit = (await client.get(f"/api/v1/equipment/{lift['id']}", headers=ctx["admin"])).json()
    assert unit["maintenance_company_id"] is None
    mine = (await client.get("/api/v1/equipment", headers=ctx["company_token"])).json()
    assert lift["id"] not in [u["id"] for u in mine["items"]]


async def test_company_score_over_90_days(client, ctx):
    punctual = await f.unit(ctx["owner"])
    sloppy = await f.unit(ctx["owner"])
    assert (
        await contract(client, ctx, [punctual, sloppy], starts=f.today() - 120 * DAY)
    ).status_code == 201
    rows = [record(punctual["code"], f.today() - d * DAY, f"P{d}") for d in range(0, 100, 14)]
    rows += [record(sloppy["code"], f.today() - d * DAY, f"S{d}") for d in range(0, 100, 20)]
    upload = await client.post(
        "/api/v1/maintenance/records", json=rows, headers=ctx["company_token"]
    )
    assert upload.json()["stored"] == len(rows)
    score = (
        await client.get(
            f"/api/v1/maintenance/score/{ctx['company']}", headers=ctx["company_token"]
        )
    ).json()
    assert score["lifts"] == 2 and score["maintained_on_time"] == 1
    assert score["share_on_time"] == 0.5 and score["late_equipment_ids"] == [sloppy["id"]]
    other = await client.get(
        f"/api/v1/maintenance/score/{ctx['company']}", headers=ctx["rival_token"]
    )
    assert other.status_code == 404


@pytest.mark.parametrize(
    ("district", "minutes", "late"),
    [
        ("420606", 29, False),
        ("420606", 31, True),  # 樊城区: a city district, 30 minutes
        ("420624", 59, False),
        ("420624", 61, True),  # 南漳县: a county, 1 hour
    ],
)
async def test_entrapment_arrival_against_the_limit(client, ctx, district, minutes, late):
    lift = await f.unit(
        ctx["owner"],
        district_code=district,
        registration_code=f.registration_code(district=district),
    )
    assert (await contract(client, ctx, [lift])).status_code == 201
    raised = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    alarm = await client.post(
        f"/api/v1/equipment/{lift['id']}/alarms",
        json={"kind": "entrapment", "raised_at": raised.isoformat()},
        headers=ctx["owner_token"],
    )
    assert alarm.status_code == 201, alarm.text
    alarm_id = alarm.json()["id"]
    assert alarm.json()["severity"] == "critical"
    arrive_early = await client.post(
        f"/api/v1/alarms/{alarm_id}/arrive", json={}, headers=ctx["company_token"]
    )
    assert arrive_early.status_code == 409  # acknowledge first
    steps = (("acknowledge", 2), ("arrive", minutes), ("finish", minutes + 20))
    for step, after in steps:
        response = await client.post(
            f"/api/v1/alarms/{alarm_id}/{step}",
            json={"at": (raised + timedelta(minutes=after)).isoformat()},
            headers=ctx["company_token"],
        )
        assert response.status_code == 200, response.text
    assert response.json()["arrived_late"] is late
    late_list = (
        await client.get(
            f"/api/v1/alarms?late=true&maintenance_company_id={ctx['company']}",
            headers=ctx["admin"],
        )
    ).json()["items"]
    assert ([a["id"] for a in late_list] == [alarm_id]) is late
    rival = await client.post(
        f"/api/v1/alarms/{alarm_id}/close", json={"note": "x"}, headers=ctx["rival_token"]
    )
    assert rival.status_code == 404


async def test_repeated_alarms_stay_one_open_alarm(client, ctx):
    lift = await f.unit(ctx["owner"])
    ids = set()
    for _ in range(5):
        response = await client.post(
            f"/api/v1/equipment/{lift['id']}/alarms",
            json={"kind": "door_close_fault"},
            headers=ctx["admin"],
        )
        ids.add(response.json()["id"])
    assert len(ids) == 1 and response.json()["count"] == 5
    closed = await client.post(
        f"/api/v1/alarms/{ids.pop()}/close", json={"note": "已修复"}, headers=ctx["admin"]
    )
    assert closed.json()["state"] == "closed"
    fresh = await client.post(
        f"/api/v1/equipment/{lift['id']}/alarms",
        json={"kind": "door_close_fault"},
        headers=ctx["admin"],
    )
    assert fresh.json()["count"] == 1 and fresh.json()["id"] != closed.json()["id"]


async def test_telemetry_flags_a_faked_maintenance_record(client, ctx):
    from equipment.domain.maintenance import TelemetryDay
    from equipment.services.maintenance import flag_faked_records

    lift = await f.unit(ctx["owner"])
    assert (await contract(client, ctx, [lift])).status_code == 201
    rows = [
        record(lift["code"], f.today() - 2 * DAY, "F1"),
        record(lift["code"], f.today() - DAY, "F2"),
    ]
    await client.post("/api/v1/maintenance/records", json=rows, headers=ctx["company_token"])
    days = {
        (lift["id"], f.today() - 2 * DAY): TelemetryDay(1.0, frozenset({1}), 412),
        (lift["id"], f.today() - DAY): TelemetryDay(1.0, frozenset({1, 2}), 300),
    }
    assert await flag_faked_records(days, since=f.today() - 30 * DAY) == 1
    flagged = (await client.get("/api/v1/maintenance/suspicious", headers=ctx["admin"])).json()
    assert [r["record_id"] for r in flagged] == ["F1"]
    assert "never in inspection mode" in flagged[0]["suspicious_reason"]
    assert (
        await client.get("/api/v1/maintenance/suspicious", headers=ctx["rival_token"])
    ).json() == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("raised_at", "0001-01-01T00:00:00+08:00"),  # before the fix: stored
        ("raised_at", "9999-12-31T23:59:59Z"),
        ("raised_at", "2026-12-01T08:00:00"),  # no offset: before the fix, a 500
        ("at", "2026-12-01T08:00:00"),
        ("at", "0001-01-01T00:00:00Z"),
    ],
)
async def test_impossible_alarm_times_are_refused(client, ctx, field, value) -> None:
    """Issue 16, item 4 over HTTP: a time no call centre or maintainer can report is a
    4xx with its reason, never a 500 or a stored alarm."""
    lift = await f.unit(ctx["owner"])
    assert (await contract(client, ctx, [lift])).status_code == 201
    if field == "raised_at":
        response = await client.post(
            f"/api/v1/equipment/{lift['id']}/alarms",
            json={"kind": "entrapment", "raised_at": value},
            headers=ctx["owner_token"],
        )
    else:
        alarm = await client.post(
            f"/api/v1/equipment/{lift['id']}/alarms",
            json={"kind": "entrapment"},
            headers=ctx["owner_token"],
        )
        assert alarm.status_code == 201, alarm.text
        response = await client.post(
            f"/api/v1/alarms/{alarm.json()['id']}/acknowledge",
            json={"at": value},
            headers=ctx["company_token"],
        )
    assert response.status_code in (400, 422), response.text
    assert field in response.text


async def test_alarms_follow_the_units_current_maintainer(client, ctx):
    # An entrapment is open when the user unit changes maintainer: from then on the new
    # company lists, reads and answers it, and the old one gets 404 like for a stranger's.
    lift = await f.unit(ctx["owner"], maintenance_company_id=ctx["company"])
    raised = await client.post(
        f"/api/v1/equipment/{lift['id']}/alarms",
        json={"kind": "entrapment"},
        headers=ctx["owner_token"],
    )
    assert raised.status_code == 201, raised.text
    alarm_id = raised.json()["id"]
    old_ids = [a["id"] for a in (await alarms_of(client, ctx["company_token"]))]
    assert alarm_id in old_ids

    changed = await client.post(
        f"/api/v1/equipment/{lift['id']}/change-maintainer",
        json={"maintenance_company_id": ctx["rival"], "on": str(f.today())},
        headers=ctx["owner_token"],
    )
    assert changed.status_code == 200, changed.text

    assert alarm_id not in [a["id"] for a in await alarms_of(client, ctx["company_token"])]
    for step in ("acknowledge", "arrive", "finish"):
        gone = await client.post(
            f"/api/v1/alarms/{alarm_id}/{step}", json={}, headers=ctx["company_token"]
        )
        assert gone.status_code == 404, (step, gone.text)
    closing = await client.post(
        f"/api/v1/alarms/{alarm_id}/close", json={"note": "x"}, headers=ctx["company_token"]
    )
    assert closing.status_code == 404

    listed = await alarms_of(client, ctx["rival_token"], "state=open")
    assert [(a["id"], a["maintenance_company_id"]) for a in listed] == [(alarm_id, ctx["rival"])]
    by_company = await alarms_of(client, ctx["admin"], f"maintenance_company_id={ctx['rival']}")
    assert [a["id"] for a in by_company] == [alarm_id]
    assert await alarms_of(client, ctx["admin"], f"maintenance_company_id={ctx['company']}") == []
    for step in ("acknowledge", "arrive", "finish"):
        answered = await client.post(
            f"/api/v1/alarms/{alarm_id}/{step}", json={}, headers=ctx["rival_token"]
        )
        assert answered.status_code == 200, (step, answered.text)
    assert answered.json()["finished_at"] is not None


async def alarms_of(client, token, query: str = "") -> list[dict]:
    response = await client.get(f"/api/v1/alarms?{query}", headers=token)
    assert response.status_code == 200, response.text
    return response.json()["items"]
