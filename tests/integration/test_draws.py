"""双随机、一公开 through the API, on SQLite and PostgreSQL: credit classes and their override,
a plan, its verifiable draw and re-draw, the drawn inspectors' tasks, results published on
the public side, and who sees what."""

from __future__ import annotations

from datetime import timedelta

from equipment.domain.access import SYSTEM, Role
from equipment.services import clock, draws, inspections, tokens
from tests import factories as f

ACCEPT_LANGUAGE = "en"
DAY = timedelta(days=1)


async def inspector_token(body: int) -> tuple[dict[str, str], int]:
    secret, row = await tokens.create_token(
        SYSTEM, role=Role.INSPECTOR, organisation_id=body, label="roster", now=clock.now()
    )
    return {"Authorization": f"Bearer {secret}"}, row.id


async def test_plan_draw_tasks_publication_and_scope(client) -> None:
    admin = await f.token(Role.ADMIN)
    body_a = (await f.organisation("inspection_body"))["id"]
    body_b = (await f.organisation("inspection_body"))["id"]
    units = {}
    firms = []
    for n in range(6):
        firm = (await f.organisation("user_unit", name=f"抽查对象{n}"))["id"]
        firms.append(firm)
        units[firm] = await f.unit(firm, district_code="420606" if n % 2 else "420602")
    # Body A inspected firm 0's lift last month: A's inspectors are barred from firm 0.
    await inspections.record_inspection(
        SYSTEM,
        units[firms[0]]["id"],
        {
            "kind": "periodic",
            "inspected_on": f.today() - 30 * DAY,
            "conclusion": "pass",
            "inspection_body_id": body_a,
        },
        today=f.today(),
        now=clock.now(),
    )
    firm_token = await f.token(Role.USER_UNIT, firms[0])
    other_firm_token = await f.token(Role.USER_UNIT, firms[1])

    # ---- credit classes: computed, explained, overridden with a reason ----------------
    assessed = await client.post("/api/v1/credit/assess", headers=admin)
    assert assessed.status_code == 200, assessed.text
    view = (await client.get(f"/api/v1/credit/{firms[0]}", headers=admin)).json()
    # Its lift has never been maintained (no record): 100 per 100 overdue, 30 points, C.
    factors = {x["key"]: x for x in view["assessment"]["factors"]}
    assert (
        factors["overdue_maintenance"]["measure"],
        factors["overdue_maintenance"]["points"],
    ) == (100, 30)
    assert view["class"] == view["computed"] == view["assessment"]["class"] == "C"
    assert view["assessment"]["points"] == sum(x["points"] for x in factors.values())
    assert view["history"][0]["action"] == "computed"
    no_reason = await client.post(
        f"/api/v1/credit/{firms[5]}/override", json={"class": "D", "reason": ""}, headers=admin
    )
    assert no_reason.status_code == 400 or no_reason.status_code == 422
    put_d = await client.post(
        f"/api/v1/credit/{firms[5]}/override",
        json={"class": "D", "reason": "行政处罚 2026-11"},
        headers=admin,
    )
    assert put_d.json()["class"] == "D", put_d.text
    assert (await client.get(f"/api/v1/credit/{firms[0]}", headers=firm_token)).status_code == 200
    assert (
        await client.get(f"/api/v1/credit/{firms[0]}", headers=other_firm_token)
    ).status_code == 404
    assert (
        await client.post(
            f"/api/v1/credit/{firms[0]}/override",
            json={"class": "A", "reason": "x"},
            headers=firm_token,
        )
    ).status_code == 403

    # ---- the roster: two inspectors of body A, two of body B, one away ---------------
    people = {}
    for name, body in (("甲", body_a), ("乙", body_a), ("丙", body_b), ("丁", body_b)):
        headers, token_id = await inspector_token(body)
        made = await client.post(
            "/api/v1/draws/roster",
            json={
                "name": name,
                "token_id": token_id,
                "inspection_body_id": body,
                "qualifications": ["3000"],
            },
            headers=admin,
        )
        assert made.status_code == 201, made.text
        people[name] = (made.json()["id"], headers)
    away = await client.post(
        "/api/v1/draws/roster",
        json={"name": "戊", "qualifications": ["3000"], "available": False},
        headers=admin,
    )
    assert away.status_code == 201
    assert (await client.get("/api/v1/draws/roster", headers=firm_token)).status_code == 403

    # ---- a plan drawing every lift user (ratios 100 %), period already over -----------
    plan = await client.post(
        "/api/v1/draws/plans",
        json={
            "title": "2026年电梯使用单位双随机抽查",
            "enterprise_kinds": ["user_unit"],
            "categories": ["3000"],
            "checklist": "user_unit",
            "period_start": str(f.today() - 60 * DAY),
            "period_end": str(f.today() - DAY),
            "ratios": {"A": 1, "B": 1, "C": 1, "D": 1},
        },
        headers=admin,
    )
    assert plan.status_code == 201, plan.text
    plan_id = plan.json()["id"]
    early = await client.post(f"/api/v1/draws/plans/{plan_id}/draw", json={}, headers=admin)
    assert early.status_code == 409  # no seed announced yet
    seeded = await client.post(
        f"/api/v1/draws/plans/{plan_id}/seed",
        json={"seed": "襄阳市监局公告2026-12-01"},
        headers=admin,
    )
    assert seeded.status_code == 200 and seeded.json()["published_at"]
    again = await client.post(
        f"/api/v1/draws/plans/{plan_id}/seed", json={"seed": "另一个种子-xxxx"}, headers=admin
    )
    assert again.status_code == 409  # a seed never changes

    drawn = await client.post(f"/api/v1/draws/plans/{plan_id}/draw", json={}, headers=admin)
    assert drawn.status_code == 201, drawn.text
    first = drawn.json()
    targets = {t["enterprise_id"]: t for t in first["targets"]}
    assert set(targets) == set(firms)
    assert targets[firms[5]]["class"] == "D"
    barred = {people["甲"][0], people["乙"][0]}
    assert not barred & set(targets[firms[0]]["inspectors"])  # conflict of interest
    assert all(len(t["inspectors"]) == 2 for t in first["targets"])
    assert people["甲"][0] not in targets[firms[0]]["inspectors"]

    verified = await client.get(f"/api/v1/draws/{first['id']}/verify", headers=admin)
    assert verified.json()["verdict"] == "match"
    assert (await draws.verify_draw(first["id"])).matches

    # A re-draw is never silent: without a reason it is refused; with one it supersedes.
    silent = await client.post(f"/api/v1/draws/plans/{plan_id}/draw", json={}, headers=admin)
    assert silent.status_code == 409
    redraw = await client.post(
        f"/api/v1/draws/plans/{plan_id}/draw",
        json={"reason": "名录库更新后重新抽取"},
        headers=admin,
    )
    assert redraw.status_code == 201, redraw.text
    second = redraw.json()
    assert second["number"] == 2
    old = (await client.get(f"/api/v1/draws/{first['id']}", headers=admin)).json()
    assert old["superseded_by"] == second["id"]
    all_tasks = (await client.get("/api/v1/draws/tasks", headers=admin)).json()
    assert {t["state"] for t in all_tasks if t["draw_id"] == first["id"]} == {"cancelled"}
    live = [t for t in all_tasks if t["draw_id"] == second["id"]]
    assert len(live) == 6 and all(t["overdue"] for t in live)
    overdue = (await client.get("/api/v1/draws/tasks?overdue=true", headers=admin)).json()
    assert {t["id"] for t in overdue} == {t["id"] for t in live}

    # ---- scope: an inspector sees his tasks; an enterprise its own --------------------
    for name, (roster_id, headers) in people.items():
        mine = (await client.get("/api/v1/draws/tasks", headers=headers)).json()
        expected = {t["id"] for t in all_tasks if roster_id in t["inspectors"]}
        assert {t["id"] for t in mine} == expected, name
    task = next(t for t in live if t["enterprise_id"] == firms[0])
    doer = next(h for rid, h in people.values() if rid in task["inspectors"])
    outsider = next(h for rid, h in people.values() if rid not in task["inspectors"])
    mine = await client.get(f"/api/v1/draws/tasks/{task['id']}", headers=doer)
    assert mine.status_code == 200 and mine.json()["id"] == task["id"]
    assert (
        await client.get(f"/api/v1/draws/tasks/{task['id']}", headers=outsider)
    ).status_code == 404
    # The task is done by recording its supervision check against the plan's checklist.
    items = (await client.get("/api/v1/checks/checklists/user_unit", headers=doer)).json()["items"]
    answers = [{"key": i["key"], "outcome": "passed"} for i in items]
    answers[0] = {"key": items[0]["key"], "outcome": "failed", "note": "维保记录缺少签字"}
    check = await client.post(
        "/api/v1/checks",
        json={
            "user_unit_id": firms[0],
            "items": answers,
            "task_id": task["id"],
            "inspector": "甲乙",
            "open_hazards": False,
        },
        headers=doer,
    )
    assert check.status_code == 201, check.text
    check_id = check.json()["id"]
    other_check = await client.post(
        "/api/v1/checks",
        json={"user_unit_id": firms[0], "items": [{**a, "outcome": "passed"} for a in answers]},
        headers=doer,
    )
    no_check = await client.post(
        f"/api/v1/draws/tasks/{task['id']}/complete", json={}, headers=doer
    )
    assert no_check.status_code == 422  # a task is done by a check
    wrong_check = await client.post(
        f"/api/v1/draws/tasks/{task['id']}/complete",
        json={"check_id": other_check.json()["id"]},
        headers=doer,
    )
    assert wrong_check.status_code == 422  # not recorded for this task
    refused = await client.post(
        f"/api/v1/draws/tasks/{task['id']}/complete", json={"check_id": check_id}, headers=outsider
    )
    assert refused.status_code == 404
    done = await client.post(
        f"/api/v1/draws/tasks/{task['id']}/complete", json={"check_id": check_id}, headers=doer
    )
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "done" and done.json()["publish_by"] > str(f.today())
    assert done.json()["check_id"] == check_id and done.json()["conclusion"] == "rectify"
    own = (await client.get("/api/v1/draws/tasks", headers=firm_token)).json()
    assert [t["conclusion"] for t in own if t["state"] == "done"] == [
        "rectify"
    ]  # before publication, its own
    other = (await client.get("/api/v1/draws/tasks", headers=other_firm_token)).json()
    assert {t["enterprise_id"] for t in other} == {firms[1]}

    # ---- 一公开: the public sees the plan, the targets, and published results only ----
    listed = (await client.get("/api/v1/public/draws")).json()
    assert [p["id"] for p in listed] == [plan_id] and listed[0]["seed"]
    public = (await client.get(f"/api/v1/public/draws/{plan_id}")).json()
    assert "inspectors" not in str(public["draws"]) and "inspectors" not in str(public["targets"])
    mine_public = [t for t in public["targets"] if t["task_id"] == task["id"]]
    assert mine_public[0]["state"] == "in_progress" and "conclusion" not in mine_public[0]
    published = await client.post("/api/v1/draws/tasks/publish", json={}, headers=admin)
    assert published.json() == {"published": 1}
    public = (await client.get(f"/api/v1/public/draws/{plan_id}")).json()
    shown = next(t for t in public["targets"] if t["task_id"] == task["id"])
    assert shown["state"] == "published" and shown["conclusion"] == "rectify"
    assert (await client.get("/api/v1/public/draws/99999")).status_code == 404
    page = await client.get(f"/p/draws/{plan_id}")
    assert page.status_code == 200 and "Ordered to rectify" in page.text
    assert first["inputs_digest"] in page.text and "甲" not in page.text  # no inspector
    listing = await client.get("/p/draws")
    assert "2026年电梯使用单位双随机抽查" in listing.text
    assert (await client.get("/p/draws/99999")).status_code == 404
