"""Review of issue 21: the workers' scheduled jobs (``scheduled_job``), one row a job: the
day of its last (or current) round and where that round has got to. The notify workers
grade the whole register once a day through it (days overdue, late maintenance and age move
with the calendar): several workers share one round, and a restarted one goes on where the
round stopped."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigInt, Date, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-06T18:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Scheduled jobs shared by the workers (the daily risk grading)"


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
            table_class_name="ScheduledJob",
            tablename="scheduled_job",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=_params(**params),
            schema=None,
        )

    manager.add_table(class_name="ScheduledJob", tablename="scheduled_job", schema=None, columns=None)
    add("job", Varchar, length=40, default="", unique=True)
    add("day", Date, default=None, null=True)
    add("next_id", BigInt, default=None, null=True)
    add("updated_at", Timestamptz, default=TimestamptzNow())
    return manager
