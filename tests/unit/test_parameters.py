"""Category-specific parameters: strict keys, strict types, ranges, defaults."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.domain import catalogue
from equipment.domain.errors import InvalidValue
from equipment.domain.parameters import allowed_parameters, normalise_medium, validate_parameters

CYLINDER = {"medium": "LPG", "water_capacity_l": 35.5, "nominal_working_pressure_mpa": 2.1}
CYLINDER_DEFAULTS = {
    "vehicle": False,
    "high_purity": False,
    "sea_water_contact": False,
}


@pytest.mark.parametrize(
    ("code", "params", "expected"),
    [
        # lifts: defaults filled in, the drive implied by the variety
        (
            "3110",
            {"floors": 18},
            {"floors": 18, "iot_monitored": False, "liability_insured": False, "drive": "traction"},
        ),
        (
            "3110",
            {
                "floors": 2,
                "rated_load_kg": 1000,
                "rated_speed_mps": 1.75,
                "iot_monitored": True,
                "liability_insured": True,
                "drive": "traction",
            },
            {
                "floors": 2,
                "rated_load_kg": 1000,
                "rated_speed_mps": 1.75,
                "iot_monitored": True,
                "liability_insured": True,
                "drive": "traction",
            },
        ),
        (
            "3130",
            {"floors": 200},
            {
                "floors": 200,
                "iot_monitored": False,
                "liability_insured": False,
                "drive": "positive_drive",
            },
        ),
        (
            "3210",
            {"floors": 3},
            {"floors": 3, "iot_monitored": False, "liability_insured": False, "drive": "hydraulic"},
        ),
        ("3310", {}, {"iot_monitored": False, "liability_insured": False, "drive": "escalator"}),
        (
            "3320",
            {"rated_speed_mps": 0.5},
            {
                "rated_speed_mps": 0.5,
                "iot_monitored": False,
                "liability_insured": False,
                "drive": "moving_walk",
            },
        ),
        (
            "3420",
            {"floors": 30, "drive": " traction "},
            {"floors": 30, "drive": "traction", "iot_monitored": False, "liability_insured": False},
        ),
        (
            "3300",
            {"drive": "escalator"},
            {"drive": "escalator", "iot_monitored": False, "liability_insured": False},
        ),
        ("3000", {}, {"iot_monitored": False, "liability_insured": False}),
        # boilers
        (
            "1100",
            {"rated_pressure_mpa": 1.25, "capacity_t_per_h": 10},
            {"rated_pressure_mpa": 1.25, "capacity_t_per_h": 10, "power_station": False},
        ),
        (
            "1200",
            {"capacity_mw": 7, "power_station": True},
            {"capacity_mw": 7, "power_station": True},
        ),
        # pressure vessels and oxygen chambers
        (
            "2150",
            {"safety_grade": 2, "design_pressure_mpa": 1.6, "volume_m3": 5},
            {"safety_grade": 2, "non_metallic": False, "design_pressure_mpa": 1.6, "volume_m3": 5},
        ),
        ("2410", {"non_metallic": True}, {"non_metallic": True}),
        # gas cylinders
        ("2320", CYLINDER, {**CYLINDER, **CYLINDER_DEFAULTS}),
        (
            "2310",
            {
                **CYLINDER,
                "medium": " o2 ",
                "material": "steel",
                "design_service_life_years": 30,
                "electronic_id": " HB420600-0001 ",
            },
            {
                **CYLINDER,
                "medium": "O2",
                "material": "steel",
                "design_service_life_years": 30,
                "electronic_id": "HB420600-0001",
                **CYLINDER_DEFAULTS,
            },
        ),
        (
            "23T0",
            {**CYLINDER, "medium": "cng", "vehicle": True, "material": "composite"},
            {
                **CYLINDER,
                "medium": "CNG",
                "vehicle": True,
                "material": "composite",
                "high_purity": False,
                "sea_water_contact": False,
            },
        ),
        # cranes
        (
            "4300",
            {"rated_lifting_capacity_t": 8},
            {"rated_lifting_capacity_t": 8, "molten_metal": False},
        ),
        (
            "4150",
            {"rated_lifting_capacity_t": 50, "span_m": 22.5, "molten_metal": True},
            {"rated_lifting_capacity_t": 50, "span_m": 22.5, "molten_metal": True},
        ),
        # piping
        (
            "8300",
            {"safety_grade": 3, "material": "steel", "length_km": 1.2},
            {"safety_grade": 3, "material": "steel", "length_km": 1.2},
        ),
        (
            "8210",
            {"pipe_class": "GB1-IV", "material": "PE"},
            {"pipe_class": "GB1-IV", "material": "PE"},
        ),
        ("8100", {"length_km": 120}, {"length_km": 120}),
        # vehicles, rides, ropeways
        ("5110", {}, {}),
        ("6A00", {"notes": "  indoor  "}, {"notes": "indoor"}),
        ("9110", {"notes": "x" * 500}, {"notes": "x" * 500}),
        # null counts as absent
        ("4300", {"span_m": None}, {"molten_metal": False}),
    ],
)
def test_valid_parameters_are_normalised(code, params, expected):
    assert validate_parameters(code, params) == expected


@pytest.mark.parametrize(
    ("code", "params", "field", "reason"),
    [
        # unknown keys, with a suggestion for typos
        (
            "3110",
            {"floors": 5, "flors": 6},
            "parameters.flors",
            "unknown parameter 'flors' for lift (category 3110); did you mean 'floors'? allowed: "
            "drive, floors,",
        ),
        (
            "3110",
            {"floors": 5, "colour": "red"},
            "parameters.colour",
            "unknown parameter 'colour' for lift (category 3110); allowed:",
        ),
        (
            "2310",
            {**CYLINDER, "safety_grade": 1},
            "parameters.safety_grade",
            "unknown parameter 'safety_grade' for gas cylinder (category 2310)",
        ),
        (
            "5110",
            {"rated_load_kg": 3000},
            "parameters.rated_load_kg",
            "unknown parameter 'rated_load_kg' for vehicle (category 5110); allowed: notes",
        ),
        (
            "8210",
            {"safety_grade": 2},
            "parameters.safety_grade",
            "safety_grade (safety grade (TSG D7005)) applies to industrial piping (83xx) only, "
            "not to category 8210",
        ),
        (
            "8300",
            {"pipe_class": "GB2"},
            "parameters.pipe_class",
            "pipe_class (pipe class (TSG D7004)) applies to public piping (82xx) only, not to "
            "category 8300",
        ),
        # missing required keys
        (
            "3110",
            {},
            "parameters.floors",
            "floors (number of floors served) is required for category 3110 (traction passenger "
            "lifts)",
        ),
        (
            "3430",
            {"rated_load_kg": 100},
            "parameters.floors",
            "floors (number of floors served) is required for category 3430",
        ),
        (
            "2310",
            {"water_capacity_l": 40, "nominal_working_pressure_mpa": 15},
            "parameters.medium",
            "medium (filling medium) is required for category 2310",
        ),
        (
            "2320",
            {"medium": "LPG", "nominal_working_pressure_mpa": 2.1},
            "parameters.water_capacity_l",
            "water_capacity_l (water capacity in litres) is required",
        ),
        (
            "2320",
            {"medium": "LPG", "water_capacity_l": 35.5},
            "parameters.nominal_working_pressure_mpa",
            "nominal_working_pressure_mpa (nominal working pressure in MPa) is required",
        ),
        # booleans must be JSON booleans
        (
            "3110",
            {"floors": 5, "iot_monitored": 1},
            "parameters.iot_monitored",
            "iot_monitored (IoT remote monitoring fitted) must be true or false, not a number",
        ),
        (
            "3110",
            {"floors": 5, "liability_insured": "true"},
            "parameters.liability_insured",
            "must be true or false, not text",
        ),
        (
            "1100",
            {"power_station": None, "capacity_mw": True},
            "parameters.capacity_mw",
            "capacity_mw (rated thermal power in MW) must be a number, not a boolean",
        ),
        # whole numbers
        (
            "3110",
            {"floors": True},
            "parameters.floors",
            "floors (number of floors served) must be a number, not a boolean",
        ),
        (
            "3110",
            {"floors": 5.0},
            "parameters.floors",
            "floors (number of floors served) must be a whole number, not 5.0",
        ),
        ("3110", {"floors": "5"}, "parameters.floors", "must be a number, not text"),
        (
            "2150",
            {"safety_grade": 2.5},
            "parameters.safety_grade",
            "must be a whole number, not 2.5",
        ),
        # ranges
        (
            "3110",
            {"floors": 1},
            "parameters.floors",
            "floors (number of floors served) is 1; it must be ≥ 2 and ≤ 200",
        ),
        ("3110", {"floors": 201}, "parameters.floors", "is 201; it must be ≥ 2 and ≤ 200"),
        (
            "3110",
            {"floors": 5, "rated_load_kg": 0},
            "parameters.rated_load_kg",
            "rated_load_kg (rated load in kg) is 0; it must be > 0 and ≤ 100000",
        ),
        (
            "3110",
            {"floors": 5, "rated_load_kg": 100_001},
            "parameters.rated_load_kg",
            "it must be > 0 and ≤ 100000",
        ),
        (
            "3110",
            {"floors": 5, "rated_speed_mps": 20.5},
            "parameters.rated_speed_mps",
            "rated_speed_mps (rated speed in m/s) is 20.5; it must be > 0 and ≤ 20",
        ),
        (
            "3110",
            {"floors": 5, "rated_speed_mps": float("nan")},
            "parameters.rated_speed_mps",
            "must be a finite number",
        ),
        (
            "1100",
            {"rated_pressure_mpa": 41},
            "parameters.rated_pressure_mpa",
            "it must be > 0 and ≤ 40",
        ),
        ("1100", {"capacity_t_per_h": -1}, "parameters.capacity_t_per_h", "it must be > 0"),
        (
            "2150",
            {"safety_grade": 6},
            "parameters.safety_grade",
            "safety_grade (safety grade (TSG 21)) is 6; it must be ≥ 1 and ≤ 5",
        ),
        ("2150", {"safety_grade": 0}, "parameters.safety_grade", "is 0; it must be ≥ 1 and ≤ 5"),
        (
            "2150",
            {"volume_m3": 0.0},
            "parameters.volume_m3",
            "volume_m3 (volume in m³) is 0.0; it must be > 0",
        ),
        (
            "2320",
            {**CYLINDER, "water_capacity_l": 3001},
            "parameters.water_capacity_l",
            "is 3001; it must be > 0 and ≤ 3000",
        ),
        (
            "2320",
            {**CYLINDER, "nominal_working_pressure_mpa": 101},
            "parameters.nominal_working_pressure_mpa",
            "is 101; it must be > 0 and ≤ 100",
        ),
        (
            "2320",
            {**CYLINDER, "design_service_life_years": 51},
            "parameters.design_service_life_years",
            "is 51; it must be ≥ 1 and ≤ 50",
        ),
        ("8300", {"safety_grade": 4}, "parameters.safety_grade", "is 4; it must be ≥ 1 and ≤ 3"),
        ("4300", {"span_m": 0}, "parameters.span_m", "span_m (span in m) is 0; it must be > 0"),
        # choices
        (
            "3410",
            {"floors": 4, "drive": "magnetic"},
            "parameters.drive",
            "drive (drive type) is 'magnetic'; it must be one of traction, hydraulic, "
            "positive_drive, escalator, moving_walk",
        ),
        (
            "3110",
            {"floors": 4, "drive": "hydraulic"},
            "parameters.drive",
            "drive 'hydraulic' contradicts category 3110, whose drive is 'traction'",
        ),
        (
            "3410",
            {"floors": 4, "drive": "escalator"},
            "parameters.drive",
            "drive 'escalator' does not fit category 3410; it must be a lift drive",
        ),
        (
            "3300",
            {"drive": "traction"},
            "parameters.drive",
            "drive 'traction' does not fit category 3300; it must be escalator or moving_walk",
        ),
        (
            "2320",
            {**CYLINDER, "material": "Steel"},
            "parameters.material",
            "material (material) is 'Steel'; it must be one of steel, aluminium, composite",
        ),
        (
            "8210",
            {"pipe_class": "GB1-V"},
            "parameters.pipe_class",
            "it must be one of GB1-III, GB1-IV, GB2",
        ),
        (
            "8210",
            {"material": "copper"},
            "parameters.material",
            "it must be one of steel, PE, cast_iron",
        ),
        # text
        (
            "2320",
            {**CYLINDER, "medium": ""},
            "parameters.medium",
            "medium is empty; give the gas, e.g. LPG, O2, Ar+CO2",
        ),
        (
            "2320",
            {**CYLINDER, "medium": "Ar+"},
            "parameters.medium",
            "medium 'Ar+' has an empty component",
        ),
        (
            "2320",
            {**CYLINDER, "medium": 7},
            "parameters.medium",
            "medium must be text such as 'LPG' or 'Ar+CO2', not a number",
        ),
        (
            "2320",
            {**CYLINDER, "electronic_id": ""},
            "parameters.electronic_id",
            "electronic_id (electronic identification (一瓶一码)) is empty; leave it out instead",
        ),
        (
            "2320",
            {**CYLINDER, "electronic_id": "x" * 65},
            "parameters.electronic_id",
            "has 65 characters; at most 64",
        ),
        (
            "6000",
            {"notes": "x" * 501},
            "parameters.notes",
            "notes (free notes) has 501 characters; at most 500",
        ),
        (
            "6000",
            {"notes": ["a"]},
            "parameters.notes",
            "notes (free notes) must be text, not a list",
        ),
        # boilers give one capacity
        (
            "1100",
            {"capacity_t_per_h": 10, "capacity_mw": 7},
            "parameters.capacity_mw",
            "give the boiler capacity either in t/h (steam) or in MW (hot water), not both",
        ),
    ],
)
def test_bad_parameters_are_refused_with_the_key_and_a_reason(code, params, field, reason):
    with pytest.raises(InvalidValue) as caught:
        validate_parameters(code, params)
    assert caught.value.field == field
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("code", "params", "field", "reason"),
    [
        ("9999", {}, "category_code", "category code '9999' is not in the Catalogue"),
        ("F000", {}, "category_code", "not equipment that is registered as a unit"),
        (
            "3110",
            [("floors", 5)],
            "parameters",
            "parameters must be an object of key/value pairs, not a list",
        ),
        ("3110", "floors=5", "parameters", "not text"),
        ("3110", {5: 5}, "parameters", "parameter names must be text, not 5"),
    ],
)
def test_bad_category_or_container(code, params, field, reason):
    with pytest.raises(InvalidValue) as caught:
        validate_parameters(code, params)
    assert caught.value.field == field
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("lpg", "LPG"),
        ("LPG", "LPG"),
        ("co2", "CO2"),
        ("CL2", "Cl2"),
        ("nh3", "NH3"),
        ("HE", "He"),
        ("sf6", "SF6"),
        ("AIR", "air"),
        ("c2h2", "C2H2"),
        ("ar + co2", "Ar+CO2"),
        ("Ar+CO2+O2", "Ar+CO2+O2"),
        ("R134a", "R134a"),  # an unknown medium is kept as written
    ],
)
def test_media_are_spelled_canonically(given, expected):
    assert normalise_medium(given) == expected


def test_a_mixture_must_not_repeat_a_component():
    with pytest.raises(InvalidValue) as caught:
        normalise_medium("Ar+ar")
    assert "names Ar twice" in caught.value.reason


def test_allowed_parameters_depend_on_the_category():
    assert "safety_grade" in allowed_parameters("8300")
    assert "safety_grade" not in allowed_parameters("8210")
    assert "pipe_class" in allowed_parameters("8220")
    assert allowed_parameters("9000") == ("notes", "design_service_life_years")


def test_the_input_is_not_modified():
    params = {"floors": 5}
    validate_parameters("3110", params)
    assert params == {"floors": 5}


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)
_KEYS = st.sampled_from(
    ["floors", "drive", "medium", "water_capacity_l", "safety_grade", "notes", "span_m", "x"]
)


@given(
    st.sampled_from(catalogue.REGISTRABLE_CODES),
    st.dictionaries(st.one_of(_KEYS, st.text(max_size=6)), _JSON, max_size=5),
)
def test_random_parameters_raise_nothing_but_invalid_value(code, params):
    try:
        result = validate_parameters(code, params)
    except InvalidValue as error:
        assert error.field is not None
        assert error.field == "parameters" or error.field.startswith("parameters.")
    else:
        # what passed is stable: validating the normalised dict gives it back
        assert validate_parameters(code, result) == result
