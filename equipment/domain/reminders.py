"""When a due date turns into a reminder and then into an overdue unit.

TSG 08-2017 (docs/rules.md "Obligations", [C]): the user unit applies for the periodic
inspection at least one month before the current one expires, and may not use the unit
after it expires. So a due date gives a reminder one month before it (the legal deadline
to apply) and an overdue state from the day after it.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from equipment.domain.rules.dates import add_months

APPLY_MONTHS_BEFORE = 1  # TSG 08-2017 [C]


class DueState(StrEnum):
    UPCOMING = "upcoming"  # more than a month away
    REMINDER = "reminder"  # within the month in which the user unit must apply
    OVERDUE = "overdue"  # past the due date: the unit may not be used


def reminder_on(due_on: date) -> date:
    """The last day to apply for the inspection: one month before ``due_on``."""
    return add_months(due_on, -APPLY_MONTHS_BEFORE)


def due_state(due_on: date, today: date) -> DueState:
    if today > due_on:
        return DueState.OVERDUE
    if today >= reminder_on(due_on):
        return DueState.REMINDER
    return DueState.UPCOMING
