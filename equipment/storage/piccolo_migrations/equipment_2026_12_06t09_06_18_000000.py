"""The alert outbox's unique key and work index (after the table exists: Piccolo runs a
migration's raw steps before its table changes). The unique key makes fan-out to the
organisations' alert topics exactly-once with several workers."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from equipment.storage.tables import Equipment

ID = "2026-12-06T09:06:18:000000"
VERSION = "1.38.0"
DESCRIPTION = "Alert outbox unique key and work index"

STATEMENTS = (
    "CREATE UNIQUE INDEX IF NOT EXISTS alert_delivery_once"
    " ON alert_delivery (notification, organisation)",
    "CREATE INDEX IF NOT EXISTS alert_delivery_due ON alert_delivery (next_attempt_at)"
    " WHERE state = 'pending'",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)

    async def run() -> None:
        engine = Equipment._meta.db
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
