"""One annual report per manufacturer and year (after the table exists: Piccolo runs a
migration's raw steps before its table changes), and one installation row per unit."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from equipment.storage.tables import Equipment

ID = "2026-12-06T13:27:50:000000"
VERSION = "1.38.0"
DESCRIPTION = "Unique annual report per organisation and year; one installation per unit"

STATEMENTS = (
    "CREATE UNIQUE INDEX IF NOT EXISTS annual_report_year ON annual_report (organisation, year)",
    "CREATE UNIQUE INDEX IF NOT EXISTS installation_unit ON installation (equipment)",
    "CREATE INDEX IF NOT EXISTS campaign_task_campaign_state ON campaign_task (campaign, state)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)

    async def run() -> None:
        engine = Equipment._meta.db
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
