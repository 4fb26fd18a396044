"""The suite's own PostgreSQL reset (tests/conftest.py ``empty_register``) leaves what
``TRUNCATE ... RESTART IDENTITY CASCADE`` left: every register table empty, the
append-only ones too, and each sequence back at its start."""

from __future__ import annotations

import pytest

from equipment.domain.access import SYSTEM
from equipment.services import audit, clock
from equipment.storage.tables import REGISTER_TABLES, AuditEntry
from tests import factories as f
from tests.conftest import empty_register

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("engine", ["postgres"], indirect=True),
]


async def test_the_reset_empties_every_table_and_restarts_the_ids(engine):
    first = await f.organisation("user_unit")
    await audit.record(
        SYSTEM, entity="test", entity_id=1, action="create", at=clock.now(), before=None, after={}
    )
    assert await AuditEntry.count() >= 1  # append-only: its trigger refuses a DELETE
    await empty_register(engine)
    for table in REGISTER_TABLES:
        name = table._meta.tablename  # (some tables have a column named count)
        [row] = await table.raw(f'SELECT count(*) AS n FROM "{name}"')
        assert row["n"] == 0, name
    again = await f.organisation("user_unit")
    assert again["id"] == first["id"]  # the first id again, as on a new database
