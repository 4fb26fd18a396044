"""The Catalogue of Special Equipment as data."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.domain import catalogue
from equipment.domain.catalogue import Family
from equipment.domain.errors import InvalidValue

# Every code the rules name (Catalogue of Special Equipment, 2014 No. 114), and its family.
RULES_CODES = {
    "1000": Family.BOILER,
    "2000": Family.PRESSURE_VESSEL,
    "2100": Family.PRESSURE_VESSEL,
    "2200": Family.PRESSURE_VESSEL,
    "2300": Family.GAS_CYLINDER,
    "2310": Family.GAS_CYLINDER,
    "2320": Family.GAS_CYLINDER,
    "23T0": Family.GAS_CYLINDER,
    "2400": Family.OXYGEN_CHAMBER,
    "3000": Family.LIFT,
    "3100": Family.LIFT,
    "3110": Family.LIFT,
    "3120": Family.LIFT,
    "3130": Family.LIFT,
    "3200": Family.LIFT,
    "3210": Family.LIFT,
    "3220": Family.LIFT,
    "3300": Family.LIFT,
    "3310": Family.LIFT,
    "3320": Family.LIFT,
    "3400": Family.LIFT,
    "3410": Family.LIFT,
    "3420": Family.LIFT,
    "3430": Family.LIFT,
    "4000": Family.CRANE,
    "4100": Family.CRANE,
    "4200": Family.CRANE,
    "4300": Family.CRANE,
    "4400": Family.CRANE,
    "4700": Family.CRANE,
    "4800": Family.CRANE,
    "4860": Family.CRANE,
    "4A00": Family.CRANE,
    "4D00": Family.CRANE,
    "5000": Family.VEHICLE,
    "5100": Family.VEHICLE,
    "5110": Family.VEHICLE,
    "5200": Family.VEHICLE,
    "6000": Family.AMUSEMENT_RIDE,
    "6A00": Family.AMUSEMENT_RIDE,
    "8000": Family.PIPING,
    "8100": Family.PIPING,
    "8200": Family.PIPING,
    "8210": Family.PIPING,
    "8220": Family.PIPING,
    "8300": Family.PIPING,
    "9000": Family.ROPEWAY,
}


@pytest.mark.parametrize(("code", "family"), sorted(RULES_CODES.items()))
def test_every_code_named_in_the_rules_is_listed_with_its_family(code, family):
    assert code in catalogue.ALL_CODES
    assert catalogue.family_of(code) is family


@pytest.mark.parametrize(
    ("given", "code", "name_zh", "parent", "level"),
    [
        ("3110", "3110", "曳引驱动乘客电梯", "3100", "variety"),
        (" 3110 ", "3110", "曳引驱动乘客电梯", "3100", "variety"),
        ("23t0", "23T0", "特种气瓶（内装填料气瓶、纤维缠绕气瓶、低温绝热气瓶）", "2300", "variety"),
        ("4d00", "4D00", "机械式停车设备", "4000", "class"),
        ("3000", "3000", "电梯", None, "kind"),
        ("6D10", "6D10", "峡谷漂流系列", "6D00", "variety"),
        ("8210", "8210", "燃气管道", "8200", "variety"),
    ],
)
def test_category_looks_up_normalised_codes(given, code, name_zh, parent, level):
    row = catalogue.category(given)
    assert (row.code, row.name_zh, row.parent, row.level) == (code, name_zh, parent, level)
    assert row.name_en


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("9999", "category code '9999' is not in the Catalogue of Special Equipment"),
        ("3115", "category code '3115' is not in the Catalogue of Special Equipment"),
        (
            "311",
            "category code '311' must be 4 characters (e.g. 3110 traction passenger lift), got 3",
        ),
        ("31100", "must be 4 characters (e.g. 3110 traction passenger lift), got 5"),
        ("", "category code '' must be 4 characters"),
        (3110, "a category code must be text such as '3110', not int"),
        (None, "a category code must be text such as '3110', not NoneType"),
    ],
)
def test_unknown_categories_are_refused_with_a_reason(given, reason):
    with pytest.raises(InvalidValue) as caught:
        catalogue.category(given)
    assert reason in caught.value.reason
    assert caught.value.field == "category_code"


@pytest.mark.parametrize("code", ["7000", "F000"])
def test_components_and_accessories_are_listed_but_have_no_family(code):
    assert not catalogue.category(code).registrable
    assert code not in catalogue.REGISTRABLE_CODES
    with pytest.raises(InvalidValue) as caught:
        catalogue.family_of(code)
    assert "not equipment that is registered as a unit" in caught.value.reason


@pytest.mark.parametrize(
    ("code", "cylinder", "lift"),
    [
        ("2300", True, False),
        ("2310", True, False),
        ("23T0", True, False),
        ("2100", False, False),
        ("2400", False, False),
        ("3000", False, True),
        ("3310", False, True),
        ("3430", False, True),
        ("4860", False, False),
        ("F000", False, False),
    ],
)
def test_is_cylinder_and_is_lift(code, cylinder, lift):
    assert catalogue.is_cylinder(code) is cylinder
    assert catalogue.is_lift(code) is lift


def test_is_lift_refuses_an_unknown_code():
    with pytest.raises(InvalidValue):
        catalogue.is_lift("3999")


@pytest.mark.parametrize(
    ("code", "chain"),
    [
        ("3110", ("3110", "3100", "3000")),
        ("23T0", ("23T0", "2300", "2000")),
        ("4D00", ("4D00", "4000")),
        ("9000", ("9000",)),
    ],
)
def test_lineage_walks_up_to_the_kind(code, chain):
    assert catalogue.lineage(code) == chain


def test_subcategories():
    assert catalogue.subcategories("2300") == ("2310", "2320", "23T0")
    assert catalogue.subcategories("3110") == ()


def test_the_table_is_consistent():
    assert len(set(catalogue.ALL_CODES)) == len(catalogue.ALL_CODES)
    for code in catalogue.ALL_CODES:
        row = catalogue.category(code)
        assert len(code) == 4
        assert code == code.upper()
        if row.parent is not None:
            parent = catalogue.category(row.parent)
            # cylinders and oxygen chambers are families of their own under 2000
            if parent.code != "2000":
                assert row.family is parent.family, code


@given(st.text(max_size=8))
def test_random_text_is_found_or_refused_with_invalid_value(text):
    try:
        row = catalogue.category(text)
    except InvalidValue as error:
        assert error.reason
    else:
        assert row.code in catalogue.ALL_CODES
