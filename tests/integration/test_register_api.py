"""The register over HTTP against real databases: create, read, edit, list."""

from __future__ import annotations

import asyncio
import json
import warnings
from datetime import timedelta

import pytest

from equipment.domain.access import Role
from equipment.storage.tables import AuditEntry
from tests import factories as f

pytestmark = pytest.mark.integration
# These tests read the English message ids (the default answer language is Chinese).
ACCEPT_LANGUAGE = "en"


@pytest.fixture
async def world(engine):
    """An admin, one user unit and one maintenance company with tokens."""
    owner = await f.organisation("user_unit")
    company = await f.organisation("maintenance_company")
    return {
        "owner": owner,
        "company": company,
        "admin": await f.token(Role.ADMIN),
        "owner_token": await f.token(Role.USER_UNIT, owner["id"]),
    }


async def test_admin_creates_a_pending_unit_and_reads_it_back(client, world):
    body = f.unit_body(world["owner"]["id"], maintenance_company_id=world["company"]["id"])
    created = await client.post("/api/v1/equipment", json=body, headers=world["admin"])
    assert created.status_code == 201, created.text
    unit = created.json()
    assert unit["status"] == "pending"
    assert unit["code"] == body["equipment_code"]
    assert created.headers["etag"] == '"1"'
    read = await client.get(f"/api/v1/equipment/{unit['id']}", headers=world["admin"])
    assert read.status_code == 200
    assert read.json()["parameters"]["floors"] == 18
    assert read.json()["maintenance_company_id"] == world["company"]["id"]


@pytest.mark.parametrize(
    ("override", "field", "words"),
    [
        ({"registration_code": "3110420606202613000A"}, "registration_code", "month"),
        ({"registration_code": "9999420606201601000A"}, "registration_code", "categor"),
        ({"registration_code": "3110999999201601000A"}, "registration_code", "region"),
        ({"registration_code": "31104206"}, "registration_code", "20"),
        ({"equipment_code": "3110B1001209900001"}, "equipment_code", "year"),
        ({"category": "3999"}, "category", "categor"),
        ({"district_code": "429999"}, "district_code", "region"),
        ({"parameters": {"floors": 1}}, "parameters.floors", ""),
        ({"parameters": {"flors": 5}}, "parameters.flors", ""),
        ({"longitude": 32.04, "latitude": 112.13}, "longitude", "swapped"),
        ({"longitude": 112.13, "latitude": None}, "latitude", "both"),
        ({"commissioning_date": "2014-01-01"}, "commissioning_date", "precede"),
        ({"equipment_code": None}, "equipment_code", "registration code"),
    ],
)
async def test_bad_fields_get_a_field_level_422(client, world, override, field, words):
    body = f.unit_body(world["owner"]["id"], **override)
    response = await client.post("/api/v1/equipment", json=body, headers=world["admin"])
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["extra"][0]["key"] == field
    assert words.lower() in problem["detail"].lower()


async def test_registration_code_of_another_city_is_refused(client, world):
    body = f.unit_body(
        world["owner"]["id"], registration_code=f.registration_code(district="420100")
    )
    response = await client.post("/api/v1/equipment", json=body, headers=world["admin"])
    assert response.status_code == 422
    assert "city" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"category": 3110},
        {"unknown_field": 1},
        {"user_unit_id": 2**40},
        {"address": "bad\x00text"},
        {"manufacture_date": "2015-02-30"},
        {"longitude": "east"},
    ],
)
async def test_malformed_bodies_get_400_with_the_field(client, world, body):
    response = await client.post(
        "/api/v1/equipment",
        json={**f.unit_body(world["owner"]["id"]), **body},
        headers=world["admin"],
    )
    assert response.status_code == 400, response.text
    assert response.json()["extra"], response.text


async def test_duplicate_code_is_a_conflict(client, world):
    body = f.unit_body(world["owner"]["id"])
    first = await client.post("/api/v1/equipment", json=body, headers=world["admin"])
    assert first.status_code == 201
    again = await client.post("/api/v1/equipment", json=body, headers=world["admin"])
    assert again.status_code == 409
    assert "already on the register" in again.json()["detail"]


async def test_late_registration_is_flagged(client, world):
    late = f.unit_body(
        world["owner"]["id"],
        commissioning_date="2015-09-01",
        registration_code=f.registration_code(),
        registered_on="2015-10-02",
    )
    on_time = f.unit_body(
        world["owner"]["id"],
        commissioning_date="2015-09-01",
        registration_code=f.registration_code(),
        registered_on="2015-10-01",
    )
    got_late = await client.post("/api/v1/equipment", json=late, headers=world["admin"])
    got_on_time = await client.post("/api/v1/equipment", json=on_time, headers=world["admin"])
    assert got_late.json()["late_registration"] is True
    assert got_on_time.json()["late_registration"] is False
    assert got_late.json()["status"] == "in_use"


async def test_update_needs_if_match_and_refuses_a_stale_version(client, world):
    unit = await f.unit(world["owner"]["id"])
    url = f"/api/v1/equipment/{unit['id']}"
    missing = await client.patch(url, json={"model": "X"}, headers=world["admin"])
    assert missing.status_code == 428
    ok = await client.patch(url, json={"model": "X"}, headers={**world["admin"], "If-Match": '"1"'})
    assert ok.status_code == 200, ok.text
    assert ok.headers["etag"] == '"2"'
    stale = await client.patch(
        url, json={"model": "Y"}, headers={**world["admin"], "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert (await client.get(url, headers=world["admin"])).json()["model"] == "X"


async def test_concurrent_updates_one_wins_one_gets_412(client, world):
    unit = await f.unit(world["owner"]["id"])
    url = f"/api/v1/equipment/{unit['id']}"
    headers = {**world["admin"], "If-Match": '"1"'}
    results = await asyncio.gather(
        *(client.patch(url, json={"model": f"M{i}"}, headers=headers) for i in range(5))
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 412, 412, 412, 412], [r.text for r in results]
    winner = next(r for r in results if r.status_code == 200).json()["model"]
    assert (await client.get(url, headers=world["admin"])).json()["model"] == winner


async def test_every_change_is_in_the_append_only_audit_trail(client, world, engine):
    unit = await f.unit(world["owner"]["id"])
    url = f"/api/v1/equipment/{unit['id']}"
    await client.patch(url, json={"model": "New"}, headers={**world["admin"], "If-Match": '"1"'})
    trail = (await client.get(f"{url}/audit", headers=world["admin"])).json()
    assert [e["action"] for e in trail] == ["create", "update"]
    assert trail[1]["before"] == {
        "model": "KONE-3000",
        "version": 1,
        "updated_at": trail[1]["before"]["updated_at"],
    }
    assert trail[1]["after"]["model"] == "New"
    assert trail[1]["actor"].startswith("token:")
    with pytest.raises(Exception, match="append-only"):
        await AuditEntry.update({AuditEntry.action: "forged"}).where(AuditEntry.id > 0)
    with pytest.raises(Exception, match="append-only"):
        await AuditEntry.delete(force=True)


async def test_regulatory_fields_are_not_editable_by_the_user_unit(client, world):
    unit = await f.unit(world["owner"]["id"])
    url = f"/api/v1/equipment/{unit['id']}"
    headers = {**world["owner_token"], "If-Match": '"1"'}
    refused = await client.patch(url, json={"district_code": "420602"}, headers=headers)
    assert refused.status_code == 403
    allowed = await client.patch(url, json={"address": "新地址"}, headers=headers)
    assert allowed.status_code == 200


async def test_status_is_changed_only_through_its_actions(client, world):
    unit = await f.unit(world["owner"]["id"])
    response = await client.patch(
        f"/api/v1/equipment/{unit['id']}",
        json={"status": "scrapped"},
        headers={**world["admin"], "If-Match": '"1"'},
    )
    assert response.status_code == 400  # not a field of the update body


async def test_list_filters_and_text_search(client, world):
    other = await f.organisation("user_unit")
    a = await f.unit(world["owner"]["id"], address="湖北省襄阳市樊城区长虹路8号")
    b = await f.unit(
        other["id"],
        category="3310",
        district_code="420602",
        address="襄城区檀溪路2号",
        parameters={"drive": "escalator", "rated_speed_mps": 0.5},
    )
    pending = await f.unit(world["owner"]["id"], registered=False)
    admin = world["admin"]

    async def codes(query: str) -> list[str]:
        response = await client.get(f"/api/v1/equipment?{query}", headers=admin)
        assert response.status_code == 200, response.text
        return [u["code"] for u in response.json()["items"]]

    assert await codes("district=420602") == [b["code"]]
    assert await codes("category=3310") == [b["code"]]
    assert await codes("category_prefix=31") == [a["code"], pending["code"]]
    assert await codes("status=pending") == [pending["code"]]
    assert await codes(f"user_unit_id={other['id']}") == [b["code"]]
    assert await codes("q=檀溪") == [b["code"]]
    assert await codes(f"q={a['code'][:12]}") == [a["code"]]
    assert await codes("q=%25") == await codes("")  # a wildcard is text, not a pattern
    bad = await client.get("/api/v1/equipment?sort=address", headers=admin)
    assert bad.status_code == 422 and bad.json()["extra"][0]["key"] == "sort"


async def test_text_search_ignores_letter_case_on_both_engines(client, world):
    # ILIKE on PostgreSQL, LIKE on SQLite (which ignores ASCII case itself): no engine
    # falls back with a warning in the server's log.
    unit = await f.unit(world["owner"]["id"], address="襄阳市 Wanda Plaza B座")
    named = await f.organisation("maintenance_company", name="Hanjiang Lift Service 汉江电梯")
    admin = world["admin"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        units = await client.get("/api/v1/equipment", params={"q": "wanda plaza"}, headers=admin)
        by_name = await client.get(
            "/api/v1/organisations", params={"q": "hanjiang lift"}, headers=admin
        )
        by_code = await client.get(
            "/api/v1/organisations", params={"q": named["credit_code"][:6].lower()}, headers=admin
        )
    assert [u["code"] for u in units.json()["items"]] == [unit["code"]]
    assert named["id"] in [o["id"] for o in by_name.json()["items"]]
    assert named["id"] in [o["id"] for o in by_code.json()["items"]]
    assert not [w for w in caught if "ILIKE" in str(w.message)]


@pytest.mark.parametrize("sort", ["id", "-id", "code", "-code", "updated_at", "-updated_at"])
async def test_keyset_pages_are_complete_and_stable_under_inserts(client, world, sort):
    for _ in range(23):
        await f.unit(world["owner"]["id"])
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        query = f"sort={sort}&limit=5" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(f"/api/v1/equipment?{query}", headers=world["admin"])).json()
        seen += [u["id"] for u in page["items"]]
        pages += 1
        if pages == 2:
            # Rows added mid-walk never make a page repeat or skip what existed before.
            await f.unit(world["owner"]["id"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert set(range(1, 24)) <= set(seen)
    assert pages >= 5


async def test_a_forged_cursor_is_a_422(client, world):
    response = await client.get("/api/v1/equipment?cursor=bm9wZQ", headers=world["admin"])
    assert response.status_code == 422
    assert response.json()["extra"][0]["key"] == "cursor"


async def test_limit_is_bounded(client, world):
    response = await client.get("/api/v1/equipment?limit=100000", headers=world["admin"])
    assert response.status_code == 400


async def test_huge_ids_are_a_404_or_400_never_a_500(client, world):
    for url in (
        "/api/v1/equipment/9223372036854775807",
        "/api/v1/equipment/99999999999999999999",
        "/api/v1/equipment/0",
        "/api/v1/organisations/2147483648",
    ):
        response = await client.get(url, headers=world["admin"])
        assert response.status_code in (400, 404), (url, response.status_code)


async def test_organisation_credit_code_checksum_and_licence(client, world):
    body = {
        "kind": "maintenance_company",
        "credit_code": f.credit_code(),
        "name": "维保公司",
        "licence_no": "TS3142001",
        "licence_valid_until": str(f.today() + timedelta(days=30)),
    }
    created = await client.post("/api/v1/organisations", json=body, headers=world["admin"])
    assert created.status_code == 201, created.text
    broken = dict(
        body,
        credit_code=body["credit_code"][:-1] + ("0" if body["credit_code"][-1] != "0" else "1"),
    )
    refused = await client.post("/api/v1/organisations", json=broken, headers=world["admin"])
    assert refused.status_code == 422 and refused.json()["extra"][0]["key"] == "credit_code"
    unlicensed = dict(body, credit_code=f.credit_code(), licence_no=None)
    refused = await client.post("/api/v1/organisations", json=unlicensed, headers=world["admin"])
    assert refused.status_code == 422 and refused.json()["extra"][0]["key"] == "licence_no"


async def test_the_admin_sets_a_user_units_hazardous_chemicals_fact(client, world):
    """A GB 45067 risk factor of a user unit's equipment: set on create and edit by the
    admin only, audited like the other organisation edits, refused for other kinds."""
    body = {"kind": "user_unit", "credit_code": f.credit_code(), "name": "襄阳化工厂"}
    admin = world["admin"]
    created = await client.post(
        "/api/v1/organisations", json={**body, "hazardous_chemicals": True}, headers=admin
    )
    assert created.status_code == 201, created.text
    org = created.json()
    assert org["hazardous_chemicals"] is True
    plain = await client.get(f"/api/v1/organisations/{world['owner']['id']}", headers=admin)
    assert plain.json()["hazardous_chemicals"] is False
    url = f"/api/v1/organisations/{org['id']}"
    cleared = await client.patch(
        url, json={"hazardous_chemicals": False}, headers={**admin, "If-Match": '"1"'}
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["hazardous_chemicals"] is False
    assert (await client.get(url, headers=admin)).json()["hazardous_chemicals"] is False
    trail = (
        await AuditEntry.select(AuditEntry.action, AuditEntry.before, AuditEntry.after)
        .where((AuditEntry.entity == "organisation") & (AuditEntry.entity_id == org["id"]))
        .order_by(AuditEntry.id)
    )
    assert [e["action"] for e in trail] == ["create", "update"]
    before, after = (
        json.loads(v) if isinstance(v, str) else v for v in (trail[1]["before"], trail[1]["after"])
    )
    assert before["hazardous_chemicals"] is True and after["hazardous_chemicals"] is False
    # The user unit itself may edit its contact details, not this fact.
    own = f"/api/v1/organisations/{world['owner']['id']}"
    refused = await client.patch(
        own, json={"hazardous_chemicals": True}, headers={**world["owner_token"], "If-Match": '"1"'}
    )
    assert refused.status_code == 403
    # Only a user unit can be one.
    company = f"/api/v1/organisations/{world['company']['id']}"
    wrong = await client.patch(
        company, json={"hazardous_chemicals": True}, headers={**admin, "If-Match": '"1"'}
    )
    assert wrong.status_code == 422 and wrong.json()["extra"][0]["key"] == "hazardous_chemicals"
    made = await client.post(
        "/api/v1/organisations",
        json={
            "kind": "maintenance_company",
            "credit_code": f.credit_code(),
            "name": "维保公司",
            "licence_no": "TS3142001",
            "licence_valid_until": str(f.today() + timedelta(days=30)),
            "hazardous_chemicals": True,
        },
        headers={**admin, "Accept-Language": "zh-CN"},
    )
    assert made.status_code == 422 and "只有使用单位" in made.json()["detail"]
