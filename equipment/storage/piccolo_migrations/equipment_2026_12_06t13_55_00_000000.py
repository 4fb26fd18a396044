"""The area summary's change log watches a unit's risk grade too.

The summary counts units per risk grade (red/orange/yellow) and grades each area from them
(services/areas.py), so a regrade must name the unit's areas in ``area_change`` like any
other change the summary reads. The column came with the risk migration (12:45), after the
log's triggers (12:35): the equipment trigger is made again here with ``risk_rank`` among
its watched columns.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine

from equipment.storage.tables import Equipment

ID = "2026-12-06T13:55:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Area summary change log: watch the unit's risk grade"

WATCHED = (
    "status",
    "category",
    "commissioning_date",
    "next_inspection_due",
    "district_code",
    "user_unit",
    "maintenance_company",
    "owning_station",
    "risk_rank",
)

_CHANGED = " OR ".join(f"n.{c} IS DISTINCT FROM o.{c}" for c in WATCHED)
POSTGRES = [
    "CREATE OR REPLACE FUNCTION sereg_area_change_equipment() RETURNS trigger AS $$ BEGIN"
    " IF TG_OP = 'UPDATE' THEN INSERT INTO area_change (area) SELECT DISTINCT m.area"
    " FROM new_rows n JOIN old_rows o ON o.id = n.id JOIN area_member m ON m.equipment = n.id"
    f" WHERE {_CHANGED}; END IF;"
    " IF TG_OP = 'DELETE' THEN INSERT INTO area_change (area) SELECT DISTINCT m.area"
    " FROM area_member m WHERE m.equipment IN (SELECT id FROM old_rows); END IF;"
    " RETURN NULL; END; $$ LANGUAGE plpgsql",
]

_SQLITE_CHANGED = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in WATCHED)
SQLITE = [
    "DROP TRIGGER IF EXISTS equipment_area_change_update",
    "CREATE TRIGGER equipment_area_change_update AFTER UPDATE ON equipment"
    f" WHEN {_SQLITE_CHANGED} BEGIN INSERT INTO area_change (area)"
    " SELECT area FROM area_member WHERE equipment = NEW.id; END",
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
