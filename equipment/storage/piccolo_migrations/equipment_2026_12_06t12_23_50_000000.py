"""One routine record per unit, kind and period (after the table exists: Piccolo runs a
migration's raw steps before its table changes): a second record of the same day, week
or month is refused by the database too, not only by the service."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from equipment.storage.tables import Equipment

ID = "2026-12-06T12:23:50:000000"
VERSION = "1.38.0"
DESCRIPTION = "Unique index on the routine records' unit, kind and period"

STATEMENTS = (
    "CREATE UNIQUE INDEX IF NOT EXISTS routine_record_period"
    " ON routine_record (equipment, kind, period_start)",
    "CREATE INDEX IF NOT EXISTS supervision_check_district ON supervision_check (district_code)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)

    async def run() -> None:
        engine = Equipment._meta.db
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
