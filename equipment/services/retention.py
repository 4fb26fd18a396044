"""What is kept how long. Telemetry, dead letters and the live alarm board's change feed
(``alarm_change``) grow without bound and are pruned by age; fill records are
traceability records, kept at least 2 years (docs/rules.md, "Gas cylinders": a local
standard [S]); the register itself is never deleted from, only changed with its
history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from equipment.domain.errors import InvalidValue
from equipment.services import alarm_feed
from equipment.storage import reads
from equipment.storage.retention import Aged

FILL_MINIMUM_DAYS = 2 * 365
# Sessions that ended or expired are no use to anyone after this; a month keeps them for
# the question "who was logged in last week".
SESSION_DAYS = 30
# Rows per DELETE: short transactions, so pruning a backlog never blocks the ingest.
CHUNK = 20_000


@dataclass(frozen=True)
class Retention:
    heartbeat_days: int
    dead_letter_days: int
    fill_days: int | None = None  # None: fills are kept
    lift_event_days: int | None = None  # None: the fault history is kept
    alarm_change_days: int = 7  # the live board's change feed (never its last MAX_REPLAY)

    def __post_init__(self) -> None:
        if self.fill_days is not None and self.fill_days < FILL_MINIMUM_DAYS:
            raise InvalidValue(
                f"fill records are kept at least {FILL_MINIMUM_DAYS} days (2 years)",
                field="fill_days",
            )
        for name in ("heartbeat_days", "dead_letter_days", "lift_event_days", "alarm_change_days"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InvalidValue(f"{name} must be at least 1", field=name)


async def prune(retention: Retention, *, now: datetime) -> dict[str, int]:
    """Delete what is older than its retention (and staff sessions over for a month);
    returns the rows removed per table."""
    keep: dict[Aged, int | None] = {
        "lift_heartbeat": retention.heartbeat_days,
        "dead_letter": retention.dead_letter_days,
        "fill": retention.fill_days,
        "lift_event": retention.lift_event_days,
        "web_session": SESSION_DAYS,
        "alarm_change": retention.alarm_change_days,
    }
    removed: dict[str, int] = {}
    for table, days in keep.items():
        if days is None:
            continue
        cutoff = now - timedelta(days=days)
        removed[table] = 0
        while True:
            deleted = await reads().retention.delete_older(
                table, cutoff, limit=CHUNK, keep_last=alarm_feed.MAX_REPLAY
            )
            removed[table] += deleted
            if deleted < CHUNK:
                break
    return removed
