"""Nothing a client sends produces a 500: property-based bodies and query strings."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from equipment.domain.access import Role
from tests import factories as f

pytestmark = pytest.mark.integration
# These tests read the English message ids (the default answer language is Chinese).
ACCEPT_LANGUAGE = "en"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [
    "category",
    "district_code",
    "user_unit_id",
    "registration_code",
    "equipment_code",
    "manufacture_date",
    "commissioning_date",
    "longitude",
    "latitude",
    "parameters",
    "registered_on",
    "maintenance_company_id",
    "owning_station_id",
    "certificate_no",
]
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
async def ctx(engine):
    owner = await f.organisation("user_unit")
    return {"owner": owner["id"], "admin": await f.token(Role.ADMIN)}


@SETTINGS
@given(changes=st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4))
async def test_equipment_bodies_never_crash(client, ctx, changes):
    body = {**f.unit_body(ctx["owner"]), **changes}
    response = await client.post("/api/v1/equipment", json=body, headers=ctx["admin"])
    assert response.status_code in (201, 400, 409, 422), response.text
    if response.status_code >= 400:
        assert response.json()["detail"]


@SETTINGS
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "category",
                "category_prefix",
                "district",
                "status",
                "q",
                "sort",
                "cursor",
                "limit",
                "user_unit_id",
            ]
        ),
        st.text(max_size=30) | st.just("\x00"),
        max_size=4,
    )
)
async def test_list_queries_never_crash(client, ctx, params):
    response = await client.get("/api/v1/equipment", params=params, headers=ctx["admin"])
    assert response.status_code in (200, 400, 422), response.text


@SETTINGS
@given(raw=st.binary(max_size=200))
async def test_garbage_bytes_are_a_400(client, ctx, raw):
    response = await client.post(
        "/api/v1/equipment",
        content=raw,
        headers={**ctx["admin"], "Content-Type": "application/json"},
    )
    assert response.status_code in (400, 422), response.text


@SETTINGS
@given(code=st.text(max_size=40))
async def test_public_lookup_never_crashes(client, ctx, code):
    response = await client.get(f"/api/v1/public/equipment/{quote(code, safe='')}")
    assert response.status_code in (200, 400, 404), response.text
