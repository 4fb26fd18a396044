"""Calendar arithmetic the inspection rules need, and nothing else.

Regulations count in whole years ("every 2 years"), in months ("the due month", "up to
2 months early") and in days (maintenance "every 15 days"). Adding years or months to a
day that does not exist in the target month (29 February, 31 March + 1 month) lands on
that month's last day: a due date may come earlier than a naive reading, never later,
so a unit is never reported in date when a stricter reading would call it overdue.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from functools import lru_cache

__all__ = [
    "add_days",
    "add_months",
    "add_years",
    "first_day_of_month",
    "last_day_of_month",
    "month_end",
    "month_index",
    "month_start",
]


def last_day_of_month(year: int, month: int) -> date:
    """The last calendar day of ``year``-``month``."""
    return date(year, month, calendar.monthrange(year, month)[1])


def first_day_of_month(year: int, month: int) -> date:
    """The first calendar day of ``year``-``month``."""
    return date(year, month, 1)


def month_index(day: date) -> int:
    """Months since year 0: consecutive months differ by exactly 1 (for month counting)."""
    return day.year * 12 + day.month - 1


def month_start(index: int) -> date:
    """First day of the month numbered ``index`` by :func:`month_index`."""
    year, month0 = divmod(index, 12)
    return first_day_of_month(year, month0 + 1)


# The lift rules walk a unit's years month-end by month-end, a dozen per schedule: the
# answers are kept (a few thousand months cover every register; bounded all the same).
@lru_cache(maxsize=1 << 14)
def month_end(index: int) -> date:
    """Last day of the month numbered ``index`` by :func:`month_index`."""
    year, month0 = divmod(index, 12)
    return last_day_of_month(year, month0 + 1)


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` (may be negative), clamped to the target month's end."""
    index = month_index(day) + months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def add_years(day: date, years: int) -> date:
    """``day`` moved by whole ``years``; 29 February becomes 28 February in common years."""
    return add_months(day, 12 * years)


def add_days(day: date, days: int) -> date:
    """``day`` moved by ``days`` calendar days."""
    return day + timedelta(days=days)
