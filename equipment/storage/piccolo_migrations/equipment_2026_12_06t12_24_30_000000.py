"""Issue 22: the hand-set supervision class becomes an override with the reason "imported".

Every organisation with a class set by hand keeps it as its class in force, now as an
override (credit_override, reason "imported") written to the class history, so the first
computation does not silently change what on-demand maintenance decided by. Indexes of
the draw tables come here too (Piccolo runs a migration's raw steps before its tables).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from equipment.storage.tables import Equipment

ID = "2026-12-06T12:24:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "Hand-set supervision classes become overrides (imported); draw indexes"

STATEMENTS = (
    "UPDATE organisation SET credit_override = supervision_class,"
    " credit_override_reason = 'imported' WHERE supervision_class IS NOT NULL",
    "INSERT INTO credit_class_change (organisation, kind, action, computed, override,"
    " effective, points, explanation, reason, assessed_on, actor, recorded_at)"
    " SELECT id, kind, 'imported', NULL, supervision_class, supervision_class, NULL, '{}',"
    " 'imported', CURRENT_DATE, 'system admin', CURRENT_TIMESTAMP"
    " FROM organisation WHERE supervision_class IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS credit_class_change_org ON credit_class_change"
    " (organisation, id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS draw_plan_number ON random_draw (plan, number)",
    "CREATE UNIQUE INDEX IF NOT EXISTS draw_task_inspector_pair ON draw_task_inspector"
    " (task, inspector)",
    "CREATE INDEX IF NOT EXISTS draw_task_state_due ON draw_task (state, due_on)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)

    async def run() -> None:
        engine = Equipment._meta.db
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
