"""The public lookup (the QR code on a lift): the safety state told plainly, organisations
only, no token needed."""

from __future__ import annotations

import pytest

from tests import factories as f

pytestmark = pytest.mark.integration
# These tests read the English message ids (the default answer language is Chinese).
ACCEPT_LANGUAGE = "en"

PUBLIC_FIELDS = {
    "code",
    "category",
    "category_name",
    "address",
    "safety_state",
    "safety_label",
    "safety_reason",
    "safety_since",
    "safe_to_use",
    "conditions",
    "status",
    "status_label",
    "registered",
    "next_inspection_due",
    "inspection_overdue",
    "last_inspection_on",
    "last_inspection_conclusion",
    "last_inspection_conclusion_label",
    "user_unit",
    "maintenance_company",
    "maintenance_company_phone",
    "last_maintenance_on",
    "filling_station",
    "end_of_service_life",
    "emergency_number",
    "lang",
}


@pytest.fixture
async def unit(engine):
    owner = await f.organisation("user_unit", name="某某小区物业")
    company = await f.organisation("maintenance_company", name="汉江电梯工程有限公司")
    return await f.unit(owner["id"], maintenance_company_id=company["id"])


async def test_public_fields_only_and_never_personal_data(client, unit):
    response = await client.get(f"/api/v1/public/equipment/{unit['code']}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PUBLIC_FIELDS
    assert body["maintenance_company"] == "汉江电梯工程有限公司"
    assert body["user_unit"] == "某某小区物业"  # an organisation's name is public
    assert body["registered"] is True and body["status"] == "in_use"
    assert body["emergency_number"] == "96333"
    text = response.text
    # The factories give every organisation contact 张伟 / 13800000000: a person.
    for secret in ("13800000000", "张伟", "version", "credit_code", "contact"):
        assert secret not in text


async def test_lookup_by_either_code_in_any_case(client, unit):
    by_equipment_code = await client.get(
        f"/api/v1/public/equipment/{unit['equipment_code'].lower()}"
    )
    assert by_equipment_code.status_code == 200
    assert by_equipment_code.json()["code"] == unit["registration_code"]


async def test_unknown_code_is_404_with_a_reason(client, unit):
    response = await client.get(
        "/api/v1/public/equipment/31104206062099019999", headers={"Accept-Language": "en"}
    )
    assert response.status_code == 404
    assert "is on the register" in response.json()["detail"]


async def test_pending_unit_is_shown_as_not_registered(client, engine):
    owner = await f.organisation("user_unit")
    pending = await f.unit(owner["id"], registered=False)
    body = (await client.get(f"/api/v1/public/equipment/{pending['code']}")).json()
    assert body["registered"] is False and body["maintenance_company"] is None
    # Made in 2015 and never registered: it may also be overdue, which ranks above.
    assert "not_registered" in [c["state"] for c in body["conditions"]]
    assert body["safe_to_use"] is False


async def test_openapi_documents_the_api(client, engine):
    schema = (await client.get("/schema/openapi.json")).json()
    paths = set(schema["paths"])
    for path in (
        "/api/v1/equipment",
        "/api/v1/equipment/{equipment_id}",
        "/api/v1/equipment/{equipment_id}/suspend",
        "/api/v1/equipment/{equipment_id}/qr.svg",
        "/api/v1/citizen-reports",
        "/api/v1/organisations",
        "/api/v1/public/equipment/{code}",
        "/api/v1/tokens",
    ):
        assert path in paths
    assert "/p/{code}" not in paths  # pages are not API operations
    assert (await client.get("/schema/swagger")).status_code == 200
