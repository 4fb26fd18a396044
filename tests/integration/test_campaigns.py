"""Special campaigns (专项整治 / 回头看) and post-licence supervision (证后监管) through the
API, on SQLite and PostgreSQL: a campaign selects units, its tasks are closed by checks
whose failed items opened hazards, progress per district (JSON and XLSX), a 回头看 of the
targets whose hazards were closed; licences expiring and lapsed, unlicensed
installations, annual reports; and who sees what."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from equipment.domain.access import SYSTEM, Jurisdiction, Role
from equipment.services import clock, inspections, tokens
from tests import factories as f

pytestmark = pytest.mark.integration
ACCEPT_LANGUAGE = "en"
DAY = timedelta(days=1)


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


async def check(client, headers, unit_id: int, failed: set[str]) -> dict:
    listed = await client.get("/api/v1/checks/checklists/lift", headers=headers)
    items = [
        {"key": i["key"], "outcome": "failed", "note": "问题"}
        if i["key"] in failed
        else {"key": i["key"], "outcome": "passed"}
        for i in listed.json()["items"]
    ]
    made = await client.post(
        "/api/v1/checks", json={"equipment_id": unit_id, "items": items}, headers=headers
    )
    assert made.status_code == 201, made.text
    return made.json()


async def test_a_campaign_its_progress_and_a_follow_up(client, engine) -> None:
    admin = await f.token(Role.ADMIN)
    owner = (await f.organisation("user_unit"))["id"]
    body = (await f.organisation("inspection_body"))["id"]
    inspector = await f.token(Role.INSPECTOR, body)
    bound = await bound_inspector(body, "420602")
    owner_token = await f.token(Role.USER_UNIT, owner)
    fancheng = [await f.unit(owner, district_code="420606") for _ in range(2)]
    xiangcheng = await f.unit(owner, district_code="420602")
    boiler = await f.unit(owner, district_code="420606", category="1000", parameters={})

    body_json = {"title": "电梯专项整治", "due_on": str(f.today() + 30 * DAY), "categories": ["3"]}
    assert (
        await client.post("/api/v1/campaigns", json=body_json, headers=inspector)
    ).status_code == 403
    none = await client.post(
        "/api/v1/campaigns", json={**body_json, "districts": ["420624"]}, headers=admin
    )
    assert none.status_code == 422 or none.status_code == 400
    red = await client.post(
        "/api/v1/campaigns", json={**body_json, "min_grade": "red"}, headers=admin
    )
    assert red.status_code == 422, red.text  # no lift is graded red yet
    made = await client.post("/api/v1/campaigns", json=body_json, headers=admin)
    assert made.status_code == 201, made.text
    campaign = made.json()
    assert campaign["tasks"] == 3  # the three lifts, not the boiler
    tasks = (await client.get(f"/api/v1/campaigns/{campaign['id']}/tasks", headers=admin)).json()
    assert sorted(t["equipment"] for t in tasks) == sorted(u["id"] for u in [*fancheng, xiangcheng])
    assert boiler["id"] not in {t["equipment"] for t in tasks}
    # Scope: the bound inspector sees Xiangcheng's task only; a user unit nothing.
    seen = (await client.get(f"/api/v1/campaigns/{campaign['id']}/tasks", headers=bound)).json()
    assert [t["equipment"] for t in seen] == [xiangcheng["id"]]
    assert (
        await client.get(f"/api/v1/campaigns/{campaign['id']}/tasks", headers=owner_token)
    ).status_code == 403
    by_unit = {t["equipment"]: t for t in tasks}
    fancheng_task = by_unit[fancheng[0]["id"]]["id"]
    assert (
        await client.post(
            f"/api/v1/campaigns/tasks/{fancheng_task}/complete",
            json={"check_id": 1},
            headers=bound,
        )
    ).status_code == 404

    # Two lifts checked: one with two failed items (two hazards), one clean.
    found = await check(client, inspector, fancheng[0]["id"], {"signs", "door_lock_circuit"})
    clean = await check(client, inspector, fancheng[1]["id"], set())
    wrong = await client.post(
        f"/api/v1/campaigns/tasks/{fancheng_task}/complete",
        json={"check_id": clean["id"]},
        headers=inspector,
    )
    assert wrong.status_code == 422, wrong.text  # another unit's check
    done = await client.post(
        f"/api/v1/campaigns/tasks/{fancheng_task}/complete",
        json={"check_id": found["id"]},
        headers=inspector,
    )
    assert done.status_code == 200, done.text
    assert (done.json()["state"], done.json()["failed"], len(done.json()["hazards"])) == (
        "done",
        2,
        2,
    )
    again = await client.post(
        f"/api/v1/campaigns/tasks/{fancheng_task}/complete",
        json={"check_id": found["id"]},
        headers=inspector,
    )
    assert again.status_code == 409
    assert (
        await client.post(
            f"/api/v1/campaigns/tasks/{by_unit[fancheng[1]['id']]['id']}/complete",
            json={"check_id": clean["id"]},
            headers=inspector,
        )
    ).status_code == 200

    progress = (
        await client.get(f"/api/v1/campaigns/{campaign['id']}/progress", headers=admin)
    ).json()
    assert [
        (r["district_code"], r["tasks"], r["done"], r["with_findings"], r["hazards"])
        for r in progress
    ] == [("420602", 1, 0, 0, 0), ("420606", 2, 2, 1, 2), ("", 3, 2, 1, 2)]
    assert progress[1]["done_percent"] == 100.0
    mine = (await client.get(f"/api/v1/campaigns/{campaign['id']}/progress", headers=bound)).json()
    assert [r["district_code"] for r in mine] == ["420602", ""]
    sheet = await client.get(
        f"/api/v1/campaigns/{campaign['id']}/progress.xlsx?lang=zh-CN", headers=admin
    )
    assert sheet.status_code == 200
    rows = list(load_workbook(io.BytesIO(sheet.content)).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("区划代码", "区县", "任务数")
    assert rows[2][0] == "420606" and rows[2][2] == 2 and rows[2][6] == 2

    # 回头看 before the hazards are closed: nothing to look back on.
    follow = {"title": "电梯专项整治回头看", "due_on": str(f.today() + 60 * DAY)}
    early = await client.post(
        f"/api/v1/campaigns/{campaign['id']}/follow-up", json=follow, headers=admin
    )
    assert early.status_code == 409, early.text
    for hazard_id in done.json()["hazards"]:
        for action, extra in (
            (
                "assign",
                {
                    "responsible_org_id": owner,
                    "responsible_person": "王经理",
                    "measures": "整改",
                    "deadline": str(f.today() + 10 * DAY),
                    "supervising_inspector": "李检查员",
                },
            ),
            ("start", {}),
            ("submit", {}),
            ("verify", {}),
        ):
            who = owner_token if action in ("start", "submit") else inspector
            stepped = await client.post(
                f"/api/v1/hazards/{hazard_id}/actions",
                json={"action": action, **extra},
                headers=who,
            )
            assert stepped.status_code == 200, (action, stepped.text)
    looked = await client.post(
        f"/api/v1/campaigns/{campaign['id']}/follow-up", json=follow, headers=admin
    )
    assert looked.status_code == 201, looked.text
    assert (looked.json()["kind"], looked.json()["parent"], looked.json()["tasks"]) == (
        "follow_up",
        campaign["id"],
        1,
    )
    reopened = (
        await client.get(f"/api/v1/campaigns/{looked.json()['id']}/tasks", headers=admin)
    ).json()
    assert [(t["equipment"], t["state"]) for t in reopened] == [(fancheng[0]["id"], "open")]


async def test_licences_expiring_lapsed_unlicensed_and_reports(client, engine, staff) -> None:
    admin = await f.token(Role.ADMIN)
    owner = (await f.organisation("user_unit"))["id"]
    maker = (await f.organisation("manufacturer", name="襄阳起重机械厂"))["id"]
    silent = (await f.organisation("manufacturer", name="汉江锅炉厂"))["id"]
    installer = (await f.organisation("installer", name="隆中安装公司"))["id"]
    body = (await f.organisation("inspection_body", name="襄阳特检院"))["id"]
    inspector = await f.token(Role.INSPECTOR, body)
    owner_token = await f.token(Role.USER_UNIT, owner)

    async def licence(org: int, kind: str, start, end, number: str):
        made = await client.post(
            "/api/v1/licences",
            json={
                "organisation_id": org,
                "kind": kind,
                "number": number,
                "scope": "曳引驱动乘客电梯",
                "valid_from": str(start),
                "valid_until": str(end),
            },
            headers=admin,
        )
        assert made.status_code == 201, made.text
        return made.json()

    soon = await licence(
        maker, "manufacture", f.today() - 900 * DAY, f.today() + 30 * DAY, "TS2142001"
    )
    await licence(silent, "manufacture", f.today() - 900 * DAY, f.today() + 900 * DAY, "TS2142002")
    await licence(
        installer, "installation", f.today() - 900 * DAY, f.today() - 100 * DAY, "TS3342001"
    )
    await licence(body, "inspection", f.today() - 900 * DAY, f.today() - 10 * DAY, "TS7142001")
    wrong = await client.post(
        "/api/v1/licences",
        json={
            "organisation_id": owner,
            "kind": "installation",
            "number": "X",
            "valid_from": str(f.today()),
            "valid_until": str(f.today()),
        },
        headers=admin,
    )
    assert wrong.status_code == 422  # a user unit holds no installation licence

    licensed_lift = await f.unit(owner, commissioning_date=str(f.today() - 400 * DAY))
    late_lift = await f.unit(owner, commissioning_date=str(f.today() - 50 * DAY))
    for unit in (licensed_lift, late_lift):
        put = await client.post(
            f"/api/v1/licences/installations/{unit['id']}",
            json={"installer_id": installer},
            headers=admin,
        )
        assert put.status_code == 200, put.text
    # The inspection body inspected after its approval ended.
    await inspections.record_inspection(
        SYSTEM,
        licensed_lift["id"],
        {
            "kind": "periodic",
            "inspected_on": f.today() - 2 * DAY,
            "conclusion": "pass",
            "inspection_body_id": body,
        },
        today=f.today(),
        now=clock.now(),
    )
    last_year = f.today().year - 1
    reported = await client.post(
        "/api/v1/licences/reports",
        json={"organisation_id": maker, "year": last_year, "submitted_on": str(f.today())},
        headers=admin,
    )
    assert reported.status_code == 201, reported.text

    got = await client.get("/api/v1/licences", headers=inspector)
    assert got.status_code == 200, got.text
    view = got.json()
    assert [x["id"] for x in view["expiring"]] == [soon["id"]]
    lapsed = {x["organisation"]: x for x in view["expired_in_use"]}
    assert set(lapsed) == {installer, body}
    assert lapsed[body]["last_act_on"] == str(f.today() - 2 * DAY)
    assert [u["equipment"] for u in view["unlicensed_installations"]] == [late_lift["id"]]
    reports = view["reports"]
    assert (reports["year"], reports["manufacturers"], reports["reported"]) == (last_year, 2, 1)
    assert (reports["percent"], reports["met"]) == (50.0, False)
    assert [m["organisation"] for m in reports["missing"]] == [silent]
    assert (await client.get("/api/v1/licences", headers=owner_token)).status_code == 403
    assert (
        await client.post(
            "/api/v1/licences/reports",
            json={"organisation_id": silent, "year": last_year, "submitted_on": str(f.today())},
            headers=inspector,
        )
    ).status_code == 403
    # The staff page lists the same, in Chinese by default.
    session = await staff(Role.INSPECTOR, body)
    page = await session.http.get("/ui/licences")
    assert page.status_code == 200, page.text
    for shown in ("证后监管", "TS2142001", "隆中安装公司", "汉江锅炉厂", str(f.today() - 2 * DAY)):
        assert shown in page.text, shown
