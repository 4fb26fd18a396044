"""Response KPIs per company and district, and emergency drills with the lifts missing
theirs (issue 24)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from equipment.domain import rescue
from equipment.domain.access import SYSTEM, Role
from equipment.services import alarms, clock, emergency_records
from tests import factories as f

pytestmark = pytest.mark.integration


@pytest.fixture
async def world(engine):
    w = {
        "owner": (await f.organisation("user_unit"))["id"],
        "a": (await f.organisation("maintenance_company"))["id"],
        "b": (await f.organisation("maintenance_company"))["id"],
    }
    w["tokens"] = {
        "admin": await f.token(Role.ADMIN),
        "a": await f.token(Role.MAINTENANCE, w["a"]),
        "owner": await f.token(Role.USER_UNIT, w["owner"]),
    }
    return w


async def entrapment(unit, *, ago, ack=None, arrive=None):
    """An entrapment raised ``ago`` minutes back, acknowledged and reached after the
    given minutes."""
    now = clock.now()
    raised = now - timedelta(minutes=ago)
    row = await alarms.raise_alarm(
        SYSTEM, unit["id"], kind="entrapment", raised_at=raised, source="manual", now=now
    )
    if ack is not None:
        await alarms.respond(
            SYSTEM, row.id, "acknowledge", at=raised + timedelta(minutes=ack), now=now
        )
    if arrive is not None:
        await alarms.respond(
            SYSTEM, row.id, "arrive", at=raised + timedelta(minutes=arrive), now=now
        )
    await alarms.close(SYSTEM, row.id, note="", now=now)
    return row


async def test_response_kpis_per_company_and_district(client, world):
    w = world
    a_units = [await f.unit(w["owner"], maintenance_company_id=w["a"]) for _ in range(4)]
    b_unit = await f.unit(w["owner"], maintenance_company_id=w["b"], district_code="420683")
    limit = None
    for minutes in (10, 20, 40):  # the 40-minute arrival is late in a city district
        row = await entrapment(a_units[0], ago=300, ack=minutes / 10, arrive=minutes)
        limit = row.response_limit_minutes
    await entrapment(b_unit, ago=300, ack=1, arrive=20)
    await entrapment(a_units[1], ago=60 * 24 * 10, ack=1, arrive=5)  # before the period
    now = clock.now()
    period = {
        "from": (now - timedelta(days=7)).isoformat(),
        "to": (now + timedelta(minutes=1)).isoformat(),
    }
    answer = await client.get(
        "/api/v1/kpis/response", params={**period, "group": "company"}, headers=w["tokens"]["admin"]
    )
    assert answer.status_code == 200, answer.text
    rows = {r["group"]: r for r in answer.json()}
    a = rows[str(w["a"])]
    assert a["entrapments"] == 3 and a["lifts"] == 4
    assert a["arrive_median"] == pytest.approx(20)
    assert a["arrive_p90"] == pytest.approx(36)  # 20 + 0.8 × (40 - 20)
    assert a["acknowledge_median"] == pytest.approx(2)
    assert a["late"] == (1 if limit == 30 else 0)
    assert a["per_1000_lifts"] == pytest.approx(750)
    assert rows[str(w["b"])]["entrapments"] == 1

    by_district = await client.get(
        "/api/v1/kpis/response",
        params={**period, "group": "district"},
        headers=w["tokens"]["admin"],
    )
    districts = {r["group"]: r["entrapments"] for r in by_district.json()}
    assert districts[a_units[0]["district_code"]] == 3 and districts["420683"] == 1

    # A company sees its own row only; a user unit may not read the figures.
    own = await client.get("/api/v1/kpis/response", params=period, headers=w["tokens"]["a"])
    assert [r["group"] for r in own.json()] == [str(w["a"])]
    refused = await client.get("/api/v1/kpis/response", params=period, headers=w["tokens"]["owner"])
    assert refused.status_code == 403
    backwards = await client.get(
        "/api/v1/kpis/response",
        params={"from": period["to"], "to": period["from"]},
        headers=w["tokens"]["admin"],
    )
    assert backwards.status_code == 422


async def test_drills_and_the_lifts_missing_them(client, world):
    w = world
    year = f.today().year
    done, half, none = [await f.unit(w["owner"], maintenance_company_id=w["a"]) for _ in range(3)]
    other = await f.unit(w["owner"], maintenance_company_id=w["b"])
    for unit, dates in ((done, [f"{year}-01-15", f"{year}-01-20"]), (half, [f"{year}-01-10"])):
        for held_on in dates:
            response = await client.post(
                f"/api/v1/equipment/{unit['id']}/drills",
                json={"held_on": held_on, "participants": ["张三 维保", "李四 物业"]},
                headers=w["tokens"]["a"],
            )
            assert response.status_code == 201, response.text
            assert response.json()["participants"] == ["张三 维保", "李四 物业"]
    # Last year's drill does not count for this year.
    await client.post(
        f"/api/v1/equipment/{none['id']}/drills",
        json={"held_on": f"{year - 1}-06-01", "participants": ["王五"]},
        headers=w["tokens"]["owner"],
    )
    missing = await client.get(f"/api/v1/drills/missing?year={year}", headers=w["tokens"]["admin"])
    got = {r["equipment_id"]: r["drills"] for r in missing.json()}
    assert got == {none["id"]: 0, other["id"]: 0, half["id"]: 1}
    assert all(r["required"] == 2 for r in missing.json())
    # The company's list is its own lifts only.
    own = await client.get(f"/api/v1/drills/missing?year={year}", headers=w["tokens"]["a"])
    assert {r["equipment_id"] for r in own.json()} == {none["id"], half["id"]}
    # Not for another company's lift (404 as unknown), not in the future, not without people.
    foreign = await client.post(
        f"/api/v1/equipment/{other['id']}/drills",
        json={"held_on": f"{year}-01-01", "participants": ["x"]},
        headers=w["tokens"]["a"],
    )
    assert foreign.status_code == 404
    future = await client.post(
        f"/api/v1/equipment/{done['id']}/drills",
        json={"held_on": str(f.today() + timedelta(days=1)), "participants": ["x"]},
        headers=w["tokens"]["a"],
    )
    assert future.status_code == 422
    nobody = await client.post(
        f"/api/v1/equipment/{done['id']}/drills",
        json={"held_on": str(f.today()), "participants": []},
        headers=w["tokens"]["a"],
    )
    assert nobody.status_code == 400


async def test_response_kpis_count_rescue_outcomes_by_cause_and_injuries(client, world):
    """The KPI rows carry what the recorded rescue outcomes say, per company and per
    district: entrapments per cause, people released, injuries, deaths; an entrapment
    without an outcome is counted apart."""
    w = world
    a_unit = await f.unit(w["owner"], maintenance_company_id=w["a"])
    b_unit = await f.unit(w["owner"], maintenance_company_id=w["b"], district_code="420683")
    outcomes = [
        (a_unit, dict(people_released=2, injuries=1, fatalities=0, cause="power_failure")),
        (a_unit, dict(people_released=1, injuries=0, fatalities=0, cause="power_failure")),
        (a_unit, dict(people_released=4, injuries=2, fatalities=1, cause="door_system")),
        (b_unit, dict(people_released=1, injuries=0, fatalities=0, cause="misuse")),
    ]
    for unit, told in outcomes:
        await finished_with_outcome(unit, **told)
    await entrapment(a_unit, ago=300, ack=1, arrive=10)  # closed without an outcome
    await finished_with_outcome(a_unit, ago=60 * 24 * 10, cause="misuse")  # before the period
    now = clock.now()
    period = {
        "from": (now - timedelta(days=7)).isoformat(),
        "to": (now + timedelta(minutes=1)).isoformat(),
    }
    for group, a_key, b_key in (
        ("company", str(w["a"]), str(w["b"])),
        ("district", a_unit["district_code"], "420683"),
    ):
        answer = await client.get(
            "/api/v1/kpis/response", params={**period, "group": group}, headers=w["tokens"]["admin"]
        )
        assert answer.status_code == 200, answer.text
        rows = {r["group"]: r for r in answer.json()}
        a, b = rows[a_key], rows[b_key]
        assert (a["entrapments"], a["outcomes"], a["without_outcome"]) == (4, 3, 1)
        assert (a["people_released"], a["injuries"], a["fatalities"]) == (7, 3, 1)
        assert a["causes"] == {"door_system": 1, "power_failure": 2}
        assert (b["outcomes"], b["injuries"], b["causes"]) == (1, 0, {"misuse": 1})
    # A company's own row only, outcomes included.
    own = await client.get("/api/v1/kpis/response", params=period, headers=w["tokens"]["a"])
    [mine] = own.json()
    assert mine["group"] == str(w["a"]) and mine["injuries"] == 3


async def finished_with_outcome(unit, *, ago: int = 300, **told) -> None:
    now = clock.now()
    raised = now - timedelta(minutes=ago)
    row = await alarms.raise_alarm(
        SYSTEM, unit["id"], kind="entrapment", raised_at=raised, source="manual", now=now
    )
    for minutes, step in ((2, "acknowledge"), (12, "arrive"), (15, "finish")):
        await alarms.respond(SYSTEM, row.id, step, at=raised + timedelta(minutes=minutes), now=now)
    outcome = rescue.Outcome(
        people_released=told.get("people_released", 1),
        injuries=told.get("injuries", 0),
        fatalities=told.get("fatalities", 0),
        release_method="door_opened_at_level",
        cause=told["cause"],
        rescuers=("王师傅",),
    )
    await emergency_records.record_outcome(SYSTEM, row.id, outcome, note="", now=now)
