"""Issue 21: the grades stored so far move to ``risk_grade`` (their explanation empty:
read live until the next recompute stores it), and ``equipment`` loses the two columns
(Piccolo runs a migration's raw steps before its column changes, so the copy reads them
before they go). On PostgreSQL the narrow table keeps room on its pages (fillfactor 80) so
that rewriting a grade is a heap-only update: its one index, the unit's id, never
changes."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine

from equipment.storage.tables import Equipment

ID = "2026-12-06T15:40:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "Risk grades: copy into risk_grade, drop equipment.risk_points/risk_graded_at"

COPY = (
    "INSERT INTO risk_grade (equipment, points, factors, graded_at)"
    " SELECT id, risk_points, '', risk_graded_at FROM equipment"
    " WHERE risk_graded_at IS NOT NULL"
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)

    async def run() -> None:
        engine = Equipment._meta.db
        await engine.run_ddl(COPY)
        if isinstance(engine, PostgresEngine):
            await engine.run_ddl("ALTER TABLE risk_grade SET (fillfactor = 80)")

    manager.add_raw(run)
    for name in ("risk_points", "risk_graded_at"):
        manager.drop_column(
            table_class_name="Equipment",
            tablename="equipment",
            column_name=name,
            db_column_name=name,
            schema=None,
        )
    return manager
