"""On-site supervision checks (监督检查) and the user unit's routine records (日管控、周排查、
月调度) through the API, on SQLite and PostgreSQL: failed items become hazards in one step,
and every new endpoint answers within its caller's scope."""

from __future__ import annotations

import io
from datetime import timedelta

import openpyxl
import pytest

from equipment.domain.access import SYSTEM, Jurisdiction, Role
from equipment.domain.routines import Kind, period_start
from equipment.services import clock, tokens
from tests import factories as f

pytestmark = pytest.mark.integration
ACCEPT_LANGUAGE = "en"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def bound_inspector(body_id: int, jurisdiction: str) -> dict[str, str]:
    secret, _ = await tokens.create_token(
        SYSTEM,
        role=Role.INSPECTOR,
        organisation_id=body_id,
        label="bound",
        now=clock.now(),
        jurisdiction=Jurisdiction.parse(jurisdiction),
    )
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
async def ctx(engine):
    owner = await f.organisation("user_unit", name="汉江小区物业")
    other_owner = await f.organisation("user_unit")
    company = await f.organisation("maintenance_company", name="隆中电梯")
    rival = await f.organisation("maintenance_company")
    station = await f.organisation("filling_station")
    body = await f.organisation("inspection_body")
    lift = await f.unit(owner["id"], maintenance_company_id=company["id"], district_code="420606")
    second = await f.unit(owner["id"], maintenance_company_id=rival["id"], district_code="420606")
    other = await f.unit(
        other_owner["id"], maintenance_company_id=rival["id"], district_code="420602"
    )
    return {
        "owner": owner["id"],
        "other_owner": other_owner["id"],
        "lift": lift,
        "second": second,
        "other": other,
        "inspector": await f.token(Role.INSPECTOR, body["id"]),
        "bound": await bound_inspector(body["id"], "420602"),
        "owner_token": await f.token(Role.USER_UNIT, owner["id"]),
        "other_owner_token": await f.token(Role.USER_UNIT, other_owner["id"]),
        "company_token": await f.token(Role.MAINTENANCE, company["id"]),
        "rival_token": await f.token(Role.MAINTENANCE, rival["id"]),
        "station_token": await f.token(Role.STATION, station["id"]),
    }


async def answers(client, ctx, name: str, failed: dict[str, str]) -> list[dict]:
    checklist = await client.get(f"/api/v1/checks/checklists/{name}", headers=ctx["inspector"])
    assert checklist.status_code == 200, checklist.text
    items = checklist.json()["items"]
    assert all(i["source"] for i in items)  # every item says why it is checked
    return [
        {"key": i["key"], "outcome": "failed", "note": failed[i["key"]]}
        if i["key"] in failed
        else {"key": i["key"], "outcome": "passed"}
        for i in items
    ]


async def test_a_check_turns_two_failed_items_into_two_hazards(client, ctx):
    lift = ctx["lift"]
    items = await answers(
        client, ctx, "lift", {"signs": "使用标志未张贴", "door_lock_circuit": "门锁回路短接"}
    )
    made = await client.post(
        "/api/v1/checks",
        json={"equipment_id": lift["id"], "items": items, "inspector": "李检查员", "task_id": 7},
        headers=ctx["inspector"],
    )
    assert made.status_code == 201, made.text
    check = made.json()
    assert (check["failed"], check["checklist"], check["task_id"]) == (2, "lift", 7)
    failed = [i for i in check["items"] if i["outcome"] == "failed"]
    assert [i["key"] for i in failed] == ["signs", "door_lock_circuit"]
    hazard_ids = [i["hazard_id"] for i in failed]
    assert all(hazard_ids) and len(set(hazard_ids)) == 2
    assert all(i["hazard_id"] is None for i in check["items"] if i["outcome"] == "passed")
    listed = await client.get(
        f"/api/v1/hazards?equipment_id={lift['id']}", headers=ctx["inspector"]
    )
    hazards = {h["id"]: h for h in listed.json()["items"]}
    assert set(hazards) == set(hazard_ids)
    assert {h["source"] for h in hazards.values()} == {"supervision_check"}
    assert {h["source_ref"] for h in hazards.values()} == {f"check:{check['id']}"}
    grades = sorted(h["grade"] for h in hazards.values())
    assert grades == ["general", "major"]  # the door-lock item names GB 45067-2024 5.6.4
    unit = (await client.get(f"/api/v1/equipment/{lift['id']}", headers=ctx["inspector"])).json()
    assert unit["not_fit_for_use"] is True
    # Asking again opens nothing more.
    again = await client.post(
        f"/api/v1/checks/{check['id']}/hazards", json={}, headers=ctx["inspector"]
    )
    assert [i["hazard_id"] for i in again.json()["items"] if i["outcome"] == "failed"] == (
        hazard_ids
    )

    # A check of the user unit's management: its failed item is a management hazard.
    mgmt = await answers(client, ctx, "user_unit", {"emergency_plan": "未组织应急演练"})
    made = await client.post(
        "/api/v1/checks",
        json={"user_unit_id": ctx["owner"], "items": mgmt, "open_hazards": False},
        headers=ctx["inspector"],
    )
    assert made.status_code == 201, made.text
    assert [i["hazard_id"] for i in made.json()["items"] if i["outcome"] == "failed"] == [None]
    opened = await client.post(
        f"/api/v1/checks/{made.json()['id']}/hazards",
        json={"items": ["emergency_plan"]},
        headers=ctx["inspector"],
    )
    [hazard_id] = [i["hazard_id"] for i in opened.json()["items"] if i["outcome"] == "failed"]
    hazard = (await client.get(f"/api/v1/hazards/{hazard_id}", headers=ctx["owner_token"])).json()
    assert (hazard["equipment_id"], hazard["user_unit_id"]) == (None, ctx["owner"])

    # Every item answered once, nothing else; the checklist is the target's.
    bad = [
        ({"equipment_id": lift["id"], "items": items[:-1]}, 422),
        ({"equipment_id": lift["id"], "items": [*items, items[0]]}, 422),
        ({"equipment_id": lift["id"], "items": items, "checklist": "boiler"}, 422),
        ({"equipment_id": lift["id"], "user_unit_id": ctx["owner"], "items": items}, 422),
        ({"equipment_id": lift["id"], "items": [{**items[0], "outcome": "maybe"}]}, 400),
        (
            {
                "equipment_id": lift["id"],
                "items": items,
                "checked_on": str(f.today() + timedelta(days=1)),
            },
            422,
        ),
    ]
    for body, status in bad:
        refused = await client.post("/api/v1/checks", json=body, headers=ctx["inspector"])
        assert refused.status_code == status, (body, refused.text)


async def test_checks_answer_within_each_callers_scope(client, ctx):
    lift, other = ctx["lift"], ctx["other"]
    items = await answers(client, ctx, "lift", {"signs": "未张贴"})
    made = await client.post(
        "/api/v1/checks",
        json={"equipment_id": lift["id"], "items": items},
        headers=ctx["inspector"],
    )
    check_id = made.json()["id"]
    path = f"/api/v1/checks/{check_id}"
    evidence = await client.post(
        f"{path}/evidence?item=signs",
        content=PNG,
        headers={**ctx["inspector"], "Content-Type": "image/png"},
    )
    assert evidence.status_code == 201, evidence.text
    file_path = f"{path}/evidence/{evidence.json()['id']}"
    # Who sees the check of the lift: its owner, its maintenance company, the inspector.
    for who in ("owner_token", "company_token", "inspector"):
        assert (await client.get(path, headers=ctx[who])).status_code == 200, who
        assert (await client.get(file_path, headers=ctx[who])).content == PNG, who
        listed = await client.get("/api/v1/checks", headers=ctx[who])
        assert check_id in {c["id"] for c in listed.json()["items"]}, who
    # Not the other owner, the rival company (it maintains the owner's second unit, not
    # this one), or an inspector bound to another district.
    for who in ("other_owner_token", "rival_token", "bound"):
        assert (await client.get(path, headers=ctx[who])).status_code == 404, who
        assert (await client.get(file_path, headers=ctx[who])).status_code == 404, who
        listed = await client.get("/api/v1/checks", headers=ctx[who])
        assert check_id not in {c["id"] for c in listed.json()["items"]}, who
    assert (await client.get(path, headers=ctx["station_token"])).status_code == 403
    # Only the regulator records; a bound inspector only inside his district.
    for who in ("owner_token", "company_token", "station_token"):
        refused = await client.post(
            "/api/v1/checks", json={"equipment_id": lift["id"], "items": items}, headers=ctx[who]
        )
        assert refused.status_code == 403, who
        upload = await client.post(
            f"{path}/evidence", content=PNG, headers={**ctx[who], "Content-Type": "image/png"}
        )
        assert upload.status_code in (403, 404), who
    outside = await client.post(
        "/api/v1/checks", json={"equipment_id": lift["id"], "items": items}, headers=ctx["bound"]
    )
    assert outside.status_code == 404
    inside = await client.post(
        "/api/v1/checks", json={"equipment_id": other["id"], "items": items}, headers=ctx["bound"]
    )
    assert inside.status_code == 201, inside.text
    mgmt = await answers(client, ctx, "user_unit", {"ledger": "未建立台账"})
    for owner, status in ((ctx["owner"], 404), (ctx["other_owner"], 201)):
        made = await client.post(
            "/api/v1/checks", json={"user_unit_id": owner, "items": mgmt}, headers=ctx["bound"]
        )
        assert made.status_code == status, made.text
    # The management hazard it opened is inside the bound inspector's scope (its user
    # unit has a unit in his district), in the list and in the ledger.
    seen = (await client.get("/api/v1/hazards", headers=ctx["bound"])).json()["items"]
    assert [(h["equipment_id"], h["user_unit_id"]) for h in seen if h["equipment_id"] is None] == [
        (None, ctx["other_owner"])
    ]
    ledger = await client.get("/api/v1/hazards/ledger?by=user_unit", headers=ctx["bound"])
    assert {line["key"] for line in ledger.json()} == {str(ctx["other_owner"])}
    # A user unit's management check: its owner sees it, maintenance companies do not.
    owned = await client.get(
        f"/api/v1/checks?user_unit_id={ctx['other_owner']}", headers=ctx["other_owner_token"]
    )
    assert {c["target_kind"] for c in owned.json()["items"]} == {"equipment", "user_unit"}
    rival = await client.get("/api/v1/checks", headers=ctx["rival_token"])
    assert {c["target_kind"] for c in rival.json()["items"]} == {"equipment"}
    # The hazards of the check: the owner and its maintainer, not the rival company.
    hazards_of = f"/api/v1/hazards?equipment_id={lift['id']}"
    for who, count in (("owner_token", 1), ("company_token", 1), ("rival_token", 0)):
        listed = await client.get(hazards_of, headers=ctx[who])
        assert len(listed.json()["items"]) == count, who


async def test_routine_records_and_the_missing_list(client, ctx):
    lift, second, other = ctx["lift"], ctx["second"], ctx["other"]
    daily = {"equipment_id": lift["id"], "kind": "daily"}
    made = await client.post("/api/v1/routine-records", json=daily, headers=ctx["owner_token"])
    assert made.status_code == 201, made.text
    assert made.json()["period_start"] == str(f.today())
    again = await client.post("/api/v1/routine-records", json=daily, headers=ctx["owner_token"])
    assert again.status_code == 409
    weekly = await client.post(
        "/api/v1/routine-records",
        json={"equipment_id": lift["id"], "kind": "weekly", "all_clear": False},
        headers=ctx["owner_token"],
    )
    assert weekly.status_code == 422  # not all clear: say what was found
    weekly = await client.post(
        "/api/v1/routine-records",
        json={
            "equipment_id": lift["id"],
            "kind": "weekly",
            "all_clear": False,
            "findings": "底坑积水",
        },
        headers=ctx["owner_token"],
    )
    assert weekly.json()["period_start"] == str(period_start(Kind.WEEKLY, f.today()))
    # Not another user unit's unit; not the maintenance company, the station or the
    # inspector (the user unit's own record).
    assert (
        await client.post(
            "/api/v1/routine-records",
            json={"equipment_id": other["id"], "kind": "daily"},
            headers=ctx["owner_token"],
        )
    ).status_code == 404
    for who in ("company_token", "station_token", "inspector"):
        refused = await client.post(
            "/api/v1/routine-records",
            json={"equipment_id": second["id"], "kind": "daily"},
            headers=ctx[who],
        )
        assert refused.status_code == 403, who
    # The missing list: today's daily record of the second unit is missing, not the
    # first's; the other owner's units are not in the owner's list.
    missing = await client.get(
        "/api/v1/routine-records/missing?kind=daily", headers=ctx["owner_token"]
    )
    assert missing.status_code == 200, missing.text
    assert {m["equipment_id"] for m in missing.json()["items"]} == {second["id"]}
    monthly = await client.get(
        "/api/v1/routine-records/missing?kind=monthly", headers=ctx["owner_token"]
    )
    assert {m["equipment_id"] for m in monthly.json()["items"]} == {lift["id"], second["id"]}
    everyone = await client.get(
        "/api/v1/routine-records/missing?kind=daily", headers=ctx["inspector"]
    )
    assert {m["equipment_id"] for m in everyone.json()["items"]} == {second["id"], other["id"]}
    bound = await client.get("/api/v1/routine-records/missing?kind=daily", headers=ctx["bound"])
    assert {m["equipment_id"] for m in bound.json()["items"]} == {other["id"]}
    # The records: the owner's own; the other owner sees none of them.
    own = await client.get("/api/v1/routine-records", headers=ctx["owner_token"])
    assert sorted(r["kind"] for r in own.json()["items"]) == ["daily", "weekly"]
    theirs = await client.get("/api/v1/routine-records", headers=ctx["other_owner_token"])
    assert theirs.json()["items"] == []
    for who in ("company_token", "station_token"):
        for path in ("/api/v1/routine-records", "/api/v1/routine-records/missing"):
            assert (await client.get(path, headers=ctx[who])).status_code == 403, (who, path)


async def test_the_ledger_workbook_holds_the_two_lists_within_scope(client, ctx):
    lift = ctx["lift"]
    items = await answers(client, ctx, "lift", {"signs": "未张贴"})
    body = {"equipment_id": lift["id"], "items": items}
    made = await client.post("/api/v1/checks", json=body, headers=ctx["inspector"])
    [hazard_id] = [i["hazard_id"] for i in made.json()["items"] if i["hazard_id"]]
    assigned = await client.post(
        f"/api/v1/hazards/{hazard_id}/actions",
        json={
            "action": "assign",
            "responsible_org_id": ctx["owner"],
            "responsible_person": "王经理",
            "measures": "张贴使用标志",
            "deadline": str(f.today() + timedelta(days=5)),
            "supervising_inspector": "李检查员",
        },
        headers=ctx["inspector"],
    )
    assert assigned.status_code == 200, assigned.text

    def sheets(response) -> dict[str, list[tuple]]:
        assert response.status_code == 200, response.text
        book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
        return {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}

    own = sheets(
        await client.get(
            "/api/v1/hazards/ledger.xlsx?by=user_unit&lang=zh-CN", headers=ctx["owner_token"]
        )
    )
    assert list(own) == ["隐患台账", "问题隐患清单", "制度措施清单"]
    [header, line] = own["隐患台账"]
    assert (line[0], line[1]) == (str(ctx["owner"]), "汉江小区物业")
    assert line[header.index("已交办")] == 1
    [_, hazard] = own["问题隐患清单"]
    assert hazard[0] == hazard_id
    assert hazard[5].startswith("监督检查不符合")
    [_, measure] = own["制度措施清单"]
    assert (measure[2], measure[3], measure[4]) == ("汉江小区物业", "王经理", "张贴使用标志")
    # The rival company maintains none of the owner's lift: its workbook has no rows.
    rival = sheets(
        await client.get("/api/v1/hazards/ledger.xlsx?by=district", headers=ctx["rival_token"])
    )
    assert all(len(rows) == 1 for rows in rival.values())
    assert (
        await client.get("/api/v1/hazards/ledger.xlsx", headers=ctx["station_token"])
    ).status_code == 403
