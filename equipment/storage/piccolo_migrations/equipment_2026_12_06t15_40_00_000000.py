"""Issue 21: the risk grade's points, explanation and time move to a narrow table of
their own (``risk_grade``), so that a grade whose points or explanation change without its
rank rewrites one narrow row instead of the unit's row and its fifteen indexes (a whole
register recompute writes up to a row per unit). ``equipment.risk_rank`` stays: the lists
sort and filter by it. The next migration copies the stored grades and drops the two
columns from ``equipment``."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigInt, DoublePrecision, Text, Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-06T15:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Risk grades: points, explanation and time in risk_grade"


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

    def add(name, column_class, **params):
        manager.add_column(
            table_class_name="RiskGrade",
            tablename="risk_grade",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=_params(**params),
            schema=None,
        )

    manager.add_table(class_name="RiskGrade", tablename="risk_grade", schema=None, columns=None)
    add("equipment", BigInt, primary_key=True, default=0)
    add("points", DoublePrecision, default=0.0)
    add("factors", Text, default="")
    add("graded_at", Timestamptz, default=None, null=True)
    return manager
