"""Issue 19: the area summary's refresh after a change reads covering indexes on PostgreSQL.

A refresh recomputes the areas a change names from every unit in them: for each member, its
equipment row (status, category, commissioning date, next inspection, risk rank) and its
maintenance due date. The members' ids are scattered over the register, so on a register
larger than the database's shared buffers each lookup is a page read from the operating
system's cache: an old residential area of 694 units read 2,741 pages, 28-36 ms of its
38-44 ms, on the 10^6 register with the default 128 MB of shared buffers. With the columns
the summary reads carried in the indexes it looks units up by, the lookups are index-only
(one leaf page instead of a leaf and a heap page): 1,566-1,589 pages read, a median of
25 ms (docs/benchmarks.md).

``equipment_summary`` also carries the columns a caller's scope is tested on (an
inspector's districts, an organisation's units), so scoped summaries stay index-only. It is
one more index on equipment; every column it carries is already in another index of the
table, so the updates that touch them were not HOT before either. It costs writes: an
UPDATE of 20,000 random units took 11 % longer with it (median of three alternating pairs).
``due_date_equipment_kind`` keeps its name and its unique key (the province loader names
it) and gains ``due_on``. SQLite has no INCLUDE; its register is the
embedded default, held in its page cache whole.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine

from equipment.storage.tables import Equipment

ID = "2026-12-07T03:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Covering indexes for the area summary's refresh (PostgreSQL)"

POSTGRES = (
    "CREATE INDEX IF NOT EXISTS equipment_summary ON equipment (id)"
    " INCLUDE (status, category, commissioning_date, next_inspection_due, risk_rank,"
    " district_code, user_unit, maintenance_company, owning_station)",
    "CREATE UNIQUE INDEX IF NOT EXISTS due_date_equipment_kind_due ON due_date (equipment, kind)"
    " INCLUDE (due_on)",
    "DROP INDEX IF EXISTS due_date_equipment_kind",
    "ALTER INDEX due_date_equipment_kind_due RENAME TO due_date_equipment_kind",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)

    async def run() -> None:
        engine = Equipment._meta.db
        if isinstance(engine, PostgresEngine):
            for statement in POSTGRES:
                await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
