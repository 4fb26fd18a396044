"""Review: ``alarm_change.changed_at``, the time a change was written (the retention job's
age); the next migration has the database set it."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-06T18:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "alarm_change.changed_at"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)
    manager.add_column(
        table_class_name="AlarmChange",
        tablename="alarm_change",
        column_name="changed_at",
        db_column_name="changed_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    return manager
