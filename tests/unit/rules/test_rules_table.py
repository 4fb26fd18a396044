"""The rule table itself: every row cites its source, and docs/rules.md's rows are all there."""

from __future__ import annotations

import pytest

from equipment.domain.rules import DEFAULT_POLICY, TABLE

# One key per row of docs/rules.md's "Periodic inspection intervals" table (and the lift
# maintenance and cylinder service-life paragraphs): a missing key means a lost rule.
REQUIRED_KEYS = {
    "lift.periodic_years",
    "lift.after_15_years",
    "lift.self_test",
    "lift.due_month",
    "lift.early",
    "lift.major_repair",
    "lift.suspension_anchor",
    "lift.restart_inspection",
    "lift.self_test_early",
    "lift.maintenance",
    "lift.maintenance.on_demand",
    "boiler.external",
    "boiler.internal",
    "boiler.internal.power_station",
    "boiler.internal.restart",
    "boiler.hydrostatic",
    "vessel.first",
    "vessel.first.non_metallic",
    "vessel.grade_1_2",
    "vessel.grade_3",
    "vessel.grade_4",
    "vessel.grade_5",
    "cylinder.corrosive",
    "cylinder.sea_water",
    "cylinder.inert",
    "cylinder.inert.fluorinated",
    "cylinder.diving",
    "cylinder.other",
    "cylinder.lpg",
    "cylinder.vehicle_gas",
    "cylinder.cryogenic",
    "cylinder.composite_breathing",
    "cylinder.acetylene",
    "cylinder.life.lpg",
    "cylinder.life.vehicle_cng",
    "cylinder.life.taxi_cng",
    "cylinder.life.design",
    "crane.yearly",
    "crane.biennial",
    "crane.molten_metal",
    "piping.industrial.grade_1_2",
    "piping.industrial.grade_3",
    "piping.public.gb1_iii",
    "piping.public.gb1_iv_gb2",
    "piping.public.pe_cast_iron",
    "ropeway.periodic",
    "amusement.periodic",
    "vehicle.periodic",
}

# Tags as docs/rules.md gives them.
EXPECTED_TAGS = {
    "lift.periodic_years": "C",
    "lift.after_15_years": "U",
    "lift.self_test": "U",
    "lift.due_month": "C",
    "lift.early": "C",
    "lift.major_repair": "S",
    "lift.suspension_anchor": "C",
    "lift.restart_inspection": "S",
    "lift.self_test_early": "S",
    "lift.maintenance": "C",
    "lift.maintenance.on_demand": "S",
    "boiler.internal": "C",
    "vessel.grade_3": "S",
    "cylinder.lpg": "S",
    "cylinder.acetylene": "U",
    "cylinder.inert.fluorinated": "U",
    "cylinder.diving": "S",
    "cylinder.life.taxi_cng": "S",
    "crane.biennial": "S",
    "piping.public.gb1_iii": "S",
    "ropeway.periodic": "U",
    "amusement.periodic": "U",
    "vehicle.periodic": "U",
}


def test_keys_are_unique_and_complete() -> None:
    keys = [row.key for row in TABLE]
    assert len(keys) == len(set(keys))
    assert set(keys) >= REQUIRED_KEYS


@pytest.mark.parametrize("row", TABLE, ids=[row.key for row in TABLE])
def test_every_row_names_its_source(row: object) -> None:
    # A TSG or GB text, or a province's own measures (entrapment response in Hubei).
    assert row.regulation.startswith(("TSG", "GB", "《湖北省"))  # type: ignore[attr-defined]
    assert row.clause  # type: ignore[attr-defined]
    assert row.tag in {"C", "S", "U"}  # type: ignore[attr-defined]
    assert row.summary  # type: ignore[attr-defined]


@pytest.mark.parametrize(("key", "tag"), sorted(EXPECTED_TAGS.items()))
def test_tags_follow_rules_md(key: str, tag: str) -> None:
    assert DEFAULT_POLICY.row(key).tag == tag


def test_rules_md_numbers() -> None:
    row = DEFAULT_POLICY.row
    assert row("lift.periodic_years").years == (1, 4, 7, 9, 11, 13, 15)
    assert row("lift.maintenance").interval_days == 15
    assert row("lift.early").months == 2
    assert row("lift.self_test_early").months == 1
    assert row("lift.restart_inspection").min_stop_years == 1
    assert row("cylinder.diving").interval_years == 2
    assert row("cylinder.life.taxi_cng").life_years == 8
    assert row("cylinder.life.vehicle_cng").life_years == 15
    assert (row("boiler.internal").interval_years, row("boiler.internal").first_interval_years) == (
        2,
        1,
    )
    assert row("boiler.internal.power_station").choice == ("interval_years", 3, 6)
    assert row("vessel.grade_1_2").interval_years == 6
    assert row("vessel.grade_4").max_total_years == 3
    life = row("cylinder.life.lpg")
    assert (
        life.life_years,
        life.extension_years,
        life.max_life_years,
        life.legacy_life_years,
        life.legacy_before_year,
    ) == (8, 4, 12, 15, 2007)
    assert row("piping.public.pe_cast_iron").interval_years == 15
