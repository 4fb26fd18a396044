"""How the map colours an area and a lift point: what an inspector should look at first.

Not regulation: the bureau's reading of its own counts. An area is shaded by its lifts
overdue for inspection (TSG T7001 requires the yearly periodic inspection; an overdue lift
is one in use without it); any open alarm in it marks it at risk whatever that count.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

Shade = Literal["none", "low", "medium", "high"]
PointState = Literal["alarm", "stopped", "overdue", "ok"]

# Overdue lifts in one area from which each shade starts.
SHADE_FROM: tuple[tuple[int, Shade], ...] = ((10, "high"), (3, "medium"), (1, "low"))


def area_shade(overdue_lifts: int) -> Shade:
    for threshold, shade in SHADE_FROM:
        if overdue_lifts >= threshold:
            return shade
    return "none"


def point_state(
    status: str, next_inspection_due: date | None, today: date, open_alarm: bool
) -> PointState:
    """A lift's colour on the map, the most urgent first: an open alarm, out of use
    (suspended or not yet registered), past its inspection date, else in order."""
    if open_alarm:
        return "alarm"
    if status != "in_use":
        return "stopped"
    if next_inspection_due is not None and next_inspection_due < today:
        return "overdue"
    return "ok"
