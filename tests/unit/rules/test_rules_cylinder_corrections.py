"""Gas cylinders after the corrections of issue 25: diving cylinders every 2 years, a
taxi's CNG cylinder at most 8 years, the SF6 / 六氟乙烷 row unresolved ([U], by policy)."""

from __future__ import annotations

from datetime import date

import pytest

from equipment.domain.errors import InvalidValue
from equipment.domain.rules import UnitHistory, load_policy, schedule

MADE = date(2020, 3, 10)


def cylinder(use: str = "", category: str = "2310", **params: object) -> UnitHistory:
    return UnitHistory(category, manufacture_date=MADE, parameters=params, use=use)


@pytest.mark.parametrize(
    ("use", "medium", "expected", "rule_key"),
    [
        ("diving", "AIR", date(2022, 3, 10), "cylinder.diving"),
        ("diving", "N2", date(2022, 3, 10), "cylinder.diving"),  # not 5 years
        ("general", "AIR", date(2023, 3, 10), "cylinder.other"),
        ("", "N2", date(2025, 3, 10), "cylinder.inert"),
        ("taxi", "CNG", date(2023, 3, 10), "cylinder.vehicle_gas"),
        ("vehicle", "LNG", date(2023, 3, 10), "cylinder.vehicle_gas"),
    ],
)
def test_interval_by_use(use: str, medium: str, expected: date, rule_key: str) -> None:
    item = schedule(cylinder(use, medium=medium), date(2020, 4, 1)).for_kind("periodic")
    assert item is not None
    assert (item.due_on, item.rule_key) == (expected, rule_key)


@pytest.mark.parametrize(
    ("use", "params", "end", "rule_key"),
    [
        ("taxi", {"material": "steel"}, date(2028, 3, 10), "cylinder.life.taxi_cng"),
        ("taxi", {"material": "composite"}, date(2028, 3, 10), "cylinder.life.taxi_cng"),
        (
            "taxi",
            {"material": "steel", "design_service_life_years": 6},
            date(2026, 3, 10),
            "cylinder.life.taxi_cng",
        ),
        (
            "taxi",
            {"material": "steel", "design_service_life_years": 20},
            date(2028, 3, 10),
            "cylinder.life.taxi_cng",
        ),
        ("vehicle", {"material": "steel"}, date(2035, 3, 10), "cylinder.life.vehicle_cng"),
        (
            "",
            {"material": "steel", "vehicle": True},
            date(2035, 3, 10),
            "cylinder.life.vehicle_cng",
        ),
    ],
)
def test_taxi_cng_service_life(
    use: str, params: dict[str, object], end: date, rule_key: str
) -> None:
    unit = cylinder(use, medium="CNG", **params)
    item = schedule(unit, date(2021, 1, 1)).for_kind("end_of_service_life")
    assert item is not None
    assert (item.due_on, item.rule_key) == (end, rule_key)
    # The day after its end the cylinder is not fit for use (to be scrapped); on it, it is.
    assert not schedule(unit, end).not_fit_for_use
    assert schedule(unit, date.fromordinal(end.toordinal() + 1)).not_fit_for_use


def test_unknown_use_is_refused() -> None:
    with pytest.raises(InvalidValue) as error:
        cylinder("submarine", medium="AIR")
    assert error.value.field == "cylinder_use"


@pytest.mark.parametrize("gas", ["SF6", "C2F6"])
def test_the_unresolved_five_year_row_is_a_policy_item(gas: str) -> None:
    unit = cylinder(medium=gas)
    item = schedule(unit, date(2020, 4, 1)).for_kind("periodic")
    assert item is not None
    assert (item.due_on, item.rule_key, item.tag) == (
        date(2025, 3, 10),
        "cylinder.inert.fluorinated",
        "U",
    )
    stricter = load_policy({"overrides": {"cylinder.inert.fluorinated": {"interval_years": 3}}})
    item = schedule(unit, date(2020, 4, 1), stricter).for_kind("periodic")
    assert item is not None and item.due_on == date(2023, 3, 10)
    # N2 keeps its [S] 5-year row whatever the unresolved row says.
    n2 = schedule(cylinder(medium="N2"), date(2020, 4, 1), stricter).for_kind("periodic")
    assert n2 is not None and n2.due_on == date(2025, 3, 10)
    # A bureau may also reclassify the gas through the media mapping.
    other = load_policy({"media": {gas: "other"}})
    item = schedule(unit, date(2020, 4, 1), other).for_kind("periodic")
    assert item is not None and item.rule_key == "cylinder.other"
