"""What feeds the credit classes (issue 22), through the API on SQLite and PostgreSQL:
citizen reports the bureau upholds, violations (penalty decisions, random inspections
concluded non-compliant) counted over the class table's window; manufacturers and
installers graded on their licences, annual reports and units; and the results late to
publish (一公开) once the clock passes their plan's deadline."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta

import asyncpg
import pytest

from equipment.domain import credit as credit_rules
from equipment.domain import draw as draw_rules
from equipment.domain.access import SYSTEM, Role
from equipment.domain.checks import Answer, Outcome
from equipment.domain.citizen_reports import ReportInput
from equipment.domain.errors import InvalidValue
from equipment.services import (
    audit,
    checks,
    citizen_reports,
    clock,
    draws,
    inspections,
    licences,
    work_calendar,
)
from equipment.settings import PublicSettings
from tests import factories as f
from tests.conftest import pg_url

pytestmark = pytest.mark.integration
ACCEPT_LANGUAGE = "en"
DAY = timedelta(days=1)


def factors(view: dict) -> dict[str, dict]:
    return {x["key"]: x for x in view["assessment"]["factors"]}


async def report(unit_id: int, n: int) -> int:
    got = await citizen_reports.submit(
        unit_id,
        ReportInput("strange_noise", f"异响{n}", ""),
        client_address=f"10.0.0.{n}",
        lang="zh-CN",
        now=clock.now(),
        limits=PublicSettings(form_secret="credit-records-test-secret"),
    )
    return got.id


async def drawn_task(firm: int, *, publish_days: int | None = None) -> int:
    """A plan drawing every lift user, drawn; the task of ``firm``."""
    body = (await f.organisation("inspection_body"))["id"]
    for name in ("甲", "乙"):
        await draws.add_inspector(
            SYSTEM,
            {"name": name, "inspection_body": body, "qualifications": ["3000"]},
            now=clock.now(),
        )
    data = {
        "title": "信用记录测试计划",
        "enterprise_kinds": ["user_unit"],
        "categories": ["3000"],
        "checklist": "user_unit",
        "period_start": f.today() - 30 * DAY,
        "period_end": f.today() + 30 * DAY,
        "ratios": {"A": 1, "B": 1, "C": 1, "D": 1},
    }
    if publish_days is not None:
        data["publish_working_days"] = publish_days
    plan = await draws.create_plan(SYSTEM, data, now=clock.now(), options=draws.DrawOptions())
    await draws.announce_seed(SYSTEM, plan.id, "信用记录测试种子", now=clock.now() - DAY)
    await draws.run_draw(
        SYSTEM, plan.id, today=f.today(), now=clock.now(), options=draws.DrawOptions()
    )
    [task] = [t for t in await draws.list_tasks(SYSTEM, plan=plan.id) if t.enterprise == firm]
    return task.id


async def check_for(task_id: int, firm: int) -> int:
    answers = [Answer(i.key, Outcome.PASSED) for i in checks.checklist_items("user_unit")]
    detail = await checks.record(
        SYSTEM,
        checks.Target.user_unit(firm),
        None,
        answers,
        task_id=task_id,
        inspector="甲乙",
        open_hazards=False,
        today=f.today(),
        now=clock.now(),
    )
    return detail.check.id


async def test_upheld_reports_and_violations_count_in_the_window(client, monkeypatch) -> None:
    admin = await f.token(Role.ADMIN)
    firm = (await f.organisation("user_unit"))["id"]
    other = (await f.organisation("user_unit"))["id"]
    company = (await f.organisation("maintenance_company"))["id"]
    lift = (await f.unit(firm, maintenance_company_id=company))["id"]
    await f.unit(other)
    firm_token = await f.token(Role.USER_UNIT, firm)
    other_token = await f.token(Role.USER_UNIT, other)
    inspector = await f.token(Role.INSPECTOR, (await f.organisation("inspection_body"))["id"])
    before = factors((await client.get(f"/api/v1/credit/{firm}", headers=admin)).json())
    assert before["complaints_upheld"]["measure"] == before["violations"]["measure"] == 0

    # ---- citizen reports: the bureau's finding, once, against one of the unit's parties
    ids = [await report(lift, n) for n in range(1, 5)]
    url = "/api/v1/citizen-reports/{}/finding"
    upheld = await client.post(url.format(ids[0]), json={"finding": "upheld"}, headers=admin)
    assert upheld.status_code == 200, upheld.text
    on_company = await client.post(
        url.format(ids[1]), json={"finding": "upheld", "against_id": company}, headers=admin
    )
    assert on_company.status_code == 200, on_company.text
    dismissed = await client.post(
        url.format(ids[2]), json={"finding": "not_upheld", "note": "现场核查无异响"}, headers=admin
    )
    assert dismissed.status_code == 200
    twice = await client.post(url.format(ids[0]), json={"finding": "not_upheld"}, headers=admin)
    assert twice.status_code == 409  # decided once
    stranger = await client.post(
        url.format(ids[3]), json={"finding": "upheld", "against_id": other}, headers=admin
    )
    assert stranger.status_code == 422 and "against" in stranger.text  # not a party
    refused = await client.post(url.format(ids[3]), json={"finding": "upheld"}, headers=inspector)
    assert refused.status_code == 403
    missing = await client.post(url.format(99999), json={"finding": "upheld"}, headers=admin)
    assert missing.status_code == 404
    listed = (await client.get("/api/v1/citizen-reports/", headers=admin)).json()["items"]
    assert {r["id"]: (r["finding"], r["against_id"]) for r in listed} == {
        ids[0]: ("upheld", firm),
        ids[1]: ("upheld", company),
        ids[2]: ("not_upheld", None),
        ids[3]: ("", None),
    }

    # ---- violations: a penalty decision, and a random inspection not compliant ---------
    penalty = {
        "decision_no": "襄市监特罚〔2026〕12号",
        "decided_on": str(f.today() - 10 * DAY),
        "clause": "《中华人民共和国特种设备安全法》第八十四条",
    }
    made = await client.post(f"/api/v1/credit/{firm}/violations", json=penalty, headers=admin)
    assert made.status_code == 201, made.text
    assert made.json()["source"] == "penalty"
    no_clause = {**penalty, "clause": ""}
    bad = await client.post(f"/api/v1/credit/{firm}/violations", json=no_clause, headers=admin)
    assert bad.status_code == 400
    future = {**penalty, "decided_on": str(f.today() + 5 * DAY)}
    bad = await client.post(f"/api/v1/credit/{firm}/violations", json=future, headers=admin)
    assert bad.status_code == 422 and "future" in bad.text
    self_penalty = await client.post(
        f"/api/v1/credit/{firm}/violations", json=penalty, headers=firm_token
    )
    assert self_penalty.status_code == 403

    task_id = await drawn_task(firm)
    done = await draws.complete_task(
        SYSTEM,
        task_id,
        check_id=await check_for(task_id, firm),
        conclusion="non_compliant",
        findings="未按规定开展月调度",
        today=f.today(),
        now=clock.now(),
        options=draws.DrawOptions(),
    )
    assert done.conclusion == "non_compliant"
    # The penalty that followed the task fills in the task's row: one case, one count.
    followed = {**penalty, "decision_no": "襄市监特罚〔2026〕13号", "task_id": task_id}
    joined = await client.post(f"/api/v1/credit/{firm}/violations", json=followed, headers=admin)
    assert joined.status_code == 201, joined.text
    # A second decision on the same task is refused, not written over the first.
    again = {**followed, "decision_no": "襄市监特罚〔2026〕14号"}
    twice = await client.post(f"/api/v1/credit/{firm}/violations", json=again, headers=admin)
    assert twice.status_code == 409, twice.text
    wrong_org = await client.post(
        f"/api/v1/credit/{other}/violations", json=followed, headers=admin
    )
    assert wrong_org.status_code == 422  # that task was not about this enterprise
    own = await client.get(f"/api/v1/credit/{firm}/violations", headers=firm_token)
    # The task's row became a penalty, keeping the task it followed.
    assert sorted((v["decision_no"], v["source"], v["task_id"]) for v in own.json()) == [
        ("襄市监特罚〔2026〕12号", "penalty", None),
        ("襄市监特罚〔2026〕13号", "penalty", task_id),
    ]
    not_theirs = await client.get(f"/api/v1/credit/{firm}/violations", headers=other_token)
    assert not_theirs.status_code == 404

    # ---- the class counts them, names them, and forgets them after the window ----------
    view = (await client.get(f"/api/v1/credit/{firm}", headers=admin)).json()
    got = factors(view)
    assert (got["complaints_upheld"]["measure"], got["complaints_upheld"]["points"]) == (1, 3)
    assert (got["violations"]["measure"], got["violations"]["points"]) == (2, 30)
    assert got["violations"]["label"].startswith("Violations recorded")
    assert "non-compliant" in got["violations"]["source"]
    assert view["assessment"]["points"] == sum(x["points"] for x in got.values())
    zh = await client.get(f"/api/v1/credit/{firm}", headers={**admin, "Accept-Language": "zh-CN"})
    assert factors(zh.json())["complaints_upheld"]["label"] == "查实的群众举报投诉"
    of_company = factors((await client.get(f"/api/v1/credit/{company}", headers=admin)).json())
    assert of_company["complaints_upheld"]["measure"] == 1
    assessed = await client.post("/api/v1/credit/assess", headers=admin)
    assert assessed.status_code == 200
    history = (await client.get(f"/api/v1/credit/{firm}", headers=admin)).json()["history"]
    recorded = {x["key"]: x for x in history[0]["explanation"]["factors"]}
    assert recorded["violations"]["measure"] == 2

    window = credit_rules.DEFAULT_TABLE.window_days
    later = f.today() + (window + 20) * DAY
    monkeypatch.setattr(clock, "today", lambda: later)
    aged = factors((await client.get(f"/api/v1/credit/{firm}", headers=admin)).json())
    assert aged["complaints_upheld"]["measure"] == aged["violations"]["measure"] == 0


async def test_manufacturers_and_installers_are_graded(client) -> None:
    admin = await f.token(Role.ADMIN)
    owner = (await f.organisation("user_unit"))["id"]
    maker = (await f.organisation("manufacturer", name="通力电梯有限公司"))["id"]
    unlicensed_maker = (await f.organisation("manufacturer", name="无证电梯厂"))["id"]
    installer = (await f.organisation("installer"))["id"]
    lifts = [(await f.unit(owner))["id"] for _ in range(2)]  # made by 通力 (factories)
    await inspections.record_inspection(
        SYSTEM,
        lifts[0],
        {"kind": "periodic", "inspected_on": f.today() - 40 * DAY, "conclusion": "fail"},
        today=f.today(),
        now=clock.now(),
    )
    for org, kind in ((maker, "manufacture"), (installer, "installation")):
        await licences.add_licence(
            SYSTEM,
            org,
            kind=kind,
            number=f"TS{org:07d}",
            scope="曳引驱动乘客电梯",
            valid_from=f.today() - 100 * DAY,
            valid_until=f.today() + 300 * DAY,
            now=clock.now(),
        )
    # One lift installed before the installer's licence began, one while it held.
    await licences.record_installation(
        SYSTEM,
        lifts[0],
        installer_id=installer,
        installed_on=f.today() - 200 * DAY,
        now=clock.now(),
    )
    await licences.record_installation(
        SYSTEM, lifts[1], installer_id=installer, installed_on=f.today() - 50 * DAY, now=clock.now()
    )
    assessed = await client.post("/api/v1/credit/assess", headers=admin)
    assert assessed.status_code == 200, assessed.text
    assert {"manufacturer", "installer"} <= set(assessed.json())

    view = (await client.get(f"/api/v1/credit/{maker}", headers=admin)).json()
    got = factors(view)
    assert view["kind"] == "manufacturer" and view["class"] == view["computed"]
    assert "refused_fills" not in got and "overdue_maintenance" not in got
    assert got["no_valid_licence"]["measure"] == 0
    assert got["failed_inspections"]["measure"] == 50  # 1 of its 2 lifts failed
    last_year = [
        y for y in range(f.today().year - 1, f.today().year) if y >= (f.today() - 365 * DAY).year
    ]
    assert got["annual_reports_missing"]["measure"] == len(last_year) == 1
    assert "100%年报" in got["annual_reports_missing"]["source"]
    assert "no regulatory figure" in got["annual_reports_missing"]["source"]
    await licences.record_report(
        SYSTEM, maker, year=f.today().year - 1, submitted_on=f.today() - 20 * DAY, now=clock.now()
    )
    got = factors((await client.get(f"/api/v1/credit/{maker}", headers=admin)).json())
    assert got["annual_reports_missing"]["measure"] == 0

    bare = (await client.get(f"/api/v1/credit/{unlicensed_maker}", headers=admin)).json()
    assert factors(bare)["no_valid_licence"]["measure"] == 1
    assert "unlicensed" in bare["assessment"]["floors"] and bare["assessment"]["class"] in "CD"

    fitter = (await client.get(f"/api/v1/credit/{installer}", headers=admin)).json()
    got = factors(fitter)
    assert got["unlicensed_installations"]["measure"] == 1
    assert got["no_valid_licence"]["measure"] == 0
    assert "annual_reports_missing" not in got  # the manufacturers' duty
    override = await client.post(
        f"/api/v1/credit/{installer}/override",
        json={"class": "D", "reason": "无证安装"},
        headers=admin,
    )
    assert override.status_code == 200 and override.json()["class"] == "D"


async def test_results_late_to_publish_once_the_clock_passes_the_deadline(
    client, monkeypatch
) -> None:
    admin = await f.token(Role.ADMIN)
    inspector = await f.token(Role.INSPECTOR, (await f.organisation("inspection_body"))["id"])
    firm = (await f.organisation("user_unit"))["id"]
    await f.unit(firm)
    task_id = await drawn_task(firm, publish_days=3)
    [plan] = (await client.get("/api/v1/draws/plans", headers=admin)).json()
    assert plan["publish_working_days"] == 3
    refused = await client.post(
        "/api/v1/draws/plans",
        json={
            "title": "期限过长",
            "enterprise_kinds": ["user_unit"],
            "checklist": "user_unit",
            "period_start": str(f.today()),
            "period_end": str(f.today() + DAY),
            "publish_working_days": 61,
        },
        headers=admin,
    )
    assert refused.status_code == 400
    await draws.complete_task(
        SYSTEM,
        task_id,
        check_id=await check_for(task_id, firm),
        today=f.today(),
        now=clock.now(),
        options=draws.DrawOptions(),
    )
    deadline = draw_rules.working_days_after(f.today(), 3)
    task = (await client.get(f"/api/v1/draws/tasks/{task_id}", headers=admin)).json()
    assert task["publish_by"] == str(deadline)  # the plan's 3 days, not the default 20

    async def late_on(day: date) -> list[dict]:
        monkeypatch.setattr(clock, "today", lambda: day)
        got = await client.get("/api/v1/draws/tasks/late", headers=admin)
        assert got.status_code == 200, got.text
        return list(got.json())

    assert await late_on(f.today()) == []
    assert await late_on(deadline) == []  # due that day: not late yet
    next_working = draw_rules.working_days_after(deadline, 1)
    [late] = await late_on(next_working)
    assert (late["id"], late["days_late"], late["publish_by"]) == (task_id, 1, str(deadline))
    [late] = await late_on(draw_rules.working_days_after(deadline, 4))
    assert late["days_late"] == 4
    assert (await client.get("/api/v1/draws/tasks/late", headers=inspector)).status_code == 403
    published = await client.post(
        "/api/v1/draws/tasks/publish", json={"task_ids": [task_id]}, headers=admin
    )
    assert published.json() == {"published": 1}
    assert await late_on(draw_rules.working_days_after(deadline, 4)) == []


async def test_the_holiday_calendar_moves_the_deadline_and_the_days_late(client, move_clock):
    """Public holidays and 调休 working weekends, as the admin imports them, in the
    publication deadline of a result and in how late it is; without entries Monday to
    Friday (the test above)."""
    admin = await f.token(Role.ADMIN)
    firm = (await f.organisation("user_unit"))["id"]
    await f.unit(firm)
    task_id = await drawn_task(firm, publish_days=3)
    today = f.today()
    weekdays = [today + i * DAY for i in range(1, 15) if (today + i * DAY).weekday() < 5]
    saturday = next(today + i * DAY for i in range(1, 8) if (today + i * DAY).weekday() == 5)
    text = "\n".join([f"{d},holiday,测试假日" for d in weekdays[:4]] + [f"{saturday},workday,调休"])
    assert await work_calendar.import_days(SYSTEM, text, now=clock.now()) == 5
    calendar = await work_calendar.calendar()
    assert calendar.holidays == frozenset(weekdays[:4]) and calendar.workdays == {saturday}
    await draws.complete_task(
        SYSTEM,
        task_id,
        check_id=await check_for(task_id, firm),
        today=today,
        now=clock.now(),
        options=draws.DrawOptions(),
    )
    deadline = draw_rules.working_days_after(today, 3, calendar)
    # The four weekdays off push it to the fifth weekday's week; the Saturday counts.
    assert deadline > draw_rules.working_days_after(today, 3)
    assert deadline == sorted([*weekdays[4:], saturday])[2]
    task = (await client.get(f"/api/v1/draws/tasks/{task_id}", headers=admin)).json()
    assert task["publish_by"] == str(deadline)
    # Two calendar working days after it, however many weekdays that is.
    two_later = draw_rules.working_days_after(deadline, 2, calendar)
    move_clock(datetime.combine(two_later, time(12), clock.CHINA))
    [late] = (await client.get("/api/v1/draws/tasks/late", headers=admin)).json()
    assert (late["id"], late["days_late"]) == (task_id, 2)
    # A later import replaces a listed day: the Saturday is no longer worked.
    await work_calendar.import_days(SYSTEM, f"{saturday},holiday,改回", now=clock.now())
    assert (await work_calendar.calendar()).workdays == frozenset()
    with pytest.raises(InvalidValue, match="line 1"):
        await work_calendar.import_days(SYSTEM, "明天,holiday", now=clock.now())


async def test_the_violations_of_an_organisation_that_does_not_exist_are_not_found(
    client,
) -> None:
    """404 with a reason, like the organisation's class; not an empty list that reads as
    a clean record (review finding)."""
    admin = await f.token(Role.ADMIN)
    firm = (await f.organisation("user_unit"))["id"]
    assert (await client.get(f"/api/v1/credit/{firm}/violations", headers=admin)).json() == []
    missing = await client.get(f"/api/v1/credit/{firm + 1000}/violations", headers=admin)
    assert missing.status_code == 404, missing.text
    assert f"organisation {firm + 1000} not found" in missing.text
    in_chinese = await client.get(
        f"/api/v1/credit/{firm + 1000}/violations",
        headers={**admin, "Accept-Language": "zh-CN"},
    )
    assert in_chinese.status_code == 404
    assert "不存在" in in_chinese.text or "未找到" in in_chinese.text, in_chinese.text


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
async def test_two_findings_sent_together_decide_the_report_once(client, engine) -> None:
    """Two findings on one report, both read it undecided before either writes (a third
    connection holds the row until both wait on it): one is stored and audited, the other
    answered 409 with the reason in the caller's language (review finding)."""
    admin = await f.token(Role.ADMIN)
    firm = (await f.organisation("user_unit"))["id"]
    lift = (await f.unit(firm))["id"]
    report_id = await report(lift, 1)
    url = f"/api/v1/citizen-reports/{report_id}/finding"
    holder = await asyncpg.connect(pg_url(engine.config["database"]))
    try:
        held = holder.transaction()
        await held.start()
        await holder.execute("SELECT id FROM citizen_report WHERE id = $1 FOR UPDATE", report_id)
        sent = [
            asyncio.create_task(client.post(url, json={"finding": "upheld"}, headers=admin)),
            asyncio.create_task(
                client.post(
                    url,
                    json={"finding": "not_upheld"},
                    headers={**admin, "Accept-Language": "zh-CN"},
                )
            ),
        ]
        # Both have read the report and wait to write it.
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            waiting = await holder.fetchval(
                "SELECT COUNT(*) FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid()"
            )
            if waiting >= 2 or any(t.done() for t in sent):
                break
            assert asyncio.get_running_loop().time() < deadline, "the requests never waited"
            await asyncio.wait(sent, timeout=0.05)  # the requests run meanwhile
        assert waiting == 2, [t.result().text for t in sent if t.done()]
        await held.rollback()
        answers = await asyncio.gather(*sent)
    finally:
        await holder.close()
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 409], [a.text for a in answers]
    loser = next(a for a in answers if a.status_code == 409)
    winner = next(a for a in answers if a.status_code == 200)
    expected = "upheld" if winner is answers[0] else "not_upheld"
    if loser is answers[1]:
        assert "已" in loser.json()["detail"], loser.text  # zh-CN
    listed = (await client.get("/api/v1/citizen-reports/", headers=admin)).json()["items"]
    assert [(r["id"], r["finding"]) for r in listed] == [(report_id, expected)]
    decided = [e for e in await audit.trail("citizen_report", report_id) if e.action == "decide"]
    assert len(decided) == 1, decided
