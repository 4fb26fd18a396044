"""Month arithmetic: month ends and 29 February."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.domain.rules.dates import (
    add_days,
    add_months,
    add_years,
    last_day_of_month,
    month_end,
    month_index,
    month_start,
)


@pytest.mark.parametrize(
    ("start", "years", "expected"),
    [
        (date(2020, 2, 29), 1, date(2021, 2, 28)),
        (date(2020, 2, 29), 4, date(2024, 2, 29)),
        (date(2019, 2, 28), 1, date(2020, 2, 28)),
        (date(2015, 1, 31), 2, date(2017, 1, 31)),
        (date(2020, 12, 31), 6, date(2026, 12, 31)),
    ],
)
def test_add_years(start: date, years: int, expected: date) -> None:
    assert add_years(start, years) == expected


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2021, 3, 31), -1, date(2021, 2, 28)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
        (date(2021, 1, 31), 3, date(2021, 4, 30)),
        (date(2021, 11, 15), 2, date(2022, 1, 15)),
        (date(2022, 1, 15), -2, date(2021, 11, 15)),
    ],
)
def test_add_months(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_month_bounds() -> None:
    assert last_day_of_month(2024, 2) == date(2024, 2, 29)
    assert last_day_of_month(2023, 2) == date(2023, 2, 28)
    index = month_index(date(2023, 12, 5))
    assert month_start(index) == date(2023, 12, 1)
    assert month_end(index) == date(2023, 12, 31)
    assert month_start(index + 1) == date(2024, 1, 1)
    assert add_days(date(2024, 2, 20), 15) == date(2024, 3, 6)


@given(st.dates(min_value=date(1950, 1, 1), max_value=date(2100, 12, 31)), st.integers(0, 50))
def test_add_years_keeps_the_day_or_clamps_to_month_end(start: date, years: int) -> None:
    moved = add_years(start, years)
    assert (moved.year, moved.month) == (start.year + years, start.month)
    if (start.month, start.day) == (2, 29) and moved.day != 29:
        assert moved == date(moved.year, 2, 28)
    else:
        assert moved.day == start.day


@given(st.dates(min_value=date(1950, 1, 1), max_value=date(2100, 12, 31)), st.integers(-60, 60))
def test_add_months_never_passes_the_target_month(start: date, months: int) -> None:
    moved = add_months(start, months)
    assert month_index(moved) == month_index(start) + months
    assert moved.day <= start.day
    assert moved <= month_end(month_index(moved))
