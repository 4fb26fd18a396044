"""Indexes of the citizen reports (after the table exists: Piccolo runs a migration's raw
steps before its table creation)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from equipment.storage.tables import Equipment

ID = "2026-12-06T06:49:50:000000"
VERSION = "1.38.0"
DESCRIPTION = "Citizen report indexes: the rate limits' counts and the inspectors' list"

STATEMENTS = (
    # The rate limits count a client's and a unit's reports of the last hour.
    "CREATE INDEX IF NOT EXISTS citizen_report_client ON citizen_report (client_key, received_at)",
    "CREATE INDEX IF NOT EXISTS citizen_report_unit ON citizen_report (equipment, received_at)",
    "CREATE INDEX IF NOT EXISTS citizen_report_received ON citizen_report (received_at, id)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)

    async def run() -> None:
        engine = Equipment._meta.db
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
