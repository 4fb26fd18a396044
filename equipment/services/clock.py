"""The one place that reads the clock. Domain rules get ``today`` passed in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from equipment.settings import ClockSettings

# China keeps one time zone with no daylight saving; a fixed offset needs no tzdata.
CHINA = timezone(timedelta(hours=8), "CST")

_pinned: datetime | None = None


def use(settings: ClockSettings) -> None:
    """Run this process on ``settings``' clock (the bootstrap installs it): the real one,
    or, in a test, one pinned at ``settings.pinned_at``."""
    global _pinned
    _pinned = None if settings.pinned_at is None else settings.pinned_at.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC) if _pinned is None else _pinned


def today() -> date:
    """Today in the bureau's time zone: a due date flips at local midnight, not UTC's."""
    return now().astimezone(CHINA).date()


async def shared_now(*, test_clock: bool) -> datetime:
    """The clock of the background workers (escalation timers, webhook retries).

    With ``test_clock`` (NotifySettings.test_clock, SEREG_TEST_CLOCK), every worker adds
    the offset held in the database's ``clock_offset`` table, so one test moves time for
    all its worker processes at once; production never reads that table.
    """
    from equipment.storage import reads

    real = now()
    if not test_clock:
        return real
    seconds = await reads().clock.offset_seconds()
    return real + timedelta(seconds=seconds) if seconds is not None else real
