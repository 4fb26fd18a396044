"""The one place that reads the clock. Domain rules get ``today`` passed in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

# China keeps one time zone with no daylight saving; a fixed offset needs no tzdata.
CHINA = timezone(timedelta(hours=8), "CST")


def now() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    """Today in the bureau's time zone: a due date flips at local midnight, not UTC's."""
    return datetime.now(CHINA).date()
