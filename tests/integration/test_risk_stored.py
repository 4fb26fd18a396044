"""The grade's explanation is stored when the grade is computed, and what the unit page and
the API read back is what a fresh computation gives, after every kind of input change the
background pass or the whole-register recompute follows (inspection, hazard, alarm,
maintenance record, the unit edited, an old residential area, a policy change); a first
grading writes a history row only for a unit that is not 蓝. On both engines, through the
API where one exists."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from equipment.domain import risk as rules
from equipment.domain.access import SYSTEM, Role
from equipment.services import alarms, areas, clock, policies, risk
from equipment.storage import db
from equipment.storage.risk import RiskRepository
from equipment.storage.scheduled_jobs import JobState, ScheduledJobRepository
from tests import factories as f
from tests.integration.test_risk import OLD_AREA

pytestmark = pytest.mark.integration
ACCEPT_LANGUAGE = "en"
DAY = timedelta(days=1)


async def _stored_equals_fresh(unit_id: int) -> dict[str, Any]:
    """The stored explanation, asserted to be stored (no live fallback) and equal to a
    fresh computation of the unit as it stands."""
    await risk.catch_up(now=clock.now())
    stored = await RiskRepository().stored(unit_id)
    assert stored is not None and stored.factors, "the pass stored no explanation"
    shown = await risk.explain_unit(unit_id, now=clock.now())
    fresh = await risk.explain_now(unit_id, now=clock.now())
    assert shown == fresh
    assert shown is not None
    return shown


def _factor(explained: dict[str, Any], key: str) -> tuple[float, float]:
    found = next(x for x in explained["factors"] if x["factor"] == key)
    return found["value"], found["points"]


async def test_the_stored_explanation_follows_every_kind_of_change(client, engine):
    owner = (await f.organisation("user_unit"))["id"]
    company = (await f.organisation("maintenance_company"))["id"]
    body = (await f.organisation("inspection_body"))["id"]
    admin = await f.token(Role.ADMIN)
    inspector = await f.token(Role.INSPECTOR, body)
    owner_token = await f.token(Role.USER_UNIT, owner)
    company_token = await f.token(Role.MAINTENANCE, company)
    # Last maintained 40 days ago: 25 days late, 2 points.
    lift = await f.unit(owner, last_maintenance_on=f.today() - 40 * DAY)
    # A sibling of the same user unit, so the user unit's record is not all this lift's.
    sibling = await f.unit(owner, last_maintenance_on=f.today())
    for unit in (lift, sibling):  # a passed inspection: not overdue
        done = await client.post(
            f"/api/v1/equipment/{unit['id']}/inspections",
            json={
                "kind": "periodic",
                "inspected_on": str(f.today() - 30 * DAY),
                "conclusion": "pass",
                "report_no": f"XY-{unit['id']}",
            },
            headers=inspector,
        )
        assert done.status_code == 201, done.text
    started = clock.now() - timedelta(seconds=1)

    # The first grading (the whole register): stored, and equal to a fresh computation.
    first = await risk.recompute_all(now=clock.now())
    assert first.units == 2 and first.changed == 2
    shown = await _stored_equals_fresh(lift["id"])
    assert _factor(shown, "maintenance_late") == (25.0, 2.0)
    # Neither unit is past 3 points: 蓝, the rank a unit starts with, so no history row.
    assert shown["grade"] == "blue", [x for x in shown["factors"] if x["points"]]
    history = await client.get(
        "/api/v1/risk/changes", params={"since": started.isoformat()}, headers=admin
    )
    assert history.json()["items"] == []
    again = await risk.recompute_all(now=clock.now())
    assert (again.changed, again.moved) == (0, 0)  # nothing moved: nothing written

    # A maintenance record (under a contract): no longer late.
    made = await client.post(
        "/api/v1/contracts",
        json={
            "user_unit_id": owner,
            "maintenance_company_id": company,
            "starts_on": str(f.today() - 200 * DAY),
            "ends_on": str(f.today() + 165 * DAY),
            "equipment_ids": [lift["id"]],
        },
        headers=owner_token,
    )
    assert made.status_code == 201, made.text
    stored = await client.post(
        "/api/v1/maintenance/records",
        json={
            "record_id": "R-1",
            "code": lift["code"],
            "maintained_on": str(f.today()),
            "level": "half_monthly",
            "items": ["门锁检查"],
            "technicians": [{"name": "李强", "certificate_no": "T1-4206-0001"}],
            "signed_off_by": "物业王经理",
        },
        headers=company_token,
    )
    assert stored.status_code == 201, stored.text
    shown = await _stored_equals_fresh(lift["id"])
    assert _factor(shown, "maintenance_late") == (0.0, 0.0)

    # An entrapment, then a second: the second moves the value, not the points; the
    # explanation is rewritten all the same.
    points = None
    for n, minutes in ((1, 30), (2, 10)):
        raised = await alarms.raise_alarm(
            SYSTEM,
            lift["id"],
            kind="entrapment",
            raised_at=clock.now() - timedelta(minutes=minutes),
            source="manual",
            now=clock.now(),
        )
        await alarms.close(SYSTEM, raised.id, note="released", now=clock.now())
        shown = await _stored_equals_fresh(lift["id"])
        assert _factor(shown, "entrapments") == (float(n), 2.0)
        assert points in (None, shown["points"])  # the second: same points, new value
        points = shown["points"]

    # A failed inspection (and the general hazard it opens).
    failed = await client.post(
        f"/api/v1/equipment/{lift['id']}/inspections",
        json={
            "kind": "periodic",
            "inspected_on": str(f.today()),
            "conclusion": "fail",
            "report_no": "XY-9",
        },
        headers=inspector,
    )
    assert failed.status_code == 201, failed.text
    shown = await _stored_equals_fresh(lift["id"])
    assert _factor(shown, "last_conclusion") == (2.0, 6.0)
    assert _factor(shown, "open_hazards") == (1.0, 2.0)
    assert (shown["grade"], shown["forced_by_major_hazard"]) == ("red", False)

    # A major hazard: 红, forced, with a history row from the stored grade.
    listed = await client.post(
        "/api/v1/hazards",
        json={
            "equipment_id": lift["id"],
            "description": "门锁回路被短接",
            "criterion": "lift.door_lock_bridged",
        },
        headers=inspector,
    )
    assert listed.status_code == 201, listed.text
    shown = await _stored_equals_fresh(lift["id"])
    assert shown["grade"] == "red" and shown["forced_by_major_hazard"] is True
    api = (await client.get(f"/api/v1/risk/units/{lift['id']}", headers=admin)).json()
    assert (api["grade"], api["stored_grade"], api["points"]) == ("red", "red", shown["points"])

    # The unit edited: commissioned 20 years ago, past its 15 years.
    current = (await client.get(f"/api/v1/equipment/{lift['id']}", headers=admin)).json()
    edited = await client.patch(
        f"/api/v1/equipment/{lift['id']}",
        json={
            "manufacture_date": str(f.today() - timedelta(days=round(21 * 365.25))),
            "commissioning_date": str(f.today() - timedelta(days=round(20 * 365.25))),
        },
        headers={**admin, "If-Match": f'"{current["version"]}"'},
    )
    assert edited.status_code == 200, edited.text
    shown = await _stored_equals_fresh(lift["id"])
    assert _factor(shown, "age")[1] == 4.0

    # An old residential area around it.
    await areas.import_feature_collection(SYSTEM, OLD_AREA, crs="wgs84", now=clock.now())
    shown = await _stored_equals_fresh(lift["id"])
    assert _factor(shown, "old_residential") == (1.0, 1.0)

    # A policy change: the whole register again, the stored points follow the weights.
    policies.install(
        policies.Policies(risk=rules.load_risk_policy({"weights": {"old_residential": 3}}))
    )
    try:
        await risk.recompute_all(now=clock.now())
        shown = await _stored_equals_fresh(lift["id"])
        assert _factor(shown, "old_residential") == (1.0, 3.0)
    finally:
        policies.install(policies.Policies())
    await risk.recompute_all(now=clock.now())
    assert _factor(await _stored_equals_fresh(lift["id"]), "old_residential") == (1.0, 1.0)

    # The history: the first grade (蓝) wrote none; each rank change since wrote one.
    history = await client.get(
        "/api/v1/risk/changes", params={"since": started.isoformat()}, headers=admin
    )
    moves = [
        (c["from_grade"], c["to_grade"])
        for c in history.json()["items"]
        if c["equipment_id"] == lift["id"]
    ]
    assert moves == [("blue", "red")]  # 12 points at the failed inspection, then forced


async def _assert_stored_is_fresh(unit_id: int) -> dict[str, Any]:
    """The stored grade (no background pass first) equals a fresh computation."""
    stored = await RiskRepository().stored(unit_id)
    assert stored is not None and stored.factors, f"unit {unit_id}: no stored explanation"
    shown = await risk.explain_unit(unit_id, now=clock.now())
    fresh = await risk.explain_now(unit_id, now=clock.now())
    assert shown == fresh, f"unit {unit_id}: stored {shown} but fresh {fresh}"
    assert shown is not None
    return shown


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
async def test_a_batch_never_writes_over_a_newer_regrade(engine, monkeypatch):
    """The whole-register batch gathers its units' facts; meanwhile an entrapment is
    raised and the background pass regrades the unit. The batch must not then store the
    grade it computed from the older facts over the newer one: on PostgreSQL the two
    gradings of a unit run one after the other (review finding)."""
    owner = (await f.organisation("user_unit"))["id"]
    # Maintained 40 days ago: 25 days late, points the policy change below moves.
    lift = await f.unit(owner, last_maintenance_on=f.today() - 40 * DAY)
    await risk.recompute_all(now=clock.now())
    before = await _assert_stored_is_fresh(lift["id"])
    assert _factor(before, "entrapments") == (0.0, 0.0)
    assert _factor(before, "maintenance_late") == (25.0, 2.0)

    batch_gathered, go_on = asyncio.Event(), asyncio.Event()
    write = RiskRepository.write

    async def paused_write(self, grades, now):
        if asyncio.current_task() is batch:  # the batch: stop between gathering and writing
            batch_gathered.set()
            await go_on.wait()
        await write(self, grades, now)

    monkeypatch.setattr(RiskRepository, "write", paused_write)
    # The weight of late maintenance doubled: the batch has a grade to write for the unit.
    policies.install(
        policies.Policies(risk=rules.load_risk_policy({"weights": {"maintenance_late": 2}}))
    )
    try:
        batch = asyncio.create_task(risk.recompute_all(now=clock.now()))
        gathered_or_blocked = asyncio.create_task(batch_gathered.wait())
        await asyncio.wait([batch, gathered_or_blocked], return_when=asyncio.FIRST_COMPLETED)
        assert not batch.done(), batch.result()
        raised = await alarms.raise_alarm(
            SYSTEM,
            lift["id"],
            kind="entrapment",
            raised_at=clock.now() - timedelta(minutes=5),
            source="manual",
            now=clock.now(),
        )
        await alarms.close(SYSTEM, raised.id, note="released", now=clock.now())
        regrade = asyncio.create_task(risk.recompute_units([lift["id"]], now=clock.now()))
        # The regrade either ran through (no serialisation) or waits for the batch's lock.
        async with db.reading() as bulk:
            deadline = asyncio.get_running_loop().time() + 30
            while not regrade.done():
                waits = await bulk.rows("SELECT 1 FROM pg_locks WHERE NOT granted")
                if waits:
                    break
                assert asyncio.get_running_loop().time() < deadline, "the regrade never ran"
                await asyncio.wait([regrade], timeout=0.05)
        go_on.set()
        await asyncio.gather(batch, regrade)
        shown = await _assert_stored_is_fresh(lift["id"])
        assert _factor(shown, "entrapments") == (1.0, 2.0)
    finally:
        go_on.set()
        policies.install(policies.Policies())


async def test_a_change_of_a_user_units_record_regrades_all_its_units(client, engine, monkeypatch):
    """The user unit's record (the share of its units overdue or with open hazards) is a
    factor of each of its units: a hazard opened on one unit, a unit transferred to
    another user unit and a unit scrapped each move it, and the background pass grades
    every unit of that user unit again, not only the one that changed (review finding)."""
    # Each pass looks only at what changed after the last: without this, the pass would
    # grade the other units again anyway while their own setup is within its look-back.
    monkeypatch.setattr(risk, "OVERLAP", timedelta(0))
    first = (await f.organisation("user_unit"))["id"]
    second = (await f.organisation("user_unit"))["id"]
    admin = await f.token(Role.ADMIN)
    inspector = await f.token(Role.INSPECTOR, (await f.organisation("inspection_body"))["id"])
    units = [await f.unit(first, last_maintenance_on=f.today()) for _ in range(3)]
    units.append(await f.unit(second, last_maintenance_on=f.today()))
    for n, unit in enumerate(units):  # a passed inspection: none overdue
        done = await client.post(
            f"/api/v1/equipment/{unit['id']}/inspections",
            json={
                "kind": "periodic",
                "inspected_on": str(f.today() - 30 * DAY),
                "conclusion": "pass",
                "report_no": f"XY-R{n}",
            },
            headers=inspector,
        )
        assert done.status_code == 201, done.text
    await risk.recompute_all(now=clock.now())
    await risk.catch_up(now=clock.now())  # the inspections are behind the recompute

    async def every_unit_is_fresh(expected: dict[int, float]) -> None:
        await risk.catch_up(now=clock.now())
        for unit in units:
            if unit["id"] in expected:
                shown = await _assert_stored_is_fresh(unit["id"])
                assert _factor(shown, "user_unit_record")[0] == expected[unit["id"]], unit["id"]

    a, b, c, d = (u["id"] for u in units)
    await every_unit_is_fresh({a: 0.0, b: 0.0, c: 0.0, d: 0.0})

    # A failed inspection of the first unit opens a hazard: a third of the user unit's
    # units are bad, the other two included.
    failed = await client.post(
        f"/api/v1/equipment/{a}/inspections",
        json={
            "kind": "periodic",
            "inspected_on": str(f.today()),
            "conclusion": "fail",
            "report_no": "XY-RF",
        },
        headers=inspector,
    )
    assert failed.status_code == 201, failed.text
    await every_unit_is_fresh({a: 0.333, b: 0.333, c: 0.333, d: 0.0})

    # The bad unit goes to the second user unit: the first's record clears, the second's
    # (whose own unit changed nothing) becomes one in two.
    moved = await client.post(
        f"/api/v1/equipment/{a}/transfer",
        json={"user_unit_id": second, "on": str(f.today())},
        headers=admin,
    )
    assert moved.status_code == 200, moved.text
    await every_unit_is_fresh({a: 0.5, b: 0.0, c: 0.0, d: 0.5})

    # The second user unit's good unit is scrapped: its bad one is all that is left.
    scrapped = await client.post(
        f"/api/v1/equipment/{d}/scrap",
        json={"on": str(f.today()), "reason": "报废"},
        headers=admin,
    )
    assert scrapped.status_code == 200, scrapped.text
    await every_unit_is_fresh({a: 1.0, b: 0.0, c: 0.0})


async def test_the_daily_round_goes_batch_by_batch_and_once_a_day(engine):
    """The daily grading's steps on both engines: a batch of ids a call, its progress kept
    in the database (a fresh process goes on where the round stopped), nothing more that
    day, and the next day's round brings every stored grade up to that day."""
    owner = (await f.organisation("user_unit"))["id"]
    lifts = [await f.unit(owner, last_maintenance_on=f.today() - 14 * DAY) for _ in range(3)]
    await risk.recompute_all(now=clock.now())
    jobs = ScheduledJobRepository()
    now = clock.now()
    today = risk.daily_round(now, 0)
    assert await jobs.state(risk.DAILY_JOB) is None
    steps = []
    while graded := await risk.daily_pass(now=now, hour=0, batch=2):
        steps.append(graded)
        risk._daily_done.clear()  # as a fresh process would: the round's state is stored
        assert len(steps) <= 2
    assert steps == [2, 1]
    assert await jobs.state(risk.DAILY_JOB) == JobState(today, None)
    assert await risk.daily_pass(now=now + timedelta(hours=1), hour=0, batch=2) == 0

    later = now + 3 * DAY
    while await risk.daily_pass(now=later, hour=0, batch=2):
        pass
    assert await jobs.state(risk.DAILY_JOB) == JobState(today + 3 * DAY, None)
    for lift in lifts:
        shown = await risk.explain_unit(lift["id"], now=later)
        assert shown == await risk.explain_now(lift["id"], now=later)
        assert shown is not None
        assert _factor(shown, "maintenance_late") == (2.0, 1.0)


async def test_the_bureau_marks_a_hazardous_chemical_user_unit_and_its_units_follow(client, engine):
    """``hazardous_chemicals`` is the user unit's own fact: the bureau sets it on the
    organisation (the user unit itself may not), and every unit of it is graded again at
    once, without waiting for a pass (review finding)."""
    owner = (await f.organisation("user_unit"))["id"]
    other = (await f.organisation("user_unit"))["id"]
    units = [await f.unit(owner) for _ in range(3)]
    bystander = await f.unit(other)
    await risk.recompute_all(now=clock.now())
    admin = await f.token(Role.ADMIN)
    url = f"/api/v1/organisations/{owner}"
    current = (await client.get(url, headers=admin)).json()
    assert current["hazardous_chemicals"] is False
    match = {"If-Match": f'"{current["version"]}"'}
    itself = await client.patch(
        url,
        json={"hazardous_chemicals": True},
        headers={**await f.token(Role.USER_UNIT, owner), **match},
    )
    assert itself.status_code == 403, itself.text
    marked = await client.patch(url, json={"hazardous_chemicals": True}, headers={**admin, **match})
    assert marked.status_code == 200, marked.text
    assert marked.json()["hazardous_chemicals"] is True
    for unit in units:
        shown = await _assert_stored_is_fresh(unit["id"])
        assert _factor(shown, "hazardous_chemicals") == (1.0, 3.0)
    shown = await _assert_stored_is_fresh(bystander["id"])
    assert _factor(shown, "hazardous_chemicals") == (0.0, 0.0)
