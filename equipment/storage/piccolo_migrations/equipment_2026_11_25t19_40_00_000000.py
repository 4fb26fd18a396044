"""Keys and indexes of the area tables, and the equipment location index (after the tables
exist: Piccolo runs a migration's raw steps before its table creation)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from equipment.storage.tables import Equipment

ID = "2026-11-25T19:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Area membership keys; equipment location index for box prefilters"

STATEMENTS = (
    # One row per (area, unit); it also serves "the units of area A" as a range scan.
    "CREATE UNIQUE INDEX IF NOT EXISTS area_member_area_equipment"
    " ON area_member (area, equipment)",
    # "The areas of unit U": rewriting one unit's membership when it moves.
    "CREATE INDEX IF NOT EXISTS area_member_equipment ON area_member (equipment)",
    # Radius, box and polygon queries prefilter on a lon/lat box: a range on longitude,
    # latitude checked inside the index, id carried so the prefilter needs no table access.
    "CREATE INDEX IF NOT EXISTS equipment_location"
    " ON equipment (longitude, latitude, id) WHERE longitude IS NOT NULL",
    # The data-quality list of units without a location.
    "CREATE INDEX IF NOT EXISTS equipment_unlocated ON equipment (id) WHERE longitude IS NULL",
    # "Which areas can hold this point": a range on the stored bounding boxes.
    "CREATE INDEX IF NOT EXISTS area_bbox ON area (min_lon, max_lon)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)

    async def run() -> None:
        engine = Equipment._meta.db
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
