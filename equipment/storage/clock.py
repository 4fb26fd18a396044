"""The test clock's offset: the seconds every background worker adds to its clock when
the test clock is on (one test moves time for all its worker processes at once)."""

from __future__ import annotations

from equipment.storage.tables import ClockOffset


class ClockRepository:
    async def offset_seconds(self) -> float | None:
        """The offset held in ``clock_offset`` (the first row), None when it holds none."""
        row = await ClockOffset.select(ClockOffset.seconds).order_by(ClockOffset.id).first()
        return float(row["seconds"]) if row else None
