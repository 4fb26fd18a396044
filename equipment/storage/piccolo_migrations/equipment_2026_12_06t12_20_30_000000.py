"""The changes feed's commit-safe order and the change webhooks' unique keys (issue 23),
after the columns exist (Piccolo runs a migration's raw steps before its table changes).

PostgreSQL: every audit entry carries its writing transaction's id, set by a trigger so
that no insert path (Piccolo, raw SQL, COPY) can leave it out; the entries written before
this migration get 0 (all committed long ago), done with the append-only guard lifted for
this one statement in this migration's transaction. SQLite needs no column: its one
writer makes the id the commit order (equipment/storage/changes.py).

Both: an alarm's delivery is unique on (notification, endpoint) as before, a change's on
(change, endpoint).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine

from equipment.storage.tables import Equipment

ID = "2026-12-06T12:20:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "Changes feed order (txid trigger) and change deliveries' unique keys"

DELIVERY_KEYS = [
    "DROP INDEX IF EXISTS webhook_delivery_once",
    "CREATE UNIQUE INDEX IF NOT EXISTS webhook_delivery_once"
    " ON webhook_delivery (notification, endpoint) WHERE change IS NULL",
    "CREATE UNIQUE INDEX IF NOT EXISTS webhook_delivery_change_once"
    " ON webhook_delivery (change, endpoint) WHERE change IS NOT NULL",
]

POSTGRES = [
    """
    CREATE OR REPLACE FUNCTION sereg_audit_txid() RETURNS trigger AS $$
    BEGIN
        NEW.txid := pg_current_xact_id()::text::bigint;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql
    """,
    "DROP TRIGGER IF EXISTS audit_entry_txid ON audit_entry",
    "CREATE TRIGGER audit_entry_txid BEFORE INSERT ON audit_entry "
    "FOR EACH ROW EXECUTE FUNCTION sereg_audit_txid()",
    "ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only",
    "UPDATE audit_entry SET txid = 0 WHERE txid IS NULL",
    "ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_append_only",
    "CREATE INDEX IF NOT EXISTS audit_entry_feed ON audit_entry (txid, id)",
    *DELIVERY_KEYS,
]

SQLITE = DELIVERY_KEYS


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)

    async def run() -> None:
        engine = Equipment._meta.db
        statements = POSTGRES if isinstance(engine, PostgresEngine) else SQLITE
        for statement in statements:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
