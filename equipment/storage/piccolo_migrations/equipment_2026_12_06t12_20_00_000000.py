"""Issue 23: the register import's job, its staged rows, their findings and the per-batch
commit markers.

Plain tables with composite keys (a staged row is its import and its row number), written
in raw DDL for both engines: the storage layer (equipment/storage/imports.py) is their
only reader and writer, set-at-a-time.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine

from equipment.storage.tables import Equipment

ID = "2026-12-06T12:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Register and inspection imports: jobs, staged rows, findings, batch markers"


def _statements(postgres: bool) -> list[str]:
    serial = "BIGSERIAL PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
    # The same type names on SQLite: Piccolo's converters read them back as datetimes.
    instant = "TIMESTAMPTZ"
    # JSON documents as text on both engines: written and read whole, never queried into.
    json = "TEXT"
    return [
        f"""CREATE TABLE IF NOT EXISTS import_job (
            id {serial},
            kind VARCHAR(16) NOT NULL,
            file_name TEXT NOT NULL DEFAULT '',
            file_hash VARCHAR(64) NOT NULL,
            encoding VARCHAR(16) NOT NULL DEFAULT '',
            profile {json} NOT NULL,
            status VARCHAR(16) NOT NULL,
            total_rows INTEGER NOT NULL DEFAULT 0,
            accepted_rows INTEGER NOT NULL DEFAULT 0,
            committed_rows INTEGER NOT NULL DEFAULT 0,
            batches_done INTEGER NOT NULL DEFAULT 0,
            inserted INTEGER NOT NULL DEFAULT 0,
            updated INTEGER NOT NULL DEFAULT 0,
            unchanged INTEGER NOT NULL DEFAULT 0,
            counts {json} NOT NULL,
            error TEXT NOT NULL DEFAULT '',
            actor VARCHAR(80) NOT NULL,
            staged_on DATE NOT NULL,
            created_at {instant} NOT NULL,
            updated_at {instant} NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS import_job_hash ON import_job (file_hash, kind)",
        f"""CREATE TABLE IF NOT EXISTS import_row (
            import_job BIGINT NOT NULL REFERENCES import_job (id) ON DELETE CASCADE,
            row_no INTEGER NOT NULL,
            code VARCHAR(64),
            accepted BOOLEAN NOT NULL,
            payload {json} NOT NULL,
            PRIMARY KEY (import_job, row_no)
        )""",
        "CREATE INDEX IF NOT EXISTS import_row_code ON import_row (import_job, code)",
        """CREATE TABLE IF NOT EXISTS import_finding (
            import_job BIGINT NOT NULL REFERENCES import_job (id) ON DELETE CASCADE,
            row_no INTEGER NOT NULL,
            rule VARCHAR(40) NOT NULL,
            severity VARCHAR(8) NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX IF NOT EXISTS import_finding_rule ON import_finding"
        " (import_job, rule, row_no)",
        f"""CREATE TABLE IF NOT EXISTS import_batch (
            import_job BIGINT NOT NULL REFERENCES import_job (id) ON DELETE CASCADE,
            batch_no INTEGER NOT NULL,
            first_row INTEGER NOT NULL,
            last_row INTEGER NOT NULL,
            inserted INTEGER NOT NULL,
            updated INTEGER NOT NULL,
            unchanged INTEGER NOT NULL,
            committed_at {instant} NOT NULL,
            PRIMARY KEY (import_job, batch_no)
        )""",
        # The inspection import's idempotency key: a report number once per unit.
        "CREATE INDEX IF NOT EXISTS inspection_report_no ON inspection (report_no)",
    ]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)

    async def run() -> None:
        engine = Equipment._meta.db
        for statement in _statements(isinstance(engine, PostgresEngine)):
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
