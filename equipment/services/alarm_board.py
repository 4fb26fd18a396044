"""The live alarm board's rows: the caller's open alarms, each with where its unit is
and, for an entrapment, by when the maintenance company must be on site."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from equipment.domain.access import Principal
from equipment.services import alarms
from equipment.storage import reads
from equipment.storage.alarms import AlarmRecord, AlarmUnit

# The board lists this many open alarms, newest first (a city has a few dozen at once;
# past this the board says there are more and the API's list pages through them all).
BOARD_LIMIT = 200


@dataclass(frozen=True)
class BoardRow:
    alarm: AlarmRecord
    # The unit's codes and address. Shown because the alarm is visible to the caller
    # (the alarms' scope): the 96333 call centre reads no register, yet must know where
    # the trapped passengers are.
    unit: AlarmUnit | None
    respond_by: datetime | None  # raised + the response limit: on site by then

    @property
    def next_step(self) -> str | None:
        """The response step the maintenance company can mark next (alarms.STEPS order:
        acknowledge, arrive, finish), or None once finished or closed."""
        if self.alarm.state != "open":
            return None
        for step, spec in alarms.STEPS.items():
            column, needs = spec[0], spec[1]  # the column it sets, the one set before
            if getattr(self.alarm, column) is None and (
                needs is None or getattr(self.alarm, needs) is not None
            ):
                return step
        return None

    @property
    def on_site_after_minutes(self) -> int | None:
        """Minutes from the alarm to the arrival on site (the response clock stopped)."""
        if self.alarm.arrived_at is None:
            return None
        return int((self.alarm.arrived_at - self.alarm.raised_at).total_seconds() // 60)


async def open_alarms(principal: Principal) -> tuple[list[BoardRow], bool]:
    """The open alarms ``principal`` may see, newest first, and whether there are more."""
    page = await alarms.list_alarms(
        principal, alarms.AlarmFilter(state="open"), cursor=None, limit=BOARD_LIMIT
    )
    return await _rows(page.items), page.next_cursor is not None


async def board_row(principal: Principal, alarm_id: int) -> BoardRow:
    """One alarm as the board shows it; NotFound outside the caller's alarm scope."""
    [row] = await _rows([await alarms.visible(principal, alarm_id)])
    return row


async def _rows(items: list[AlarmRecord]) -> list[BoardRow]:
    ids = list({a.equipment for a in items if a.equipment is not None})
    units = await reads().alarms.units(ids)
    return [
        BoardRow(
            alarm=a,
            unit=units.get(a.equipment) if a.equipment is not None else None,
            respond_by=(
                a.raised_at + timedelta(minutes=a.response_limit_minutes)
                if a.response_limit_minutes is not None
                else None
            ),
        )
        for a in items
    ]
