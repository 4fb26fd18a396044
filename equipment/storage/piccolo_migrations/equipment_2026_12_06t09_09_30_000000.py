"""Issue 20: triggers that write an ``alarm_change`` row for every change of an alarm the
live board shows, on every path that changes one (the API, the ingest's set-at-a-time SQL,
the escalation worker, a change of maintainer), in the transaction that made the change.

On PostgreSQL the trigger also NOTIFYs ``sereg_alarm_change``: PostgreSQL sends it only
when that transaction commits (and once per transaction, however many rows it changed),
so an API process never hears of a change that was rolled back. A repeat that only raises
an open alarm's count is no change of the board's (an alarm storm stays quiet).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine

from equipment.storage.tables import Equipment

ID = "2026-12-06T09:09:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "Alarm change triggers and the unstamped-change index"

# Which change an UPDATE of an alarm is, most telling first (one UPDATE may set several).
_EVENT = """CASE
    WHEN NEW.state IS DISTINCT FROM OLD.state THEN
        CASE WHEN NEW.state = 'closed' THEN 'closed' ELSE 'reopened' END
    WHEN NEW.finished_at IS DISTINCT FROM OLD.finished_at THEN 'finished'
    WHEN NEW.arrived_at IS DISTINCT FROM OLD.arrived_at THEN 'arrived'
    WHEN NEW.acknowledged_at IS DISTINCT FROM OLD.acknowledged_at THEN 'acknowledged'
    WHEN NEW.arrived_late IS DISTINCT FROM OLD.arrived_late THEN 'late'
    ELSE 'reassigned' END"""
_CHANGED = """NEW.state IS DISTINCT FROM OLD.state
    OR NEW.acknowledged_at IS DISTINCT FROM OLD.acknowledged_at
    OR NEW.arrived_at IS DISTINCT FROM OLD.arrived_at
    OR NEW.finished_at IS DISTINCT FROM OLD.finished_at
    OR NEW.arrived_late IS DISTINCT FROM OLD.arrived_late
    OR NEW.maintenance_company IS DISTINCT FROM OLD.maintenance_company"""

POSTGRES = [
    # The feed stamps what is not yet stamped, in id order; readers read by seq.
    "CREATE INDEX IF NOT EXISTS alarm_change_unstamped ON alarm_change (id) WHERE seq IS NULL",
    "CREATE UNIQUE INDEX IF NOT EXISTS alarm_change_seq ON alarm_change (seq)",
    "CREATE SEQUENCE IF NOT EXISTS alarm_change_stamp",
    f"""
    CREATE OR REPLACE FUNCTION sereg_alarm_changed() RETURNS trigger AS $$
    BEGIN
        IF TG_TABLE_NAME = 'escalation_fired' THEN
            INSERT INTO alarm_change (alarm, event) VALUES (NEW.alarm, 'escalated');
        ELSIF TG_OP = 'INSERT' THEN
            INSERT INTO alarm_change (alarm, event) VALUES (NEW.id, 'raised');
        ELSE
            INSERT INTO alarm_change (alarm, event) VALUES (NEW.id, {_EVENT});
        END IF;
        PERFORM pg_notify('sereg_alarm_change', '');
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql
    """,
    "CREATE TRIGGER alarm_change_raised AFTER INSERT ON alarm"
    " FOR EACH ROW EXECUTE FUNCTION sereg_alarm_changed()",
    f"CREATE TRIGGER alarm_change_updated AFTER UPDATE ON alarm FOR EACH ROW WHEN ({_CHANGED})"
    " EXECUTE FUNCTION sereg_alarm_changed()",
    "CREATE TRIGGER alarm_change_escalated AFTER INSERT ON escalation_fired"
    " FOR EACH ROW EXECUTE FUNCTION sereg_alarm_changed()",
]

# SQLite before 3.39 has no IS DISTINCT FROM; its IS NOT is the same null-safe test.
_EVENT_SQLITE = _EVENT.replace("IS DISTINCT FROM", "IS NOT")
_CHANGED_SQLITE = _CHANGED.replace("IS DISTINCT FROM", "IS NOT")

# SQLite: seq is the id (writers take the database lock in turn, so ids follow commits).
SQLITE = [
    "CREATE UNIQUE INDEX IF NOT EXISTS alarm_change_seq ON alarm_change (seq)",
    "CREATE TRIGGER IF NOT EXISTS alarm_change_raised AFTER INSERT ON alarm BEGIN"
    " INSERT INTO alarm_change (alarm, event) VALUES (NEW.id, 'raised');"
    " UPDATE alarm_change SET seq = id WHERE id = last_insert_rowid(); END",
    f"CREATE TRIGGER IF NOT EXISTS alarm_change_updated AFTER UPDATE ON alarm"
    f" WHEN {_CHANGED_SQLITE}"
    f" BEGIN INSERT INTO alarm_change (alarm, event) VALUES (NEW.id, {_EVENT_SQLITE});"
    " UPDATE alarm_change SET seq = id WHERE id = last_insert_rowid(); END",
    "CREATE TRIGGER IF NOT EXISTS alarm_change_escalated AFTER INSERT ON escalation_fired BEGIN"
    " INSERT INTO alarm_change (alarm, event) VALUES (NEW.alarm, 'escalated');"
    " UPDATE alarm_change SET seq = id WHERE id = last_insert_rowid(); END",
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
