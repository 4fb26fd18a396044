"""The map's colours: an area by its overdue lifts, a lift point by its most urgent state."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from equipment.domain.map_shading import area_shade, point_state

TODAY = date(2026, 12, 6)


@pytest.mark.parametrize("overdue", range(0, 25))
def test_area_shade_steps_at_one_three_and_ten_overdue_lifts(overdue: int):
    expected = (
        "none" if overdue == 0 else "low" if overdue < 3 else "medium" if overdue < 10 else "high"
    )
    assert area_shade(overdue) == expected


STATUSES = ("pending", "in_use", "suspended")
DUES = (None, TODAY - timedelta(days=1), TODAY, TODAY + timedelta(days=1))


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("due", DUES)
@pytest.mark.parametrize("alarm", (False, True))
def test_point_state_names_the_most_urgent_condition(status, due, alarm):
    state = point_state(status, due, TODAY, alarm)
    if alarm:
        assert state == "alarm"
    elif status != "in_use":
        assert state == "stopped"
    elif due is not None and due < TODAY:
        assert state == "overdue"
    else:
        assert state == "ok"
