"""Indexes and the append-only guard of the inspection and due-date tables.

A separate migration because Piccolo runs a migration's raw steps before its table
creation.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine

from equipment.storage.tables import Equipment

ID = "2026-11-25T18:43:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Due-list indexes; inspections are append-only"

DUE_INDEXES = (
    "CREATE UNIQUE INDEX IF NOT EXISTS due_date_equipment_kind ON due_date (equipment, kind)",
    # Due lists page by (due_on, id): one range scan for each filter they take.
    "CREATE INDEX IF NOT EXISTS due_date_due ON due_date (due_on, id)",
    *(
        f"CREATE INDEX IF NOT EXISTS due_date_{column}_due ON due_date ({column}, due_on, id)"
        for column in (
            "district_code", "category", "user_unit", "maintenance_company", "owning_station",
        )
    ),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)

    async def run() -> None:
        engine = Equipment._meta.db
        for statement in DUE_INDEXES:
            await engine.run_ddl(statement)
        if isinstance(engine, PostgresEngine):
            await engine.run_ddl(
                "CREATE TRIGGER inspection_append_only BEFORE UPDATE OR DELETE ON inspection "
                "FOR EACH ROW EXECUTE FUNCTION sereg_refuse_change()"
            )
            return
        for event in ("UPDATE", "DELETE"):
            await engine.run_ddl(
                f"CREATE TRIGGER IF NOT EXISTS inspection_no_{event.lower()} BEFORE {event} "
                "ON inspection BEGIN SELECT RAISE(ABORT, 'inspection is append-only'); END"
            )

    manager.add_raw(run)
    return manager
