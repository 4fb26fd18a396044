"""The changes feed (互联互通, issue 23): ordered, resumable, scoped, and never skipping a
change that commits after a later-numbered one."""

from __future__ import annotations

import asyncio
import time

import pytest

from equipment.domain.access import SYSTEM, Role
from equipment.domain.changes import parse_cursor
from equipment.services import audit, clock
from equipment.storage import unit_of_work
from equipment.storage.tables import AuditEntry
from tests import factories as f

pytestmark = pytest.mark.integration

ACCEPT_LANGUAGE = "en"


@pytest.fixture
async def world(engine):
    owner = (await f.organisation("user_unit"))["id"]
    company = (await f.organisation("maintenance_company"))["id"]
    other = (await f.organisation("maintenance_company"))["id"]
    body = (await f.organisation("inspection_body"))["id"]
    return {
        "units": [
            await f.unit(owner, maintenance_company_id=company),
            await f.unit(owner, maintenance_company_id=other),
        ],
        "tokens": {
            "admin": await f.token(Role.ADMIN),
            "company": await f.token(Role.MAINTENANCE, company),
            "other": await f.token(Role.MAINTENANCE, other),
            "inspector": await f.token(Role.INSPECTOR, body),
            "call_centre": await f.token(Role.CALL_CENTRE),
        },
    }


async def replay(
    client,
    headers,
    since: str = "",
    *,
    limit: int = 2,
    kind: str | None = None,
    at_least: int = 0,
    within: float = 30,
):
    """Every change after ``since``, page by page, until the feed comes to rest with at
    least ``at_least`` changes read; (changes, the cursor to resume from).

    The PostgreSQL feed is held back by any transaction of the cluster still running
    (other tests' too): the signal waited for is the changes themselves arriving."""
    found: list[dict] = []
    params: dict[str, str | int] = {"limit": limit}
    if kind:
        params["kind"] = kind
    deadline = time.monotonic() + within
    while True:
        response = await client.get(
            "/api/v1/changes", params={**params, "since": since}, headers=headers
        )
        assert response.status_code == 200, response.text
        page = response.json()
        found += page["items"]
        if page["next_cursor"] == since and not page["items"]:
            if len(found) >= at_least:
                return found, since
            assert time.monotonic() < deadline, f"{len(found)} of {at_least} changes came"
            await asyncio.sleep(0.05)
        since = page["next_cursor"]


async def on_trail(*unit_ids: int) -> int:
    """How many changes of these units the audit trail holds."""
    return await AuditEntry.count().where(
        AuditEntry.entity == "equipment", AuditEntry.entity_id.is_in(list(unit_ids))
    )


async def test_the_feed_replays_from_a_cursor_with_nothing_missing_or_repeated(client, world):
    w = world
    admin = w["tokens"]["admin"]
    first, cursor = await replay(
        client, admin, at_least=await on_trail(*(u["id"] for u in w["units"]))
    )
    # Each unit's creation (with its registration) is on the feed, once, in order.
    assert [c["equipment_id"] for c in first if c["action"] == "create"] == [
        u["id"] for u in w["units"]
    ]
    assert len({c["cursor"] for c in first}) == len(first)
    assert all(c["kind"] in ("register", "status") for c in first)
    assert first[0]["actor"] is not None  # the bureau sees who

    unit = w["units"][0]
    inspected = await client.post(
        f"/api/v1/equipment/{unit['id']}/inspections",
        json={"kind": "periodic", "inspected_on": str(clock.today()), "conclusion": "pass"},
        headers=w["tokens"]["inspector"],
    )
    assert inspected.status_code == 201, inspected.text
    suspended = await client.post(
        f"/api/v1/equipment/{unit['id']}/suspend",
        json={
            "suspended_from": str(clock.today()),
            "notified_on": str(clock.today()),
            "reason": "装修",
        },
        headers=admin,
    )
    assert suspended.status_code == 200, suspended.text

    later, resumed_at = await replay(client, admin, cursor, at_least=2)
    assert [(c["kind"], c["action"]) for c in later] == [
        ("inspection", "inspection"),
        ("status", "suspend"),
    ]
    assert later[1]["after"]["status"] == "suspended"
    # Read again from the start: the same changes, in the same order.
    again, end = await replay(client, admin, limit=500, at_least=len(first) + 2)
    assert [c["cursor"] for c in again] == [c["cursor"] for c in first + later]
    # At rest the cursor is the horizon; on PostgreSQL that follows the whole cluster's
    # transactions (other tests' too), so it may have moved on, never back.
    assert parse_cursor(end) >= parse_cursor(resumed_at)
    # Only the kinds asked for; the cursor still moves past the others.
    only, _ = await replay(client, admin, kind="inspection", at_least=1)
    assert [c["action"] for c in only] == ["inspection"]


async def test_the_feed_is_scoped_like_every_read(client, world):
    w = world
    mine, theirs = (u["id"] for u in w["units"])
    company, _ = await replay(
        client, w["tokens"]["company"], limit=500, at_least=await on_trail(mine)
    )
    assert company and {c["equipment_id"] for c in company} == {w["units"][0]["id"]}
    assert all(c["actor"] is None for c in company)  # which token did it: the bureau's
    other, _ = await replay(
        client, w["tokens"]["other"], limit=500, at_least=await on_trail(theirs)
    )
    assert {c["equipment_id"] for c in other} == {w["units"][1]["id"]}

    assert (await client.get("/api/v1/changes")).status_code == 401  # never the public
    refused = await client.get("/api/v1/changes", headers=w["tokens"]["call_centre"])
    assert refused.status_code == 403
    for bad in ("abc", "1-", "-1", "99999999999999999999-1"):
        response = await client.get(
            "/api/v1/changes", params={"since": bad}, headers=w["tokens"]["admin"]
        )
        assert response.status_code == 400, bad
    unknown = await client.get(
        "/api/v1/changes", params={"kind": "alarms"}, headers=w["tokens"]["admin"]
    )
    assert unknown.status_code == 422 and "kind of change" in unknown.text


async def _write(unit_id: int, note: str) -> None:
    await audit.record(
        SYSTEM,
        entity="equipment",
        entity_id=unit_id,
        action="update",
        at=clock.now(),
        before={"note": ""},
        after={"note": note},
    )


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
async def test_a_writer_committing_late_is_not_skipped(client, world, engine):
    """Two writers on PostgreSQL: the one that began first (lower id) commits last. A cursor
    taken between the two commits must not pass the late one.

    SQLite cannot interleave writers (the second waits for the first's write lock), which
    is why its feed needs no more than the id: see equipment/storage/changes.py."""
    w = world
    admin = w["tokens"]["admin"]
    _, cursor = await replay(client, admin, at_least=await on_trail(*(u["id"] for u in w["units"])))
    unit_id = w["units"][0]["id"]
    first_wrote, release_first = asyncio.Event(), asyncio.Event()

    async def early_writer() -> None:
        async with unit_of_work():
            await _write(unit_id, "early")
            first_wrote.set()
            await release_first.wait()

    early = asyncio.create_task(early_writer())
    await first_wrote.wait()
    async with unit_of_work():  # begins second, commits first
        await _write(unit_id, "late-numbered")

    held, held_cursor = await replay(client, admin, cursor)
    # The later-numbered change committed, but the earlier transaction still runs: the
    # feed holds both back rather than hand out a cursor past the earlier one.
    assert held == []
    release_first.set()
    await early
    both, _ = await replay(client, admin, held_cursor, at_least=2)
    assert [c["after"]["note"] for c in both] == ["early", "late-numbered"]
    # The ids were handed out in the other order than the commits: id order alone would
    # have skipped "early" for a reader that had seen "late-numbered".
    assert both[0]["entity_id"] == both[1]["entity_id"] == unit_id
    again, _ = await replay(client, admin, cursor, at_least=2)
    assert [c["cursor"] for c in again] == [c["cursor"] for c in both]
