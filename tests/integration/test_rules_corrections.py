"""The corrections of issue 25 through the API, on both engines: a lift's major repair and
restart, self-tests done early, diving and taxi cylinders, entrusted cylinders and the
new fill refusals, on-demand maintenance, change registration at the end of the design
life, and the entrapment times' source."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from equipment.domain.access import SYSTEM, Role
from equipment.domain.rules.dates import add_months
from equipment.services import clock, credit
from tests import factories as f
from tests.ingest_support import fill_payload, fills_topic, ingest_now, station

pytestmark = pytest.mark.integration
# These tests read the English explanations (the default answer language is Chinese).
ACCEPT_LANGUAGE = "en"
DAY = timedelta(days=1)


@pytest.fixture
async def ctx(engine):
    owner = await f.organisation("user_unit", name="汉江小区物业")
    neighbour = await f.organisation("user_unit", name="隆中小区物业")
    body = await f.organisation("inspection_body", name="襄阳市特种设备检验检测所")
    return {
        "owner": owner["id"],
        "neighbour": neighbour["id"],
        "admin": await f.token(Role.ADMIN),
        "inspector": await f.token(Role.INSPECTOR, body["id"]),
        "owner_token": await f.token(Role.USER_UNIT, owner["id"]),
        "neighbour_token": await f.token(Role.USER_UNIT, neighbour["id"]),
    }


async def lift(ctx, installed: date, **overrides) -> dict:
    return await f.unit(
        ctx["owner"],
        manufacture_date=str(installed - timedelta(days=200)),
        commissioning_date=str(installed),
        registered_on=str(installed),
        **overrides,
    )


async def inspect(client, ctx, unit_id: int, kind: str, on: date, **body) -> dict:
    body = {"kind": kind, "inspected_on": str(on), "conclusion": "pass", **body}
    response = await client.post(
        f"/api/v1/equipment/{unit_id}/inspections", json=body, headers=ctx["inspector"]
    )
    assert response.status_code == 201, response.text
    return response.json()


async def schedule(client, ctx, unit_id: int) -> dict:
    response = await client.get(f"/api/v1/equipment/{unit_id}/schedule", headers=ctx["admin"])
    assert response.status_code == 200, response.text
    return response.json()


def due_of(found: dict, kind: str) -> dict | None:
    items = [d for d in (*found["due"], *found.get("dormant", [])) if d["kind"] == kind]
    return items[0] if items else None


# --- lifts -----------------------------------------------------------------------------


async def test_a_major_repair_moves_the_month_not_the_years(client, ctx) -> None:
    """The issue's lift: installed 2016-04, y7 2023-04, y9 2025-04, repair 2025-08-14."""
    installed = date(2016, 4, 12)
    unit = await lift(ctx, installed)
    await inspect(client, ctx, unit["id"], "supervisory", installed, reason="installation")
    for year in range(1, 10):
        kind = "periodic" if year in (1, 4, 7, 9) else "self_test"
        await inspect(client, ctx, unit["id"], kind, date(2016 + year, 4, 10))
    await inspect(client, ctx, unit["id"], "supervisory", date(2025, 8, 14), reason="major_repair")
    found = await schedule(client, ctx, unit["id"])
    periodic, self_test = due_of(found, "periodic"), due_of(found, "self_test")
    assert periodic is not None and self_test is not None
    assert (periodic["due_on"], self_test["due_on"]) == ("2027-08-31", "2026-08-31")
    assert "lift-year 11" in periodic["explanation"]
    assert "lift-year 10" in self_test["explanation"]
    read = await client.get(f"/api/v1/equipment/{unit['id']}", headers=ctx["admin"])
    assert read.json()["next_inspection_due"] == "2027-08-31"


async def test_a_self_test_counts_one_month_early_not_two(client, ctx) -> None:
    installed = date(2016, 4, 12)
    on_time, too_early = await lift(ctx, installed), await lift(ctx, installed)
    for unit, self_tested in ((on_time, date(2018, 3, 1)), (too_early, date(2018, 2, 28))):
        await inspect(client, ctx, unit["id"], "supervisory", installed, reason="installation")
        await inspect(client, ctx, unit["id"], "periodic", date(2017, 4, 3))
        await inspect(client, ctx, unit["id"], "self_test", self_tested)
    assert due_of(await schedule(client, ctx, on_time["id"]), "self_test")["due_on"] == (
        "2019-04-30"
    )
    assert due_of(await schedule(client, ctx, too_early["id"]), "self_test")["due_on"] == (
        "2018-04-30"
    )


async def test_a_lift_stopped_a_year_needs_an_inspection_before_restart(client, ctx) -> None:
    installed = add_months(f.today(), -30)
    unit = await lift(ctx, installed)
    await inspect(client, ctx, unit["id"], "supervisory", installed, reason="installation")
    await inspect(client, ctx, unit["id"], "periodic", add_months(installed, 12))
    suspended = await client.post(
        f"/api/v1/equipment/{unit['id']}/suspend",
        json={
            "suspended_from": str(f.today() - 400 * DAY),
            "notified_on": str(f.today() - 390 * DAY),
            "reason": "加装改造前停用",
        },
        headers=ctx["admin"],
    )
    assert suspended.status_code == 200, suspended.text
    found = await schedule(client, ctx, unit["id"])
    # Year 4 is more than a year away: nothing lapsed, yet the restart needs an inspection.
    assert due_of(found, "periodic")["due_on"] > str(f.today())
    assert found["needs_inspection_before_resume"] is True
    resumed = await client.post(
        f"/api/v1/equipment/{unit['id']}/resume",
        json={"resumed_on": str(f.today())},
        headers=ctx["admin"],
    )
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["needs_inspection_before_resume"] is True
    assert resumed.json()["next_inspection_due"] == str(f.today())
    done = await inspect(client, ctx, unit["id"], "periodic", f.today())
    assert done["schedule"]["overdue"] == [] or "periodic" not in done["schedule"]["overdue"]
    after = (await client.get(f"/api/v1/equipment/{unit['id']}", headers=ctx["admin"])).json()
    assert after["needs_inspection_before_resume"] is False
    # The month is now the restart inspection's; the years continue from the installation.
    following = due_of(await schedule(client, ctx, unit["id"]), "self_test") or due_of(
        await schedule(client, ctx, unit["id"]), "periodic"
    )
    assert following is not None
    assert date.fromisoformat(following["due_on"]).month == f.today().month


# --- cylinders -------------------------------------------------------------------------


async def create_cylinder(client, ctx, token, **body) -> dict:
    payload = {
        "category": "2310",
        "district_code": "420606",
        "user_unit_id": ctx["owner"],
        "equipment_code": f.equipment_code("2310", 2019),
        "manufacture_date": "2019-01-10",
        "commissioning_date": "2019-02-01",
        "registered_on": "2019-02-05",
        "registration_code": f.registration_code("2310"),
        **body,
    }
    return await client.post("/api/v1/equipment", json=payload, headers=token)


async def test_diving_and_taxi_cylinders_have_their_own_rows(client, ctx) -> None:
    diving = await create_cylinder(
        client,
        ctx,
        ctx["admin"],
        cylinder_use="diving",
        parameters={"medium": "air", "water_capacity_l": 12.0, "nominal_working_pressure_mpa": 20},
    )
    assert diving.status_code == 201, diving.text
    assert diving.json()["cylinder_use"] == "diving"
    periodic = due_of(await schedule(client, ctx, diving.json()["id"]), "periodic")
    assert (periodic["rule_key"], periodic["due_on"]) == ("cylinder.diving", "2021-01-10")

    taxi = await create_cylinder(
        client,
        ctx,
        ctx["admin"],
        cylinder_use="taxi",
        parameters={"medium": "CNG", "water_capacity_l": 80.0, "nominal_working_pressure_mpa": 20},
    )
    assert taxi.status_code == 201, taxi.text
    life = due_of(await schedule(client, ctx, taxi.json()["id"]), "end_of_service_life")
    assert (life["rule_key"], life["due_on"]) == ("cylinder.life.taxi_cng", "2027-01-10")
    # The same cylinder in another vehicle lasts 15 years.
    edit = await client.patch(
        f"/api/v1/equipment/{taxi.json()['id']}",
        json={"cylinder_use": "vehicle"},
        headers={**ctx["admin"], "If-Match": f'"{taxi.json()["version"]}"'},
    )
    assert edit.status_code == 200, edit.text
    life = due_of(await schedule(client, ctx, taxi.json()["id"]), "end_of_service_life")
    assert (life["rule_key"], life["due_on"]) == ("cylinder.life.vehicle_cng", "2034-01-10")


async def test_only_cylinders_have_a_use(client, ctx) -> None:
    body = {**f.unit_body(ctx["owner"]), "cylinder_use": "taxi"}
    response = await client.post("/api/v1/equipment", json=body, headers=ctx["owner_token"])
    assert response.status_code == 422
    assert response.json()["extra"][0]["key"] == "cylinder_use"
    unknown = await create_cylinder(client, ctx, ctx["admin"], cylinder_use="submarine")
    assert unknown.status_code == 400 or unknown.status_code == 422


# --- filling ---------------------------------------------------------------------------


def permit(code: str, medium: str = "LPG", **checks: object) -> str:
    query = "".join(
        f"&{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in checks.items()
    )
    return f"/api/v1/cylinders/{code}/fill-permit?medium={medium}{query}"


LPG = {"medium": "LPG", "water_capacity_l": 35.5, "nominal_working_pressure_mpa": 2.1}
CNG = {"medium": "CNG", "water_capacity_l": 80.0, "nominal_working_pressure_mpa": 20.0}


async def owned_cylinder(owner_id: int, *, use: str | None = None, **params: object) -> dict:
    return await f.unit(
        owner_id,
        category="2320" if use is None else "2310",
        equipment_code=f.equipment_code("2320" if use is None else "2310", 2024),
        manufacture_date=date(2024, 6, 1),
        commissioning_date=date(2024, 7, 1),
        registered_on=date(2024, 7, 5),
        cylinder_use=use,
        parameters={**(LPG if use is None else CNG), **params},
    )


async def test_an_entrusted_cylinder_is_filled_as_the_stations_own(client, ctx) -> None:
    home, other = await station(), await station()
    token = await f.token(Role.STATION, home["id"])
    unit = await owned_cylinder(ctx["owner"])  # the user unit's own cylinder
    refused = (await client.get(permit(unit["code"]), headers=token)).json()
    assert refused["code"] == "08"

    agreement = await client.post(
        "/api/v1/cylinder-entrustments",
        json={
            "owner_id": ctx["owner"],
            "filling_station_id": home["id"],
            "valid_from": str(f.today() - 30 * DAY),
            "valid_until": str(f.today() + 335 * DAY),
        },
        headers=ctx["admin"],
    )
    assert agreement.status_code == 201, agreement.text
    assert agreement.json()["owner_id"] == ctx["owner"]
    answer = (await client.get(permit(unit["code"]), headers=token)).json()
    assert (answer["code"], answer["allowed"]) == ("00", True)
    assert [r["name"] for r in answer["reasons"]] == ["entrusted"]
    # Another station has no agreement; the owner cannot make one itself.
    other_token = await f.token(Role.STATION, other["id"])
    assert (await client.get(permit(unit["code"]), headers=other_token)).json()["code"] == "08"
    forbidden = await client.post(
        "/api/v1/cylinder-entrustments",
        json={
            "owner_id": ctx["owner"],
            "filling_station_id": other["id"],
            "valid_from": str(f.today()),
            "valid_until": str(f.today() + DAY),
        },
        headers=ctx["owner_token"],
    )
    assert forbidden.status_code == 403
    listed = (await client.get("/api/v1/cylinder-entrustments", headers=token)).json()
    assert [a["id"] for a in listed] == [agreement.json()["id"]]
    assert (await client.get("/api/v1/cylinder-entrustments", headers=other_token)).json() == []
    # The recorded verdict of a fill over MQTT is the permit's.
    result = await ingest_now(
        fills_topic(home["station_code"]), fill_payload(home["station_code"], unit["code"])
    )
    [verdict] = [v.verdict for v in result.verdicts]
    assert verdict["code"] == "00" and verdict["reasons"][0]["name"] == "entrusted"


async def test_the_new_fill_refusals_through_mqtt_and_the_permit(client, ctx) -> None:
    home = await station()
    token = await f.token(Role.STATION, home["id"])
    code = home["station_code"]
    new = await f.unit(
        home["id"],
        category="2320",
        equipment_code=f.equipment_code("2320", 2026),
        manufacture_date=f.today() - 20 * DAY,
        commissioning_date=f.today() - 10 * DAY,
        registered_on=f.today() - 10 * DAY,
        owning_station_id=home["id"],
        parameters=LPG,
    )
    # First fill, not purged: 20 (permit and fill alike); reported purged: allowed.
    assert (await client.get(permit(new["code"], purged_or_evacuated=False), headers=token)).json()[
        "code"
    ] == "20"
    assert (await client.get(permit(new["code"], purged_or_evacuated=True), headers=token)).json()[
        "code"
    ] == "00"
    assert (await client.get(permit(new["code"]), headers=token)).json()["code"] == "00"
    result = await ingest_now(
        fills_topic(code), fill_payload(code, new["code"], purged_or_evacuated=False)
    )
    assert [v.verdict["code"] for v in result.verdicts] == ["20"]

    taxi = await owned_cylinder(ctx["owner"], use="taxi", vehicle_registration="鄂F·D12345")
    cng = {"medium": "CNG", "filled_mass_kg": None, "final_pressure_mpa": 19.5}
    people = await ingest_now(
        fills_topic(code), fill_payload(code, taxi["code"], people_in_vehicle=True, **cng)
    )
    assert [v.verdict["code"] for v in people.verdicts] == ["21"]
    other_taxi = await owned_cylinder(ctx["owner"], use="taxi", vehicle_registration="鄂F·D12345")
    wrong = await ingest_now(
        fills_topic(code),
        fill_payload(code, other_taxi["code"], vehicle_registration="鄂FD99999", **cng),
    )
    assert [v.verdict["code"] for v in wrong.verdicts] == ["22"]
    third = await owned_cylinder(ctx["owner"], use="vehicle", vehicle_registration="鄂F·D12345")
    right = await ingest_now(
        fills_topic(code),
        fill_payload(
            code, third["code"], vehicle_registration="鄂fd12345", people_in_vehicle=False, **cng
        ),
    )
    assert [v.verdict["code"] for v in right.verdicts] == ["00"]
    # The permit asks the same questions.
    fresh = await owned_cylinder(ctx["owner"], use="taxi", vehicle_registration="鄂F·D12345")
    asked = await client.get(
        permit(fresh["code"], "CNG", people_in_vehicle=True, vehicle_registration="鄂F00000"),
        headers=token,
    )
    assert asked.status_code == 200, asked.text
    assert [r["code"] for r in asked.json()["reasons"]] == ["21", "22"]
    refused = (await client.get("/api/v1/fills?verdict=21", headers=token)).json()["items"]
    assert [r["cylinder_code"] for r in refused] == [taxi["code"]]


# --- maintenance, registration, entrapment ---------------------------------------------


async def test_on_demand_is_refused_for_class_c_and_past_validity(client, ctx) -> None:
    company = await f.organisation("maintenance_company")
    await credit.set_override(
        SYSTEM, company["id"], "C", "检查发现问题", today=f.today(), now=clock.now()
    )
    smart = {**f.LIFT_PARAMETERS, "iot_monitored": True}
    recent = f.today() - 100 * DAY
    in_date = await lift(ctx, recent, parameters=smart)
    await inspect(client, ctx, in_date["id"], "supervisory", recent, reason="installation")
    lapsed = await lift(ctx, date(2015, 9, 1), parameters=smart)

    async def contract(units, company_id):
        return await client.post(
            "/api/v1/contracts",
            json={
                "user_unit_id": ctx["owner"],
                "maintenance_company_id": company_id,
                "starts_on": str(f.today()),
                "ends_on": str(f.today() + 365 * DAY),
                "equipment_ids": [u["id"] for u in units],
                "on_demand": True,
                "cycle_days": 30,
                "liability_insured": True,
            },
            headers=ctx["owner_token"],
        )

    class_c = await contract([in_date], company["id"])
    assert class_c.status_code == 422 and "not C or below" in class_c.text
    await credit.set_override(
        SYSTEM, company["id"], "B", "整改到位", today=f.today(), now=clock.now()
    )
    past = await contract([lapsed], company["id"])
    assert past.status_code == 422 and "inspection validity" in past.text
    allowed = await contract([in_date], company["id"])
    assert allowed.status_code == 201, allowed.text


async def test_units_past_their_design_life_are_listed_for_change_registration(client, ctx) -> None:
    old = await f.unit(
        ctx["owner"], parameters={**f.LIFT_PARAMETERS, "design_service_life_years": 10}
    )  # commissioned 2015-09-01: reached 2025-09-01
    await f.unit(ctx["owner"], parameters={**f.LIFT_PARAMETERS, "design_service_life_years": 30})
    await f.unit(ctx["owner"])
    url = "/api/v1/due/change-registrations"
    for who in ("owner_token", "admin", "inspector"):
        page = await client.get(url, headers=ctx[who])
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        assert [(i["equipment_id"], i["due_on"]) for i in items] == [(old["id"], "2025-10-01")]
        assert items[0]["rule_key"] == "registration.change.design_life"
    assert (await client.get(url, headers=ctx["neighbour_token"])).json()["items"] == []
    # The statutory due list is not mixed with it.
    due = (await client.get("/api/v1/due", headers=ctx["admin"])).json()["items"]
    assert all(i["kind"] != "change_registration" for i in due)


async def test_the_rules_endpoint_shows_the_corrected_rows(client) -> None:
    rules = {r["key"]: r for r in (await client.get("/api/v1/rules")).json()["rules"]}
    assert "湖北省电梯使用安全管理办法" in rules["lift.entrapment.city"]["regulation"]
    assert rules["lift.entrapment.city"]["values"]["minutes"] == 30
    assert rules["lift.entrapment.elsewhere"]["values"]["minutes"] == 60
    assert rules["lift.major_repair"]["tag"] == "S" and rules["lift.major_repair"]["overridable"]
    assert rules["cylinder.inert.fluorinated"]["tag"] == "U"
    assert rules["cylinder.life.taxi_cng"]["values"]["life_years"] == 8
    assert rules["lift.self_test_early"]["values"]["months"] == 1


async def test_entrapment_minutes_follow_the_policy_file(client, ctx, tmp_path, configure):
    from equipment.settings import RulesSettings

    path = tmp_path / "policy.json"
    path.write_text('{"overrides": {"lift.entrapment.city": {"minutes": 20}}}', encoding="utf-8")
    configure(rules=RulesSettings(policy_path=path))
    unit = await f.unit(ctx["owner"])  # 樊城区: a city district
    raised = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    alarm = await client.post(
        f"/api/v1/equipment/{unit['id']}/alarms",
        json={"kind": "entrapment", "raised_at": raised.isoformat()},
        headers=ctx["owner_token"],
    )
    assert alarm.status_code == 201, alarm.text
    assert alarm.json()["response_limit_minutes"] == 20


# --- the demo city ---------------------------------------------------------------------


async def test_the_demo_city_shows_the_corrections(client) -> None:
    from equipment.demo.load import load_demo_city
    from equipment.demo.showcase import TAXI_PLATE

    org_ids = await load_demo_city(
        seed=420600, units=40, today=f.today(), now=clock.now(), show_progress=False
    )
    admin = await f.token(Role.ADMIN)
    lifts = (await client.get("/api/v1/equipment?q=重大修理后", headers=admin)).json()["items"]
    [repaired] = [u for u in lifts if u["model"] == "大修示例"]
    found = (await client.get(f"/api/v1/equipment/{repaired['id']}/schedule", headers=admin)).json()
    periodic = due_of(found, "periodic")
    assert periodic["due_on"] == "2027-08-31" and "lift-year 11" in periodic["explanation"]

    station_id = org_ids["filling_station"][0]
    station_token = await f.token(Role.STATION, station_id)
    cylinders = (await client.get("/api/v1/equipment?category=2320", headers=admin)).json()
    [entrusted] = [u for u in cylinders["items"] if u["model"] == "YSP35.5"]
    answer = (await client.get(permit(entrusted["code"]), headers=station_token)).json()
    assert (answer["code"], [r["name"] for r in answer["reasons"]]) == ("00", ["entrusted"])

    taxis = (await client.get("/api/v1/equipment?category=2310", headers=admin)).json()["items"]
    [taxi] = [u for u in taxis if u["cylinder_use"] == "taxi"]
    assert taxi["parameters"]["vehicle_registration"] == TAXI_PLATE
    life = due_of(
        (await client.get(f"/api/v1/equipment/{taxi['id']}/schedule", headers=admin)).json(),
        "end_of_service_life",
    )
    assert life["rule_key"] == "cylinder.life.taxi_cng"
