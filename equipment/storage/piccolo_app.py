"""Piccolo app of the register."""

import os

from piccolo.conf.apps import AppConfig

from equipment.storage.tables import REGISTER_TABLES

APP_CONFIG = AppConfig(
    app_name="equipment",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=list(REGISTER_TABLES),
    migration_dependencies=[],
    commands=[],
)
