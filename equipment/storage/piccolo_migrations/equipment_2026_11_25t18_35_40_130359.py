from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from piccolo.columns.column_types import ForeignKey
from piccolo.columns.column_types import Varchar

from equipment.storage.tables import Equipment

FILTER_COLUMNS = (
    "category", "district_code", "status", "user_unit", "maintenance_company", "owning_station",
)

ID = "2026-11-25T18:35:40:130359"
VERSION = "1.38.0"
DESCRIPTION = "Filter indexes move to composite (column, id) indexes"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="equipment", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="Equipment",
        tablename="equipment",
        column_name="category",
        db_column_name="category",
        params={"index": False},
        old_params={"index": True},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    manager.alter_column(
        table_class_name="Equipment",
        tablename="equipment",
        column_name="district_code",
        db_column_name="district_code",
        params={"index": False},
        old_params={"index": True},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    manager.alter_column(
        table_class_name="Equipment",
        tablename="equipment",
        column_name="user_unit",
        db_column_name="user_unit",
        params={"index": False},
        old_params={"index": True},
        column_class=ForeignKey,
        old_column_class=ForeignKey,
        schema=None,
    )

    manager.alter_column(
        table_class_name="Equipment",
        tablename="equipment",
        column_name="maintenance_company",
        db_column_name="maintenance_company",
        params={"index": False},
        old_params={"index": True},
        column_class=ForeignKey,
        old_column_class=ForeignKey,
        schema=None,
    )

    manager.alter_column(
        table_class_name="Equipment",
        tablename="equipment",
        column_name="owning_station",
        db_column_name="owning_station",
        params={"index": False},
        old_params={"index": True},
        column_class=ForeignKey,
        old_column_class=ForeignKey,
        schema=None,
    )

    manager.alter_column(
        table_class_name="Equipment",
        tablename="equipment",
        column_name="status",
        db_column_name="status",
        params={"index": False},
        old_params={"index": True},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    async def composite_indexes() -> None:
        # Same SQL on PostgreSQL and SQLite: a filtered, id-ordered keyset page becomes one
        # index range scan whatever the filter's selectivity.
        engine = Equipment._meta.db
        for column in FILTER_COLUMNS:
            await engine.run_ddl(
                f'CREATE INDEX IF NOT EXISTS equipment_{column}_id ON equipment ("{column}", id)'
            )

    manager.add_raw(composite_indexes)
    return manager
