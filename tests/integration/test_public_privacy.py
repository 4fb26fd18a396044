"""No personal field ever reaches the public: every unit of the demo city, through the JSON
lookup and the page, on both engines."""

from __future__ import annotations

import json

import pytest

from equipment.demo.load import load_demo_city
from equipment.services import clock
from equipment.storage.tables import Equipment, Organisation
from tests import factories as f

pytestmark = pytest.mark.integration

# Keys that would name a person or reach one (the maintenance company's published service
# line is an organisation's and is allowed).
PERSONAL_KEYS = ("contact", "certificate", "technician", "operator", "signed_off", "actor")


def _personal_values(orgs: list[dict], units: list[dict]) -> set[str]:
    values = {o["contact_name"] for o in orgs} | {o["contact_phone"] for o in orgs}
    values |= {u["certificate_no"] for u in units if u["certificate_no"]}
    return {v for v in values if v and len(v) >= 2}


async def test_no_personal_field_over_the_whole_demo_city(client, engine):
    await load_demo_city(
        seed=7, units=250, today=clock.today(), now=clock.now(), show_progress=False
    )
    orgs = await Organisation.select(Organisation.contact_name, Organisation.contact_phone)
    units = await Equipment.select(Equipment.code, Equipment.certificate_no)
    secrets = _personal_values(orgs, units)
    # 250 generated units and the showcase ones (a major repair, entrusted and taxi cylinders).
    assert len(units) >= 250 and len(secrets) > 100  # the check has something to find
    states: set[str] = set()
    for unit in units:
        answer = await client.get(f"/api/v1/public/equipment/{unit['code']}")
        assert answer.status_code == 200
        body = answer.json()
        states.add(body["safety_state"])
        keys = json.dumps(sorted(body)).lower()
        assert not any(word in keys for word in PERSONAL_KEYS), body
        page = await client.get(f"/p/{unit['code']}?lang=en")
        assert page.status_code == 200
        for text in (answer.text, page.text):
            leaked = [s for s in secrets if s in text]
            assert not leaked, (unit["code"], leaked)
    # The demo city exercises more than the happy path.
    assert {"in_use", "inspection_overdue"} <= states


async def test_a_persons_details_on_an_organisation_stay_private(client, engine):
    owner = await f.organisation("user_unit", name="岘山物业")
    company = await f.organisation("maintenance_company", name="鹿门电梯工程有限公司")
    unit = await f.unit(owner["id"], maintenance_company_id=company["id"])
    for path in (f"/api/v1/public/equipment/{unit['code']}", f"/p/{unit['code']}"):
        text = (await client.get(path)).text
        assert "岘山物业" in text and "鹿门电梯工程有限公司" in text
        assert "张伟" not in text and "13800000000" not in text
