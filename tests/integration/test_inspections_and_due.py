"""Inspection results, the due dates they move, the due lists, reminders and exports."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook

from equipment.domain.access import Role
from equipment.domain.rules.dates import add_months, month_end, month_index
from equipment.storage.tables import Inspection
from tests import factories as f

pytestmark = pytest.mark.integration
# These tests read the English message ids (the default answer language is Chinese).
ACCEPT_LANGUAGE = "en"


@pytest.fixture
async def ctx(engine):
    owner = await f.organisation("user_unit", name="汉江小区物业")
    company = await f.organisation("maintenance_company", name="隆中电梯工程有限公司")
    other_company = await f.organisation("maintenance_company")
    body = await f.organisation("inspection_body", name="襄阳市特种设备检验检测所")
    return {
        "owner": owner["id"],
        "company": company["id"],
        "other_company": other_company["id"],
        "body": body["id"],
        "admin": await f.token(Role.ADMIN),
        "inspector": await f.token(Role.INSPECTOR, body["id"]),
        "owner_token": await f.token(Role.USER_UNIT, owner["id"]),
        "company_token": await f.token(Role.MAINTENANCE, company["id"]),
        "other_company_token": await f.token(Role.MAINTENANCE, other_company["id"]),
    }


async def lift(ctx, installed: date, **overrides) -> dict:
    """A lift whose installation supervisory inspection was on ``installed``."""
    unit = await f.unit(
        ctx["owner"],
        maintenance_company_id=ctx["company"],
        manufacture_date=str(installed - timedelta(days=200)),
        commissioning_date=str(installed),
        registered_on=str(installed),
        **overrides,
    )
    return unit


async def inspect(client, ctx, unit_id: int, **body) -> dict:
    body.setdefault("conclusion", "pass")
    body.setdefault("report_no", "XY-2026-001")
    body = {k: str(v) if isinstance(v, date) else v for k, v in body.items()}
    response = await client.post(
        f"/api/v1/equipment/{unit_id}/inspections", json=body, headers=ctx["inspector"]
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_recording_the_due_inspection_moves_the_due_date(client, ctx):
    installed = add_months(f.today(), -12 * 3 - 1)  # lift-year 1's periodic inspection never done
    unit = await lift(ctx, installed)
    first = await inspect(
        client, ctx, unit["id"], kind="supervisory", inspected_on=installed, reason="installation"
    )
    due = first["schedule"]["next_periodic"]
    assert due["due_on"] == str(month_end(month_index(add_months(installed, 12))))
    assert due["rule_key"] == "lift.periodic_years" and "TSG T7001-2023" in due["source"]
    overdue = await client.get("/api/v1/due?window=overdue", headers=ctx["inspector"])
    assert [i["equipment_id"] for i in overdue.json()["items"]] == [unit["id"]]
    item = overdue.json()["items"][0]
    assert item["state"] == "overdue" and item["days_overdue"] > 0
    assert item["maintenance_company_name"] == "隆中电梯工程有限公司"

    result = await inspect(client, ctx, unit["id"], kind="periodic", inspected_on=f.today())
    assert result["inspection"]["on_time"] is False
    assert result["inspection"]["answered_due_on"] == due["due_on"]
    assert not {"periodic", "self_test"} & set(result["schedule"]["overdue"])
    after = await client.get("/api/v1/due?window=overdue", headers=ctx["inspector"])
    assert after.json()["items"] == []
    read = await client.get(f"/api/v1/equipment/{unit['id']}", headers=ctx["admin"])
    assert date.fromisoformat(read.json()["next_inspection_due"]) > f.today()
    public = await client.get(f"/api/v1/public/equipment/{unit['code']}")
    assert public.json()["inspection_overdue"] is False


async def test_failed_inspection_makes_the_unit_unfit_until_it_passes(client, ctx):
    unit = await lift(ctx, f.today() - timedelta(days=400))
    failed = await inspect(
        client,
        ctx,
        unit["id"],
        kind="periodic",
        inspected_on=f.today(),
        conclusion="fail",
        findings="门锁回路短接",
    )
    assert failed["schedule"]["not_fit_for_use"] is True
    read = await client.get(f"/api/v1/equipment/{unit['id']}", headers=ctx["admin"])
    assert read.json()["not_fit_for_use"] is True
    passed = await inspect(client, ctx, unit["id"], kind="periodic", inspected_on=f.today())
    assert passed["schedule"]["not_fit_for_use"] is False


async def test_a_correction_supersedes_and_keeps_history(client, ctx, engine):
    unit = await lift(ctx, f.today() - timedelta(days=400))
    wrong = await inspect(
        client, ctx, unit["id"], kind="periodic", inspected_on=f.today(), conclusion="fail"
    )
    fixed = await inspect(
        client,
        ctx,
        unit["id"],
        kind="periodic",
        inspected_on=f.today(),
        corrects=wrong["inspection"]["id"],
    )
    assert fixed["schedule"]["not_fit_for_use"] is False
    listed = (
        await client.get(f"/api/v1/equipment/{unit['id']}/inspections", headers=ctx["admin"])
    ).json()
    assert [(i["conclusion"], i["superseded"]) for i in listed] == [("fail", True), ("pass", False)]
    again = await client.post(
        f"/api/v1/equipment/{unit['id']}/inspections",
        json={
            "kind": "periodic",
            "inspected_on": str(f.today()),
            "conclusion": "pass",
            "corrects": wrong["inspection"]["id"],
        },
        headers=ctx["inspector"],
    )
    assert again.status_code == 409
    with pytest.raises(Exception, match="append-only"):
        await Inspection.update({Inspection.conclusion: "pass"}).where(Inspection.id > 0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "kind": "periodic",
                "inspected_on": str(f.today() + timedelta(days=1)),
                "conclusion": "pass",
            },
            "inspected_on",
        ),
        (
            {
                "kind": "periodic",
                "inspected_on": str(f.today()),
                "conclusion": "pass",
                "next_due_stated": str(f.today()),
            },
            "next_due",
        ),
        ({"kind": "periodic", "inspected_on": "1990-01-01", "conclusion": "pass"}, "inspected_on"),
    ],
)
async def test_bad_inspections_get_a_field_level_422(client, ctx, body, field):
    unit = await lift(ctx, f.today() - timedelta(days=400))
    response = await client.post(
        f"/api/v1/equipment/{unit['id']}/inspections", json=body, headers=ctx["inspector"]
    )
    assert response.status_code == 422, response.text
    assert response.json()["extra"][0]["key"] == field


async def test_only_inspectors_and_admins_record_inspections(client, ctx):
    unit = await lift(ctx, f.today() - timedelta(days=400))
    body = {"kind": "periodic", "inspected_on": str(f.today()), "conclusion": "pass"}
    for token, status in (
        ("owner_token", 403),
        ("company_token", 403),
        ("admin", 201),
        ("inspector", 201),
    ):
        response = await client.post(
            f"/api/v1/equipment/{unit['id']}/inspections", json=body, headers=ctx[token]
        )
        assert response.status_code == status, (token, response.text)


async def test_an_inspector_files_reports_in_its_own_bodys_name_only(client, ctx):
    # The body a report is filed under is the inspector's own (its token's): naming
    # another body is refused with 403 and stores nothing; naming its own, or none, files
    # under its own; the registration office may name any body.
    unit = await lift(ctx, f.today() - timedelta(days=400))
    rival = await f.organisation("inspection_body", name="别的检验机构")
    url = f"/api/v1/equipment/{unit['id']}/inspections"
    body = {"kind": "periodic", "inspected_on": str(f.today()), "conclusion": "pass"}

    forged = await client.post(
        url, json={**body, "inspection_body_id": rival["id"]}, headers=ctx["inspector"]
    )
    assert forged.status_code == 403, forged.text
    assert "inspection_body_id" in forged.text
    loose = await f.token(Role.INSPECTOR)  # an inspector bound to no body names none
    unbound = await client.post(
        url, json={**body, "inspection_body_id": rival["id"]}, headers=loose
    )
    assert unbound.status_code == 403, unbound.text
    assert await Inspection.count().where(Inspection.equipment == unit["id"]) == 0

    filed = []
    for extra, token in (
        ({}, ctx["inspector"]),
        ({"inspection_body_id": ctx["body"]}, ctx["inspector"]),
        ({"inspection_body_id": rival["id"]}, ctx["admin"]),
        ({}, loose),
    ):
        response = await client.post(url, json={**body, **extra}, headers=token)
        assert response.status_code == 201, response.text
        filed.append(response.json()["inspection"]["inspection_body_id"])
    assert filed == [ctx["body"], ctx["body"], rival["id"], None]


async def test_vessel_report_date_wins(client, ctx):
    vessel = await f.unit(
        ctx["owner"],
        category="2100",
        equipment_code=f.equipment_code("2100"),
        commissioning_date="2020-01-10",
        registered_on="2020-01-20",
        parameters={"safety_grade": 2, "volume_m3": 2.0},
    )
    stated = f.today() + timedelta(days=700)
    result = await inspect(
        client, ctx, vessel["id"], kind="periodic", inspected_on=f.today(), next_due_stated=stated
    )
    assert result["schedule"]["next_periodic"]["due_on"] == str(stated)
    assert result["schedule"]["next_periodic"]["from_report"] is True


async def test_suspended_units_are_not_due_and_resume_flags_a_lapse(client, ctx):
    unit = await lift(ctx, add_months(f.today(), -12 * 3 - 2))
    await inspect(
        client,
        ctx,
        unit["id"],
        kind="supervisory",
        inspected_on=add_months(f.today(), -12 * 3 - 2),
        reason="installation",
    )
    suspend = await client.post(
        f"/api/v1/equipment/{unit['id']}/suspend",
        json={
            "suspended_from": str(f.today() - timedelta(days=5)),
            "notified_on": str(f.today()),
            "reason": "装修",
        },
        headers=ctx["admin"],
    )
    assert suspend.status_code == 200
    assert suspend.json()["needs_inspection_before_resume"] is True
    due = await client.get("/api/v1/due", headers=ctx["inspector"])
    assert due.json()["items"] == []  # a suspended unit is not "due"
    resumed = await client.post(
        f"/api/v1/equipment/{unit['id']}/resume",
        json={"resumed_on": str(f.today())},
        headers=ctx["admin"],
    )
    assert resumed.json()["needs_inspection_before_resume"] is True
    overdue = await client.get("/api/v1/due?window=overdue", headers=ctx["inspector"])
    assert [i["equipment_id"] for i in overdue.json()["items"]] == [unit["id"]]
    done = await inspect(client, ctx, unit["id"], kind="periodic", inspected_on=f.today())
    assert "periodic" not in done["schedule"]["overdue"]
    read = await client.get(f"/api/v1/equipment/{unit['id']}", headers=ctx["admin"])
    assert read.json()["needs_inspection_before_resume"] is False


async def test_due_list_filters_scope_and_pages(client, ctx):
    units = []
    for months in range(1, 13):
        units.append(await lift(ctx, add_months(f.today(), -months * 7)))
    other = await f.unit(
        ctx["owner"], maintenance_company_id=ctx["other_company"], district_code="420602"
    )
    everything = []
    cursor = None
    while True:
        query = "limit=5" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(f"/api/v1/due?{query}", headers=ctx["inspector"])).json()
        everything += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    days = [i["due_on"] for i in everything]
    assert days == sorted(days)
    assert {i["equipment_id"] for i in everything} == {u["id"] for u in [*units, other]}
    assert len({i["id"] for i in everything}) == len(everything)
    mine = (await client.get("/api/v1/due?limit=500", headers=ctx["company_token"])).json()
    assert {i["equipment_id"] for i in mine["items"]} == {u["id"] for u in units}
    theirs = (await client.get("/api/v1/due?limit=500", headers=ctx["other_company_token"])).json()
    assert {i["equipment_id"] for i in theirs["items"]} == {other["id"]}
    district = (await client.get("/api/v1/due?district=420602", headers=ctx["admin"])).json()
    assert [i["equipment_id"] for i in district["items"]] == [other["id"]]
    window = (
        await client.get(
            f"/api/v1/due?from={f.today()}&to={f.today() + timedelta(days=60)}",
            headers=ctx["admin"],
        )
    ).json()
    assert all(
        f.today() <= date.fromisoformat(i["due_on"]) <= f.today() + timedelta(days=60)
        for i in window["items"]
    )
    bad = await client.get("/api/v1/due?kind=tea_break", headers=ctx["admin"])
    assert bad.status_code == 422 and bad.json()["extra"][0]["key"] == "kind"


async def test_reminders_one_month_before_and_when_overdue(client, ctx):
    soon = await lift(ctx, add_months(f.today(), -12))  # lift-year 1 ends this month
    late = await lift(ctx, add_months(f.today(), -12 - 2))
    far = await lift(ctx, add_months(f.today(), -12 + 4))
    response = await client.get("/api/v1/reminders", headers=ctx["owner_token"])
    items = {i["equipment_id"]: i for i in response.json()["items"]}
    assert items[late["id"]]["state"] == "overdue"
    assert far["id"] not in items
    assert items[soon["id"]]["state"] == "reminder"
    assert date.fromisoformat(items[soon["id"]]["reminder_on"]) <= f.today()


async def test_exports_read_back_with_chinese_text(client, ctx):
    await lift(ctx, add_months(f.today(), -12 - 2), address="襄阳市樊城区人民路=1号")
    csv_response = await client.get("/api/v1/due/export.csv?lang=zh", headers=ctx["inspector"])
    assert csv_response.status_code == 200
    assert csv_response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig"))))
    assert "下次检验日期" in rows[0] and len(rows) == 2
    assert "汉江小区物业" in rows[1] and "已超期" in rows[1]
    xlsx = await client.get("/api/v1/due/export.xlsx?lang=en", headers=ctx["inspector"])
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = list(sheet.values)
    assert len(values) == 2 and "隆中电梯工程有限公司" in values[1]
    ics = await client.get("/api/v1/due/calendar.ics", headers=ctx["inspector"])
    assert ics.headers["content-type"] == "text/calendar; charset=utf-8"
    assert ics.text.startswith("BEGIN:VCALENDAR") and ics.text.count("BEGIN:VEVENT") == 1
    forbidden = await client.get("/api/v1/due/export.csv", headers=ctx["other_company_token"])
    assert len(list(csv.reader(io.StringIO(forbidden.content.decode("utf-8-sig"))))) == 1


async def test_summary_counts_and_coverage(client, ctx):
    late = await lift(ctx, add_months(f.today(), -12 - 3))
    on_time = await lift(ctx, add_months(f.today(), -12 - 3))
    due = (
        await client.get(f"/api/v1/equipment/{on_time['id']}/schedule", headers=ctx["admin"])
    ).json()["next_periodic"]["due_on"]
    await inspect(
        client,
        ctx,
        on_time["id"],
        kind="periodic",
        inspected_on=date.fromisoformat(due) - timedelta(days=10),
    )
    rows = (await client.get("/api/v1/due/summary", headers=ctx["inspector"])).json()
    [row] = [r for r in rows if r["category"] == "3110"]
    assert row["overdue"] == 1  # ``late`` was never inspected
    assert row["fell_due_12_months"] == 2 and row["inspected_on_time_12_months"] == 1
    assert row["coverage_percent"] == 50.0
    assert late["id"] != on_time["id"]


@pytest.fixture
def policy_file(tmp_path, configure):
    """``policy_file(text)``: a bureau's policy file, and the services run under it (its
    bootstrap reads it once, as a process does at its start)."""
    from equipment.settings import RulesSettings

    def install(text: str):
        path = tmp_path / "policy.json"
        path.write_text(text, encoding="utf-8")
        return configure(rules=RulesSettings(policy_path=path))

    return install


async def test_a_bureau_policy_overrides_an_s_row_without_code_changes(client, ctx, policy_file):
    policy_file('{"name": "襄阳 2026", "overrides": {"cylinder.lpg": {"interval_years": 5}}}')
    rules = (await client.get("/api/v1/rules")).json()
    assert rules["policy"] == "襄阳 2026"
    [lpg] = [r for r in rules["rules"] if r["key"] == "cylinder.lpg"]
    assert lpg["values"]["interval_years"] == 5
    station = await f.organisation("filling_station")
    cylinder = await f.unit(
        station["id"],
        category="2320",
        owning_station_id=station["id"],
        equipment_code=f.equipment_code("2320"),
        manufacture_date="2022-03-01",
        commissioning_date="2022-03-10",
        registered_on="2022-03-15",
        parameters={"medium": "LPG", "water_capacity_l": 35.5, "nominal_working_pressure_mpa": 2.1},
    )
    result = await inspect(
        client, ctx, cylinder["id"], kind="periodic", inspected_on=date(2024, 6, 1)
    )
    assert result["schedule"]["next_periodic"]["due_on"] == "2029-06-01"


async def test_a_policy_overriding_a_c_row_is_refused(policy_file):
    # Refused when the process starts (its bootstrap reads the file), never at a request.
    from equipment.domain.errors import InvalidValue

    with pytest.raises(InvalidValue) as refused:
        policy_file('{"overrides": {"lift.periodic_years": {"years": [2]}}}')
    assert "lift.periodic_years" in (refused.value.field or "")


async def test_the_due_list_answers_alike_read_in_one_pass_or_by_its_twin(client, ctx):
    """A plain query is read by the handler, the same query in another spelling (a name
    twice, 5.0 for 5) by the declared twin: the same answer, and the twin's refusals."""
    for months in (3, 9, 15):
        await lift(ctx, add_months(f.today(), -months * 7))
    plain = await client.get("/api/v1/due?within_days=3000&limit=2", headers=ctx["inspector"])
    spelled = await client.get(
        "/api/v1/due?within_days=3000.0&limit=2&limit=2", headers=ctx["inspector"]
    )
    assert plain.status_code == spelled.status_code == 200
    assert plain.content == spelled.content and plain.json()["items"]
    # The handler sends its answer pre-encoded (api.encoded), the twin through Litestar.
    for name in ("content-type", "content-length"):
        assert plain.headers[name] == spelled.headers[name], name
    assert plain.headers["x-request-id"]
    bad = await client.get("/api/v1/due?within_days=99999&lang=en", headers=ctx["inspector"])
    assert bad.status_code == 400
    assert bad.json()["extra"] == [{"key": "within_days", "message": "Expected `int` <= 3660"}]
    anonymous = await client.get("/api/v1/due?within_days=5.0")
    assert anonymous.status_code == 401
    # The twin answers for the caller the API's token hook found: the same scope.
    owner = await client.get("/api/v1/due?limit=9", headers=ctx["company_token"])
    owner_twin = await client.get("/api/v1/due?limit=9&limit=9", headers=ctx["company_token"])
    assert (owner.status_code, owner.content) == (owner_twin.status_code, owner_twin.content)
