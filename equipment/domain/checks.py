"""On-site supervision checks (监督检查): the checklists (检查事项清单) and their outcomes.

An inspector checks a user unit (its management: the ``user_unit`` checklist) or one unit
(the checklist of the unit's family: the items every unit shares, then the family's own).
Each item is passed, failed or not applicable, with a note; a failed item becomes a
hazard (equipment.services.checks), major when the item names a GB 45067-2024 criterion
(equipment.domain.hazards.CRITERIA).

Every item says where it comes from (``source``) with the confidence tag of
docs/rules.md: [C] checked against the text, [S] a secondary source, [U] not verified
(an item a bureau checks by practice, whose legal basis was not confirmed here). A
bureau changes the lists in its policy file (``checklists``: see :func:`load_overrides`).

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from equipment.domain.catalogue import Family
from equipment.domain.errors import InvalidValue
from equipment.domain.hazards import CRITERIA_BY_KEY
from equipment.i18n import N_


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_APPLICABLE = "not_applicable"


class TargetKind(StrEnum):
    USER_UNIT = "user_unit"  # the user unit's management (使用单位)
    EQUIPMENT = "equipment"  # one unit (设备)


OUTCOME_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {
        Outcome.PASSED: N_("Passed"),
        Outcome.FAILED: N_("Failed"),
        Outcome.NOT_APPLICABLE: N_("Not applicable"),
    }
)

USER_UNIT_CHECKLIST: Final = "user_unit"
MAX_ITEMS: Final = 60
MAX_NOTE: Final = 1000


@dataclass(frozen=True)
class Item:
    """One item of a checklist: what is checked, why (its source and tag), and the
    GB 45067-2024 criterion a failure of it meets (None: a general hazard)."""

    key: str
    text_zh: str
    text_en: str
    source: str
    criterion: str | None = None

    def text(self, language: str) -> str:
        return self.text_zh if language == "zh-CN" else self.text_en


def _i(key: str, zh: str, en: str, source: str, criterion: str | None = None) -> Item:
    return Item(key, zh, en, source, criterion)


_ORDER_74 = "SAMR Order 74 (2023), 使用单位落实主体责任 [C]"

# The user unit's management (a check of the organisation, not of one unit).
_MANAGEMENT: Final = (
    _i(
        "safety_staff",
        "配备安全总监和安全员",
        "a safety director and safety officers named",
        _ORDER_74,
    ),
    _i(
        "risk_control_list",
        "建立风险管控清单",
        "a risk-control list kept",
        _ORDER_74,
    ),
    _i(
        "routine_records",
        "日管控、周排查、月调度记录齐全",
        "daily control, weekly investigation and monthly scheduling records kept",
        _ORDER_74,
    ),
    _i(
        "registration_all",
        "在用特种设备均已办理使用登记",
        "every unit in use registered",
        "TSG 08-2017: use registration before or within 30 days of service [C]",
    ),
    _i(
        "operator_certificates",
        "作业人员持证上岗",
        "operators hold the required certificates",
        "特种设备安全法 (article not verified here) [U]",
        "general.unqualified_operator",
    ),
    _i(
        "emergency_plan",
        "制定应急预案并组织演练",
        "an emergency plan written and drilled",
        "practice of the bureau; clause not verified [U]",
    ),
    _i(
        "ledger",
        "建立特种设备安全技术档案和台账",
        "safety technical files and a ledger of the units kept",
        "practice of the bureau; clause not verified [U]",
    ),
)

# Every unit, whatever its family.
_EVERY_UNIT: Final = (
    _i(
        "registration",
        "已办理使用登记，使用登记证在有效状态",
        "registered for use, the certificate in force",
        "TSG 08-2017: use registration before or within 30 days of service [C]",
    ),
    _i(
        "periodic_inspection",
        "在定期检验有效期内使用",
        "in use within its periodic inspection's validity",
        "TSG 08-2017: no use after the inspection expires [C]",
    ),
    _i(
        "self_inspection",
        "每月自行检查记录齐全",
        "the monthly self-inspection records kept",
        "TSG 08-2017: user's own check at least monthly [C]",
    ),
    _i(
        "signs",
        "使用标志和安全注意事项张贴在显著位置",
        "the use sign and safety notices posted where they are seen",
        "practice of the bureau; clause not verified [U]",
    ),
    _i(
        "operator_on_site",
        "作业人员持证上岗",
        "the operator on site holds the required certificate",
        "特种设备安全法 (article not verified here) [U]",
        "general.unqualified_operator",
    ),
)

_FAMILY_ITEMS: Final[Mapping[Family, tuple[Item, ...]]] = MappingProxyType(
    {
        Family.LIFT: (
            _i(
                "maintenance_contract",
                "签订维保合同，维保单位具备资质",
                "a maintenance contract with a qualified company",
                "Regulations Art. 31, TSG T5002-2017 (a qualified company: not verified here) [U]",
            ),
            _i(
                "maintenance_records",
                "每15日维护保养记录齐全",
                "maintenance records at least every 15 days",
                "TSG T5002-2017: at least every 15 days [C]",
            ),
            _i(
                "door_lock_circuit",
                "门锁回路未被短接",
                "the door-lock circuit not bridged",
                "GB 45067-2024 5.6.4 [S]",
                "lift.door_lock_bridged",
            ),
            _i(
                "door_anti_pinch",
                "门防夹人保护装置有效",
                "the door anti-pinch protection works",
                "GB 45067-2024 5.6.2 [S]",
                "lift.door_anti_pinch",
            ),
            _i(
                "emergency_alarm",
                "轿厢紧急报警装置有效",
                "the car's emergency alarm works",
                "practice of the bureau; clause not verified [U]",
            ),
        ),
        Family.BOILER: (
            _i(
                "safety_valve",
                "安全阀（爆破片）齐全有效",
                "the safety valve (bursting disc) present and working",
                "GB 45067-2024 5.2.2 / 5.2.4 [S]",
                "boiler.safety_valve_failed",
            ),
            _i(
                "boiler_alarm",
                "报警装置齐全有效",
                "the alarm present and working",
                "GB 45067-2024 5.2.5 [S]",
                "boiler.alarm",
            ),
            _i(
                "boiler_interlock",
                "联锁保护装置齐全有效",
                "the interlock protection present and working",
                "GB 45067-2024 5.2.6 [S]",
                "boiler.interlock",
            ),
            _i(
                "water_treatment",
                "水（介）质处理记录齐全",
                "water treatment records kept",
                "practice of the bureau; clause not verified [U]",
            ),
        ),
        Family.PRESSURE_VESSEL: (
            _i(
                "vessel_accessories",
                "安全附件、联锁装置齐全有效",
                "safety accessories and interlocks present and working",
                "GB 45067-2024 5.3 (items not found) [U]",
                "vessel.safety_accessory",
            ),
        ),
        Family.OXYGEN_CHAMBER: (
            _i(
                "vessel_accessories",
                "安全附件、联锁装置齐全有效",
                "safety accessories and interlocks present and working",
                "GB 45067-2024 5.3 (items not found) [U]",
                "vessel.safety_accessory",
            ),
        ),
        Family.GAS_CYLINDER: (
            _i(
                "filling_licence",
                "充装许可证在有效期内",
                "the filling licence in force",
                "GB 45067-2024 5.5.1 [S]",
                "cylinder.no_licence",
            ),
            _i(
                "filling_shutoff",
                "充装设备紧急切断装置有效",
                "the filling equipment's emergency shut-off works",
                "GB 45067-2024 5.5.3 [S]",
                "cylinder.emergency_shutoff",
            ),
        ),
        Family.PIPING: (
            _i(
                "piping_shutoff",
                "阀门、爆破片、紧急切断装置齐全有效",
                "valves, bursting discs and emergency shut-offs present and working",
                "GB 45067-2024 5.4.2 [S]",
                "piping.shutoff",
            ),
        ),
        Family.CRANE: (
            _i(
                "crane_protection",
                "起重量限制器、起升高度限位器等安全保护装置有效",
                "the load limiter, hoist limit and other protection work",
                "GB 45067-2024 5.7 (items not listed) [U]",
                "crane.protection",
            ),
        ),
        Family.VEHICLE: (
            _i(
                "vehicle_brake",
                "制动系统有效",
                "the brake system works",
                "GB 45067-2024 5.10 (not found) [U]",
                "vehicle.brake",
            ),
        ),
        Family.AMUSEMENT_RIDE: (
            _i(
                "ride_restraint",
                "乘客束缚装置和安全保护装置有效",
                "passenger restraints and protection devices work",
                "GB 45067-2024 5.9 (by elimination) [U]",
                "ride.restraint",
            ),
        ),
        Family.ROPEWAY: (
            _i(
                "ropeway_brake",
                "制动器和紧急驱动装置有效",
                "the brake and the emergency drive work",
                "GB 45067-2024 5.8 (items not listed) [U]",
                "ropeway.brake",
            ),
        ),
    }
)


def _default_lists() -> Mapping[str, tuple[Item, ...]]:
    lists: dict[str, tuple[Item, ...]] = {USER_UNIT_CHECKLIST: _MANAGEMENT}
    for family in Family:
        lists[family.value] = _EVERY_UNIT + _FAMILY_ITEMS.get(family, ())
    return MappingProxyType(lists)


# Checklist name (``user_unit`` or a Family value) → its items in order.
DEFAULT_CHECKLISTS: Final[Mapping[str, tuple[Item, ...]]] = _default_lists()


def checklist_for(target: TargetKind, family: Family | None) -> str:
    """The name of the checklist a target is checked against."""
    if target is TargetKind.USER_UNIT:
        return USER_UNIT_CHECKLIST
    if family is None:
        raise InvalidValue("a unit check needs the unit's family", field="equipment_id")
    return family.value


@dataclass(frozen=True)
class Answer:
    """What the inspector found on one item."""

    key: str
    outcome: Outcome
    note: str = ""


def check_answers(items: tuple[Item, ...], answers: list[Answer]) -> list[Answer]:
    """The answers in the checklist's order, refused unless each item is answered once
    and nothing else is; a failed item needs a note (it becomes a hazard's text)."""
    known = {i.key for i in items}
    seen: set[str] = set()
    for answer in answers:
        if answer.key not in known:
            raise InvalidValue(f"{answer.key} is not an item of this checklist", field="items")
        if answer.key in seen:
            raise InvalidValue(f"{answer.key} is answered twice", field="items")
        seen.add(answer.key)
        if len(answer.note) > MAX_NOTE:
            raise InvalidValue(f"a note holds at most {MAX_NOTE} characters", field="items")
    missing = [i.key for i in items if i.key not in seen]
    if missing:
        raise InvalidValue(f"items not answered: {', '.join(missing)}", field="items")
    by_key = {a.key: a for a in answers}
    return [by_key[i.key] for i in items]


def hazard_text(item: Item, note: str) -> str:
    """A failed item's hazard description: the item, then what the inspector saw."""
    note = note.strip()
    return f"监督检查不符合：{item.text_zh}" + (f"（{note}）" if note else "")


# ---- the policy file's ``checklists`` -------------------------------------------------


def load_overrides(mapping: object) -> Mapping[str, tuple[Item, ...]]:
    """The checklists with a bureau's changes::

        "checklists": {
          "lift": {
            "remove": ["signs"],
            "add": [{"key": "fire_mode", "text_zh": "消防返回功能有效",
                     "text_en": "fire-service return works",
                     "source": "市局2025年检查要点", "criterion": null}]
          }
        }

    Every added item needs a source (why it is checked); a criterion, when given, must be
    an item of GB 45067-2024. InvalidValue says what is wrong."""
    lists = dict(DEFAULT_CHECKLISTS)
    if not isinstance(mapping, Mapping):
        raise InvalidValue("checklists maps a checklist name to changes", field="checklists")
    for name, change in mapping.items():
        where = f"checklists.{name}"
        if name not in lists:
            raise InvalidValue(
                f"{where}: no checklist has this name; names: {sorted(lists)}", field=where
            )
        if not isinstance(change, Mapping) or set(change) - {"remove", "add"}:
            raise InvalidValue(f"{where}: give remove and/or add", field=where)
        removed = change.get("remove", [])
        if not isinstance(removed, list) or any(not isinstance(k, str) for k in removed):
            raise InvalidValue(f"{where}.remove: a list of item keys", field=where)
        items = list(lists[name])
        for key in removed:
            if key not in {i.key for i in items}:
                raise InvalidValue(f"{where}.remove: no item {key!r}", field=where)
        items = [i for i in items if i.key not in removed]
        added = change.get("add", [])
        if not isinstance(added, list):
            raise InvalidValue(f"{where}.add: a list of items", field=where)
        for raw in added:
            items.append(_added_item(raw, where, {i.key for i in items}))
        if not items or len(items) > MAX_ITEMS:
            raise InvalidValue(f"{where}: 1 to {MAX_ITEMS} items", field=where)
        lists[name] = tuple(items)
    return MappingProxyType(lists)


def _added_item(raw: object, where: str, taken: set[str]) -> Item:
    fields = {"key", "text_zh", "text_en", "source", "criterion"}
    if not isinstance(raw, Mapping) or set(raw) - fields:
        raise InvalidValue(f"{where}.add: each item has {sorted(fields)}", field=where)
    values = {k: raw.get(k) for k in ("key", "text_zh", "text_en", "source")}
    for k, v in values.items():
        if not isinstance(v, str) or not v.strip() or len(v) > 200:
            raise InvalidValue(f"{where}.add: {k} is a text of 1 to 200 characters", field=where)
    key = str(values["key"])
    if key in taken or not key.replace("_", "").isalnum() or len(key) > 48:
        raise InvalidValue(f"{where}.add: {key!r} is taken or not a key", field=where)
    criterion = raw.get("criterion")
    if criterion is not None and criterion not in CRITERIA_BY_KEY:
        raise InvalidValue(f"{where}.add: {criterion!r} is not a GB 45067 item", field=where)
    return Item(
        key, str(values["text_zh"]), str(values["text_en"]), str(values["source"]), criterion
    )
