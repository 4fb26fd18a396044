"""The entrustment lookup's index (after the table exists: Piccolo runs a migration's raw
steps before its table creation)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from equipment.storage.tables import Equipment

ID = "2026-12-06T06:49:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "Index of cylinder entrustments by filling station and owner"

STATEMENTS = (
    "CREATE INDEX IF NOT EXISTS cylinder_entrustment_pair"
    " ON cylinder_entrustment (filling_station, owner)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)

    async def run() -> None:
        engine = Equipment._meta.db
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
