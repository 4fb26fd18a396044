"""Keys and indexes of the maintenance and alarm tables (after they exist: Piccolo runs a
migration's raw steps before its table creation)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from equipment.storage.tables import Equipment

ID = "2026-11-25T18:56:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "Maintenance record idempotency key; one open alarm per unit and kind"

STATEMENTS = (
    # A re-upload of the same record is stored once.
    "CREATE UNIQUE INDEX IF NOT EXISTS maintenance_record_company_record"
    " ON maintenance_record (maintenance_company, record_id)",
    "CREATE INDEX IF NOT EXISTS maintenance_record_equipment_day"
    " ON maintenance_record (equipment, maintained_on)",
    "CREATE INDEX IF NOT EXISTS contract_unit_equipment ON contract_unit (equipment, starts_on)",
    "CREATE INDEX IF NOT EXISTS contract_unit_contract ON contract_unit (contract)",
    "CREATE INDEX IF NOT EXISTS maintenance_contract_company"
    " ON maintenance_contract (maintenance_company)",
    # Alarm storms raise a counter on the one open alarm; the database holds that line.
    "CREATE UNIQUE INDEX IF NOT EXISTS alarm_one_open ON alarm (equipment, kind)"
    " WHERE state = 'open'",
    "CREATE INDEX IF NOT EXISTS alarm_state_raised ON alarm (state, raised_at)",
    "CREATE INDEX IF NOT EXISTS alarm_company_raised ON alarm (maintenance_company, raised_at)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)

    async def run() -> None:
        engine = Equipment._meta.db
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
