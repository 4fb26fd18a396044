"""Policy overrides: [S]/[U] rows by configuration, [C] rows refused."""

from __future__ import annotations

from datetime import date

import pytest

from equipment.domain.errors import InvalidValue
from equipment.domain.rules import (
    DEFAULT_POLICY,
    TABLE,
    Inspection,
    UnitHistory,
    load_policy,
    schedule,
)

LPG = UnitHistory("2320", parameters={"medium": "LPG"}, manufacture_date=date(2020, 3, 10))


def test_override_of_an_s_row_changes_the_date_without_code() -> None:
    policy = load_policy(
        {"name": "bureau 2025", "overrides": {"cylinder.lpg": {"interval_years": 5}}}
    )
    assert policy.name == "bureau 2025"
    item = schedule(LPG, date(2020, 4, 1), policy).for_kind("periodic")
    assert item is not None
    assert (item.due_on, item.rule_key) == (date(2025, 3, 10), "cylinder.lpg")
    # The default is untouched.
    assert DEFAULT_POLICY.row("cylinder.lpg").interval_years == 4
    item = schedule(LPG, date(2020, 4, 1)).for_kind("periodic")
    assert item is not None and item.due_on == date(2024, 3, 10)


def test_override_of_a_u_row() -> None:
    policy = load_policy({"overrides": {"ropeway.periodic": {"interval_years": 2}}})
    ropeway = UnitHistory("9000", commissioning_date=date(2020, 1, 1))
    item = schedule(ropeway, date(2020, 2, 1), policy).next_periodic
    assert item is not None and item.due_on == date(2022, 1, 1)


def test_override_of_a_range_choice() -> None:
    policy = load_policy({"overrides": {"vessel.grade_3": {"interval_years": 5}}})
    vessel = UnitHistory(
        "2100",
        commissioning_date=date(2018, 1, 1),
        inspections=(Inspection(date(2021, 5, 1), "periodic", "pass", safety_grade=3),),
    )
    item = schedule(vessel, date(2021, 6, 1), policy).next_periodic
    assert item is not None and item.due_on == date(2026, 5, 1)


def test_c_row_choice_within_the_regulation_range_is_allowed() -> None:
    policy = load_policy({"overrides": {"boiler.internal.power_station": {"interval_years": 6}}})
    boiler = UnitHistory(
        "1000",
        parameters={"power_station": True},
        commissioning_date=date(2018, 1, 1),
        inspections=(Inspection(date(2021, 5, 1), "internal", "pass"),),
    )
    item = schedule(boiler, date(2021, 6, 1), policy).for_kind("internal")
    assert item is not None and item.due_on == date(2027, 5, 1)


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        (
            {"boiler.external": {"interval_years": 2}},
            "overrides.boiler.external.interval_years",
            "[C]",
        ),
        (
            {"lift.maintenance": {"interval_days": 30}},
            "overrides.lift.maintenance.interval_days",
            "[C]",
        ),
        ({"lift.early": {"months": 3}}, "overrides.lift.early.months", "[C]"),
        (
            {"lift.periodic_years": {"years": [1, 2]}},
            "overrides.lift.periodic_years.years",
            "no overridable value",
        ),
        (
            {"boiler.internal.power_station": {"interval_years": 7}},
            "overrides.boiler.internal.power_station.interval_years",
            "allows 3 to 6",
        ),
        (
            {"vessel.grade_3": {"interval_years": 2}},
            "overrides.vessel.grade_3.interval_years",
            "allows 3 to 6",
        ),
        ({"cylinder.nope": {"interval_years": 2}}, "overrides.cylinder.nope", "no rule"),
        (
            {"cylinder.lpg": {"first_interval_years": 2}},
            "overrides.cylinder.lpg.first_interval_years",
            "no overridable value",
        ),
        (
            {"cylinder.lpg": {"interval_years": 0}},
            "overrides.cylinder.lpg.interval_years",
            "positive",
        ),
        (
            {"cylinder.lpg": {"interval_years": True}},
            "overrides.cylinder.lpg.interval_years",
            "positive",
        ),
        (
            {"cylinder.lpg": {"interval_years": "5"}},
            "overrides.cylinder.lpg.interval_years",
            "positive",
        ),
        ({"cylinder.lpg": 5}, "overrides.cylinder.lpg", "mapping"),
    ],
)
def test_refused_overrides(overrides: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(InvalidValue) as error:
        load_policy({"overrides": overrides})
    assert error.value.field == field
    assert words in error.value.reason


def test_every_c_row_refuses_every_non_choice_value() -> None:
    for row in TABLE:
        if row.tag != "C":
            continue
        for name in (
            "interval_years",
            "first_interval_years",
            "interval_days",
            "months",
            "min_stop_years",
        ):
            if getattr(row, name) is None or (row.choice and row.choice[0] == name):
                continue
            with pytest.raises(InvalidValue, match=r"\[C\]"):
                load_policy({"overrides": {row.key: {name: 1}}})


@pytest.mark.parametrize(
    "mapping",
    [
        {"overide": {}},
        {"overrides": []},
        {"name": 3},
        {"media": {"CO2": "toxic"}},
        {"media": []},
    ],
)
def test_malformed_policies_are_refused(mapping: dict[str, object]) -> None:
    with pytest.raises(InvalidValue):
        load_policy(mapping)


def test_policy_must_be_a_mapping() -> None:
    with pytest.raises(InvalidValue):
        load_policy(["overrides"])  # type: ignore[arg-type]


def test_media_override_classifies_a_gas() -> None:
    policy = load_policy({"media": {"co2": "corrosive"}})
    co2 = UnitHistory("2310", parameters={"medium": "CO2"}, manufacture_date=date(2020, 3, 10))
    item = schedule(co2, date(2020, 4, 1), policy).next_periodic
    assert item is not None
    assert (item.due_on, item.rule_key) == (date(2022, 3, 10), "cylinder.corrosive")


def test_empty_policy_equals_the_default() -> None:
    policy = load_policy({})
    assert dict(policy.rows) == dict(DEFAULT_POLICY.rows)
    assert dict(policy.media) == dict(DEFAULT_POLICY.media)


def test_escalation_waits_per_alarm_kind():
    from equipment.domain.rules.policy import load_policy

    policy = load_policy({"escalation": {"entrapment": 3, "unintended_movement": 10}})
    assert dict(policy.escalation) == {"entrapment": 3, "unintended_movement": 10}
    assert dict(load_policy({}).escalation) == {}


@pytest.mark.parametrize("minutes", [0, -1, 1441, 2.5, True, "5", None])
def test_escalation_waits_are_whole_minutes_up_to_a_day(minutes):
    from equipment.domain.rules.policy import load_policy

    with pytest.raises(InvalidValue, match=r"escalation\.entrapment"):
        load_policy({"escalation": {"entrapment": minutes}})
