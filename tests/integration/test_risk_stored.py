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
    lift = await f.unit(owner, last_maintenance_on=f.TODAY - 40 * DAY)
    # A sibling of the same user unit, so the user unit's record is not all this lift's.
    sibling = await f.unit(owner, last_maintenance_on=f.TODAY)
    for unit in (lift, sibling):  # a passed inspection: not overdue
        done = await client.post(
            f"/api/v1/equipment/{unit['id']}/inspections",
            json={
                "kind": "periodic",
                "inspected_on": str(f.TODAY - 30 * DAY),
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
            "starts_on": str(f.TODAY - 200 * DAY),
            "ends_on": str(f.TODAY + 165 * DAY),
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
            "maintained_on": str(f.TODAY),
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
            "inspected_on": str(f.TODAY),
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
            "manufacture_date": str(f.TODAY - timedelta(days=round(21 * 365.25))),
            "commissioning_date": str(f.TODAY - timedelta(days=round(20 * 365.25))),
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
    lift = await f.unit(owner, last_maintenance_on=f.TODAY - 40 * DAY)
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
