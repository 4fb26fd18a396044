"""The area summary kept per process and refreshed area by area from the change log
(``area_change``, written by triggers) always equals a recount from scratch, whatever
changes the register: units' status, category, due dates, maintenance due dates, alarms,
memberships, the areas themselves, units' risk grades. Random changes on the demo city,
both engines."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from equipment.demo.load import load_demo_city
from equipment.domain.access import SYSTEM, Jurisdiction, Principal, Role
from equipment.services import areas, clock
from equipment.storage import db
from equipment.storage.tables import Alarm, Area, AreaMember, DueDate, Equipment
from tests import factories as f

pytestmark = pytest.mark.integration
ROUNDS = 8
CHANGES_PER_ROUND = 4


async def recount(principal: Principal, **question: Any) -> list[dict[str, Any]]:
    """The summary computed from scratch, as the service answers it."""
    query = areas.summary_query(principal, today=f.today(), **question)
    counts = (*areas.SUMMARY_COUNTS, *areas.GRADE_COUNTS, "risk_rank")
    return [{**r, **{c: int(r[c]) for c in counts}} for r in await query]


async def change(rng: random.Random, unit_ids: list[int], area_ids: list[int]) -> str:
    """One random change to the register, written straight to the tables (the triggers,
    not the services, keep the log: no write path can forget it)."""
    unit_id = rng.choice(unit_ids)
    what = rng.choice(
        [
            "status",
            "category",
            "inspection",
            "maintenance",
            "alarm",
            "close",
            "move",
            "area",
            "kind",
            "grade",
        ]
    )
    if what == "status":
        status = rng.choice(["in_use", "scrapped", "suspended", "cancelled"])
        await Equipment.update({Equipment.status: status}).where(Equipment.id == unit_id)
    elif what == "category":
        category = rng.choice(["3110", "2100", "3210", "8000"])
        await Equipment.update({Equipment.category: category}).where(Equipment.id == unit_id)
    elif what == "inspection":
        due = f.today() + timedelta(days=rng.randint(-400, 400))
        await Equipment.update({Equipment.next_inspection_due: due}).where(Equipment.id == unit_id)
    elif what == "maintenance":
        due = f.today() + timedelta(days=rng.randint(-30, 30))
        await DueDate.update({DueDate.due_on: due}).where(
            DueDate.equipment == unit_id, DueDate.kind == "maintenance"
        )
    elif what == "alarm":
        unit = await Equipment.select(Equipment.district_code).where(Equipment.id == unit_id)
        raised = clock.now() - timedelta(days=rng.choice([1, 30, 200]))
        await Alarm.insert(
            Alarm(
                equipment=unit_id,
                kind=f"probe_{rng.randint(0, 10**9)}",
                severity="major",
                state=rng.choice(["open", "closed"]),
                source="manual",
                raised_at=raised,
                last_raised_at=raised,
                district_code=unit[0]["district_code"],
            )
        )
    elif what == "grade":
        # A regrade (services/risk.py writes only this column): the area's grade counts move.
        rank = rng.randint(0, 3)
        await Equipment.update({Equipment.risk_rank: rank}).where(Equipment.id == unit_id)
    elif what == "close":
        await Alarm.update({Alarm.state: "closed"}).where(Alarm.equipment == unit_id)
    elif what == "move":
        await AreaMember.delete().where(AreaMember.equipment == unit_id)
        for area_id in rng.sample(area_ids, rng.randint(0, 2)):
            await AreaMember.insert(AreaMember(area=area_id, equipment=unit_id))
    elif what == "kind":
        # An area moving into or out of the kind a summary asks for (a recount narrows
        # the changed areas to that kind: issue 19).
        kind = rng.choice(["old_residential", "community"])
        await Area.update({Area.kind: kind}).where(Area.id == rng.choice(area_ids))
    else:
        area_id = rng.choice(area_ids)
        await Area.update({Area.households: rng.randint(0, 900)}).where(Area.id == area_id)
    return what


async def test_kept_summary_equals_a_recount_after_random_changes(engine) -> None:
    await load_demo_city(
        seed=420600, units=400, today=f.today(), now=clock.now(), show_progress=False
    )
    unit_ids = [r["id"] for r in await Equipment.select(Equipment.id)]
    area_ids = [r["id"] for r in await Area.select(Area.id)]
    districts = [r["district_code"] for r in await Equipment.select(Equipment.district_code)]
    inspector = Principal(
        Role.INSPECTOR,
        jurisdiction=Jurisdiction(
            districts=frozenset({districts[0]}), areas=frozenset(area_ids[:3])
        ),
    )
    questions: list[tuple[Principal, dict[str, Any]]] = [
        (SYSTEM, {"kind": None, "category_prefix": None, "sort": "id", "limit": 1000}),
        (SYSTEM, {"kind": "old_residential", "category_prefix": "3", "sort": "-units", "limit": 7}),
        (SYSTEM, {"kind": None, "category_prefix": None, "sort": "-grade", "limit": 1000}),
        (
            inspector,
            {"kind": None, "category_prefix": None, "sort": "-overdue_inspections", "limit": 50},
        ),
    ]
    rng = random.Random(19)
    done: list[str] = []
    for round_ in range(ROUNDS + 1):
        for principal, question in questions:
            kept = await areas.summary(principal, today=f.today(), now=clock.now(), **question)
            assert kept == await recount(principal, **question), (round_, question, done)
        for _ in range(CHANGES_PER_ROUND):
            done.append(await change(rng, unit_ids, area_ids))
    # Every kind of change was exercised, a regrade among them.
    assert len(set(done)) >= 6 and "grade" in done, done


async def test_a_new_day_recounts_everything(engine) -> None:
    await load_demo_city(seed=7, units=60, today=f.today(), now=clock.now(), show_progress=False)
    question = {"kind": None, "category_prefix": None, "sort": "id", "limit": 1000}
    before = await areas.summary(SYSTEM, today=f.today(), now=clock.now(), **question)
    tomorrow = f.today() + timedelta(days=400)
    after = await areas.summary(SYSTEM, today=tomorrow, now=clock.now(), **question)
    query = areas.summary_query(SYSTEM, today=tomorrow, **question)
    assert after == [{**r, **{c: int(r[c]) for c in areas.SUMMARY_COUNTS}} for r in await query]
    assert before != after  # the date-bound counts moved


# PostgreSQL's: SQLite's writers commit one at a time, so there is no snapshot to keep.
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
async def test_a_long_transaction_elsewhere_does_not_make_every_refresh_recount(
    engine, monkeypatch
) -> None:
    """A transaction left open (another session's long load) holds the server's oldest
    running xid back. A refresh must still read only the changes its last look did not
    see: once a change has been refreshed, the next question recounts nothing (it used
    to read every change since that xid again, each time)."""
    await load_demo_city(seed=3, units=80, today=f.today(), now=clock.now(), show_progress=False)
    recounted: list[list[int] | None] = []
    original = areas._summary_rows

    async def counting(*args: Any, areas: list[int] | None) -> list[dict[str, Any]]:
        recounted.append(areas)
        return await original(*args, areas=areas)

    monkeypatch.setattr(areas, "_summary_rows", counting)
    question = {"kind": None, "category_prefix": None, "sort": "id", "limit": 1000}
    engine_pool = db.engine().pool
    async with engine_pool.acquire() as long_one:
        transaction = long_one.transaction()
        await transaction.start()
        await long_one.fetchval("SELECT pg_current_xact_id()")  # it holds an xid open
        try:
            await areas.summary(SYSTEM, today=f.today(), now=clock.now(), **question)
            unit = (await AreaMember.select(AreaMember.equipment).first())["equipment"]
            due = f.today() - timedelta(days=3)
            await Equipment.update({Equipment.next_inspection_due: due}).where(Equipment.id == unit)
            await areas.summary(SYSTEM, today=f.today(), now=clock.now(), **question)
            await areas.summary(SYSTEM, today=f.today(), now=clock.now(), **question)
        finally:
            await transaction.rollback()
    assert recounted[0] is None  # the first question counts every area
    assert recounted[1] and len(recounted) == 2, recounted  # then the changed ones, once


# PostgreSQL's: the covering indexes are its (migration 2026-12-07T03:30).
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
async def test_a_refresh_reads_units_from_covering_indexes(engine) -> None:
    """A refresh looks each member of the changed areas up by id, scattered over the
    register: from the covering indexes it reads one leaf page per lookup instead of a leaf
    and a heap page. Whatever the caller's scope, the equipment and maintenance due-date
    lookups stay index-only (fails when the statement reads a column they do not carry)."""
    await load_demo_city(seed=5, units=60, today=f.today(), now=clock.now(), show_progress=False)
    pool = db.engine().pool
    await pool.execute("VACUUM ANALYZE equipment, due_date, area_member")  # all-visible
    area_ids = [r["id"] for r in await Area.select(Area.id).order_by(Area.id).limit(3)]
    unit = await Equipment.select(Equipment.district_code, Equipment.maintenance_company).first()
    scopes = [
        SYSTEM,
        Principal(
            Role.INSPECTOR,
            jurisdiction=Jurisdiction(
                districts=frozenset({unit["district_code"]}), areas=frozenset(area_ids[:1])
            ),
        ),
        Principal(Role.MAINTENANCE, unit["maintenance_company"]),
    ]
    for principal in scopes:
        query = areas.summary_query(
            principal,
            kind=None,
            category_prefix="3",
            sort="id",
            limit=None,
            today=f.today(),
            areas=area_ids,
        )
        sql, args = query.querystrings[0].compile_string(engine_type="postgres")
        async with pool.acquire() as connection, connection.transaction():
            # A 60-unit register is read whole more cheaply than looked up; the question
            # is which index a lookup uses, so the planner is held to index lookups.
            await connection.execute("SET LOCAL enable_seqscan = off")
            await connection.execute("SET LOCAL enable_bitmapscan = off")
            plan = [r[0] for r in await connection.fetch("EXPLAIN " + sql, *args)]
        scans = [
            line.strip() for line in plan if " on equipment " in line or " on due_date " in line
        ]
        assert scans, plan
        for scan in scans:
            if (
                principal.role is Role.MAINTENANCE
                and "using equipment_maintenance_company_id " in scan
            ):
                # A company's scope may be driven from its own index instead, its few units
                # read from the heap (the planner's choice on this small register, seen in
                # CI): not a lookup of the area's members.
                continue
            assert scan.startswith("->  Index Only Scan using"), (principal, scan, plan)
            assert "using equipment_summary " in scan or "using due_date_equipment_kind " in scan
