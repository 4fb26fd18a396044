"""Risk grades (风险分级) through the API, on both engines: a grade appears, a major hazard
makes it 红 with a history row, a failed inspection raises it after the background pass,
the due list and area summary filter and sort by it, and every list keeps to the caller's
scope. One world per test and tokens only (no logins): the whole module stays cheap."""

from __future__ import annotations

from datetime import timedelta

import pytest

from equipment.domain.access import SYSTEM, Role
from equipment.services import areas, clock, risk
from tests import factories as f

pytestmark = pytest.mark.integration
ACCEPT_LANGUAGE = "en"


OLD_AREA = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": "RISK-1",
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [112.13, 32.04],
                        [112.14, 32.04],
                        [112.14, 32.05],
                        [112.13, 32.05],
                        [112.13, 32.04],
                    ]
                ],
            },
            "properties": {"kind": "old_residential", "name": "测试小区"},
        }
    ],
}


async def _catch_up() -> None:
    # The notify worker's pass, run here at once instead of waiting for its poll.
    await risk.catch_up(now=clock.now())


async def test_grades_follow_hazards_and_inspections_within_scope(client, engine):
    owner = (await f.organisation("user_unit"))["id"]
    other_owner = (await f.organisation("user_unit"))["id"]
    company = (await f.organisation("maintenance_company"))["id"]
    rival = (await f.organisation("maintenance_company"))["id"]
    body = (await f.organisation("inspection_body"))["id"]
    admin = await f.token(Role.ADMIN)
    inspector = await f.token(Role.INSPECTOR, body)
    company_token = await f.token(Role.MAINTENANCE, company)
    owner_token = await f.token(Role.USER_UNIT, owner)
    # Maintained today: no factor earns points yet (a lift never maintained would).
    lift = await f.unit(owner, maintenance_company_id=company, last_maintenance_on=f.today())
    other = await f.unit(other_owner, maintenance_company_id=rival, last_maintenance_on=f.today())
    for unit in (lift, other):  # a passed inspection: due dates to list
        done = await client.post(
            f"/api/v1/equipment/{unit['id']}/inspections",
            json={
                "kind": "periodic",
                "inspected_on": str(f.today() - timedelta(days=30)),
                "conclusion": "pass",
                "report_no": "XY-1",
            },
            headers=inspector,
        )
        assert done.status_code == 201, done.text

    started = clock.now() - timedelta(seconds=1)
    # The background pass, one unit per pass: the second goes on from the first's cursor.
    assert await risk.catch_up(now=clock.now(), limit=1) == 1
    assert len((await client.get("/api/v1/risk/units", headers=admin)).json()["items"]) == 1
    assert await risk.catch_up(now=clock.now(), limit=1) == 1
    assert len((await client.get("/api/v1/risk/units", headers=admin)).json()["items"]) == 2
    # The whole register: nothing left to change.
    whole = await risk.recompute_all(now=clock.now())
    assert whole.units == 2 and whole.changed == 0
    # Graded: the unit's JSON carries the grade; the explanation lists every factor.
    unit = (await client.get(f"/api/v1/equipment/{lift['id']}", headers=admin)).json()
    explained = (await client.get(f"/api/v1/risk/units/{lift['id']}", headers=admin)).json()
    assert unit["risk_grade"] == explained["grade"] == explained["stored_grade"] == "blue", [
        x for x in explained["factors"] if x["points"]
    ]
    assert len(explained["factors"]) == 12 and explained["forced_by_major_hazard"] is False
    again = await risk.recompute_all(now=clock.now())
    assert again.changed == 0  # nothing changed: nothing written

    # A major hazard: 红 after the background pass, with a history row.
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
    await _catch_up()
    explained = (await client.get(f"/api/v1/risk/units/{lift['id']}", headers=admin)).json()
    assert (explained["grade"], explained["stored_grade"]) == ("red", "red")
    assert explained["forced_by_major_hazard"] is True
    major = next(x for x in explained["factors"] if x["factor"] == "major_hazard")
    assert (major["value"], major["points"]) == (1, 12)
    since = started.isoformat()
    became_red = await client.get(
        "/api/v1/risk/changes", params={"since": since, "grade": "red"}, headers=admin
    )
    assert [
        (c["equipment_id"], c["from_grade"], c["to_grade"]) for c in became_red.json()["items"]
    ] == [(lift["id"], "blue", "red")]

    # A failed inspection of the other unit raises its grade (points of last_conclusion).
    before = (await client.get(f"/api/v1/risk/units/{other['id']}", headers=admin)).json()
    failed = await client.post(
        f"/api/v1/equipment/{other['id']}/inspections",
        json={
            "kind": "periodic",
            "inspected_on": str(f.today()),
            "conclusion": "fail",
            "report_no": "XY-2",
        },
        headers=inspector,
    )
    assert failed.status_code == 201, failed.text
    await _catch_up()
    after = (await client.get(f"/api/v1/risk/units/{other['id']}", headers=admin)).json()
    conclusion = next(x for x in after["factors"] if x["factor"] == "last_conclusion")
    assert conclusion["points"] == 6 and after["points"] > before["points"]
    # The failed inspection also opened a general hazard (services/hazards.py), and the
    # user unit's only unit now has one: 6 + 2 + 2 points, 橙.
    assert {x["factor"]: x["points"] for x in after["factors"] if x["points"]} == {
        "last_conclusion": 6,
        "open_hazards": 2,
        "user_unit_record": 2,
    }
    assert after["stored_grade"] == after["grade"] == "orange"

    # The due list filters and sorts by grade.
    red_due = (await client.get("/api/v1/due?grade=red", headers=admin)).json()["items"]
    assert {i["equipment_id"] for i in red_due} == {lift["id"]}
    assert all(i["risk_grade"] == "red" for i in red_due)
    by_grade = (await client.get("/api/v1/due?sort=-grade&limit=1", headers=admin)).json()
    assert by_grade["items"][0]["equipment_id"] == lift["id"]
    rest = await client.get(
        "/api/v1/due", params={"sort": "-grade", "cursor": by_grade["next_cursor"]}, headers=admin
    )
    grades = [i["risk_grade"] for i in rest.json()["items"]]
    order = ["red", "orange", "yellow", "blue"]
    assert grades == sorted(grades, key=order.index) and "orange" in grades
    bad = await client.get("/api/v1/due?grade=purple", headers=admin)
    assert bad.status_code == 400
    # An old residential area around both units: the pass adds the factor, and the area
    # takes the grade of its worst units (one of two is 红: at least 10 %).
    await areas.import_feature_collection(SYSTEM, OLD_AREA, crs="wgs84", now=clock.now())
    await _catch_up()
    explained = (await client.get(f"/api/v1/risk/units/{lift['id']}", headers=admin)).json()
    old = next(x for x in explained["factors"] if x["factor"] == "old_residential")
    assert (old["value"], old["points"]) == (1, 1)
    summary = await client.get("/api/v1/areas/summary?sort=-grade&grade=red", headers=admin)
    assert [
        (r["key"], r["risk_grade"], r["red_units"], r["orange_units"]) for r in summary.json()
    ] == [("RISK-1", "red", 1, 1)]
    none = await client.get("/api/v1/areas/summary?grade=blue", headers=admin)
    assert none.json() == []
    area_grades = (await client.get("/api/v1/risk/areas", headers=admin)).json()
    assert [(g["grade"], g["units"], g["red"]) for g in area_grades] == [("red", 2, 1)]

    # Scope: the company and the user unit see their lift only, never the other.
    for token in (company_token, owner_token):
        units = (await client.get("/api/v1/risk/units", headers=token)).json()["items"]
        assert [u["equipment_id"] for u in units] == [lift["id"]]
        changes = (
            await client.get("/api/v1/risk/changes", params={"since": since}, headers=token)
        ).json()
        assert {c["equipment_id"] for c in changes["items"]} == {lift["id"]}
        hidden = await client.get(f"/api/v1/risk/units/{other['id']}", headers=token)
        assert hidden.status_code == 404
        groups = (await client.get("/api/v1/risk/user-units", headers=token)).json()
        assert [(g["id"], g["grade"]) for g in groups] == [(owner, "red")]
    everyone = (await client.get("/api/v1/risk/units", headers=admin)).json()["items"]
    assert [(u["equipment_id"], u["grade"]) for u in everyone] == [
        (lift["id"], "red"),
        (other["id"], "orange"),
    ]
    page = (await client.get("/api/v1/risk/units?limit=1", headers=admin)).json()
    second = await client.get(
        f"/api/v1/risk/units?limit=1&cursor={page['next_cursor']}", headers=admin
    )
    assert [u["equipment_id"] for u in second.json()["items"]] == [other["id"]]
    assert (await client.get("/api/v1/risk/units?cursor=x.y", headers=admin)).status_code == 422
    naive = await client.get("/api/v1/risk/changes?since=2026-01-01T00:00:00", headers=admin)
    assert naive.status_code == 422
