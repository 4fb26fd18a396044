"""Issue 23: the clean-up list's dismissals say why (inspection_cleanup.note)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-06T19:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "The clean-up list's dismissal reason (inspection_cleanup.note)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)
    manager.add_column(
        table_class_name="InspectionCleanup",
        tablename="inspection_cleanup",
        column_name="note",
        db_column_name="note",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 200,
            "default": "",
            "null": False,
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
