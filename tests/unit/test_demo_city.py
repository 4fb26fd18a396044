"""The demo city: deterministic, and every row passes the register's own validators."""

from __future__ import annotations

from collections import Counter
from datetime import date
from itertools import islice

import pytest

from equipment.demo import city
from equipment.domain import codes, parameters
from equipment.domain.catalogue import is_cylinder, is_lift
from equipment.domain.lifecycle import registration_is_late
from equipment.domain.regions import XIANGYANG_DISTRICTS
from geo.assign import assign_points
from geo.demo_areas import demo_areas

TODAY = date(2025, 6, 15)
ORG_IDS = {
    "user_unit": [1, 2, 3],
    "maintenance_company": [10, 11],
    "inspection_body": [20],
    "filling_station": [30, 31],
}
COUNT = 2000
# Xiangyang's rough box (WGS-84).
LON = (110.5, 113.5)
LAT = (31.2, 32.9)


@pytest.fixture(scope="module")
def units() -> list[dict]:
    return list(city.units(11, COUNT, TODAY, ORG_IDS))


@pytest.fixture(scope="module")
def organisations() -> list[city.DemoOrganisation]:
    return city.organisations(11, COUNT, TODAY)


# ---------------------------------------------------------------------------------------
# Determinism


def test_same_seed_gives_the_same_city():
    assert city.organisations(5, 3000, TODAY) == city.organisations(5, 3000, TODAY)
    first = list(islice(city.units(5, 3000, TODAY, ORG_IDS), 300))
    again = list(islice(city.units(5, 3000, TODAY, ORG_IDS), 300))
    assert first == again


def test_a_shorter_run_is_a_prefix_of_a_longer_one():
    short = list(city.units(5, 300, TODAY, ORG_IDS))
    long = list(islice(city.units(5, 3000, TODAY, ORG_IDS), 300))
    assert short == long


def test_another_seed_gives_another_city():
    assert city.organisations(5, 3000, TODAY) != city.organisations(6, 3000, TODAY)
    first = list(city.units(5, 300, TODAY, ORG_IDS))
    other = list(city.units(6, 300, TODAY, ORG_IDS))
    assert first != other
    assert {u["code"] for u in first} != {u["code"] for u in other}


def test_generation_does_not_touch_the_global_random_state():
    import random

    random.seed(1)
    expected = random.random()
    random.seed(1)
    list(city.units(5, 200, TODAY, ORG_IDS))
    city.organisations(5, 200, TODAY)
    assert random.random() == expected


# ---------------------------------------------------------------------------------------
# Organisations


def test_organisation_counts(organisations: list[city.DemoOrganisation]):
    counts = Counter(o.kind for o in organisations)
    assert counts == city.organisation_counts(COUNT)
    assert city.organisation_counts(COUNT) == {
        "user_unit": 80,
        "maintenance_company": 10,
        "inspection_body": 3,
        "filling_station": 5,
    }


def test_every_credit_code_is_valid_and_unique(organisations: list[city.DemoOrganisation]):
    for org in organisations:
        assert codes.validate_credit_code(org.credit_code) == org.credit_code
    assert len({o.credit_code for o in organisations}) == len(organisations)


def test_credit_codes_of_a_big_city_are_valid():
    orgs = city.organisations(3, 200_000, TODAY)
    assert len(orgs) == 8000 + 400 + 3 + 200
    for org in orgs:
        codes.validate_credit_code(org.credit_code)
    assert len({o.credit_code for o in orgs}) == len(orgs)


def test_licences_belong_to_licensed_organisations(organisations: list[city.DemoOrganisation]):
    for org in organisations:
        licensed = org.kind != "user_unit"
        assert (org.licence_no is not None) is licensed
        assert (org.licence_valid_until is not None) is licensed
    assert len({o.name for o in organisations}) == len(organisations)


# ---------------------------------------------------------------------------------------
# Units: every row passes the validators


def test_unit_count(units: list[dict]):
    assert len(units) == COUNT


def test_registration_codes_parse_and_agree_with_the_row(units: list[dict]):
    registered = [u for u in units if u["registration_code"] is not None]
    assert len(registered) > COUNT * 0.9
    for unit in registered:
        parsed = codes.parse_registration_code(unit["registration_code"], TODAY)
        assert parsed.code == unit["registration_code"]
        assert parsed.category_code == unit["category"]
        assert parsed.region_code == unit["district_code"]
        registered_on = unit["registered_on"]
        assert (parsed.registered_year, parsed.registered_month) == (
            registered_on.year,
            registered_on.month,
        )


def test_equipment_codes_parse_and_agree_with_the_row(units: list[dict]):
    for unit in units:
        parsed = codes.parse_equipment_code(unit["equipment_code"], TODAY)
        assert parsed.category_code == unit["category"]
        assert parsed.manufacture_year == unit["manufacture_date"].year


def test_certificate_numbers_are_valid(units: list[dict]):
    for unit in units:
        if unit["registered_on"] is None:
            assert unit["certificate_no"] is None
        else:
            number = codes.validate_certificate_number(unit["certificate_no"])
            assert codes.is_full_certificate_number(number), number


def test_parameters_pass_validation(units: list[dict]):
    for unit in units:
        parameters.validate_parameters(unit["category"], unit["parameters"])


def test_districts_are_xiangyang_ones(units: list[dict]):
    xiangyang = {d.code for d in XIANGYANG_DISTRICTS}
    assert {u["district_code"] for u in units} == xiangyang


def test_coordinates_are_inside_xiangyang(units: list[dict]):
    located = 0
    for unit in units:
        lon, lat = unit["longitude"], unit["latitude"]
        assert (lon is None) is (lat is None)
        if lon is None:
            continue
        located += 1
        assert LON[0] <= lon <= LON[1], unit["code"]
        assert LAT[0] <= lat <= LAT[1], unit["code"]
    assert COUNT * 0.9 < located < COUNT  # a few lack coordinates on purpose


def test_codes_are_unique(units: list[dict]):
    assert len({u["code"] for u in units}) == COUNT
    assert len({u["equipment_code"] for u in units}) == COUNT
    registration = [u["registration_code"] for u in units if u["registration_code"]]
    assert len(set(registration)) == len(registration)


def test_the_code_is_the_registration_code_or_else_the_equipment_code(units: list[dict]):
    for unit in units:
        assert unit["code"] == (unit["registration_code"] or unit["equipment_code"])


def test_all_statuses_and_several_categories_occur(units: list[dict]):
    statuses = Counter(u["status"] for u in units)
    assert set(statuses) == {"pending", "in_use", "suspended", "scrapped", "cancelled"}
    assert statuses["in_use"] > COUNT / 2
    categories = Counter(u["category"] for u in units)
    assert len(categories) >= 10
    assert categories.most_common(1)[0][0] == "3110"  # lifts dominate
    assert {"3110", "2320", "2310", "23T0", "2100"} <= set(categories)


def test_status_and_dates_are_consistent(units: list[dict]):
    for unit in units:
        assert unit["manufacture_date"] < unit["commissioning_date"] <= TODAY
        assert unit["status_since"] <= TODAY
        if unit["status"] == "pending":
            assert unit["registered_on"] is None
            assert unit["registration_code"] is None
            assert unit["status_since"] == unit["commissioning_date"]
        else:
            assert unit["registered_on"] <= TODAY
            assert unit["status_since"] >= unit["registered_on"]
        late = unit["registered_on"] is not None and registration_is_late(
            unit["commissioning_date"], unit["registered_on"]
        )
        assert unit["late_registration"] is late
    assert any(u["late_registration"] for u in units)


def test_cylinders_belong_to_a_station_except_vehicle_ones(units: list[dict]):
    cylinders = [u for u in units if is_cylinder(u["category"])]
    assert cylinders
    vehicle = [u for u in cylinders if u["parameters"].get("vehicle")]
    assert vehicle, "some 23T0 vehicle cylinders should occur in 2,000 units"
    for unit in cylinders:
        assert unit["maintenance_company"] is None
        if unit["parameters"].get("vehicle"):
            assert unit["owning_station"] is None
            assert unit["user_unit"] in ORG_IDS["user_unit"]
        else:
            assert unit["owning_station"] in ORG_IDS["filling_station"]
            assert unit["user_unit"] == unit["owning_station"]


def test_other_units_have_a_user_unit_and_a_maintainer(units: list[dict]):
    for unit in units:
        if is_cylinder(unit["category"]):
            continue
        assert unit["owning_station"] is None
        assert unit["user_unit"] in ORG_IDS["user_unit"]
        assert unit["maintenance_company"] in ORG_IDS["maintenance_company"]


@pytest.mark.parametrize("today", [date(2024, 2, 29), date(2025, 1, 1), date(2030, 12, 31)])
def test_rows_are_valid_on_other_days(today: date):
    for unit in city.units(2, 400, today, ORG_IDS):
        if unit["registration_code"]:
            codes.parse_registration_code(unit["registration_code"], today)
        codes.parse_equipment_code(unit["equipment_code"], today)
        parameters.validate_parameters(unit["category"], unit["parameters"])


# ---------------------------------------------------------------------------------------
# Old residential areas: some urban lifts placed in them, old and neglected

CODE_FIELDS = ("code", "registration_code", "equipment_code", "certificate_no")


@pytest.fixture(scope="module")
def demo_area_list() -> list:
    return demo_areas(11)


@pytest.fixture(scope="module")
def placed(demo_area_list) -> list[dict]:
    return list(city.units(11, COUNT, TODAY, ORG_IDS, demo_area_list))


def test_without_areas_no_unit_is_placed(units: list[dict]):
    assert not any("neglected" in u for u in units)


def test_areas_change_only_the_lifts_they_place(units: list[dict], placed: list[dict]):
    assert len(placed) == COUNT
    for plain, unit in zip(units, placed, strict=True):
        if unit.get("neglected"):
            continue
        # Codes carry per-month and per-year serial numbers, which an older placed lift
        # can shift; everything else is the same unit.
        assert {k: v for k, v in plain.items() if k not in CODE_FIELDS} == {
            k: v for k, v in unit.items() if k not in CODE_FIELDS
        }


def test_placed_lifts_are_old_urban_lifts_inside_old_residential_areas(
    placed: list[dict], demo_area_list: list
):
    old = [a for a in demo_area_list if a.kind == "old_residential"]
    moved = [u for u in placed if u.get("neglected")]
    urban_lifts = [
        u for u in placed if u["district_code"] in city.URBAN_DISTRICTS and is_lift(u["category"])
    ]
    assert 0.10 < len(moved) / len(urban_lifts) < 0.20
    lons = [u["longitude"] for u in moved]
    lats = [u["latitude"] for u in moved]
    point, _ = assign_points(lons, lats, old)
    assert set(point.tolist()) == set(range(len(moved)))  # every one inside an old area
    for unit in moved:
        assert is_lift(unit["category"]) and unit["district_code"] in city.URBAN_DISTRICTS
        age_years = (TODAY - unit["commissioning_date"]).days / 365.25
        assert 15 < age_years < 30
        codes.parse_equipment_code(unit["equipment_code"], TODAY)
        if unit["registration_code"]:
            codes.parse_registration_code(unit["registration_code"], TODAY)
    # clustered: on average more than one placed lift per old residential area used
    areas_used = set(assign_points(lons, lats, old)[1].tolist())
    assert len(moved) > 1.2 * len(areas_used)


def test_placement_is_deterministic(demo_area_list: list, placed: list[dict]):
    assert list(city.units(11, COUNT, TODAY, ORG_IDS, demo_area_list)) == placed
    assert list(city.units(11, 300, TODAY, ORG_IDS, demo_area_list)) == placed[:300]
