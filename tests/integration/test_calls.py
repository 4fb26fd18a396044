"""96333 intake: a call opens or joins the lift's one entrapment alarm and starts the same
dispatch; an alarm's timeline shows who did what and when (issue 24)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from equipment.domain.access import SYSTEM, Role
from equipment.services import clock, notifications
from equipment.storage.tables import Alarm, EmergencyCall
from tests import factories as f
from tests import webhook_receiver
from tests.integration.test_webhooks import drain

pytestmark = pytest.mark.integration

CALLER = "13912345678"


@pytest.fixture
def receiver():
    r = webhook_receiver.Receiver()
    server, url = webhook_receiver.start(r)
    r.url = url  # type: ignore[attr-defined]
    yield r
    server.shutdown()


@pytest.fixture
async def world(engine):
    w = {
        "owner": (await f.organisation("user_unit"))["id"],
        "company": (await f.organisation("maintenance_company"))["id"],
    }
    w["tokens"] = {
        "centre": await f.token(Role.CALL_CENTRE),
        "company": await f.token(Role.MAINTENANCE, w["company"]),
        "owner": await f.token(Role.USER_UNIT, w["owner"]),
        "admin": await f.token(Role.ADMIN),
    }
    w["unit"] = await f.unit(
        w["owner"], maintenance_company_id=w["company"], address="襄阳市樊城区幸福小区3栋2单元"
    )
    return w


async def call(client, w, **body):
    return await client.post(
        "/api/v1/calls",
        json={"callback_number": CALLER, **body},
        headers=w["tokens"]["centre"],
    )


async def test_a_call_opens_the_alarm_and_the_next_joins_it(client, world, receiver):
    w = world
    made = await notifications.create_endpoint(
        SYSTEM,
        url=receiver.url + "/company",
        organisation_id=w["company"],
        tier="primary",
        district_code="",
        label="",
        now=clock.now(),
        allow=webhook_receiver.LOOPBACK,
    )
    receiver.secrets["/company"] = made.secret

    first = await call(client, w, registration_code=w["unit"]["registration_code"])
    assert first.status_code == 201, first.text
    opened = first.json()
    assert opened["joined"] is False
    assert opened["alarm"]["kind"] == "entrapment" and opened["alarm"]["source"] == "96333"

    # A second caller who can only say where they are: the same alarm, not a second one.
    second = await call(client, w, address="幸福小区3栋")
    assert second.status_code == 200, second.text
    assert second.json()["joined"] is True
    assert second.json()["alarm"]["id"] == opened["alarm"]["id"]
    assert second.json()["alarm"]["count"] == 2
    assert len(await Alarm.select(Alarm.id).where(Alarm.equipment == w["unit"]["id"])) == 1
    assert await EmergencyCall.count() == 2

    # The same dispatch as an IoT or hand-entered alarm: the company is told, once.
    await drain(receiver, lambda r: len(r.got) >= 1, what="the dispatch")
    [told] = receiver.got
    assert told.signed and told.body["alarm"]["id"] == opened["alarm"]["id"]


async def test_a_call_joins_an_alarm_the_lift_raised(client, world):
    w = world
    now = clock.now()
    raised = await client.post(
        f"/api/v1/equipment/{w['unit']['id']}/alarms",
        json={"kind": "entrapment", "raised_at": (now - timedelta(minutes=2)).isoformat()},
        headers=w["tokens"]["company"],
    )
    assert raised.status_code == 201
    answer = await call(client, w, registration_code=w["unit"]["registration_code"])
    assert answer.status_code == 200 and answer.json()["joined"] is True
    assert answer.json()["alarm"]["id"] == raised.json()["id"]


async def test_finding_the_lift(client, world):
    w = world
    second = await f.unit(w["owner"], address="襄阳市樊城区幸福小区5栋1单元")
    ambiguous = await call(client, w, address="幸福小区")
    assert ambiguous.status_code == 409
    # The candidates are named, and the operator is told what to ask (zh-CN by default).
    detail = ambiguous.json()["detail"]
    assert w["unit"]["code"] in detail and second["code"] in detail
    assert "使用登记代码" in detail
    assert (await call(client, w, address="没有这个地方")).status_code == 404
    assert (await call(client, w, registration_code="31104206002099")).status_code == 404
    assert (await call(client, w)).status_code == 422
    # LIKE's wildcards in what the caller said are not wildcards ("_" would match "3").
    assert (await call(client, w, address="幸福小区_栋")).status_code == 404
    assert (await call(client, w, address="%%%%")).status_code == 422
    bad_number = await client.post(
        "/api/v1/calls",
        json={"callback_number": "call me", "registration_code": "x"},
        headers=w["tokens"]["centre"],
    )
    assert bad_number.status_code == 400
    assert await Alarm.select(Alarm.id) == []


async def test_the_timeline_and_who_sees_the_callback_number(client, world):
    w = world
    taken = await call(
        client,
        w,
        registration_code=w["unit"]["registration_code"],
        received_at=(clock.now() - timedelta(minutes=10)).isoformat(),
    )
    alarm_id = taken.json()["alarm"]["id"]
    for step in ("acknowledge", "arrive", "finish"):
        done = await client.post(
            f"/api/v1/alarms/{alarm_id}/{step}", json={}, headers=w["tokens"]["company"]
        )
        assert done.status_code == 200, done.text
    seen = {}
    for who in ("centre", "company", "owner", "admin"):
        response = await client.get(f"/api/v1/alarms/{alarm_id}/timeline", headers=w["tokens"][who])
        assert response.status_code == 200, response.text
        seen[who] = response.json()["events"]
    events = seen["admin"]
    assert [e["what"] for e in events] == ["raise", "call", "acknowledge", "arrive", "finish"]
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    assert "call_centre" in events[1]["who"] and "maintenance" in events[2]["who"]
    for who in ("centre", "company", "admin"):
        assert seen[who][1]["detail"]["callback_number"] == CALLER, who
    assert "callback_number" not in seen["owner"][1]["detail"]
    other = await f.token(Role.MAINTENANCE, (await f.organisation("maintenance_company"))["id"])
    hidden = await client.get(f"/api/v1/alarms/{alarm_id}/timeline", headers=other)
    assert hidden.status_code == 404
