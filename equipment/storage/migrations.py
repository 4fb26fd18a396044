"""Bringing the schema up to date: Piccolo's migrations of every app, run forwards (what
``sereg migrate``, ``sereg demo`` and ``serve --demo`` do before they use the register)."""

from __future__ import annotations


class MigrationFailed(Exception):
    """A migration did not apply; the message is Piccolo's."""


async def migrate() -> None:
    """Run every app's migrations that have not run yet; raises MigrationFailed."""
    # Imported here: Piccolo's migration machinery is only needed by the commands that
    # migrate, not by every process that imports the storage layer.
    from piccolo.apps.migrations.commands.forwards import run_forwards

    result = await run_forwards(app_name="all")
    if not result.success:
        raise MigrationFailed(result.message)
