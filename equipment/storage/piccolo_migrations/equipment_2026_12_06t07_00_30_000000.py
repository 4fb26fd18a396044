"""The dead letters' idempotency key (after the column exists: Piccolo runs a migration's
raw steps before its column changes). Rows from before it have no key (NULL), which a
unique index lets repeat on both engines."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from equipment.storage.tables import Equipment

ID = "2026-12-06T07:00:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "Unique index on the dead letters' delivery key"

STATEMENTS = (
    "CREATE UNIQUE INDEX IF NOT EXISTS dead_letter_delivery_key ON dead_letter (delivery_key)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)

    async def run() -> None:
        engine = Equipment._meta.db
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
