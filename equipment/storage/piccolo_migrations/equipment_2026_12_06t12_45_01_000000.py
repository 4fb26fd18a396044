"""Issue 21: the risk grade's indexes (after its columns exist: Piccolo runs a
migration's raw steps before its table changes). Lists by grade and the due list's grade
filter are range scans; the recompute reads a unit's alarms of the last 90 days by
(equipment, raised_at); the background pass finds changed units by the time each input
last changed (equipment's updated_at index exists already)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from equipment.storage.tables import Equipment

ID = "2026-12-06T12:45:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "Risk grade indexes"

STATEMENTS = (
    "CREATE INDEX IF NOT EXISTS equipment_risk ON equipment (risk_rank, id)",
    "CREATE INDEX IF NOT EXISTS due_date_risk_due ON due_date (statutory, risk_rank, id)",
    "CREATE INDEX IF NOT EXISTS risk_change_became ON risk_change (to_rank, changed_at)",
    "CREATE INDEX IF NOT EXISTS risk_change_at ON risk_change (changed_at)",
    "CREATE INDEX IF NOT EXISTS alarm_equipment_raised ON alarm (equipment, raised_at)",
    "CREATE INDEX IF NOT EXISTS inspection_recorded ON inspection (recorded_at)",
    "CREATE INDEX IF NOT EXISTS hazard_updated ON hazard (updated_at)",
    "CREATE INDEX IF NOT EXISTS alarm_last_raised ON alarm (last_raised_at)",
    "CREATE INDEX IF NOT EXISTS alarm_closed ON alarm (closed_at)",
    "CREATE INDEX IF NOT EXISTS maintenance_record_recorded ON maintenance_record (recorded_at)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)

    async def run() -> None:
        engine = Equipment._meta.db
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
