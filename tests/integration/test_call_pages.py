"""The 96333 call centre's page on both engines: a call by registration code opens the
lift's entrapment alarm, a second call joins it, the list shows where the rescue stands,
and a call the form cannot place is refused next to its field in Chinese."""

from __future__ import annotations

import re

import pytest

from equipment.domain.access import SYSTEM, Role
from equipment.services import alarms, clock
from tests import factories as f

pytestmark = pytest.mark.integration


def error_of(html: str, field: str) -> str:
    match = re.search(rf'<p class="error" id="e-{field}">([^<]*)</p>', html)
    assert match, f"no error next to {field}"
    return match.group(1)


async def test_the_call_centre_takes_calls_and_follows_the_rescue(staff, engine):
    owner = (await f.organisation("user_unit"))["id"]
    company = (await f.organisation("maintenance_company"))["id"]
    lift = await f.unit(owner, maintenance_company_id=company, address="樊城区长虹路 18 号 3 栋")
    await f.unit(owner, address="襄城区檀溪路 7 号 1 单元")
    await f.unit(owner, address="襄城区檀溪路 7 号 2 单元")
    desk = await staff(Role.CALL_CENTRE)

    empty = await desk.http.get("/ui/calls")
    assert empty.status_code == 200 and "暂无来电" in empty.text
    first = await desk.post(
        "/ui/calls",
        {"registration_code": lift["code"], "callback_number": "139 0710 0001", "note": "困 2 人"},
    )
    assert first.status_code == 303, first.text
    assert first.headers["location"].startswith("/ui/calls?taken=new")
    listed = await desk.http.get(first.headers["location"])
    assert "已记录来电：已产生困人告警" in listed.text
    assert lift["code"] in listed.text and "139 0710 0001" in listed.text

    second = await desk.post(
        "/ui/calls", {"address": "长虹路 18 号", "callback_number": "13907100002"}
    )
    assert second.headers["location"].startswith("/ui/calls?taken=joined"), second.text
    found = await alarms.list_alarms(
        SYSTEM, alarms.AlarmFilter(equipment_id=lift["id"]), cursor=None, limit=10
    )
    [alarm] = found.items
    assert alarm.kind == "entrapment" and alarm.count == 2
    now = clock.now()
    await alarms.respond(SYSTEM, alarm.id, "acknowledge", at=now, now=now)
    after = await desk.http.get("/ui/calls")
    assert after.text.count(f'href="/ui/alarms#alarm-{alarm.id}"') == 2
    assert "已接警" in after.text

    unknown = await desk.post(
        "/ui/calls", {"registration_code": "31104206990000", "callback_number": "13907100003"}
    )
    assert unknown.status_code == 422
    assert "31104206990000" in error_of(unknown.text, "registration_code")
    phone = await desk.post(
        "/ui/calls", {"registration_code": lift["code"], "callback_number": "x"}
    )
    assert phone.status_code == 422 and error_of(phone.text, "callback_number")
    several = await desk.post(
        "/ui/calls", {"address": "檀溪路 7 号", "callback_number": "13907100004"}
    )
    assert several.status_code == 409 and error_of(several.text, "address")
    nothing = await desk.post("/ui/calls", {"callback_number": "13907100005"})
    assert nothing.status_code == 422 and error_of(nothing.text, "address")
