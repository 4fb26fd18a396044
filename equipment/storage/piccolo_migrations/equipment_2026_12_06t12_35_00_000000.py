"""Issue 19: the log of areas whose summary changed (``area_change``), written by triggers.

The area summary (services/areas.py) keeps its per-area rows and, after a change,
recomputes only the areas named here since it last looked, instead of aggregating every
membership again (0.8 s on a million units). Triggers and not the services write the
log, so that no path that changes a unit, a due date, an alarm or a membership can forget
it (bulk COPY loads and the ingest included). On PostgreSQL they run once per statement
over its transition tables (one INSERT ... SELECT DISTINCT per statement, not per row);
each row carries its transaction's id, so that a reader can tell which changes a
transaction still open when it last looked may yet add (ids can commit out of order).

A column the summary reads that a later migration adds (a unit's risk grade, say) joins
the equipment trigger's list of watched columns there.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine

from equipment.storage.tables import Equipment

ID = "2026-12-06T12:35:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Area summary change log (area_change) and the triggers that write it"

# The unit columns the summary counts or filters by (scope columns included).
WATCHED = (
    "status",
    "category",
    "commissioning_date",
    "next_inspection_due",
    "district_code",
    "user_unit",
    "maintenance_company",
    "owning_station",
)


def _pg_branch(op: str, rows: str, select: str) -> str:
    return (
        f"IF TG_OP = '{op}' THEN INSERT INTO area_change (area) {select.format(rows=rows)}; END IF;"
    )


def _pg_function(name: str, body: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$ BEGIN {body}"
        " RETURN NULL; END; $$ LANGUAGE plpgsql"
    )


# Every area of the units whose membership changed (a scope by area counts a unit in
# another area through its membership), and the areas of the changed rows themselves.
_MEMBERS = (
    "SELECT area FROM {rows} UNION SELECT m.area FROM area_member m"
    " WHERE m.equipment IN (SELECT equipment FROM {rows})"
)
_OF_UNITS = (
    "SELECT DISTINCT m.area FROM area_member m WHERE m.equipment IN (SELECT equipment FROM {rows})"
)
_MAINTENANCE = (
    "SELECT DISTINCT m.area FROM area_member m WHERE m.equipment IN"
    " (SELECT equipment FROM {rows} WHERE kind = 'maintenance')"
)
_AREAS = "SELECT id FROM {rows}"
_CHANGED = " OR ".join(f"n.{c} IS DISTINCT FROM o.{c}" for c in WATCHED)
_UNITS_UPDATED = (
    "IF TG_OP = 'UPDATE' THEN INSERT INTO area_change (area) SELECT DISTINCT m.area"
    " FROM new_rows n JOIN old_rows o ON o.id = n.id JOIN area_member m ON m.equipment = n.id"
    f" WHERE {_CHANGED}; END IF;"
    "IF TG_OP = 'DELETE' THEN INSERT INTO area_change (area) SELECT DISTINCT m.area"
    " FROM area_member m WHERE m.equipment IN (SELECT id FROM old_rows); END IF;"
)


def _pg_for(table: str, select: str) -> list[str]:
    function = f"sereg_area_change_{table}"
    body = (
        _pg_branch("INSERT", "new_rows", select)
        + _pg_branch("UPDATE", "new_rows", select)
        + _pg_branch("UPDATE", "old_rows", select)
        + _pg_branch("DELETE", "old_rows", select)
    )
    statements = [_pg_function(function, body)]
    for event, referencing in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "NEW TABLE AS new_rows OLD TABLE AS old_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ):
        statements.append(
            f"CREATE TRIGGER {table}_area_change_{event.lower()} AFTER {event} ON {table}"
            f" REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    return statements


POSTGRES = [
    "CREATE TABLE IF NOT EXISTS area_change (id bigserial PRIMARY KEY, area integer NOT NULL,"
    " xid xid8 NOT NULL DEFAULT pg_current_xact_id())",
    "CREATE INDEX IF NOT EXISTS area_change_xid ON area_change (xid)",
    *_pg_for("area_member", _MEMBERS),
    *_pg_for("due_date", _MAINTENANCE),
    *_pg_for("alarm", _OF_UNITS),
    *_pg_for("area", _AREAS),
    _pg_function("sereg_area_change_equipment", _UNITS_UPDATED),
    "CREATE TRIGGER equipment_area_change_update AFTER UPDATE ON equipment"
    " REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION sereg_area_change_equipment()",
    # TRUNCATE fires no row or DELETE trigger: every area is logged.
    _pg_function(
        "sereg_area_change_truncate", "INSERT INTO area_change (area) SELECT id FROM area;"
    ),
    *(
        f"CREATE TRIGGER {table}_area_change_truncate AFTER TRUNCATE ON {table}"
        " FOR EACH STATEMENT EXECUTE FUNCTION sereg_area_change_truncate()"
        for table in ("area_member", "due_date", "alarm", "equipment")
    ),
    "CREATE TRIGGER equipment_area_change_delete AFTER DELETE ON equipment"
    " REFERENCING OLD TABLE AS old_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION sereg_area_change_equipment()",
]


def _sqlite_trigger(name: str, event: str, table: str, when: str, body: str) -> str:
    condition = f" WHEN {when}" if when else ""
    return (
        f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {event} ON {table}{condition} BEGIN {body} END"
    )


def _sqlite_log(select: str) -> str:
    return f"INSERT INTO area_change (area) {select};"


_SQLITE_CHANGED = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in WATCHED)

SQLITE = [
    # AUTOINCREMENT: an id is never reused after old rows are pruned.
    "CREATE TABLE IF NOT EXISTS area_change"
    " (id INTEGER PRIMARY KEY AUTOINCREMENT, area INTEGER NOT NULL)",
    _sqlite_trigger(
        "area_member_area_change_insert",
        "INSERT",
        "area_member",
        "",
        _sqlite_log("SELECT area FROM area_member WHERE equipment = NEW.equipment"),
    ),
    _sqlite_trigger(
        "area_member_area_change_update",
        "UPDATE",
        "area_member",
        "",
        _sqlite_log("SELECT OLD.area")
        + _sqlite_log(
            "SELECT area FROM area_member WHERE equipment IN (OLD.equipment, NEW.equipment)"
        ),
    ),
    _sqlite_trigger(
        "area_member_area_change_delete",
        "DELETE",
        "area_member",
        "",
        _sqlite_log("SELECT OLD.area")
        + _sqlite_log("SELECT area FROM area_member WHERE equipment = OLD.equipment"),
    ),
    _sqlite_trigger(
        "equipment_area_change_update",
        "UPDATE",
        "equipment",
        _SQLITE_CHANGED,
        _sqlite_log("SELECT area FROM area_member WHERE equipment = NEW.id"),
    ),
    _sqlite_trigger(
        "equipment_area_change_delete",
        "DELETE",
        "equipment",
        "",
        _sqlite_log("SELECT area FROM area_member WHERE equipment = OLD.id"),
    ),
    _sqlite_trigger(
        "due_date_area_change_insert",
        "INSERT",
        "due_date",
        "NEW.kind = 'maintenance'",
        _sqlite_log("SELECT area FROM area_member WHERE equipment = NEW.equipment"),
    ),
    _sqlite_trigger(
        "due_date_area_change_update",
        "UPDATE",
        "due_date",
        "NEW.kind = 'maintenance' OR OLD.kind = 'maintenance'",
        _sqlite_log(
            "SELECT area FROM area_member WHERE equipment IN (OLD.equipment, NEW.equipment)"
        ),
    ),
    _sqlite_trigger(
        "due_date_area_change_delete",
        "DELETE",
        "due_date",
        "OLD.kind = 'maintenance'",
        _sqlite_log("SELECT area FROM area_member WHERE equipment = OLD.equipment"),
    ),
    _sqlite_trigger(
        "alarm_area_change_insert",
        "INSERT",
        "alarm",
        "",
        _sqlite_log("SELECT area FROM area_member WHERE equipment = NEW.equipment"),
    ),
    _sqlite_trigger(
        "alarm_area_change_update",
        "UPDATE",
        "alarm",
        "",
        _sqlite_log(
            "SELECT area FROM area_member WHERE equipment IN (OLD.equipment, NEW.equipment)"
        ),
    ),
    _sqlite_trigger(
        "alarm_area_change_delete",
        "DELETE",
        "alarm",
        "",
        _sqlite_log("SELECT area FROM area_member WHERE equipment = OLD.equipment"),
    ),
    _sqlite_trigger("area_area_change_insert", "INSERT", "area", "", _sqlite_log("SELECT NEW.id")),
    _sqlite_trigger("area_area_change_update", "UPDATE", "area", "", _sqlite_log("SELECT NEW.id")),
    _sqlite_trigger("area_area_change_delete", "DELETE", "area", "", _sqlite_log("SELECT OLD.id")),
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
