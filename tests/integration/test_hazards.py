"""Hazards (隐患) through the API: the 一单四制 loop, its sources, scope, the public answer
of a unit with a major hazard, and the alarm of a passed deadline."""

from __future__ import annotations

from datetime import timedelta

import pytest

from equipment.domain.access import Role
from equipment.services import clock, hazards
from equipment.storage.tables import Hazard
from tests import factories as f

pytestmark = pytest.mark.integration
ACCEPT_LANGUAGE = "en"
DAY = timedelta(days=1)


@pytest.fixture
async def ctx(engine):
    owner = await f.organisation("user_unit", name="汉江小区物业")
    other_owner = await f.organisation("user_unit")
    company = await f.organisation("maintenance_company", name="隆中电梯")
    rival = await f.organisation("maintenance_company")
    body = await f.organisation("inspection_body")
    lift = await f.unit(owner["id"], maintenance_company_id=company["id"])
    other = await f.unit(other_owner["id"], maintenance_company_id=rival["id"])
    return {
        "owner": owner["id"],
        "company": company["id"],
        "lift": lift,
        "other": other,
        "admin": await f.token(Role.ADMIN),
        "inspector": await f.token(Role.INSPECTOR, body["id"]),
        "owner_token": await f.token(Role.USER_UNIT, owner["id"]),
        "other_owner_token": await f.token(Role.USER_UNIT, other_owner["id"]),
        "company_token": await f.token(Role.MAINTENANCE, company["id"]),
        "rival_token": await f.token(Role.MAINTENANCE, rival["id"]),
    }


async def listed(client, ctx, unit, who="inspector", **extra) -> dict:
    response = await client.post(
        "/api/v1/hazards",
        json={"equipment_id": unit["id"], "description": "门锁回路被短接", **extra},
        headers=ctx[who],
    )
    assert response.status_code == 201, response.text
    return response.json()


async def step(client, ctx, hazard_id, action, who, **extra):
    return await client.post(
        f"/api/v1/hazards/{hazard_id}/actions", json={"action": action, **extra}, headers=ctx[who]
    )


def assignment(ctx, deadline=None) -> dict:
    return {
        "responsible_org_id": ctx["owner"],
        "responsible_person": "王经理",
        "measures": "恢复门锁回路，拆除短接线",
        "deadline": str(deadline or f.today() + 10 * DAY),
        "supervising_inspector": "李检查员",
    }


async def public(client, unit) -> dict:
    return (await client.get(f"/api/v1/public/equipment/{unit['code']}")).json()


async def test_the_full_loop_with_a_send_back_and_a_major_hazard(client, ctx):
    lift = ctx["lift"]
    before = (await public(client, lift))["safety_state"]
    assert before != "out_of_service"
    hazard = await listed(client, ctx, lift, criterion="lift.door_lock_bridged")
    assert (hazard["grade"], hazard["state"]) == ("major", "listed")
    assert hazard["criterion_clause"].startswith("GB 45067-2024")
    # Major: the unit is not fit for use and the public answer says why.
    unit = (await client.get(f"/api/v1/equipment/{lift['id']}", headers=ctx["admin"])).json()
    assert unit["not_fit_for_use"] is True
    answer = await public(client, lift)
    assert (answer["safe_to_use"], answer["safety_state"]) == (False, "out_of_service")
    assert answer["safety_reason"].startswith("A major accident hazard found on")
    # Only the hazard says so: the not-fit flag it set adds no second reason.
    assert [c["state"] for c in answer["conditions"]].count("out_of_service") == 1
    chinese = (await client.get(f"/api/v1/public/equipment/{lift['code']}?lang=zh-CN")).json()
    assert "重大事故隐患" in chinese["safety_reason"]

    # The responsible party cannot start before the regulator assigns it.
    early = await step(client, ctx, hazard["id"], "start", "owner_token")
    assert early.status_code == 409
    unassigned = await step(client, ctx, hazard["id"], "assign", "inspector")
    assert unassigned.status_code == 422
    assigned = await step(client, ctx, hazard["id"], "assign", "inspector", **assignment(ctx))
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["responsible_person"] == "王经理"
    # The owner may not verify its own work; the inspector may not rectify.
    assert (await step(client, ctx, hazard["id"], "start", "inspector")).status_code == 403
    assert (await step(client, ctx, hazard["id"], "start", "owner_token")).status_code == 200
    assert (await step(client, ctx, hazard["id"], "submit", "company_token")).status_code == 200
    assert (await step(client, ctx, hazard["id"], "verify", "owner_token")).status_code == 403
    back = await step(client, ctx, hazard["id"], "send_back", "inspector", note="短接线仍在")
    assert back.json()["state"] == "rectifying"
    assert (await step(client, ctx, hazard["id"], "submit", "owner_token")).status_code == 200
    closed = await step(client, ctx, hazard["id"], "verify", "inspector")
    assert closed.json()["state"] == "verified" and closed.json()["closed_on"] == str(f.today())
    assert (await step(client, ctx, hazard["id"], "send_back", "inspector")).status_code == 409

    history = (
        await client.get(f"/api/v1/hazards/{hazard['id']}/history", headers=ctx["owner_token"])
    ).json()
    assert [(c["action"], c["to_state"]) for c in history] == [
        ("assign", "assigned"),
        ("start", "rectifying"),
        ("submit", "submitted"),
        ("send_back", "rectifying"),
        ("submit", "submitted"),
        ("verify", "verified"),
    ]
    assert all(c["actor"] and c["at"] for c in history)
    assert history[3]["note"] == "短接线仍在"
    # Closed: the unit is fit for use again.
    unit = (await client.get(f"/api/v1/equipment/{lift['id']}", headers=ctx["admin"])).json()
    assert unit["not_fit_for_use"] is False
    assert (await public(client, lift))["safety_state"] == before


async def test_only_an_inspector_grades_a_hazard_major(client, ctx):
    refused = await client.post(
        "/api/v1/hazards",
        json={"equipment_id": ctx["lift"]["id"], "description": "x", "criterion": "lift.brake"},
        headers=ctx["owner_token"],
    )
    assert refused.status_code == 403
    wrong_family = await client.post(
        "/api/v1/hazards",
        json={
            "equipment_id": ctx["lift"]["id"],
            "description": "x",
            "criterion": "boiler.safety_valve",
        },
        headers=ctx["inspector"],
    )
    assert wrong_family.status_code == 422


async def test_scope_a_company_sees_its_units_hazards_and_an_owner_its_own(client, ctx):
    mine = await listed(client, ctx, ctx["lift"])
    theirs = await listed(client, ctx, ctx["other"])
    management = await client.post(
        "/api/v1/hazards",
        json={"user_unit_id": ctx["owner"], "description": "未配备安全管理员"},
        headers=ctx["owner_token"],
    )
    assert management.status_code == 201, management.text
    for who, expected in (
        ("admin", {mine["id"], theirs["id"], management.json()["id"]}),
        ("inspector", {mine["id"], theirs["id"], management.json()["id"]}),
        ("owner_token", {mine["id"], management.json()["id"]}),
        ("company_token", {mine["id"]}),
        ("rival_token", {theirs["id"]}),
    ):
        page = (await client.get("/api/v1/hazards", headers=ctx[who])).json()
        assert {h["id"] for h in page["items"]} == expected, who
    for who in ("other_owner_token", "rival_token"):
        assert (
            await client.get(f"/api/v1/hazards/{mine['id']}", headers=ctx[who])
        ).status_code == 404
        assert (await step(client, ctx, mine["id"], "start", who)).status_code == 404
    # Nobody lists a hazard on a unit or a user unit it cannot see.
    assert (
        await client.post(
            "/api/v1/hazards",
            json={"equipment_id": ctx["other"]["id"], "description": "x"},
            headers=ctx["company_token"],
        )
    ).status_code == 404
    assert (
        await client.post(
            "/api/v1/hazards",
            json={"user_unit_id": ctx["owner"], "description": "x"},
            headers=ctx["other_owner_token"],
        )
    ).status_code == 404


async def test_a_maintenance_records_hazards_open_hazards_once(client, ctx):
    lift = ctx["lift"]
    contract = await client.post(
        "/api/v1/contracts",
        json={
            "user_unit_id": ctx["owner"],
            "maintenance_company_id": ctx["company"],
            "starts_on": str(f.today() - 200 * DAY),
            "ends_on": str(f.today() + 165 * DAY),
            "equipment_ids": [lift["id"]],
        },
        headers=ctx["owner_token"],
    )
    assert contract.status_code == 201, contract.text
    record = {
        "record_id": "R-H1",
        "code": lift["code"],
        "maintained_on": str(f.today() - DAY),
        "level": "half_monthly",
        "items": ["门锁检查"],
        "technicians": [{"name": "李强", "certificate_no": "T1-4206-0001"}],
        "hazards": ["层门门锁啮合长度不足", "底坑积水"],
    }
    for _ in range(2):  # the repeat is a duplicate: no second set of hazards
        sent = await client.post(
            "/api/v1/maintenance/records", json=record, headers=ctx["company_token"]
        )
        assert sent.status_code in (200, 201), sent.text
    page = (
        await client.get(f"/api/v1/hazards?equipment_id={lift['id']}", headers=ctx["owner_token"])
    ).json()
    assert {h["description"] for h in page["items"]} == {"底坑积水", "层门门锁啮合长度不足"}
    assert {(h["source"], h["source_ref"], h["grade"]) for h in page["items"]} == {
        ("maintenance", "maintenance:R-H1", "general")
    }
    assert await hazards.open_hazard_counts([lift["id"], ctx["other"]["id"]]) == {
        lift["id"]: (2, 0)
    }


async def test_a_failed_inspection_opens_a_hazard_per_finding(client, ctx):
    lift = ctx["lift"]
    response = await client.post(
        f"/api/v1/equipment/{lift['id']}/inspections",
        json={
            "kind": "periodic",
            "inspected_on": str(f.today()),
            "conclusion": "fail",
            "report_no": "XY-2026-9",
            "findings": "1. 限速器动作速度超差\n2. 轿厢应急照明失效",
        },
        headers=ctx["inspector"],
    )
    assert response.status_code == 201, response.text
    page = (await client.get("/api/v1/hazards?state=listed", headers=ctx["company_token"])).json()
    assert [h["source"] for h in page["items"]] == ["inspection", "inspection"]
    assert [h["description"] for h in page["items"]] == [
        "1. 限速器动作速度超差",
        "2. 轿厢应急照明失效",
    ]


async def test_a_passed_deadline_raises_one_alarm_and_lists_the_hazard_overdue(client, ctx):
    hazard = await listed(client, ctx, ctx["lift"])
    assigned = await step(
        client, ctx, hazard["id"], "assign", "inspector", **assignment(ctx, f.today())
    )
    assert assigned.status_code == 200, assigned.text
    overdue = "/api/v1/hazards?overdue=true"
    assert (await client.get(overdue, headers=ctx["admin"])).json()["items"] == []
    # The deadline passes (moved back a week, as if a week went by).
    await Hazard.update({Hazard.deadline: f.today() - 7 * DAY}).where(Hazard.id == hazard["id"])
    items = (await client.get(overdue, headers=ctx["owner_token"])).json()["items"]
    assert [(h["id"], h["overdue"]) for h in items] == [(hazard["id"], True)]
    now = clock.now()
    assert await hazards.raise_overdue_alarms(today=f.today(), now=now) == 1
    assert await hazards.raise_overdue_alarms(today=f.today(), now=now) == 0
    alarms = (await client.get("/api/v1/alarms?kind=hazard_overdue", headers=ctx["admin"])).json()[
        "items"
    ]
    assert [(a["kind"], a["count"]) for a in alarms] == [("hazard_overdue", 1)]
    read = (await client.get(f"/api/v1/hazards/{hazard['id']}", headers=ctx["admin"])).json()
    assert read["overdue_alarm_id"] == alarms[0]["id"]
    # Handed in for verification, it is no longer overdue.
    await step(client, ctx, hazard["id"], "start", "owner_token")
    await step(client, ctx, hazard["id"], "submit", "owner_token")
    assert (await client.get(overdue, headers=ctx["admin"])).json()["items"] == []


async def test_the_ledger_counts_by_state_within_scope(client, ctx):
    first = await listed(client, ctx, ctx["lift"])
    await listed(client, ctx, ctx["lift"], criterion="lift.door_anti_pinch")
    await listed(client, ctx, ctx["other"])
    await step(client, ctx, first["id"], "assign", "inspector", **assignment(ctx))
    lines = (await client.get("/api/v1/hazards/ledger?by=user_unit", headers=ctx["admin"])).json()
    by_key = {line["key"]: line for line in lines}
    mine = by_key[str(ctx["owner"])]
    assert (mine["by_state"]["listed"], mine["by_state"]["assigned"]) == (1, 1)
    assert (mine["open"], mine["major_open"], mine["overdue"]) == (2, 1, 0)
    assert len(by_key) == 2
    own = (
        await client.get(
            "/api/v1/hazards/ledger?by=maintenance_company", headers=ctx["company_token"]
        )
    ).json()
    assert [(line["key"], line["open"]) for line in own] == [(str(ctx["company"]), 2)]
