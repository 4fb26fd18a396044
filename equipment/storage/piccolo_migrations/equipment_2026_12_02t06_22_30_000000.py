"""Keys and indexes of the ingest tables (after they exist: Piccolo runs a migration's
raw steps before its table creation)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from equipment.storage.tables import Equipment

ID = "2026-12-02T06:22:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "Idempotency keys of fills, heartbeats and lift events; alarm and retention indexes"

STATEMENTS = (
    # A redelivered message is stored once: these keys are what "exactly once" rests on.
    "CREATE UNIQUE INDEX IF NOT EXISTS fill_station_event ON fill (station_code, event_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS lift_heartbeat_equipment_ts"
    " ON lift_heartbeat (equipment, ts)",
    "CREATE UNIQUE INDEX IF NOT EXISTS lift_event_equipment_event"
    " ON lift_event (equipment, event_id)",
    # A cylinder's trace, a station's fills, refused fills, and pruning by age.
    "CREATE INDEX IF NOT EXISTS fill_cylinder_filled ON fill (cylinder, filled_at)",
    "CREATE INDEX IF NOT EXISTS fill_cylinder_code_filled ON fill (cylinder_code, filled_at)",
    "CREATE INDEX IF NOT EXISTS fill_station_filled ON fill (station, filled_at)",
    "CREATE INDEX IF NOT EXISTS fill_refused ON fill (allowed, filled_at)",
    "CREATE INDEX IF NOT EXISTS fill_filled ON fill (filled_at)",
    "CREATE INDEX IF NOT EXISTS lift_heartbeat_ts ON lift_heartbeat (ts)",
    "CREATE INDEX IF NOT EXISTS lift_event_received ON lift_event (received_at)",
    "CREATE INDEX IF NOT EXISTS lift_state_seen ON lift_state (offline, last_seen_at)",
    "CREATE INDEX IF NOT EXISTS dead_letter_received ON dead_letter (received_at)",
    "CREATE INDEX IF NOT EXISTS dead_letter_reason ON dead_letter (reason, received_at)",
    "CREATE INDEX IF NOT EXISTS dead_letter_unit ON dead_letter (unit_code)",
    "CREATE INDEX IF NOT EXISTS joint_filling_pair ON joint_filling (filling_station, owner_station)",
    # A station code identifies the station on the broker; SQLite cannot add a UNIQUE
    # column, so the key is an index on both engines.
    "CREATE UNIQUE INDEX IF NOT EXISTS organisation_station_code ON organisation (station_code)",
    # A fill of a cylinder not on file has no unit: one open alarm per station and kind.
    "CREATE UNIQUE INDEX IF NOT EXISTS alarm_one_open_station ON alarm (station, kind)"
    " WHERE state = 'open' AND equipment IS NULL",
    "CREATE INDEX IF NOT EXISTS alarm_station_raised ON alarm (station, raised_at)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)

    async def run() -> None:
        engine = Equipment._meta.db
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
