"""Indexes and guards Piccolo's column options cannot express, for both engines."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine

from equipment.storage.tables import Equipment

ID = "2026-11-25T18:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Keyset indexes; append-only audit trail and status history"

APPEND_ONLY = ("audit_entry", "status_change")

POSTGRES = [
    # Keyset pagination sorts by (updated_at, id); the id tie-break must be in the index.
    "CREATE INDEX IF NOT EXISTS equipment_updated_at_id ON equipment (updated_at, id)",
    """
    CREATE OR REPLACE FUNCTION sereg_refuse_change() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
    END;
    $$ LANGUAGE plpgsql
    """,
    *(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION sereg_refuse_change()"
        for table in APPEND_ONLY
    ),
]

SQLITE = [
    "CREATE INDEX IF NOT EXISTS equipment_updated_at_id ON equipment (updated_at, id)",
    *(
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        for table in APPEND_ONLY
    ),
    *(
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        for table in APPEND_ONLY
    ),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)

    async def run() -> None:
        engine = Equipment._meta.db
        statements = POSTGRES if isinstance(engine, PostgresEngine) else SQLITE
        for statement in statements:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
