"""A finished entrapment's rescue outcome: recorded once by the company responding, it
closes the alarm and announces the close; validated; read back with zh-CN labels
(issue 24)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from equipment.domain.access import SYSTEM, Role
from equipment.services import alarms, clock
from equipment.storage.tables import Alarm, Notification
from tests import factories as f

pytestmark = pytest.mark.integration

OUTCOME = {
    "people_released": 3,
    "injuries": 1,
    "release_method": "manual_winding",
    "cause": "power_failure",
    "rescuers": ["王师傅", "李师傅"],
    "note": "停电困人，盘车放人",
}


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
        "b": await f.token(Role.MAINTENANCE, w["b"]),
        "owner": await f.token(Role.USER_UNIT, w["owner"]),
    }
    w["unit"] = await f.unit(w["owner"], maintenance_company_id=w["a"])
    return w


async def entrapment(unit, *, until: str | None = "finish", kind: str = "entrapment") -> int:
    """An alarm raised 20 minutes back, its response taken up to step ``until``."""
    now = clock.now()
    raised = now - timedelta(minutes=20)
    row = await alarms.raise_alarm(
        SYSTEM, unit["id"], kind=kind, raised_at=raised, source="manual", now=now
    )
    for minutes, step in ((2, "acknowledge"), (12, "arrive"), (15, "finish")):
        if until is None:
            break
        await alarms.respond(SYSTEM, row.id, step, at=raised + timedelta(minutes=minutes), now=now)
        if step == until:
            break
    return row.id


async def test_the_outcome_closes_the_finished_entrapment_and_is_announced(client, world):
    w = world
    alarm_id = await entrapment(w["unit"])
    url = f"/api/v1/alarms/{alarm_id}/outcome"
    assert (await client.get(url, headers=w["tokens"]["a"])).status_code == 404

    response = await client.post(url, json=OUTCOME, headers=w["tokens"]["a"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["people_released"] == 3 and body["injuries"] == 1 and body["fatalities"] == 0
    assert body["release_method_label"] == "手动盘车至平层放人"  # zh-CN by default
    assert body["cause_label"] == "停电"
    assert body["rescuers"] == ["王师傅", "李师傅"]
    assert body["recorded_by_organisation_id"] == w["a"]

    [alarm] = await Alarm.select(Alarm.state, Alarm.closed_at).where(Alarm.id == alarm_id)
    assert alarm["state"] == "closed" and alarm["closed_at"] is not None
    events = await Notification.select(Notification.event).where(Notification.alarm == alarm_id)
    assert "alarm.closed" in {e["event"] for e in events}
    timeline = await client.get(f"/api/v1/alarms/{alarm_id}/timeline", headers=w["tokens"]["a"])
    assert timeline.status_code == 200
    assert [e["what"] for e in timeline.json()["events"]][-1] == "outcome"

    # The owner reads it (in English when asked); another company does not find it.
    english = await client.get(url, headers={**w["tokens"]["owner"], "Accept-Language": "en"})
    assert english.status_code == 200
    assert english.json()["cause_label"] == "Power failure"
    assert (await client.get(url, headers=w["tokens"]["b"])).status_code == 404
    # Once only.
    again = await client.post(url, json=OUTCOME, headers=w["tokens"]["a"])
    assert again.status_code == 409


async def test_only_a_finished_entrapment_takes_an_outcome(client, world):
    w = world
    for until, kind in (("arrive", "entrapment"), ("finish", "alarm_button")):
        unit = await f.unit(w["owner"], maintenance_company_id=w["a"])
        alarm_id = await entrapment(unit, until=until, kind=kind)
        response = await client.post(
            f"/api/v1/alarms/{alarm_id}/outcome", json=OUTCOME, headers=w["tokens"]["a"]
        )
        assert response.status_code == 409, (until, kind, response.text)
        [alarm] = await Alarm.select(Alarm.state).where(Alarm.id == alarm_id)
        assert alarm["state"] == "open"


async def test_a_wrong_outcome_is_refused_with_its_field(client, world):
    """A few through HTTP (the domain's unit tests cover every rule): the field is named,
    and the alarm stays open."""
    w = world
    alarm_id = await entrapment(w["unit"])
    for change, field in (
        ({"injuries": 3, "fatalities": 1}, "injuries"),
        ({"release_method": "teleported"}, "release_method"),
        ({"rescuers": ["  "]}, "rescuers"),
        ({"people_released": 101}, "people_released"),
        ({"note": "长" * 2001}, "note"),  # the schema's length bound
    ):
        response = await client.post(
            f"/api/v1/alarms/{alarm_id}/outcome",
            json={**OUTCOME, **change},
            headers=w["tokens"]["a"],
        )
        assert response.status_code in (400, 422), (change, response.text)
        assert field in response.text
    [alarm] = await Alarm.select(Alarm.state).where(Alarm.id == alarm_id)
    assert alarm["state"] == "open"


async def test_people_who_freed_themselves_need_no_rescuer(client, world):
    w = world
    alarm_id = await entrapment(w["unit"])
    response = await client.post(
        f"/api/v1/alarms/{alarm_id}/outcome",
        json={**OUTCOME, "injuries": 0, "rescuers": [], "release_method": "self_released"},
        headers=w["tokens"]["a"],
    )
    assert response.status_code == 201, response.text
