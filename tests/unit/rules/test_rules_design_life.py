"""Change registration due when a unit reaches its design service life and stays in use
(TSG 08-2017, rule registration.change.design_life)."""

from __future__ import annotations

from datetime import date

import pytest

from equipment.domain.rules import Inspection, UnitHistory, load_policy, schedule

COMMISSIONED = date(2006, 5, 20)


def lift(**params: object) -> UnitHistory:
    return UnitHistory(
        "3110",
        commissioning_date=COMMISSIONED,
        manufacture_date=date(2006, 1, 10),
        parameters=params,
        inspections=(Inspection(COMMISSIONED, "supervisory", "pass", reason="installation"),),
    )


@pytest.mark.parametrize(
    ("today", "due"),
    [
        (date(2026, 5, 19), None),  # not reached yet
        (date(2026, 5, 20), date(2026, 6, 19)),  # reached today: due within 30 days
        (date(2027, 1, 1), date(2026, 6, 19)),
    ],
)
def test_change_registration_is_due_from_the_end_of_the_design_life(
    today: date, due: date | None
) -> None:
    item = schedule(lift(design_service_life_years=20), today).for_kind("change_registration")
    assert (item.due_on if item else None) == due
    if item is not None:
        assert item.rule_key == "registration.change.design_life"
        assert item.source.startswith("TSG 08-2017") and item.tag == "U"
        assert item.base_date == date(2026, 5, 20)


def test_without_a_design_life_nothing_is_due() -> None:
    assert schedule(lift(), date(2040, 1, 1)).for_kind("change_registration") is None


def test_manufacture_date_when_no_commissioning_date() -> None:
    unit = UnitHistory(
        "4300", manufacture_date=date(2010, 3, 1), parameters={"design_service_life_years": 10}
    )
    item = schedule(unit, date(2020, 3, 2)).for_kind("change_registration")
    assert item is not None and item.base_date == date(2020, 3, 1)


def test_a_suspended_unit_is_not_listed_and_a_scrapped_one_owes_nothing() -> None:
    unit = lift(design_service_life_years=15)
    suspended = schedule(
        UnitHistory(**{**{n: getattr(unit, n) for n in unit.__slots__}, "status": "suspended"}),
        date(2022, 1, 1),
    )
    assert all(d.kind != "change_registration" for d in suspended.due)
    scrapped = UnitHistory(
        **{**{n: getattr(unit, n) for n in unit.__slots__}, "status": "scrapped"}
    )
    assert schedule(scrapped, date(2022, 1, 1)).for_kind("change_registration") is None


def test_cylinders_are_scrapped_not_registered_anew() -> None:
    cylinder = UnitHistory(
        "2310",
        manufacture_date=date(2000, 1, 1),
        parameters={"medium": "N2", "design_service_life_years": 10},
    )
    result = schedule(cylinder, date(2015, 1, 1))
    assert result.for_kind("change_registration") is None
    assert result.not_fit_for_use


def test_the_30_days_are_a_policy_item() -> None:
    policy = load_policy({"overrides": {"registration.change.design_life": {"interval_days": 60}}})
    item = schedule(lift(design_service_life_years=20), date(2026, 6, 1), policy).for_kind(
        "change_registration"
    )
    assert item is not None and item.due_on == date(2026, 7, 19)
