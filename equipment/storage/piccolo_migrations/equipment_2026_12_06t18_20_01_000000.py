"""Review: the database dates each ``alarm_change`` row as the triggers of 2026-12-06T09:09:30
write it, so the retention job can prune them by age (services/retention.py): PostgreSQL
by the column's default, SQLite by a trigger on the new row, in the format Piccolo stores
timestamps in (UTC, ``YYYY-MM-DD HH:MM:SS.fff+00:00``, so they compare as text with its
parameters). Rows already there are dated at this migration: they go one retention
later."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine

from equipment.storage.tables import Equipment

ID = "2026-12-06T18:20:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "alarm_change.changed_at set by the database, and its index"

_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')"

POSTGRES = [
    "ALTER TABLE alarm_change ALTER COLUMN changed_at SET DEFAULT now()",
    "UPDATE alarm_change SET changed_at = now() WHERE changed_at IS NULL",
    "CREATE INDEX IF NOT EXISTS alarm_change_changed_at ON alarm_change (changed_at)",
]
SQLITE = [
    f"UPDATE alarm_change SET changed_at = {_SQLITE_NOW} WHERE changed_at IS NULL",
    # A trigger of its own: the row-writing triggers stay as they are (an UPDATE here
    # leaves their last_insert_rowid() alone).
    "CREATE TRIGGER IF NOT EXISTS alarm_change_stamped_at AFTER INSERT ON alarm_change"
    f" BEGIN UPDATE alarm_change SET changed_at = {_SQLITE_NOW} WHERE id = NEW.id; END",
    "CREATE INDEX IF NOT EXISTS alarm_change_changed_at ON alarm_change (changed_at)",
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
