"""Piccolo's configuration: PostgreSQL when DATABASE_URL is set, otherwise a SQLite file."""

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from equipment.settings import DatabaseSettings, settings_from_env


def make_engine(database: DatabaseSettings) -> PostgresEngine | SQLiteEngine:
    if database.is_postgres:
        return PostgresEngine(config=database.postgres_config())
    # Foreign keys are off in SQLite unless asked for per connection; Piccolo asks.
    return SQLiteEngine(path=str(database.sqlite_path))


DB = make_engine(settings_from_env().database)

APP_REGISTRY = AppRegistry(apps=["equipment.storage.piccolo_app"])
