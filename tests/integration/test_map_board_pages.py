"""The map page and the live alarm board on each engine, through the staff session: the
page-side data routes answer what the bearer API answers (one function, one scope), other
organisations' alarms are 404, and the response steps need the CSRF token."""

from __future__ import annotations

import pytest

from equipment.domain.access import SYSTEM, Role
from equipment.services import alarms, areas, clock
from tests import factories
from tests.integration.test_map import AREA, BOX

pytestmark = pytest.mark.integration


async def _world():
    owner = await factories.organisation("user_unit")
    company_a = await factories.organisation("maintenance_company")
    company_b = await factories.organisation("maintenance_company")
    lift_a = await factories.unit(owner["id"], maintenance_company_id=company_a["id"])
    lift_b = await factories.unit(owner["id"], maintenance_company_id=company_b["id"])
    return company_a, company_b, lift_a, lift_b


async def test_map_page_and_its_data_are_the_sessions_scope(engine, staff, client):
    company_a, _company_b, lift_a, _lift_b = await _world()
    await areas.import_feature_collection(SYSTEM, AREA, crs="wgs84", now=clock.now())
    dispatcher = await staff(Role.MAINTENANCE, company_a["id"])
    token = await factories.token(Role.MAINTENANCE, company_a["id"])

    page = await dispatcher.http.get("/ui/map")
    assert page.status_code == 200, page.text
    assert "/static/leaflet/leaflet.js" in page.text
    # The ranking counts the caller's lifts only: company A has one of the two.
    ranking = page.text[page.text.index('id="ranking"') :]
    assert "测试小区" in ranking and "<td>1</td>" in ranking

    for path in (
        "config",
        "areas?kind=old_residential",
        f"lifts?{BOX}",
    ):
        mine = await dispatcher.http.get(f"/ui/map/data/{path}")
        api = await client.get(f"/api/v1/map/{path}", headers=token)
        assert mine.status_code == 200, mine.text
        assert mine.json() == api.json(), path
    lifts = (await dispatcher.http.get(f"/ui/map/data/lifts?{BOX}")).json()
    assert [f["properties"]["id"] for f in lifts["features"]] == [lift_a["id"]]
    old = (await dispatcher.http.get("/ui/map/data/areas?kind=old_residential")).json()
    assert old["features"][0]["properties"]["lifts"] == 1

    # Without a session: the login page, not data.
    anonymous = await client.get("/ui/map/data/config")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    # A role that reads no register (the call centre) gets no map.
    call_centre = await staff(Role.CALL_CENTRE)
    assert (await call_centre.http.get("/ui/map/data/config")).status_code == 403


async def test_alarm_board_shows_the_callers_alarms_and_acknowledges(engine, staff):
    company_a, _company_b, lift_a, lift_b = await _world()
    now = clock.now()
    mine = await alarms.raise_alarm(
        SYSTEM, lift_a["id"], kind="entrapment", raised_at=now, source="manual", now=now
    )
    theirs = await alarms.raise_alarm(
        SYSTEM, lift_b["id"], kind="entrapment", raised_at=now, source="manual", now=now
    )
    dispatcher = await staff(Role.MAINTENANCE, company_a["id"])

    board = await dispatcher.http.get("/ui/alarms")
    assert board.status_code == 200, board.text
    assert f'id="alarm-{mine.id}"' in board.text
    assert f'id="alarm-{theirs.id}"' not in board.text
    assert "困人" in board.text and 'class="clock"' in board.text
    assert f'action="/ui/alarms/{mine.id}/acknowledge"' in board.text

    # Another company's alarm: not found, by card and by button.
    assert (await dispatcher.http.get(f"/ui/alarms/{theirs.id}/card")).status_code == 404
    refused = await dispatcher.post(f"/ui/alarms/{theirs.id}/acknowledge")
    assert refused.status_code == 404
    assert (await dispatcher.post(f"/ui/alarms/{mine.id}/sneeze")).status_code == 404

    # Without the CSRF token: refused, nothing changes.
    forged = await dispatcher.http.post(f"/ui/alarms/{mine.id}/acknowledge")
    assert forged.status_code == 403
    assert (await alarms.visible(SYSTEM, mine.id)).acknowledged_at is None

    # The script's way: the token in the header; then the card offers the next step.
    done = await dispatcher.http.post(
        f"/ui/alarms/{mine.id}/acknowledge", headers={"X-CSRF-Token": dispatcher.csrf}
    )
    assert done.status_code == 303, done.text
    assert (await alarms.visible(SYSTEM, mine.id)).acknowledged_at is not None
    card = await dispatcher.http.get(f"/ui/alarms/{mine.id}/card")
    assert f'action="/ui/alarms/{mine.id}/arrive"' in card.text
    again = await dispatcher.post(f"/ui/alarms/{mine.id}/acknowledge")
    assert again.status_code == 400 and "problem" in again.text

    # An inspector sees every alarm but has no response buttons.
    inspector = await staff(Role.INSPECTOR, (await factories.organisation("inspection_body"))["id"])
    seen = (await inspector.http.get("/ui/alarms")).text
    assert f'id="alarm-{theirs.id}"' in seen and "/acknowledge" not in seen
    assert (await inspector.post(f"/ui/alarms/{theirs.id}/acknowledge")).status_code == 403
