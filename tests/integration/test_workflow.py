"""The registration workflow over HTTP: every transition, allowed and refused, with history."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from equipment.domain.access import Role
from equipment.storage.tables import Equipment
from tests import factories as f

pytestmark = pytest.mark.integration
# These tests read the English message ids (the default answer language is Chinese).
ACCEPT_LANGUAGE = "en"
DAY = timedelta(days=1)


@pytest.fixture
async def ctx(engine):
    owner = await f.organisation("user_unit")
    return {
        "owner": owner["id"],
        "other_owner": (await f.organisation("user_unit"))["id"],
        "company": (await f.organisation("maintenance_company"))["id"],
        "admin": await f.token(Role.ADMIN),
    }


def action_body(action: str, ctx, on: date | None = None) -> dict:
    on = on or f.today()
    return {
        "register": {"registration_code": f.registration_code(), "registered_on": str(on)},
        "suspend": {"suspended_from": str(on), "notified_on": str(on), "reason": "停用"},
        "resume": {"resumed_on": str(on)},
        "scrap": {"on": str(on), "reason": "报废"},
        "cancel": {"on": str(on), "reason": "迁出"},
        "transfer": {"user_unit_id": ctx["other_owner"], "on": str(on)},
        "change-maintainer": {"maintenance_company_id": ctx["company"], "on": str(on)},
    }[action]


async def unit_in(status: str, ctx, client) -> int:
    """A unit brought to ``status`` through the API itself."""
    unit = await f.unit(
        ctx["owner"], registered=status != "pending", registered_on=str(f.today() - 400 * DAY)
    )
    path = {
        "pending": [],
        "in_use": [],
        "suspended": ["suspend"],
        "scrapped": ["scrap"],
        "cancelled": ["cancel"],
    }[status]
    for action in path:
        response = await client.post(
            f"/api/v1/equipment/{unit['id']}/{action}",
            json=action_body(action, ctx, f.today() - 10 * DAY),
            headers=ctx["admin"],
        )
        assert response.status_code == 200, response.text
    return unit["id"]


ALLOWED = {
    ("pending", "register"): "in_use",
    ("pending", "scrap"): "scrapped",
    ("pending", "transfer"): "pending",
    ("pending", "change-maintainer"): "pending",
    ("in_use", "suspend"): "suspended",
    ("in_use", "scrap"): "scrapped",
    ("in_use", "cancel"): "cancelled",
    ("in_use", "transfer"): "in_use",
    ("in_use", "change-maintainer"): "in_use",
    ("suspended", "resume"): "in_use",
    ("suspended", "scrap"): "scrapped",
    ("suspended", "cancel"): "cancelled",
    ("suspended", "transfer"): "suspended",
    ("suspended", "change-maintainer"): "suspended",
}
STATUSES = ("pending", "in_use", "suspended", "scrapped", "cancelled")
ACTIONS = ("register", "suspend", "resume", "scrap", "cancel", "transfer", "change-maintainer")


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", ACTIONS)
async def test_each_transition_is_allowed_or_refused(client, ctx, status, action):
    unit_id = await unit_in(status, ctx, client)
    before = (await client.get(f"/api/v1/equipment/{unit_id}", headers=ctx["admin"])).json()
    response = await client.post(
        f"/api/v1/equipment/{unit_id}/{action}", json=action_body(action, ctx), headers=ctx["admin"]
    )
    after = (await client.get(f"/api/v1/equipment/{unit_id}", headers=ctx["admin"])).json()
    history = (
        await client.get(f"/api/v1/equipment/{unit_id}/status-history", headers=ctx["admin"])
    ).json()
    if (status, action) in ALLOWED:
        assert response.status_code == 200, response.text
        assert after["status"] == ALLOWED[(status, action)]
        assert after["version"] == before["version"] + 1
        assert history[-1]["action"] == action.replace("-", "_")
        assert history[-1]["from_status"] == status
        assert history[-1]["to_status"] == after["status"]
    else:
        assert response.status_code == 409, response.text
        assert f"cannot {action.replace('-', '_')}" in response.json()["detail"]
        assert after == before
        assert len(history) == len(
            [s for s in ("suspended", "scrapped", "cancelled") if s == status]
        )


async def test_scrapped_code_can_never_be_registered_again(client, ctx):
    unit_id = await unit_in("scrapped", ctx, client)
    scrapped = (await client.get(f"/api/v1/equipment/{unit_id}", headers=ctx["admin"])).json()
    again = f.unit_body(
        ctx["owner"],
        registration_code=scrapped["registration_code"],
        equipment_code=f.equipment_code(),
        registered_on=str(f.today()),
    )
    response = await client.post("/api/v1/equipment", json=again, headers=ctx["admin"])
    assert response.status_code == 409
    assert "scrapped" in response.json()["detail"]
    same_equipment = f.unit_body(ctx["owner"], equipment_code=scrapped["equipment_code"])
    response = await client.post("/api/v1/equipment", json=same_equipment, headers=ctx["admin"])
    assert response.status_code == 409
    assert "never be registered again" in response.json()["detail"]


async def test_closed_records_cannot_be_edited(client, ctx):
    unit_id = await unit_in("cancelled", ctx, client)
    response = await client.patch(
        f"/api/v1/equipment/{unit_id}",
        json={"model": "X"},
        headers={**ctx["admin"], "If-Match": '"2"'},
    )
    assert response.status_code == 409


async def test_register_checks_lateness_and_makes_the_code_the_key(client, ctx):
    pending = await f.unit(ctx["owner"], registered=False, commissioning_date="2015-09-01")
    code = f.registration_code()
    response = await client.post(
        f"/api/v1/equipment/{pending['id']}/register",
        json={
            "registration_code": code,
            "registered_on": str(f.today()),
            "certificate_no": "梯11鄂F3622(25)",
        },
        headers=ctx["admin"],
    )
    assert response.status_code == 200, response.text
    unit = response.json()
    assert unit["code"] == code and unit["late_registration"] is True
    assert unit["certificate_no"] == "梯11鄂F3622(25)"


async def test_dates_in_the_future_or_before_the_status_are_refused(client, ctx):
    unit_id = await unit_in("in_use", ctx, client)
    future = await client.post(
        f"/api/v1/equipment/{unit_id}/scrap",
        json={"on": str(f.today() + DAY), "reason": "x"},
        headers=ctx["admin"],
    )
    assert future.status_code == 422 and future.json()["extra"][0]["key"] == "on"
    past = await client.post(
        f"/api/v1/equipment/{unit_id}/scrap",
        json={"on": "2000-01-01", "reason": "x"},
        headers=ctx["admin"],
    )
    assert past.status_code == 422 and "before the current status" in past.json()["detail"]


@pytest.mark.parametrize(
    ("planned_days", "notice_after_days", "late"),
    [(365, 31, True), (365, 30, False), (364, 60, False), (None, 31, True), (None, 0, False)],
)
async def test_long_suspension_notice_within_30_days(
    client, ctx, planned_days, notice_after_days, late
):
    unit_id = await unit_in("in_use", ctx, client)
    start = f.today() - timedelta(days=notice_after_days)
    body = {"suspended_from": str(start), "notified_on": str(f.today()), "reason": "停用"}
    if planned_days is not None:
        body["planned_until"] = str(start + timedelta(days=planned_days))
    response = await client.post(
        f"/api/v1/equipment/{unit_id}/suspend", json=body, headers=ctx["admin"]
    )
    assert response.status_code == 200, response.text
    assert response.json()["late_suspension_notice"] is late


@pytest.mark.parametrize(("due_offset", "needed"), [(-1, True), (0, False), (30, False)])
async def test_resume_flags_a_lapsed_inspection(client, ctx, due_offset, needed):
    unit_id = await unit_in("suspended", ctx, client)
    # Due dates arrive with the inspection rules; set one directly to exercise resume.
    await Equipment.update(
        {Equipment.next_inspection_due: f.today() + timedelta(days=due_offset)}
    ).where(Equipment.id == unit_id)
    response = await client.post(
        f"/api/v1/equipment/{unit_id}/resume",
        json={"resumed_on": str(f.today())},
        headers=ctx["admin"],
    )
    assert response.status_code == 200
    assert response.json()["needs_inspection_before_resume"] is needed


async def test_transition_with_a_stale_if_match_is_412(client, ctx):
    unit_id = await unit_in("in_use", ctx, client)
    response = await client.post(
        f"/api/v1/equipment/{unit_id}/scrap",
        json={"on": str(f.today()), "reason": "x"},
        headers={**ctx["admin"], "If-Match": '"7"'},
    )
    assert response.status_code == 412


async def test_transfer_to_the_same_owner_or_a_wrong_kind_is_refused(client, ctx):
    unit_id = await unit_in("in_use", ctx, client)
    same = await client.post(
        f"/api/v1/equipment/{unit_id}/transfer",
        json={"user_unit_id": ctx["owner"], "on": str(f.today())},
        headers=ctx["admin"],
    )
    assert same.status_code == 422
    company = await client.post(
        f"/api/v1/equipment/{unit_id}/transfer",
        json={"user_unit_id": ctx["company"], "on": str(f.today())},
        headers=ctx["admin"],
    )
    assert company.status_code == 422 and "not a user_unit" in company.json()["detail"]


async def test_the_office_refuses_an_application_with_its_reason_and_the_owner_applies_again(
    client, ctx
):
    """不予登记: pending → refused with the reason in the history, the audit trail and the
    public answer; only the registration office refuses, only pending applications; the
    applicant (its own unit only) applies again and the unit is back in the queue."""
    pending = (await f.unit(ctx["owner"], registered=False))["id"]
    in_use = await unit_in("in_use", ctx, client)
    path = f"/api/v1/equipment/{pending}"
    owner = await f.token(Role.USER_UNIT, ctx["owner"])
    stranger = await f.token(Role.USER_UNIT, ctx["other_owner"])
    reason = "设备代码与产品合格证不一致"
    body = {"on": str(f.today()), "reason": reason}

    assert (await client.post(f"{path}/refuse", json=body, headers=owner)).status_code == 403
    blank = await client.post(f"{path}/refuse", json={**body, "reason": "  "}, headers=ctx["admin"])
    assert blank.status_code == 422 and blank.json()["extra"][0]["key"] == "reason"
    missing = await client.post(f"{path}/refuse", json={"on": str(f.today())}, headers=ctx["admin"])
    assert missing.status_code == 400, missing.text
    wrong = await client.post(f"/api/v1/equipment/{in_use}/refuse", json=body, headers=ctx["admin"])
    assert wrong.status_code == 409 and "cannot refuse" in wrong.json()["detail"]

    done = await client.post(
        f"{path}/refuse", json=body, headers={**ctx["admin"], "Accept-Language": "zh-CN"}
    )
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["status_label"]) == ("refused", "不予登记")
    history = (await client.get(f"{path}/status-history", headers=ctx["admin"])).json()
    assert history[-1]["action"] == "refuse" and history[-1]["details"] == {"reason": reason}
    assert history[-1]["to_status_label"] == "Registration refused"  # this module reads en
    audit = (await client.get(f"{path}/audit", headers=ctx["admin"])).json()
    assert audit[-1]["action"] == "refuse"
    public = await client.get(
        f"/api/v1/public/equipment/{done.json()['code']}", headers={"Accept-Language": "zh-CN"}
    )
    assert public.json()["safety_state"] == "out_of_service", public.text
    assert "不予登记" in public.json()["safety_reason"]
    again = await client.post(f"{path}/refuse", json=body, headers=ctx["admin"])
    assert again.status_code == 409

    assert (await client.post(f"{path}/reapply", headers=stranger)).status_code == 404
    back = await client.post(f"{path}/reapply", headers=owner)
    assert back.status_code == 200 and back.json()["status"] == "pending", back.text
    queue = await client.get("/api/v1/equipment?status=pending", headers=ctx["admin"])
    assert pending in [u["id"] for u in queue.json()["items"]]
