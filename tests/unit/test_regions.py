"""GB/T 2260 region codes: all of Hubei, the provinces of China."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.domain import regions
from equipment.domain.errors import InvalidValue

# GB/T 2260 codes of Xiangyang and its districts, as registration codes carry them.
XIANGYANG = {
    "420602": "襄城区",
    "420606": "樊城区",
    "420607": "襄州区",
    "420624": "南漳县",
    "420625": "谷城县",
    "420626": "保康县",
    "420682": "老河口市",
    "420683": "枣阳市",
    "420684": "宜城市",
}


def test_xiangyang_districts_are_exactly_those_of_the_rules():
    assert {r.code: r.name for r in regions.XIANGYANG_DISTRICTS} == XIANGYANG
    assert [r.code for r in regions.XIANGYANG_DISTRICTS] == sorted(XIANGYANG)
    assert regions.region("420600").name == "襄阳市"


def test_hubei_has_its_13_prefectures_and_103_county_level_units():
    current = [r for r in regions.HUBEI.values() if r.current]
    prefectures = [r.code for r in current if r.level == "prefecture"]
    assert prefectures == [
        "420100", "420200", "420300", "420500", "420600", "420700", "420800",
        "420900", "421000", "421100", "421200", "421300", "422800",
    ]  # fmt: skip
    kinds = Counter(r.kind for r in current if r.level == "county")
    # 39 districts, 26 county-level cities, 35 counties, 2 autonomous counties, 1 forestry
    # district: 103 county-level units, as the province publishes.
    assert kinds == Counter(
        district=39, county_city=26, county=35, autonomous_county=2, forestry_district=1
    )


@pytest.mark.parametrize(
    ("code", "name", "level", "parent"),
    [
        ("420000", "湖北省", "province", None),
        ("420100", "武汉市", "prefecture", "420000"),
        ("420111", "洪山区", "county", "420100"),
        ("422800", "恩施土家族苗族自治州", "prefecture", "420000"),
        ("422801", "恩施市", "county", "422800"),
        ("421303", "曾都区", "county", "421300"),
        ("421088", "监利市", "county", "421000"),
        ("420882", "京山市", "county", "420800"),
        ("429004", "仙桃市", "county", "420000"),
        ("429005", "潜江市", "county", "420000"),
        ("429006", "天门市", "county", "420000"),
        ("429021", "神农架林区", "county", "420000"),
        ("350000", "福建省", "province", None),
        (" 420602 ", "襄城区", "county", "420600"),
    ],
)
def test_region_lookup(code, name, level, parent):
    found = regions.region(code)
    assert (found.name, found.level, found.parent) == (name, level, parent)


@pytest.mark.parametrize(
    ("code", "urban"),
    [
        ("420602", True),  # 襄城区
        ("420606", True),  # 樊城区
        ("420607", True),  # 襄州区
        ("420624", False),  # 南漳县
        ("420682", False),  # 老河口市, county-level city
        ("420102", True),  # 江岸区
        ("422801", False),  # 恩施市
        ("420528", False),  # autonomous county
        ("429004", False),  # 仙桃市, directly administered county-level city
        ("429021", False),  # 神农架林区 is a forestry district, not a city district
        ("420600", False),  # a bare prefecture code says nothing about the place
        ("420000", False),
    ],
)
def test_is_urban_district(code, urban):
    assert regions.region(code).is_urban_district is urban


def test_former_codes_are_kept_with_their_successor():
    old = regions.region("421023")
    assert (old.name, old.current, old.successor) == ("监利县", False, "421088")
    assert regions.region(old.successor).current
    assert regions.validate_region("420621") == "420621"  # 襄阳县, before 2010


def test_all_provinces_are_listed():
    assert len(regions.PROVINCES) == 34
    assert regions.PROVINCES["42"] == "湖北省"
    assert set(regions.PROVINCES) >= {"11", "50", "65", "71", "81", "82"}
    assert regions.province_of("350600") == "福建省"


@pytest.mark.parametrize(
    "code",
    ["420602", " 420606\n", "420600", "420000", "429021", "350600", "110101", "500000", "820000"],
)
def test_validate_region_accepts(code):
    assert regions.validate_region(code) == code.strip()


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("42060", "region code '42060' must be 6 digits (e.g. 420602), got 5"),
        ("4206021", "must be 6 digits (e.g. 420602), got 7"),
        ("4206O2", "region code '4206O2': character 5 'O' is not a digit"),
        ("", "region code '' must be 6 digits"),
        ("990000", "'99' is not a province code of GB/T 2260 (11-65, 71, 81, 82)"),
        ("420699", "region code '420699' is not a county or city of Hubei"),
        ("420621X", "character 7 'X' is not a digit"),
        ("429000", "is the grouping of Hubei's directly administered units"),
        ("350006", "a county part ('06') under a zero prefecture part is not a GB/T 2260 code"),
        (420602, "a region code must be text of 6 digits such as '420602', not int"),
    ],
)
def test_validate_region_refuses(code, reason):
    with pytest.raises(InvalidValue) as caught:
        regions.validate_region(code)
    assert reason in caught.value.reason
    assert caught.value.field == "region_code"


def test_region_of_another_province_is_valid_but_not_listed():
    assert regions.validate_region("350600") == "350600"
    assert not regions.is_known_region("350600")
    with pytest.raises(InvalidValue) as caught:
        regions.region("350600")
    assert "is in 福建省; sereg lists regions of Hubei only" in caught.value.reason


def test_is_known_region():
    assert regions.is_known_region("420683")
    assert regions.is_known_region("110000")
    assert not regions.is_known_region("420699")
    assert not regions.is_known_region(420683)


@given(st.from_regex(r"42[0-9]{4}", fullmatch=True))
def test_a_hubei_code_is_valid_exactly_when_listed(code):
    if code in regions.HUBEI:
        assert regions.validate_region(code) == code
    else:
        with pytest.raises(InvalidValue):
            regions.validate_region(code)


@given(st.one_of(st.text(max_size=10), st.integers(), st.none()))
def test_random_input_raises_nothing_but_invalid_value(value):
    try:
        regions.validate_region(value)
    except InvalidValue as error:
        assert error.reason
