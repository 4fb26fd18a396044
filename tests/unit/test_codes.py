"""Registration codes, equipment codes, certificate numbers and credit codes."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from equipment.domain import catalogue, codes, regions
from equipment.domain.codes import (
    CREDIT_CODE_CHARSET,
    EquipmentCode,
    RegistrationCode,
    credit_code_check_char,
    parse_equipment_code,
    parse_registration_code,
    validate_certificate_number,
    validate_credit_code,
)
from equipment.domain.errors import InvalidValue

TODAY = date(2025, 6, 15)

# ---------------------------------------------------------------------------------------
# Registration code


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a real registration code from a lift sign: 3110, Zhangzhou (Fujian), May 2016, number 3337
        (
            "31103506002016053337",
            RegistrationCode("31103506002016053337", "3110", "350600", 2016, 5, "3337"),
        ),
        (
            "  31104206022025060001\t",
            RegistrationCode("31104206022025060001", "3110", "420602", 2025, 6, "0001"),
        ),
        (
            "23t04206072019120a1z",
            RegistrationCode("23T04206072019120A1Z", "23T0", "420607", 2019, 12, "0A1Z"),
        ),
        (
            "4D00420683199001AB12",
            RegistrationCode("4D00420683199001AB12", "4D00", "420683", 1990, 1, "AB12"),
        ),
        # full-width digits as typed with a Chinese input method
        (
            "３１１０４２０６０２２０２０１１１２３４",
            RegistrationCode("31104206022020111234", "3110", "420602", 2020, 11, "1234"),
        ),
        # a former code of Xiangyang county inside an old registration code
        (
            "31204206212008070015",
            RegistrationCode("31204206212008070015", "3120", "420621", 2008, 7, "0015"),
        ),
    ],
)
def test_registration_codes_parse(text, expected):
    parsed = parse_registration_code(text, TODAY)
    assert parsed == expected
    assert str(parsed) == expected.code
    assert parsed.registered_in == date(expected.registered_year, expected.registered_month, 1)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "3110350600201605333",
            "registration code '3110350600201605333' must be 20 characters (category 4 + region 6 "
            "+ year and month 6 + sequence 4), got 19",
        ),
        ("311035060020160533371", "must be 20 characters"),
        ("", "must be 20 characters"),
        (
            "3110-350600201605333",
            "registration code '3110-350600201605333': character 5 '-' is not allowed (only "
            "digits and letters A-Z)",
        ),
        ("3110 3506002016053337", "character 5 U+0020 is not allowed"),
        ("3110350600201605333襄", "character 20 '襄' is not allowed"),
        (
            "99993506002016053337",
            "characters 1-4 (category code) '9999': not a code of the Catalogue of Special "
            "Equipment",
        ),
        (
            "F0003506002016053337",
            "characters 1-4 (category code) 'F000': 安全附件 (safety accessories) are not "
            "registered as units",
        ),
        (
            "31109906002016053337",
            "characters 5-10 (region code) '990600': region code '990600': '99' is not a province "
            "code",
        ),
        (
            "31104206992016053337",
            "characters 5-10 (region code) '420699': region code '420699' is not a county or city "
            "of Hubei",
        ),
        (
            "31104206A22016053337",
            "characters 5-10 (region code) '4206A2': region code '4206A2': character 5 'A' is not "
            "a digit",
        ),
        (
            "31103506002016133337",
            "characters 11-16 (registration month) '201613': month 13 is not 01-12",
        ),
        (
            "31103506002016003337",
            "characters 11-16 (registration month) '201600': month 00 is not 01-12",
        ),
        (
            "31103506001989123337",
            "characters 11-16 (registration month) '198912': year 1989 is before 1990",
        ),
        (
            "31103506002025073337",
            "characters 11-16 (registration month) '202507': 2025-07 is after the current month "
            "2025-06",
        ),
        (
            "3110350600201A053337",
            "characters 11-16 (registration month) '201A05': character 14 'A' is not a digit "
            "(YYYYMM)",
        ),
        (31103506002016053337, "registration code must be text, not int"),
    ],
)
def test_bad_registration_codes_are_refused_with_a_reason(text, reason):
    with pytest.raises(InvalidValue) as caught:
        parse_registration_code(text, TODAY)
    assert reason in caught.value.reason
    assert caught.value.field == "registration_code"


def test_the_field_name_can_be_chosen():
    with pytest.raises(InvalidValue) as caught:
        parse_registration_code("x", TODAY, field="topic.registration_code")
    assert caught.value.field == "topic.registration_code"


_SEQUENCE = st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=4, max_size=4)


@st.composite
def registration_parts(draw):
    category_code = draw(st.sampled_from(catalogue.REGISTRABLE_CODES))
    region_code = draw(
        st.one_of(
            st.sampled_from(sorted(regions.HUBEI)),
            st.from_regex(r"(11|35|44|65|81)(0[1-9]|[1-8][0-9])[0-9]{2}", fullmatch=True),
        )
    )
    year = draw(st.integers(1990, TODAY.year))
    month = draw(st.integers(1, 12 if year < TODAY.year else TODAY.month))
    return category_code, region_code, year, month, draw(_SEQUENCE)


@given(registration_parts())
def test_a_code_built_from_valid_parts_parses_back_to_them(parts):
    category_code, region_code, year, month, sequence = parts
    text = f"{category_code}{region_code}{year:04d}{month:02d}{sequence}"
    parsed = parse_registration_code(text.lower(), TODAY)
    assert (
        parsed.category_code,
        parsed.region_code,
        parsed.registered_year,
        parsed.registered_month,
        parsed.sequence,
    ) == parts
    assert parsed.code == text


@given(
    st.one_of(st.text(max_size=30), st.text(alphabet="0123456789ABZ4", min_size=20, max_size=20))
)
def test_random_registration_codes_raise_nothing_but_invalid_value(text):
    try:
        parse_registration_code(text, TODAY)
    except InvalidValue as error:
        assert error.reason


# ---------------------------------------------------------------------------------------
# Equipment code


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3110T0012201600001", EquipmentCode("3110T0012201600001", "3110", "T0012", 2016, "00001")),
        (
            " 23t0ab12c202512345 ",
            EquipmentCode("23T0AB12C202512345", "23T0", "AB12C", 2025, "12345"),
        ),
        ("4D0000000195099999", EquipmentCode("4D0000000195099999", "4D00", "00000", 1950, "99999")),
    ],
)
def test_equipment_codes_parse(text, expected):
    assert parse_equipment_code(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "3110T001220160000",
            "equipment code '3110T001220160000' must be 18 characters (category 4 + manufacturer "
            "5 + year of manufacture 4 + sequence 5), got 17",
        ),
        ("3110T0012_01600001", "character 10 '_' is not allowed"),
        (
            "3199T0012201600001",
            "characters 1-4 (category code) '3199': not a code of the Catalogue",
        ),
        (
            "3110T001220A600001",
            "characters 10-13 (year of manufacture) '20A6': character 12 'A' is not a digit",
        ),
        ("3110T0012194900001", "characters 10-13 (year of manufacture) '1949': must be 1950-2025"),
        ("3110T0012202600001", "characters 10-13 (year of manufacture) '2026': must be 1950-2025"),
        (
            "3110T00122016A0001",
            "characters 14-18 (sequence) 'A0001': character 14 'A' is not a digit",
        ),
    ],
)
def test_bad_equipment_codes_are_refused_with_a_reason(text, reason):
    with pytest.raises(InvalidValue) as caught:
        parse_equipment_code(text, TODAY)
    assert reason in caught.value.reason
    assert caught.value.field == "equipment_code"


@given(st.text(max_size=24))
def test_random_equipment_codes_raise_nothing_but_invalid_value(text):
    try:
        parse_equipment_code(text, TODAY)
    except InvalidValue as error:
        assert error.reason


# ---------------------------------------------------------------------------------------
# Registration certificate number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("梯11闽E3622(16)", "梯11闽E3622(16)"),
        (" 梯11鄂f0123（21） ", "梯11鄂F0123(21)"),
        ("瓶22鄂F00012(24)", "瓶22鄂F00012(24)"),
        ("容3A鄂F01", "容3A鄂F01"),  # old numbering: only the kind and the length are checked
        ("氧１１鄂Ｆ０１", "氧11鄂F01"),
    ],
)
def test_certificate_numbers_are_accepted_and_normalised(text, expected):
    assert validate_certificate_number(text) == expected


def test_full_layout_is_recognised():
    assert codes.is_full_certificate_number("梯11闽E3622(16)")
    assert not codes.is_full_certificate_number("容3A鄂F01")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "certificate number is empty"),
        ("   ", "certificate number is empty"),
        (
            "11闽E3622(16)",
            "character 1 '1' must be the kind of equipment, one of 锅 容 瓶 管 梯 起 索 游 车 氧",
        ),
        ("电11闽E3622(16)", "character 1 '电' must be the kind of equipment"),
        ("梯11闽", "must be 6-32 characters, got 4"),
        ("梯" + "1" * 32, "must be 6-32 characters, got 33"),
        ("梯11闽E\x003622(16)", "character 6 U+0000 is a control character"),
        (None, "certificate number must be text, not NoneType"),
    ],
)
def test_bad_certificate_numbers_are_refused(text, reason):
    with pytest.raises(InvalidValue) as caught:
        validate_certificate_number(text)
    assert reason in caught.value.reason
    assert caught.value.field == "certificate_number"


# ---------------------------------------------------------------------------------------
# Unified social credit code


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y43",  # the worked example published with GB 32100
        "91110000802100433B",
        "914403001922038216",
        "9144030071526726XG",
        " 9144030071526726xg ",
    ],
)
def test_real_credit_codes_validate(code):
    assert validate_credit_code(code) == code.strip().upper()


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (
            "91350100M000100Y44",
            "character 18 (check character) is '4' but the first 17 characters give '3'",
        ),
        (
            "91350100M000100Y4",
            "must be 18 characters (GB 32100-2015 unified social credit code), got 17",
        ),
        (
            "91350100M0001O0Y43",
            "character 14 'O' is not allowed (GB 32100 uses 0-9 and A-Z without I, O, S, V, Z)",
        ),
        ("91350100I000100Y43", "character 9 'I' is not allowed"),
        ("9135010-M000100Y43", "character 8 '-' is not allowed"),
        (91350100, "credit code must be text, not int"),
    ],
)
def test_bad_credit_codes_are_refused(code, reason):
    with pytest.raises(InvalidValue) as caught:
        validate_credit_code(code)
    assert reason in caught.value.reason
    assert caught.value.field == "credit_code"


def test_check_char_needs_17_characters():
    with pytest.raises(InvalidValue) as caught:
        credit_code_check_char("91350100M000100Y")
    assert "needs the first 17 characters of a credit code, got 16" in caught.value.reason


_CREDIT_17 = st.text(alphabet=CREDIT_CODE_CHARSET, min_size=17, max_size=17)


@given(_CREDIT_17)
def test_any_17_characters_with_their_check_char_validate(first17):
    code = first17 + credit_code_check_char(first17)
    assert validate_credit_code(code) == code


@given(_CREDIT_17, st.integers(0, 17), st.sampled_from(CREDIT_CODE_CHARSET))
def test_changing_one_character_breaks_a_valid_code(first17, position, replacement):
    code = first17 + credit_code_check_char(first17)
    assume(code[position] != replacement)
    changed = code[:position] + replacement + code[position + 1 :]
    with pytest.raises(InvalidValue):
        validate_credit_code(changed)


@given(_CREDIT_17, st.integers(0, 15))
def test_swapping_two_neighbours_breaks_a_valid_code(first17, position):
    # Weights 3**i mod 31 differ for neighbours and 31 is prime, so any swap of two
    # different characters among the first 17 changes the check character.
    code = first17 + credit_code_check_char(first17)
    assume(code[position] != code[position + 1])
    swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
    with pytest.raises(InvalidValue):
        validate_credit_code(swapped)


@given(st.text(max_size=20))
def test_random_credit_codes_raise_nothing_but_invalid_value(text):
    try:
        validate_credit_code(text)
    except InvalidValue as error:
        assert error.reason
