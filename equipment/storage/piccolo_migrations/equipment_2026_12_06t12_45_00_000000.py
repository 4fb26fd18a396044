"""Issue 21: the risk grade (风险分级): the unit's grade, its copy on the due dates, the
grade history, and the hazardous-chemical flag of a user unit (危化品相关)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigInt
from piccolo.columns.column_types import BigSerial
from piccolo.columns.column_types import Boolean
from piccolo.columns.column_types import DoublePrecision
from piccolo.columns.column_types import Integer
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-06T12:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Risk grades (issue 21): per unit, copied to due dates, their history"


def _params(**given):
    params = {
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
    }
    params.update(given)
    return params


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="equipment", description=DESCRIPTION)

    def add(table_class, tablename, name, column_class, **params):
        manager.add_column(
            table_class_name=table_class,
            tablename=tablename,
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=_params(**params),
            schema=None,
        )

    add("Organisation", "organisation", "hazardous_chemicals", Boolean, default=False)
    add("Equipment", "equipment", "risk_rank", Integer, default=0)
    add("Equipment", "equipment", "risk_points", DoublePrecision, default=0.0)
    add("Equipment", "equipment", "risk_graded_at", Timestamptz, default=None, null=True)
    add("DueDate", "due_date", "risk_rank", Integer, default=0)

    manager.add_table(class_name="RiskChange", tablename="risk_change", schema=None, columns=None)
    add("RiskChange", "risk_change", "id", BigSerial, primary_key=True)
    add("RiskChange", "risk_change", "equipment", BigInt, default=0, index=True)
    add("RiskChange", "risk_change", "from_rank", Integer, default=None, null=True)
    add("RiskChange", "risk_change", "to_rank", Integer, default=0)
    add("RiskChange", "risk_change", "points", DoublePrecision, default=0.0)
    add("RiskChange", "risk_change", "changed_at", Timestamptz, default=TimestamptzNow())
    return manager
