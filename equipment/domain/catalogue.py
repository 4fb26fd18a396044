"""The Catalogue of Special Equipment (特种设备目录), as data.

Source: AQSIQ announcement 2014 No. 114 (质检总局关于修订《特种设备目录》的公告), the
catalogue in force. Codes are 4-character strings, never numbers: some contain letters
(23T0, 4A00, 4D00, 6A00, 7T00, F000). The hierarchy is positional:

- ``X000`` kind (种类), e.g. 3000 lifts;
- ``XY00`` class (类别), e.g. 3100 traction and positive-drive lifts;
- ``XYZ0`` variety (品种), e.g. 3110 traction passenger lifts.

Only codes known to be in the 2014 catalogue are listed (tag [S]: consistent across the
catalogue text quoted by provincial registers and by TSG inspection software). Two kinds
are listed but are not registered as units, so they have no ``family``: 7000 pressure
piping components (licensed at the manufacturer) and F000 safety accessories.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Literal

from equipment.domain.errors import InvalidValue

__all__ = [
    "ALL_CODES",
    "CYLINDER_USES",
    "REGISTRABLE_CODES",
    "Category",
    "Family",
    "category",
    "family_of",
    "is_cylinder",
    "is_known_category",
    "is_lift",
    "lineage",
    "normalise_category_code",
    "subcategories",
]


class Family(StrEnum):
    """What kind of equipment a category is, for rules and parameter schemas."""

    BOILER = "boiler"
    PRESSURE_VESSEL = "pressure_vessel"
    GAS_CYLINDER = "gas_cylinder"
    OXYGEN_CHAMBER = "oxygen_chamber"
    LIFT = "lift"
    CRANE = "crane"
    VEHICLE = "vehicle"
    AMUSEMENT_RIDE = "amusement_ride"
    PIPING = "piping"
    ROPEWAY = "ropeway"


Level = Literal["kind", "class", "variety"]


@dataclass(frozen=True, slots=True)
class Category:
    """One row of the catalogue."""

    code: str
    name_zh: str
    name_en: str
    parent: str | None
    family: Family | None
    """``None`` for 7000 and F000: catalogue entries that are not registered as units."""

    @property
    def level(self) -> Level:
        """kind (种类) ``X000``, class (类别) ``XY00`` or variety (品种) ``XYZ0``."""
        if self.code[1:] == "000":
            return "kind"
        if self.code[2:] == "00":
            return "class"
        return "variety"

    @property
    def registrable(self) -> bool:
        """True if units of this category get a usage registration."""
        return self.family is not None


# (code, Chinese name, English name). The parent is derived from the code's position.
_ROWS: tuple[tuple[str, str, str], ...] = (
    # 1000 boilers
    ("1000", "锅炉", "boilers"),
    ("1100", "承压蒸汽锅炉", "pressure-bearing steam boilers"),
    ("1200", "承压热水锅炉", "pressure-bearing hot-water boilers"),
    ("1300", "有机热载体锅炉", "organic heat-carrier boilers"),
    ("1310", "有机热载体气相炉", "organic heat-carrier boilers, vapour phase"),
    ("1320", "有机热载体液相炉", "organic heat-carrier boilers, liquid phase"),
    # 2000 pressure vessels
    ("2000", "压力容器", "pressure vessels"),
    ("2100", "固定式压力容器", "fixed pressure vessels"),
    ("2110", "超高压容器", "ultra-high-pressure vessels"),
    ("2130", "第三类压力容器", "class III pressure vessels"),
    ("2150", "第二类压力容器", "class II pressure vessels"),
    ("2170", "第一类压力容器", "class I pressure vessels"),
    ("2200", "移动式压力容器", "mobile pressure vessels"),
    ("2210", "铁路罐车", "railway tank cars"),
    ("2220", "汽车罐车", "road tank vehicles"),
    ("2230", "长管拖车", "tube trailers"),
    ("2240", "罐式集装箱", "tank containers"),
    ("2250", "管束式集装箱", "tube-bundle containers"),
    ("2300", "气瓶", "gas cylinders"),
    ("2310", "无缝气瓶", "seamless gas cylinders"),
    ("2320", "焊接气瓶", "welded gas cylinders"),
    (
        "23T0",
        "特种气瓶（内装填料气瓶、纤维缠绕气瓶、低温绝热气瓶）",
        "special gas cylinders (filler-packed incl. acetylene, fibre-wound composite, "
        "cryogenic insulated)",
    ),
    ("2400", "氧舱", "oxygen chambers"),
    ("2410", "医用氧舱", "medical oxygen chambers"),
    ("2420", "高气压舱", "hyperbaric chambers"),
    # 3000 lifts
    ("3000", "电梯", "lifts"),
    ("3100", "曳引与强制驱动电梯", "traction and positive-drive lifts"),
    ("3110", "曳引驱动乘客电梯", "traction passenger lifts"),
    ("3120", "曳引驱动载货电梯", "traction goods lifts"),
    ("3130", "强制驱动载货电梯", "positive-drive goods lifts"),
    ("3200", "液压驱动电梯", "hydraulic lifts"),
    ("3210", "液压乘客电梯", "hydraulic passenger lifts"),
    ("3220", "液压载货电梯", "hydraulic goods lifts"),
    ("3300", "自动扶梯与自动人行道", "escalators and moving walks"),
    ("3310", "自动扶梯", "escalators"),
    ("3320", "自动人行道", "moving walks"),
    ("3400", "其他类型电梯", "other lifts"),
    ("3410", "防爆电梯", "explosion-proof lifts"),
    ("3420", "消防员电梯", "firefighters lifts"),
    ("3430", "杂物电梯", "dumbwaiters"),
    # 4000 cranes (lifting appliances)
    ("4000", "起重机械", "cranes"),
    ("4100", "桥式起重机", "overhead (bridge) cranes"),
    ("4110", "通用桥式起重机", "general-purpose overhead cranes"),
    ("4130", "防爆桥式起重机", "explosion-proof overhead cranes"),
    ("4140", "绝缘桥式起重机", "insulated overhead cranes"),
    ("4150", "冶金桥式起重机", "metallurgical overhead cranes"),
    ("4170", "电动单梁起重机", "electric single-girder cranes"),
    ("4190", "电动葫芦桥式起重机", "electric-hoist overhead cranes"),
    ("4200", "门式起重机", "gantry cranes"),
    ("4210", "通用门式起重机", "general-purpose gantry cranes"),
    ("4220", "防爆门式起重机", "explosion-proof gantry cranes"),
    ("4230", "轨道式集装箱门式起重机", "rail-mounted container gantry cranes"),
    ("4240", "轮胎式集装箱门式起重机", "rubber-tyred container gantry cranes"),
    ("4250", "岸边集装箱起重机", "ship-to-shore container cranes"),
    ("4260", "造船门式起重机", "shipbuilding gantry cranes"),
    ("4270", "电动葫芦门式起重机", "electric-hoist gantry cranes"),
    ("4280", "装卸桥", "loading bridges"),
    ("4290", "架桥机", "bridge-erecting machines"),
    ("4300", "塔式起重机", "tower cranes"),
    ("4310", "普通塔式起重机", "ordinary tower cranes"),
    ("4320", "电站塔式起重机", "power-station tower cranes"),
    ("4400", "流动式起重机", "mobile cranes"),
    ("4410", "轮胎起重机", "wheel-mounted cranes"),
    ("4420", "履带起重机", "crawler cranes"),
    ("4440", "集装箱正面吊运起重机", "container reach stackers"),
    ("4450", "铁路起重机", "railway cranes"),
    ("4700", "门座式起重机", "portal cranes"),
    ("4710", "门座起重机", "portal slewing cranes"),
    ("4760", "固定式起重机", "fixed slewing cranes"),
    ("4800", "升降机", "hoists"),
    ("4860", "施工升降机", "construction hoists"),
    ("4870", "简易升降机", "simple hoists"),
    ("4900", "缆索式起重机", "cable cranes"),
    ("4A00", "桅杆式起重机", "derrick (mast) cranes"),
    ("4D00", "机械式停车设备", "mechanical parking systems"),
    # 5000 in-plant motor vehicles
    ("5000", "场（厂）内专用机动车辆", "in-plant special motor vehicles"),
    ("5100", "机动工业车辆", "powered industrial trucks"),
    ("5110", "叉车", "forklift trucks"),
    ("5200", "非公路用旅游观光车辆", "off-road sightseeing vehicles"),
    # 6000 large amusement rides
    ("6000", "大型游乐设施", "large amusement rides"),
    ("6100", "观览车类", "observation wheels"),
    ("6200", "滑行车类", "roller coasters"),
    ("6300", "架空游览车类", "elevated sightseeing cars"),
    ("6400", "陀螺类", "gyro rides"),
    ("6500", "飞行塔类", "flying towers"),
    ("6600", "转马类", "carousels"),
    ("6700", "自控飞机类", "self-controlled plane rides"),
    ("6800", "赛车类", "go-karts"),
    ("6900", "小火车类", "miniature trains"),
    ("6A00", "碰碰车类", "bumper cars"),
    ("6B00", "滑道类", "slideways"),
    ("6D00", "水上游乐设施", "water rides"),
    ("6D10", "峡谷漂流系列", "canyon rafting rides"),
    ("6D20", "水滑梯系列", "water slides"),
    ("6D40", "碰碰船系列", "bumper boats"),
    ("6E00", "无动力游乐设施", "non-powered amusement devices"),
    ("6E10", "蹦极系列", "bungee jumping"),
    ("6E40", "滑索系列", "zip lines"),
    ("6E50", "空中飞人系列", "flying trapeze rides"),
    ("6E60", "系留式观光气球系列", "tethered sightseeing balloons"),
    # 7000 pressure piping components: licensed at manufacture, never registered as units.
    ("7000", "压力管道元件", "pressure piping components"),
    # 8000 pressure piping
    ("8000", "压力管道", "pressure piping"),
    ("8100", "长输管道", "long-distance pipelines"),
    ("8110", "输油管道", "oil pipelines"),
    ("8120", "输气管道", "gas pipelines"),
    ("8200", "公用管道", "public utility piping"),
    ("8210", "燃气管道", "gas distribution piping"),
    ("8220", "热力管道", "heat distribution piping"),
    ("8300", "工业管道", "industrial piping"),
    ("8310", "工艺管道", "process piping"),
    ("8320", "动力管道", "power piping"),
    ("8330", "制冷管道", "refrigeration piping"),
    # 9000 passenger ropeways
    ("9000", "客运索道", "passenger ropeways"),
    ("9100", "客运架空索道", "aerial passenger ropeways"),
    ("9110", "往复式客运架空索道", "reversible aerial ropeways"),
    ("9120", "循环式客运架空索道", "circulating aerial ropeways"),
    ("9200", "客运缆车", "funiculars"),
    ("9210", "往复式客运缆车", "reversible funiculars"),
    ("9220", "循环式客运缆车", "circulating funiculars"),
    ("9300", "客运拖牵索道", "surface lifts (drag lifts)"),
    ("9310", "低位客运拖牵索道", "low-rope surface lifts"),
    ("9320", "高位客运拖牵索道", "high-rope surface lifts"),
    # F000 safety accessories: not registered as units.
    ("F000", "安全附件", "safety accessories"),
)


def _family_for(code: str) -> Family | None:
    if code.startswith("23"):
        return Family.GAS_CYLINDER
    if code.startswith("24"):
        return Family.OXYGEN_CHAMBER
    return {
        "1": Family.BOILER,
        "2": Family.PRESSURE_VESSEL,
        "3": Family.LIFT,
        "4": Family.CRANE,
        "5": Family.VEHICLE,
        "6": Family.AMUSEMENT_RIDE,
        "8": Family.PIPING,
        "9": Family.ROPEWAY,
    }.get(code[0])


def _parent_for(code: str) -> str | None:
    if code[1:] == "000":
        return None
    if code[2:] == "00":
        return code[0] + "000"
    return code[:2] + "00"


_CATALOGUE: dict[str, Category] = {
    code: Category(code, zh, en, _parent_for(code), _family_for(code)) for code, zh, en in _ROWS
}

ALL_CODES: tuple[str, ...] = tuple(_CATALOGUE)
"""Every catalogue code sereg knows, in catalogue order."""

REGISTRABLE_CODES: tuple[str, ...] = tuple(c for c in ALL_CODES if _CATALOGUE[c].registrable)
"""The codes whose units are registered (all but 7000 and F000)."""


def normalise_category_code(code: object) -> str:
    """Strip whitespace and upper-case ASCII letters; no lookup."""
    if not isinstance(code, str):
        raise InvalidValue(
            f"a category code must be text such as '3110', not {type(code).__name__}",
            field="category_code",
        )
    return "".join(ch.upper() if "a" <= ch <= "z" else ch for ch in code.strip())


def is_known_category(code: object) -> bool:
    """True if ``code`` (after normalising) is in the catalogue."""
    return isinstance(code, str) and normalise_category_code(code) in _CATALOGUE


def category(code: object) -> Category:
    """The catalogue row for ``code``; InvalidValue if there is none."""
    normalised = normalise_category_code(code)
    found = _CATALOGUE.get(normalised)
    if found is None:
        if len(normalised) != 4:
            reason = (
                f"category code '{normalised}' must be 4 characters "
                f"(e.g. 3110 traction passenger lift), got {len(normalised)}"
            )
        else:
            reason = (
                f"category code '{normalised}' is not in the Catalogue of Special Equipment "
                "(2014 announcement No. 114)"
            )
        raise InvalidValue(reason, field="category_code")
    return found


def family_of(code: object) -> Family:
    """The family of a registrable category; InvalidValue for unknown or non-registrable."""
    row = category(code)
    if row.family is None:
        raise InvalidValue(
            f"category {row.code} ({row.name_zh}, {row.name_en}) is a class of components, "
            "not equipment that is registered as a unit",
            field="category_code",
        )
    return row.family


# What a gas cylinder is used for, where the rules depend on it (TSG 23-2021 [S]):
# diving cylinders are inspected every 2 years; vehicle fuel cylinders may be filled by
# any station and are checked against their vehicle; a taxi's CNG cylinder lasts at
# most 8 years (出租车用压缩天然气气瓶使用年限不超过8年), another vehicle's 15. Unset
# (None) means "general": none of those rules applies.
CYLINDER_USES: tuple[str, ...] = ("general", "vehicle", "taxi", "diving")
VEHICLE_USES: frozenset[str] = frozenset({"vehicle", "taxi"})


def is_cylinder(code: object) -> bool:
    """True for 2300 gas cylinders and their varieties; InvalidValue for unknown codes."""
    if isinstance(code, str):
        return _family(code) is Family.GAS_CYLINDER
    return category(code).family is Family.GAS_CYLINDER


@lru_cache(maxsize=1024)
def _family(code: str) -> Family | None:
    # Cached for the ingest, which asks for every fill; an unknown code raises and is not
    # cached. None: a listed category that is not registered as units.
    return category(code).family


def is_lift(code: object) -> bool:
    """True for 3000 lifts and everything under it; InvalidValue for unknown codes."""
    return category(code).family is Family.LIFT


def lineage(code: object) -> tuple[str, ...]:
    """The code and its ancestors, most specific first: ``3110`` -> (3110, 3100, 3000).

    Rule tables look a category up by walking this, so a row for 4300 covers 4310 and 4320.
    """
    row: Category | None = category(code)
    chain: list[str] = []
    while row is not None:
        chain.append(row.code)
        row = _CATALOGUE.get(row.parent) if row.parent else None
    return tuple(chain)


def subcategories(code: object) -> tuple[str, ...]:
    """Direct children of ``code`` in catalogue order (empty for a variety)."""
    parent = category(code).code
    return tuple(c for c in ALL_CODES if _CATALOGUE[c].parent == parent)
