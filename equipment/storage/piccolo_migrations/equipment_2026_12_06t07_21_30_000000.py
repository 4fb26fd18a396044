"""The outbox's unique keys and work indexes (after the tables exist: Piccolo runs a
migration's raw steps before its table changes). The unique keys are what make fan-out
and escalation exactly-once with several workers: a second insert of the same
(event, alarm, step), (notification, endpoint) or (alarm, step) does nothing."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from equipment.storage.tables import Equipment

ID = "2026-12-06T07:21:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "Outbox unique keys and work indexes"

STATEMENTS = (
    "CREATE UNIQUE INDEX IF NOT EXISTS notification_once"
    " ON notification (event, alarm, step)",
    "CREATE INDEX IF NOT EXISTS notification_pending ON notification (id)"
    " WHERE fanned_out = false",
    "CREATE UNIQUE INDEX IF NOT EXISTS webhook_delivery_once"
    " ON webhook_delivery (notification, endpoint)",
    "CREATE INDEX IF NOT EXISTS webhook_delivery_due ON webhook_delivery (next_attempt_at)"
    " WHERE state = 'pending'",
    "CREATE UNIQUE INDEX IF NOT EXISTS escalation_fired_once ON escalation_fired (alarm, step)",
    # The escalation scan reads open alarms by kind; the open-alarm indexes lead with
    # equipment, so this one serves it.
    "CREATE INDEX IF NOT EXISTS alarm_open_raised ON alarm (raised_at) WHERE state = 'open'",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)

    async def run() -> None:
        engine = Equipment._meta.db
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
