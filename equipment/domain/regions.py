"""GB/T 2260 administrative division codes: all of Hubei, and the provinces of China.

Hubei is listed in full down to county level, as currently in force (checked against
several published copies of the Ministry of Civil Affairs list: 4201 Wuhan ... 4213
Suizhou, 4228 Enshi, and the four county-level units administered by the province).
Left out on purpose:

- 429000 (省直辖县级行政区划) is a grouping in the list, not a region;
- the statistical x7x codes (e.g. 421071 Jingzhou development zone, 421171 Longganhu)
  belong to the NBS statistical division codes, not to GB/T 2260.

Codes that were replaced are kept, marked ``current=False``, because a registration code
keeps the region of the day it was issued: an old lift in Xiangzhou may still carry
420621 (Xiangyang county) in its 20-character registration code.

Other provinces are known only by their 2-digit prefix; their 6-digit codes are accepted
when plausible (see :func:`validate_region`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from equipment.domain.errors import InvalidValue

__all__ = [
    "HUBEI",
    "PROVINCES",
    "XIANGYANG",
    "XIANGYANG_DISTRICTS",
    "Region",
    "is_known_region",
    "province_of",
    "region",
    "validate_region",
]

RegionLevel = Literal["province", "prefecture", "county"]
RegionKind = Literal[
    "province",
    "municipality",
    "autonomous_region",
    "special_administrative_region",
    "prefecture_city",
    "autonomous_prefecture",
    "district",
    "county",
    "autonomous_county",
    "county_city",
    "forestry_district",
]


@dataclass(frozen=True, slots=True)
class Region:
    """One administrative division."""

    code: str
    name: str
    level: RegionLevel
    kind: RegionKind
    parent: str | None
    current: bool = True
    """False for a replaced code, still valid inside old registration codes."""
    successor: str | None = None
    """For a replaced code, the code that replaced it."""

    @property
    def is_urban_district(self) -> bool:
        """True for a 市辖区 district of a prefecture-level city.

        The entrapment-response rule (on site within 30 minutes in cities, 1 hour
        elsewhere) treats these as cities; counties, county-level cities, the Shennongjia
        forestry district and a bare prefecture or province code are not.
        """
        return self.kind == "district"


PROVINCES: dict[str, str] = {
    "11": "北京市",
    "12": "天津市",
    "13": "河北省",
    "14": "山西省",
    "15": "内蒙古自治区",
    "21": "辽宁省",
    "22": "吉林省",
    "23": "黑龙江省",
    "31": "上海市",
    "32": "江苏省",
    "33": "浙江省",
    "34": "安徽省",
    "35": "福建省",
    "36": "江西省",
    "37": "山东省",
    "41": "河南省",
    "42": "湖北省",
    "43": "湖南省",
    "44": "广东省",
    "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市",
    "51": "四川省",
    "52": "贵州省",
    "53": "云南省",
    "54": "西藏自治区",
    "61": "陕西省",
    "62": "甘肃省",
    "63": "青海省",
    "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
    "71": "台湾省",
    "81": "香港特别行政区",
    "82": "澳门特别行政区",
}
"""2-digit province-level prefixes of GB/T 2260 and their names."""


def _province_kind(prefix: str) -> RegionKind:
    name = PROVINCES[prefix]
    if name.endswith("特别行政区"):
        return "special_administrative_region"
    if name.endswith("自治区"):
        return "autonomous_region"
    if name.endswith("市"):
        return "municipality"
    return "province"


# Hubei prefecture level: code -> name.
_HUBEI_PREFECTURES: dict[str, str] = {
    "420100": "武汉市",
    "420200": "黄石市",
    "420300": "十堰市",
    "420500": "宜昌市",
    "420600": "襄阳市",
    "420700": "鄂州市",
    "420800": "荆门市",
    "420900": "孝感市",
    "421000": "荆州市",
    "421100": "黄冈市",
    "421200": "咸宁市",
    "421300": "随州市",
    "422800": "恩施土家族苗族自治州",
}

# Hubei county level: code -> name. The kind follows from the name (区 district,
# 县 county, 市 county-level city); exceptions are listed in _KIND_OVERRIDES.
_HUBEI_COUNTIES: dict[str, str] = {
    # 4201 武汉市
    "420102": "江岸区",
    "420103": "江汉区",
    "420104": "硚口区",
    "420105": "汉阳区",
    "420106": "武昌区",
    "420107": "青山区",
    "420111": "洪山区",
    "420112": "东西湖区",
    "420113": "汉南区",
    "420114": "蔡甸区",
    "420115": "江夏区",
    "420116": "黄陂区",
    "420117": "新洲区",
    # 4202 黄石市
    "420202": "黄石港区",
    "420203": "西塞山区",
    "420204": "下陆区",
    "420205": "铁山区",
    "420222": "阳新县",
    "420281": "大冶市",
    # 4203 十堰市
    "420302": "茅箭区",
    "420303": "张湾区",
    "420304": "郧阳区",
    "420322": "郧西县",
    "420323": "竹山县",
    "420324": "竹溪县",
    "420325": "房县",
    "420381": "丹江口市",
    # 4205 宜昌市
    "420502": "西陵区",
    "420503": "伍家岗区",
    "420504": "点军区",
    "420505": "猇亭区",
    "420506": "夷陵区",
    "420525": "远安县",
    "420526": "兴山县",
    "420527": "秭归县",
    "420528": "长阳土家族自治县",
    "420529": "五峰土家族自治县",
    "420581": "宜都市",
    "420582": "当阳市",
    "420583": "枝江市",
    # 4206 襄阳市
    "420602": "襄城区",
    "420606": "樊城区",
    "420607": "襄州区",
    "420624": "南漳县",
    "420625": "谷城县",
    "420626": "保康县",
    "420682": "老河口市",
    "420683": "枣阳市",
    "420684": "宜城市",
    # 4207 鄂州市
    "420702": "梁子湖区",
    "420703": "华容区",
    "420704": "鄂城区",
    # 4208 荆门市
    "420802": "东宝区",
    "420804": "掇刀区",
    "420822": "沙洋县",
    "420881": "钟祥市",
    "420882": "京山市",
    # 4209 孝感市
    "420902": "孝南区",
    "420921": "孝昌县",
    "420922": "大悟县",
    "420923": "云梦县",
    "420981": "应城市",
    "420982": "安陆市",
    "420984": "汉川市",
    # 4210 荆州市
    "421002": "沙市区",
    "421003": "荆州区",
    "421022": "公安县",
    "421024": "江陵县",
    "421081": "石首市",
    "421083": "洪湖市",
    "421087": "松滋市",
    "421088": "监利市",
    # 4211 黄冈市
    "421102": "黄州区",
    "421121": "团风县",
    "421122": "红安县",
    "421123": "罗田县",
    "421124": "英山县",
    "421125": "浠水县",
    "421126": "蕲春县",
    "421127": "黄梅县",
    "421181": "麻城市",
    "421182": "武穴市",
    # 4212 咸宁市
    "421202": "咸安区",
    "421221": "嘉鱼县",
    "421222": "通城县",
    "421223": "崇阳县",
    "421224": "通山县",
    "421281": "赤壁市",
    # 4213 随州市
    "421303": "曾都区",
    "421321": "随县",
    "421381": "广水市",
    # 4228 恩施土家族苗族自治州
    "422801": "恩施市",
    "422802": "利川市",
    "422822": "建始县",
    "422823": "巴东县",
    "422825": "宣恩县",
    "422826": "咸丰县",
    "422827": "来凤县",
    "422828": "鹤峰县",
    # 4290 省直辖县级行政区划 (the grouping code 429000 itself is not a region)
    "429004": "仙桃市",
    "429005": "潜江市",
    "429006": "天门市",
    "429021": "神农架林区",
}

_KIND_OVERRIDES: dict[str, RegionKind] = {
    # A 林区 (forestry district) is county-level and not a 市辖区 of any city.
    "429021": "forestry_district",
    "420528": "autonomous_county",
    "420529": "autonomous_county",
}

# Replaced codes still found inside old registration codes: code -> (name, successor).
_HUBEI_FORMER: dict[str, tuple[str, str]] = {
    "420321": ("郧县", "420304"),  # became 郧阳区 in 2014; seen in published lists
    "420821": ("京山县", "420882"),  # became 京山市 in 2018; seen in published lists
    "421023": ("监利县", "421088"),  # became 监利市 in 2020; seen in published lists
    # [U] 420621 襄阳县 became 襄州区 (420607) in 2010, when 襄樊 was renamed 襄阳. The
    # code is from memory of the pre-2010 list, not confirmed against a copy of it.
    "420621": ("襄阳县", "420607"),
}


def _county_kind(code: str, name: str) -> RegionKind:
    if code in _KIND_OVERRIDES:
        return _KIND_OVERRIDES[code]
    if name.endswith("区"):
        return "district"
    if name.endswith("市"):
        return "county_city"
    return "county"


def _county_parent(code: str) -> str:
    if code.startswith("4290"):
        return "420000"  # administered directly by the province
    return code[:4] + "00"


def _build_hubei() -> dict[str, Region]:
    table: dict[str, Region] = {"420000": Region("420000", "湖北省", "province", "province", None)}
    for code, name in _HUBEI_PREFECTURES.items():
        kind: RegionKind = "autonomous_prefecture" if name.endswith("州") else "prefecture_city"
        table[code] = Region(code, name, "prefecture", kind, "420000")
    for code, name in _HUBEI_COUNTIES.items():
        table[code] = Region(code, name, "county", _county_kind(code, name), _county_parent(code))
    for code, (name, successor) in _HUBEI_FORMER.items():
        table[code] = Region(
            code,
            name,
            "county",
            _county_kind(code, name),
            _county_parent(code),
            current=False,
            successor=successor,
        )
    return table


HUBEI: dict[str, Region] = _build_hubei()
"""Every Hubei code sereg accepts, current and former."""

XIANGYANG = "420600"

XIANGYANG_DISTRICTS: tuple[Region, ...] = tuple(
    r for r in HUBEI.values() if r.parent == XIANGYANG and r.current
)
"""The nine current county-level units of Xiangyang, in code order (demo generator)."""

_PROVINCE_REGIONS: dict[str, Region] = {
    prefix + "0000": Region(prefix + "0000", name, "province", _province_kind(prefix), None)
    for prefix, name in PROVINCES.items()
}


def _normalise(code: object, field: str) -> str:
    if not isinstance(code, str):
        raise InvalidValue(
            f"a region code must be text of 6 digits such as '420602', not {type(code).__name__}",
            field=field,
        )
    text = code.strip()
    for position, ch in enumerate(text, start=1):
        if ch not in "0123456789":
            raise InvalidValue(
                f"region code '{text}': character {position} '{ch}' is not a digit "
                "(GB/T 2260 codes are 6 digits, e.g. 420602)",
                field=field,
            )
    if len(text) != 6:
        raise InvalidValue(
            f"region code '{text}' must be 6 digits (e.g. 420602), got {len(text)}",
            field=field,
        )
    return text


def is_known_region(code: object) -> bool:
    """True if ``code`` is in sereg's own table (Hubei, or a province-level code)."""
    if not isinstance(code, str):
        return False
    text = code.strip()
    return text in HUBEI or text in _PROVINCE_REGIONS


def region(code: object, *, field: str = "region_code") -> Region:
    """The Region for a code in the table; InvalidValue otherwise.

    The table holds all of Hubei and the province-level codes of China; a code of another
    province below province level is not in it (see :func:`validate_region`).
    """
    text = _normalise(code, field)
    found = HUBEI.get(text) or _PROVINCE_REGIONS.get(text)
    if found is None:
        if text[:2] == "42":
            reason = f"region code '{text}' is not a county or city of Hubei (GB/T 2260)"
        elif text[:2] in PROVINCES:
            reason = (
                f"region code '{text}' is in {PROVINCES[text[:2]]}; sereg lists regions "
                "of Hubei only"
            )
        else:
            reason = f"region code '{text}': '{text[:2]}' is not a province code of GB/T 2260"
        raise InvalidValue(reason, field=field)
    return found


def province_of(code: object, *, field: str = "region_code") -> str:
    """The name of the province a 6-digit code belongs to."""
    text = _normalise(code, field)
    name = PROVINCES.get(text[:2])
    if name is None:
        raise InvalidValue(
            f"region code '{text}': '{text[:2]}' is not a province code of GB/T 2260",
            field=field,
        )
    return name


def validate_region(code: object, *, field: str = "region_code") -> str:
    """Check a 6-digit region code and return it stripped.

    A Hubei code must be in the table. A code of another province is accepted when its
    2-digit prefix is a real province and it is well formed: 6 digits, and a zero
    prefecture part (digits 3-4) only in the province's own code (xx0000).
    """
    text = _normalise(code, field)
    if text[:2] not in PROVINCES:
        raise InvalidValue(
            f"region code '{text}': '{text[:2]}' is not a province code of GB/T 2260 "
            "(11-65, 71, 81, 82)",
            field=field,
        )
    if text[:2] == "42":
        if text not in HUBEI:
            if text == "429000":
                reason = (
                    "region code '429000' is the grouping of Hubei's directly administered "
                    "units; use 429004 Xiantao, 429005 Qianjiang, 429006 Tianmen or "
                    "429021 Shennongjia"
                )
            else:
                reason = f"region code '{text}' is not a county or city of Hubei (GB/T 2260)"
            raise InvalidValue(reason, field=field)
        return text
    if text[2:4] == "00" and text[4:] != "00":
        raise InvalidValue(
            f"region code '{text}': a county part ('{text[4:]}') under a zero prefecture "
            "part is not a GB/T 2260 code",
            field=field,
        )
    return text
