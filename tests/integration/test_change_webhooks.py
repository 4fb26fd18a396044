"""The register's changes reach the webhooks subscribed to them (互联互通, issue 23): through
the one webhook module of the alarms, signed, within each subscriber's scope, retried,
dead-lettered after five failures and redelivered on request."""

from __future__ import annotations

import asyncio
import time

import pytest

from equipment.domain.access import Role
from equipment.services import clock, notify_worker
from equipment.settings import NotifySettings
from tests import factories as f
from tests import webhook_receiver
from tests.integration.test_changes_feed import on_trail, replay
from tests.integration.test_webhooks import FAST, endpoint

pytestmark = pytest.mark.integration


@pytest.fixture
def boot(configure):
    return configure(notify=NotifySettings(allow_private=webhook_receiver.ALLOW))


@pytest.fixture
def receiver():
    r = webhook_receiver.Receiver()
    server, url = webhook_receiver.start(r)
    r.url = url  # type: ignore[attr-defined]
    yield r
    server.shutdown()


@pytest.fixture
async def world(engine, client, receiver):
    owner = (await f.organisation("user_unit"))["id"]
    company = (await f.organisation("maintenance_company"))["id"]
    other = (await f.organisation("maintenance_company"))["id"]
    return {
        "owner": owner,
        "company": company,
        "other": other,
        "tokens": {
            "admin": await f.token(Role.ADMIN),
            "company": await f.token(Role.MAINTENANCE, company),
            "inspector": await f.token(
                Role.INSPECTOR, (await f.organisation("inspection_body"))["id"]
            ),
        },
    }


async def work_until(predicate, *, what: str, within: float = 30) -> None:
    """Worker passes in this process until ``predicate()``: the signal is the receiver's
    state (retries are immediate: FAST has no backoff). An idle pass waits a little: on
    PostgreSQL the feed is held back while any transaction of the cluster runs."""
    deadline = time.monotonic() + within
    async with notify_worker.client_for(FAST) as http:
        while not predicate():
            assert time.monotonic() < deadline, f"{what} never happened"
            if not await notify_worker.work_once(http, FAST):
                await asyncio.sleep(0.05)


async def test_changes_reach_the_subscriber_once_through_three_failures(client, world, receiver):
    w = world
    made = await endpoint(
        client,
        w["tokens"]["company"],
        receiver,
        "/company",
        changes="register,inspection,status",
        alarms=False,
    )
    assert made["endpoint"]["changes"] == "register,inspection,status"
    assert made["endpoint"]["alarms"] is False
    receiver.fail_first["/company"] = 3
    mine = await f.unit(w["owner"], maintenance_company_id=w["company"])
    theirs = await f.unit(w["owner"], maintenance_company_id=w["other"])
    inspected = await client.post(
        f"/api/v1/equipment/{mine['id']}/inspections",
        json={"kind": "periodic", "inspected_on": str(clock.today()), "conclusion": "pass"},
        headers=w["tokens"]["inspector"],
    )
    assert inspected.status_code == 201, inspected.text
    # The company's own unit's changes: its creation and the inspection (the feed's count).
    feed, _ = await replay(
        client, w["tokens"]["company"], limit=500, at_least=await on_trail(mine["id"])
    )
    expected = [c["cursor"] for c in feed]
    assert len(expected) >= 2

    def all_accepted() -> bool:
        return len(receiver.accepted_keys("/company")) >= len(expected)

    await work_until(all_accepted, what="every change delivered")
    failed = [r for r in receiver.got if r.status == 500]
    assert len(failed) == 3 and all(r.signed for r in receiver.got)
    accepted = [r for r in receiver.got if r.status == 200]
    # Each change once: retried deliveries keep their key, and a change is fanned out once.
    assert len(accepted) == len({r.key for r in accepted}) == len(expected)
    assert sorted(r.body["change"]["cursor"] for r in accepted) == sorted(expected)
    assert {r.body["change"]["equipment_id"] for r in accepted} == {mine["id"]}
    assert theirs["id"] not in {r.body["change"]["equipment_id"] for r in receiver.got}
    assert {r.body["event"] for r in accepted} >= {"change.register", "change.inspection"}
    assert all(r.body["change"]["actor"] is None for r in accepted)

    # Nothing more to tell: further passes deliver nothing again.
    before = len(receiver.got)
    async with notify_worker.client_for(FAST) as http:
        await notify_worker.work_once(http, FAST)
    assert len(receiver.got) == before


async def test_a_change_dead_after_five_failures_is_redelivered_on_request(client, world, receiver):
    w = world
    made = await endpoint(
        client, w["tokens"]["admin"], receiver, "/desk", district_code="420606", changes="status"
    )
    hook = made["endpoint"]["id"]
    receiver.fail_first["/desk"] = 5
    unit = await f.unit(w["owner"], registered=False)
    registered = await client.post(
        f"/api/v1/equipment/{unit['id']}/register",
        json={"registration_code": f.registration_code(), "registered_on": str(clock.today())},
        headers=w["tokens"]["admin"],
    )
    assert registered.status_code == 200, registered.text

    await work_until(lambda: len(receiver.got) >= 5, what="five attempts")
    dead = await client.get(
        f"/api/v1/webhooks/{hook}/deliveries?state=dead", headers=w["tokens"]["admin"]
    )
    [letter] = dead.json()
    assert letter["attempts"] == 5 and letter["last_status"] == 500
    assert letter["change_id"] is not None and letter["notification_id"] == 0
    assert receiver.accepted_keys("/desk") == []

    again = await client.post(
        f"/api/v1/webhooks/{hook}/redeliver", json={}, headers=w["tokens"]["admin"]
    )
    assert again.json() == {"redelivered": 1}
    await work_until(lambda: receiver.accepted_keys("/desk") != [], what="the redelivery")
    [key] = receiver.accepted_keys("/desk")
    assert key == letter["idempotency_key"]
    [got] = [r for r in receiver.got if r.status == 200]
    assert got.body["event"] == "change.status"
    assert got.body["change"]["action"] == "register"


async def test_an_endpoint_told_of_nothing_is_refused(client, world, receiver):
    response = await client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url + "/none", "alarms": False},
        headers=world["tokens"]["company"],
    )
    assert response.status_code == 422
    bad = await client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url + "/x", "changes": "register,alarms"},
        headers=world["tokens"]["company"],
    )
    assert bad.status_code == 422
