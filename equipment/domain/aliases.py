"""The Chinese words users type where the API expects a stable code.

An inspector writes 不合格, a station's clerk 液化石油气, a maintenance company 半月 and
an office 樊城区; the register stores fail, LPG, half_monthly and 420606. This is the one
table of those words; the decoders (API schemas and query parameters, the maintenance
upload, the fill permit, the MQTT fill decoder) map an input through it and leave any
other text as it is for the usual validation to judge. Stored values and JSON keys stay
the English codes, so no client breaks.
"""

from __future__ import annotations

from collections import Counter
from types import MappingProxyType
from typing import Final

from equipment.domain.regions import HUBEI

# 充装介质 → the medium codes of the MQTT fill contract (LPG, O2, N2, Ar, CO2...).
MEDIA: Final = MappingProxyType(
    {
        "液化石油气": "LPG",
        "液化气": "LPG",
        "氧气": "O2",
        "氧": "O2",
        "氮气": "N2",
        "氮": "N2",
        "氩气": "Ar",
        "氩": "Ar",
        "二氧化碳": "CO2",
        "乙炔": "C2H2",
        "溶解乙炔": "C2H2",
        "压缩天然气": "CNG",
        "液化天然气": "LNG",
        "氢气": "H2",
        "氢": "H2",
        "氦气": "He",
        "空气": "AIR",
        "压缩空气": "AIR",
        "甲烷": "CH4",
        "丙烷": "C3H8",
        "丁烷": "C4H10",
        "液氨": "NH3",
        "氨": "NH3",
        "氯气": "CL2",
        "液氯": "CL2",
        "氧化亚氮": "N2O",
        "笑气": "N2O",
        "二氧化硫": "SO2",
    }
)

# 检验结论 → the stored conclusion codes. Lifts write 合格/不合格/复检合格/复检不合格
# (TSG T7001-2023); boilers and piping 符合要求/基本符合要求/不符合要求 (TSG 11-2020,
# TSG D7005); vessels 允许使用/监控使用/不允许使用.
CONCLUSIONS: Final = MappingProxyType(
    {
        "合格": "pass",
        "复检合格": "pass",
        "符合要求": "pass",
        "允许使用": "pass",
        "基本符合要求": "conditional_pass",
        "有条件合格": "conditional_pass",
        "监控使用": "conditional_pass",
        "不合格": "fail",
        "复检不合格": "fail",
        "不符合要求": "fail",
        "不允许使用": "fail",
    }
)

# 检验类别 as inspection bodies' exports write them (归集检验数据) → inspection kinds.
INSPECTION_KINDS: Final = MappingProxyType(
    {
        "定期检验": "periodic",
        "定检": "periodic",
        "监督检验": "supervisory",
        "安装监督检验": "supervisory",
        "自行检测": "self_test",
        "外部检验": "external",
        "年度检查": "annual_check",
        "内部检验": "internal",
        "耐压试验": "hydrostatic",
        "水压试验": "hydrostatic",
    }
)

# 维保项目 (TSG T5002-2017 annexes A-D) → maintenance levels.
MAINTENANCE_LEVELS: Final = MappingProxyType(
    {
        "半月": "half_monthly",
        "半月维保": "half_monthly",
        "季度": "quarterly",
        "季度维保": "quarterly",
        "半年": "half_yearly",
        "半年维保": "half_yearly",
        "年度": "yearly",
        "年度维保": "yearly",
    }
)


# 电梯故障/报警类型 → the lift event kinds of MQTT contract v1 (docs/mqtt-contract.md). The
# fault names are GB/T 24476-2017's as monitoring boxes print them (安全回路断路 is its code
# 1, 轿厢在开锁区域外停止 its code 4...); 困人, 冲顶, 蹲底 and 超速 are the local platforms'.
LIFT_EVENT_KINDS: Final = MappingProxyType(
    {
        "困人": "entrapment",
        "电梯困人": "entrapment",
        "困人故障": "entrapment",
        "安全回路断路": "safety_circuit_open",
        "安全回路断开": "safety_circuit_open",
        "关门故障": "door_close_fault",
        "开门故障": "door_open_fault",
        "轿厢在开锁区域外停止": "stopped_outside_door_zone",
        "开锁区域外停梯": "stopped_outside_door_zone",
        "非平层停梯": "stopped_outside_door_zone",
        "轿厢意外移动": "unintended_movement",
        "意外移动": "unintended_movement",
        "电动机运转时间限制器动作": "motor_runtime_limiter",
        "运行时间限制器动作": "motor_runtime_limiter",
        "楼层位置丢失": "floor_position_lost",
        "其他阻止电梯再启动的故障": "restart_prevented",
        "电梯不能再启动": "restart_prevented",
        "停电": "power_loss",
        "断电": "power_loss",
        "主电源断电": "power_loss",
        "冲顶": "over_travel_top",
        "蹲底": "over_travel_bottom",
        "超速": "overspeed",
        "报警按钮": "alarm_button",
        "紧急报警": "alarm_button",
        "轿内报警": "alarm_button",
        "恢复正常": "back_to_normal",
        "故障恢复": "back_to_normal",
    }
)


def _unique_names() -> dict[str, str]:
    """The current Hubei divisions' names that name one code only (a name used twice
    is left out rather than guessed)."""
    current = [r for r in HUBEI.values() if r.current]
    counts = Counter(r.name for r in current)
    return {r.name: r.code for r in current if counts[r.name] == 1}


# 区县名称 → GB/T 2260 codes (樊城区 → 420606, 襄阳市 → 420600).
DISTRICTS: Final = MappingProxyType(_unique_names())


def _lookup(table: MappingProxyType[str, str], value: str) -> str:
    return table.get(value.strip(), value)


def medium_code(value: str) -> str:
    """液化石油气 → LPG; a mixture 氩气+二氧化碳 → Ar+CO2; anything else unchanged."""
    if "+" not in value:
        return _lookup(MEDIA, value)
    return "+".join(_lookup(MEDIA, part) for part in value.split("+"))


def conclusion_code(value: str) -> str:
    """不合格 → fail; anything else unchanged."""
    return _lookup(CONCLUSIONS, value)


def inspection_kind_code(value: str) -> str:
    """定期检验 → periodic; anything else unchanged."""
    return _lookup(INSPECTION_KINDS, value)


def maintenance_level_code(value: str) -> str:
    """半月 → half_monthly; anything else unchanged."""
    return _lookup(MAINTENANCE_LEVELS, value)


def lift_event_kind(value: str) -> str:
    """困人 → entrapment; anything else unchanged."""
    return _lookup(LIFT_EVENT_KINDS, value)


def district_code(value: str) -> str:
    """樊城区 → 420606; anything else unchanged."""
    return _lookup(DISTRICTS, value)
