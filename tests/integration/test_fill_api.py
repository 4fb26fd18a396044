"""The fill interlock over HTTP, fill lists, cylinder traces, joint operation and lift
live state: same verdicts as the ingest, and each role sees only its own."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from equipment.domain.access import Role
from tests import factories
from tests.ingest_support import (
    cylinder,
    fill_payload,
    fills_topic,
    ingest_now,
    station,
    status_payload,
    status_topic,
)

pytestmark = pytest.mark.integration
# These tests read the English message ids (the default answer language is Chinese).
ACCEPT_LANGUAGE = "en"


def permit_url(code: str, medium: str = "LPG", station_code: str | None = None) -> str:
    url = f"/api/v1/cylinders/{code}/fill-permit?medium={medium}"
    return url + (f"&station={station_code}" if station_code else "")


async def test_fill_permit_answers_with_the_verdict_codes(engine, client) -> None:
    home, other = await station(), await station()
    good = await cylinder(home)
    overdue = await cylinder(home, made=date(2020, 1, 1))
    foreign = await cylinder(other)
    token = await factories.token(Role.STATION, home["id"])

    answer = await client.get(permit_url(good["code"]), headers=token)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["allowed"], body["code"], body["reasons"]) == (True, "00", [])
    assert body["station_code"] == home["station_code"]

    refused = (await client.get(permit_url(overdue["code"]), headers=token)).json()
    assert (refused["allowed"], refused["code"], refused["name"]) == (
        False, "04", "overdue_inspection",
    )  # fmt: skip
    assert "due" in refused["reasons"][0]["text"]
    assert (await client.get(permit_url(foreign["code"]), headers=token)).json()["code"] == "08"
    assert (await client.get(permit_url("NOPE-1"), headers=token)).json()["code"] == "07"
    wrong = (await client.get(permit_url(good["code"], "O2"), headers=token)).json()
    assert wrong["code"] == "10"

    # A station asks for itself only; other roles are refused or must name the station.
    asked_for_other = permit_url(good["code"], station_code=other["station_code"])
    assert (await client.get(asked_for_other, headers=token)).status_code == 403
    admin = await factories.token(Role.ADMIN)
    assert (await client.get(permit_url(good["code"]), headers=admin)).status_code == 422
    as_admin = await client.get(
        permit_url(foreign["code"], station_code=other["station_code"]), headers=admin
    )
    assert as_admin.json()["code"] == "00"
    company = await factories.organisation("maintenance_company")
    maintenance = await factories.token(Role.MAINTENANCE, company["id"])
    assert (await client.get(permit_url(good["code"]), headers=maintenance)).status_code == 403
    assert (await client.get(permit_url(good["code"]))).status_code == 401
    missing = await client.get(f"/api/v1/cylinders/{good['code']}/fill-permit", headers=token)
    assert missing.status_code == 400


async def test_permit_and_recorded_verdict_agree(engine, client) -> None:
    home = await station()
    unit = await cylinder(home)
    token = await factories.token(Role.STATION, home["id"])
    result = await ingest_now(
        fills_topic(home["station_code"]), fill_payload(home["station_code"], unit["code"])
    )
    assert [v.verdict["code"] for v in result.verdicts] == ["00"]
    # Asked again right after that fill: refilled too soon, as the ingest would record.
    again = (await client.get(permit_url(unit["code"]), headers=token)).json()
    assert again["code"] == "16" and again["suspicious"] is True


TRACE_KEYS = (
    "cylinder_id",
    "cylinder_code",
    "status",
    "status_label",
    "medium",
    "next_periodic_due",
    "end_of_service_life",
    "fill_count",
    "last_filled_at",
    "last_station_code",
    "fills",
)


async def test_fills_and_traces_are_scoped_to_the_station(engine, client) -> None:
    home, other = await station(), await station()
    mine, theirs = await cylinder(home), await cylinder(other)
    for owner, unit in ((home, mine), (other, theirs)):
        await ingest_now(
            fills_topic(owner["station_code"]), fill_payload(owner["station_code"], unit["code"])
        )
    await ingest_now(
        fills_topic(home["station_code"]),
        fill_payload(home["station_code"], mine["code"], pre_check_passed=False,
                     filled_at=(datetime.now(UTC) - timedelta(days=2)).isoformat(),
                     started_at=None),
    )  # fmt: skip
    token = await factories.token(Role.STATION, home["id"])
    listed = (await client.get("/api/v1/fills", headers=token)).json()["items"]
    assert {f["station_code"] for f in listed} == {home["station_code"]}
    assert len(listed) == 2
    refused = (await client.get("/api/v1/fills?allowed=false", headers=token)).json()["items"]
    assert [f["verdict"] for f in refused] == ["13"]
    assert refused[0]["reasons"][0]["name"] == "pre_check_failed"
    page = (await client.get("/api/v1/fills?limit=1", headers=token)).json()
    assert page["next_before"] is not None
    rest = await client.get(f"/api/v1/fills?limit=1&before={page['next_before']}", headers=token)
    assert len(rest.json()["items"]) == 1

    trace = (await client.get(f"/api/v1/cylinders/{mine['code']}/trace", headers=token)).json()
    # The keys the trace answered before its reads moved to storage (FillStateRow), and
    # the state's values: the fill-state row's own id was never part of the answer.
    assert list(trace) == list(TRACE_KEYS)
    assert (trace["cylinder_id"], trace["cylinder_code"]) == (mine["id"], mine["code"])
    assert trace["fill_count"] == 2 and len(trace["fills"]) == 2
    assert trace["last_station_code"] == home["station_code"]
    assert trace["last_filled_at"] == max(f["filled_at"] for f in trace["fills"])
    unfilled = await cylinder(home)
    empty = (await client.get(f"/api/v1/cylinders/{unfilled['code']}/trace", headers=token)).json()
    assert list(empty) == list(TRACE_KEYS)
    assert (empty["fill_count"], empty["last_filled_at"], empty["last_station_code"]) == (
        0,
        None,
        None,
    )
    assert empty["fills"] == []
    hidden = await client.get(f"/api/v1/cylinders/{theirs['code']}/trace", headers=token)
    assert hidden.status_code == 404
    inspector = await factories.token(Role.INSPECTOR)
    everything = (await client.get("/api/v1/fills", headers=inspector)).json()["items"]
    assert len(everything) == 3
    unit_owner = await factories.organisation("user_unit")
    user = await factories.token(Role.USER_UNIT, unit_owner["id"])
    assert (await client.get("/api/v1/fills", headers=user)).status_code == 403

    # A station sees the alarms its own fills raised, not another station's.
    alarms = (await client.get("/api/v1/alarms", headers=token)).json()["items"]
    assert [a["kind"] for a in alarms] == ["fill_pre_check_failed"]
    other_token = await factories.token(Role.STATION, other["id"])
    assert (await client.get("/api/v1/alarms", headers=other_token)).json()["items"] == []


async def test_joint_operation_agreement(engine, client) -> None:
    home, partner = await station(), await station()
    unit = await cylinder(partner)
    token = await factories.token(Role.STATION, home["id"])
    assert (await client.get(permit_url(unit["code"]), headers=token)).json()["code"] == "08"
    admin = await factories.token(Role.ADMIN)
    body = {
        "owner_station_id": partner["id"],
        "filling_station_id": home["id"],
        "valid_from": str(factories.today() - timedelta(days=1)),
        "valid_until": str(factories.today() + timedelta(days=90)),
    }
    created = await client.post("/api/v1/joint-fillings", json=body, headers=admin)
    assert created.status_code == 201, created.text
    answer = (await client.get(permit_url(unit["code"]), headers=token)).json()
    assert (answer["code"], answer["allowed"]) == ("09", True)
    assert (
        await client.post("/api/v1/joint-fillings", json=body, headers=token)
    ).status_code == 403
    listed = (await client.get("/api/v1/joint-fillings", headers=token)).json()
    assert [j["owner_station_id"] for j in listed] == [partner["id"]]
    backwards = {**body, "valid_until": str(factories.today() - timedelta(days=5))}
    bad = await client.post("/api/v1/joint-fillings", json=backwards, headers=admin)
    assert bad.status_code == 422


async def test_station_codes_are_unique_and_only_for_stations(engine, client) -> None:
    admin = await factories.token(Role.ADMIN)
    first = await station()
    body = {
        "kind": "filling_station",
        "credit_code": factories.credit_code(),
        "name": "重复代码站",
        "licence_no": "TS1",
        "licence_valid_until": str(factories.today() + timedelta(days=30)),
        "station_code": first["station_code"],
    }
    assert (await client.post("/api/v1/organisations", json=body, headers=admin)).status_code == 409
    slash = {**body, "station_code": "XY/1", "credit_code": factories.credit_code()}
    assert (
        await client.post("/api/v1/organisations", json=slash, headers=admin)
    ).status_code == 422
    unit = {
        **body,
        "kind": "user_unit",
        "station_code": "XY9",
        "credit_code": factories.credit_code(),
    }
    assert (await client.post("/api/v1/organisations", json=unit, headers=admin)).status_code == 422


async def test_lift_live_state_is_scoped(engine, client) -> None:
    company = await factories.organisation("maintenance_company")
    rival = await factories.organisation("maintenance_company")
    owner = await factories.organisation("user_unit")
    unit = await factories.unit(owner["id"], maintenance_company_id=company["id"])
    silent = await factories.unit(owner["id"])
    await ingest_now(
        status_topic(unit["registration_code"]),
        status_payload(datetime.now(UTC), floor=12, service_mode=2),
    )
    own = await factories.token(Role.MAINTENANCE, company["id"])
    live = await client.get(f"/api/v1/equipment/{unit['id']}/live", headers=own)
    assert live.status_code == 200, live.text
    assert (live.json()["floor"], live.json()["service_mode"]) == (12, 2)
    other = await factories.token(Role.MAINTENANCE, rival["id"])
    assert (
        await client.get(f"/api/v1/equipment/{unit['id']}/live", headers=other)
    ).status_code == 404
    user = await factories.token(Role.USER_UNIT, owner["id"])
    assert (
        await client.get(f"/api/v1/equipment/{silent['id']}/live", headers=user)
    ).status_code == 404


async def test_fill_permit_follows_corrected_inspections(engine, client) -> None:
    # The permit reads the latest periodic inspection with corrections applied: a failed
    # record corrected to a pass no longer refuses, a pass corrected to a fail does.
    from equipment.domain.access import SYSTEM
    from equipment.services import clock, inspections

    home = await station()
    token = await factories.token(Role.STATION, home["id"])
    failed_then_passed = await cylinder(home, made=date(2022, 1, 1))
    passed_then_failed = await cylinder(home, made=date(2022, 1, 1))
    day = factories.today() - timedelta(days=20)

    async def record(
        unit: dict, conclusion: str, corrects: int | None = None, on: date = day
    ) -> int:
        data = {"kind": "periodic", "inspected_on": on, "conclusion": conclusion}
        if corrects is not None:
            data["corrects"] = corrects
        row, _ = await inspections.record_inspection(
            SYSTEM, unit["id"], data, today=factories.today(), now=clock.now()
        )
        return row.id

    async def code(unit: dict) -> str:
        answer = await client.get(permit_url(unit["code"]), headers=token)
        assert answer.status_code == 200, answer.text
        return answer.json()["code"]

    first = await record(failed_then_passed, "fail")
    assert await code(failed_then_passed) == "02"
    # The correction also fixes the date: the corrected record, though later, is gone.
    await record(failed_then_passed, "pass", corrects=first, on=day - timedelta(days=10))
    assert await code(failed_then_passed) == "00"

    first = await record(passed_then_failed, "pass")
    assert await code(passed_then_failed) == "00"
    await record(passed_then_failed, "fail", corrects=first)
    assert await code(passed_then_failed) == "02"


async def test_permit_for_another_stations_cylinder_tells_nothing_of_it(engine, client) -> None:
    # Station A asks about station B's cylinder: B filled it a minute ago far away, and it
    # is scrapped. A gets 08 and not one word of B's data (its medium, state, last fill),
    # as /trace answers 404; under a joint-operation agreement A is judged in full.
    home = await station(lon=112.14, lat=32.04)
    owner = await station(lon=114.30, lat=30.59)  # Wuhan, 270 km away
    theirs = await cylinder(owner)
    await ingest_now(
        fills_topic(owner["station_code"]), fill_payload(owner["station_code"], theirs["code"])
    )
    admin = await factories.token(Role.ADMIN)
    scrapped = await client.post(
        f"/api/v1/equipment/{theirs['id']}/scrap",
        json={"on": str(factories.today()), "reason": "报废"},
        headers=admin,
    )
    assert scrapped.status_code == 200, scrapped.text
    token = await factories.token(Role.STATION, home["id"])
    secrets = (
        owner["station_code"],
        "LPG",
        "scrapped",
        "报废",
        "apart",
        " km",
        theirs["equipment_code"],
    )

    for code in (theirs["code"], theirs["equipment_code"]):
        answer = await client.get(permit_url(code, medium="O2"), headers=token)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["code"], body["allowed"]) == ("08", False)
        assert [r["code"] for r in body["reasons"]] == ["08"], body
        text = answer.text.replace(code, "")  # the code asked is echoed, nothing else
        assert not [s for s in secrets if s in text], body
    hidden = await client.get(f"/api/v1/cylinders/{theirs['code']}/trace", headers=token)
    assert hidden.status_code == 404

    # The register's office sees the whole judgement of the same question.
    full = await client.get(
        permit_url(theirs["code"], medium="O2", station_code=home["station_code"]), headers=admin
    )
    assert {"05", "08", "10", "16", "17"} <= {r["code"] for r in full.json()["reasons"]}

    # Under a joint-operation agreement the station may fill it, so it is told why not.
    agreement = {
        "owner_station_id": owner["id"],
        "filling_station_id": home["id"],
        "valid_from": str(factories.today() - timedelta(days=1)),
        "valid_until": str(factories.today() + timedelta(days=90)),
    }
    created = await client.post("/api/v1/joint-fillings", json=agreement, headers=admin)
    assert created.status_code == 201, created.text
    joint = (await client.get(permit_url(theirs["code"]), headers=token)).json()
    assert joint["code"] == "05" and "08" not in {r["code"] for r in joint["reasons"]}
