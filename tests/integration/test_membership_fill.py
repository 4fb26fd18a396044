"""The first assignment of a register on PostgreSQL (equipment.storage.membership,
``_fill_empty_postgres``) sets every index of ``area_member`` aside, its primary key
included, writes the ids itself from one reservation of the sequence, and builds them
again: afterwards the table has the same indexes and keys, the memberships a unit-by-unit
assignment gives, and a later insert draws a fresh id. Its rows are written frozen, every
page all-visible from the start (index-only scans need not visit the heap)."""

from __future__ import annotations

import pytest

from equipment.demo.load import load_demo_city
from equipment.services import clock, membership
from equipment.storage.tables import AreaMember
from tests import factories as f

pytestmark = pytest.mark.integration

INDEXES = (
    "SELECT indexname, indexdef FROM pg_indexes"
    " WHERE schemaname = current_schema() AND tablename = 'area_member' ORDER BY indexname"
)


# The bulk path (COPY, the key set aside, indexes rebuilt) is PostgreSQL's.
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
async def test_the_first_assignment_rebuilds_every_index_and_continues_the_ids(engine) -> None:
    await load_demo_city(seed=5, units=120, today=f.today(), now=clock.now(), show_progress=False)
    before = await AreaMember.raw(INDEXES)
    pairs = await AreaMember.raw("SELECT area, equipment FROM area_member ORDER BY 1, 2")
    await AreaMember.raw("TRUNCATE area_member")
    result = await membership.reassign_all()
    assert (result.added, result.removed) == (len(pairs), 0)
    assert await AreaMember.raw(INDEXES) == before
    assert await AreaMember.raw("SELECT area, equipment FROM area_member ORDER BY 1, 2") == pairs
    top = await AreaMember.raw("SELECT max(id) AS id, count(DISTINCT id) AS n FROM area_member")
    assert top[0]["n"] == len(pairs)
    # The fill's ANALYZE counted the visibility map's all-visible pages.
    pages = await AreaMember.raw(
        "SELECT relpages, relallvisible FROM pg_class WHERE oid = 'area_member'::regclass"
    )
    assert pages[0]["relpages"] > 0 and pages[0]["relallvisible"] == pages[0]["relpages"]
    await AreaMember.insert(AreaMember(area=pairs[0]["area"], equipment=10**12))
    fresh = await AreaMember.select(AreaMember.id).where(AreaMember.equipment == 10**12)
    assert fresh[0]["id"] > top[0]["id"]
