"""The legacy export's due dates: computed in a process pool for a large export, the same
as one at a time, in the units' order."""

from __future__ import annotations

from datetime import date
from itertools import islice

import pytest

from equipment.demo import legacy_export


def test_pooled_due_dates_are_the_same_in_the_same_order(monkeypatch: pytest.MonkeyPatch) -> None:
    today = date(2026, 12, 6)
    monkeypatch.setattr(legacy_export, "POOL_CHUNK", 7)  # several chunks ahead, cut anywhere
    one = list(islice(legacy_export._with_dues(legacy_export._clean_units(5, today), today, 1), 60))
    pooled = list(
        islice(legacy_export._with_dues(legacy_export._clean_units(5, today), today, 2), 60)
    )
    assert [u["registration_code"] for u, _ in pooled] == [u["registration_code"] for u, _ in one]
    assert [d for _, d in pooled] == [d for _, d in one]
    assert any(d is not None for _, d in one)
