"""Hazards (隐患), their classification and the 一单四制 closed loop.

A hazard belongs to a unit (or to a user unit, for a management hazard), comes from a
source (an inspection finding, a supervision check, a maintenance record, an alarm, a
public report, or entered by hand) and is either *major* (重大事故隐患: an item of the
GB 45067-2024 criteria below) or *general* (一般隐患: everything else).

The loop (一单四制: 清单制, 责任制, 时限制, 销号制)::

    listed ──assign──▶ assigned ──start──▶ rectifying ──submit──▶ submitted
                                                ▲                    │   │
                                                └──────send_back─────┘   verify
                                                                         ▼
                                                                      verified (销号)

``assign`` needs the 交办单 (:class:`Assignment`): the responsible organisation and
person, the measures, the deadline and the supervising inspector. Every other move is
refused (:func:`transition` raises); the table :data:`TRANSITIONS` is the whole machine.

A major hazard keeps its unit out of service until it is verified closed (GB 45067-2024:
a unit with a major accident hazard must not be used; see public_safety).

Pure: no I/O and no clock (the day comes in as an argument).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from equipment.domain.catalogue import Family
from equipment.domain.errors import Conflict, InvalidValue
from equipment.i18n import N_


class Grade(StrEnum):
    GENERAL = "general"  # 一般隐患
    MAJOR = "major"  # 重大事故隐患


class State(StrEnum):
    LISTED = "listed"  # 已登记 (清单制)
    ASSIGNED = "assigned"  # 已交办 (责任制, 时限制)
    RECTIFYING = "rectifying"  # 整改中
    SUBMITTED = "submitted"  # 已提交验收
    VERIFIED = "verified"  # 已验收销号 (销号制)


class Action(StrEnum):
    ASSIGN = "assign"
    START = "start"
    SUBMIT = "submit"
    VERIFY = "verify"
    SEND_BACK = "send_back"


class Source(StrEnum):
    INSPECTION = "inspection"  # a failed inspection's findings
    SUPERVISION_CHECK = "supervision_check"  # a failed item of an on-site check
    MAINTENANCE = "maintenance"  # the hazards column of a maintenance record
    ALARM = "alarm"
    PUBLIC_REPORT = "public_report"
    MANUAL = "manual"


# (from state, action) → to state: every move the loop allows, and nothing else.
TRANSITIONS: Final = MappingProxyType(
    {
        (State.LISTED, Action.ASSIGN): State.ASSIGNED,
        (State.ASSIGNED, Action.START): State.RECTIFYING,
        (State.RECTIFYING, Action.SUBMIT): State.SUBMITTED,
        (State.SUBMITTED, Action.VERIFY): State.VERIFIED,
        (State.SUBMITTED, Action.SEND_BACK): State.RECTIFYING,
    }
)
OPEN_STATES: Final = frozenset(State) - {State.VERIFIED}
# The states in which the deadline runs (a listed hazard has none yet; a submitted one
# waits for the inspector, not for the responsible party).
DEADLINE_RUNS: Final = frozenset({State.ASSIGNED, State.RECTIFYING})

# Who acts at each step: the regulator lists, assigns, verifies and sends back; the
# responsible party (the user unit, or the maintenance company on its units) rectifies
# and submits. The service maps these to roles.
REGULATOR_ACTIONS: Final = frozenset({Action.ASSIGN, Action.VERIFY, Action.SEND_BACK})
RESPONSIBLE_ACTIONS: Final = frozenset({Action.START, Action.SUBMIT})

STATE_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {
        State.LISTED: N_("Listed"),
        State.ASSIGNED: N_("Assigned"),
        State.RECTIFYING: N_("Being rectified"),
        State.SUBMITTED: N_("Submitted for verification"),
        State.VERIFIED: N_("Verified and closed"),
    }
)
GRADE_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {Grade.GENERAL: N_("General hazard"), Grade.MAJOR: N_("Major accident hazard")}
)
SOURCE_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {
        Source.INSPECTION: N_("Inspection finding"),
        Source.SUPERVISION_CHECK: N_("Supervision check"),
        Source.MAINTENANCE: N_("Maintenance record"),
        Source.ALARM: N_("Alarm"),
        Source.PUBLIC_REPORT: N_("Public report"),
        Source.MANUAL: N_("Entered by hand"),
    }
)


def transition(state: State, action: Action) -> State:
    """The state ``action`` leads to from ``state``; Conflict when the loop forbids it."""
    to = TRANSITIONS.get((state, action))
    if to is None:
        allowed = ", ".join(sorted(a.value for s, a in TRANSITIONS if s is state)) or "none"
        raise Conflict(
            f"a hazard that is {state.value} cannot be {action.value}; allowed: {allowed}",
            field="action",
        )
    return to


def is_overdue(state: State, deadline: date | None, today: date) -> bool:
    """Past its deadline and not yet handed in for verification (时限制)."""
    return state in DEADLINE_RUNS and deadline is not None and deadline < today


# ---- 一单四制: the 交办单 -------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    """The 交办单 of a hazard: who answers for it, what they do, by when, and which
    inspector supervises it."""

    responsible_org_id: int
    responsible_person: str
    measures: str
    deadline: date
    supervising_inspector: str

    def check(self, today: date) -> None:
        for name in ("responsible_person", "measures", "supervising_inspector"):
            if not str(getattr(self, name)).strip():
                raise InvalidValue(f"the assignment needs a {name}", field=name)
        if self.deadline < today:
            raise InvalidValue(
                f"the deadline {self.deadline.isoformat()} has already passed", field="deadline"
            )


# ---- GB 45067-2024: major accident hazards of special equipment -----------------------


@dataclass(frozen=True)
class Criterion:
    """One item of GB 45067-2024 (特种设备重大事故隐患判定准则): the families it covers
    (empty: every family), its clause, its text and the confidence of the clause number
    (docs/rules.md tags: [C] the clause checked against the text, [S] a secondary
    source, [U] the item is the standard's but its clause number is not verified)."""

    key: str
    families: frozenset[Family]
    clause: str
    text_zh: str
    text_en: str
    confidence: str


def _c(key: str, families: set[Family], clause: str, zh: str, en: str, tag: str) -> Criterion:
    return Criterion(key, frozenset(families), clause, zh, en, tag)


F = Family
# Clause numbers and items as RULES-checked copies of GB 45067-2024 give them: the lift
# (5.6), filling (5.5), boiler (5.2) and piping (5.4) items were found in agreeing copies
# of the text and carry [S] (check against the official text before relying on them).
# The general section 5.1, pressure vessels 5.3 and in-plant vehicles 5.10 were not
# found, and the items of cranes 5.7 and ropeways 5.8 are not listed in those copies: the
# rows below for them name the section only and are tagged [U] (the item wording is the
# kind of hazard the section covers, not the standard's text). Amusement rides: no
# section was found at all; 5.9 is by elimination, [U].
CRITERIA: Final[tuple[Criterion, ...]] = (
    # ---- general (5.1, not found: [U]) ----
    _c(
        "general.illegal_manufacture",
        set(),
        "GB 45067-2024 5.1",
        "使用非法生产的特种设备",
        "using special equipment manufactured without a licence",
        "[U]",
    ),
    _c(
        "general.scrapped_in_use",
        set(),
        "GB 45067-2024 5.1",
        "使用已经报废或者达到报废条件的特种设备",
        "using equipment that is scrapped or due for scrapping",
        "[U]",
    ),
    _c(
        "general.unqualified_operator",
        set(),
        "GB 45067-2024 5.1",
        "使用无相应资格的人员从事特种设备作业",
        "operation by persons without the required certificate",
        "[U]",
    ),
    # ---- boilers (5.2) ----
    _c(
        "boiler.inspection_failed",
        {F.BOILER},
        "GB 45067-2024 5.2.1",
        "锅炉定期检验结论为不符合要求仍继续使用",
        "a boiler still used after its periodic inspection concluded 不符合要求",
        "[S]",
    ),
    _c(
        "boiler.safety_valve",
        {F.BOILER},
        "GB 45067-2024 5.2.2",
        "锅炉安全阀（爆破片）缺失",
        "a boiler's safety valve (bursting disc) missing",
        "[S]",
    ),
    _c(
        "boiler.thermal_instruments",
        {F.BOILER},
        "GB 45067-2024 5.2.3",
        "锅炉热工仪表失效或者控制电源、气源被切断",
        "a boiler's thermal instruments failed or their control power or air cut",
        "[S]",
    ),
    _c(
        "boiler.safety_valve_failed",
        {F.BOILER},
        "GB 45067-2024 5.2.4",
        "锅炉安全阀（爆破片）失效",
        "a boiler's safety valve (bursting disc) failed",
        "[S]",
    ),
    _c(
        "boiler.alarm",
        {F.BOILER},
        "GB 45067-2024 5.2.5",
        "锅炉报警装置缺失或者失效",
        "a boiler's alarm missing or failed",
        "[S]",
    ),
    _c(
        "boiler.interlock",
        {F.BOILER},
        "GB 45067-2024 5.2.6",
        "锅炉联锁保护装置缺失或者失效",
        "a boiler's interlock protection missing or failed",
        "[S]",
    ),
    _c(
        "boiler.flame_failure",
        {F.BOILER},
        "GB 45067-2024 5.2.7",
        "锅炉熄火保护装置缺失或者失效",
        "a boiler's flame-failure protection missing or failed",
        "[S]",
    ),
    _c(
        "boiler.leak",
        {F.BOILER},
        "GB 45067-2024 5.2.8",
        "锅炉受压元件泄漏仍继续运行",
        "a boiler running with a leak of a pressure part",
        "[S]",
    ),
    _c(
        "boiler.red_hot_wall",
        {F.BOILER},
        "GB 45067-2024 5.2.9",
        "锅炉炉墙烧红仍继续运行",
        "a boiler running with its furnace wall red-hot",
        "[S]",
    ),
    _c(
        "boiler.power_station_pipe",
        {F.BOILER},
        "GB 45067-2024 5.2.10",
        "电站锅炉汽水管道泄漏或者爆破仍继续运行",
        "a power-station boiler running with a steam or water pipe leaking or burst",
        "[S]",
    ),
    # ---- pressure vessels (5.3, not found: [U]) ----
    _c(
        "vessel.safety_accessory",
        {F.PRESSURE_VESSEL, F.OXYGEN_CHAMBER},
        "GB 45067-2024 5.3",
        "压力容器安全附件或者联锁装置缺失、失效",
        "a pressure vessel's safety accessories or interlocks missing or failed",
        "[U]",
    ),
    # ---- piping (5.4) ----
    _c(
        "piping.inspection_failed",
        {F.PIPING},
        "GB 45067-2024 5.4.1",
        "压力管道定期检验结论为不符合要求或者不允许使用仍继续使用",
        "pressure piping still used after its inspection concluded 不符合要求 or 不允许使用",
        "[S]",
    ),
    _c(
        "piping.shutoff",
        {F.PIPING},
        "GB 45067-2024 5.4.2",
        "压力管道阀门、爆破片或者紧急切断装置缺失或者失效",
        "a pipeline's valve, bursting disc or emergency shut-off missing or failed",
        "[S]",
    ),
    # ---- filling of cylinders and mobile pressure vessels (5.5) ----
    _c(
        "cylinder.no_licence",
        {F.GAS_CYLINDER},
        "GB 45067-2024 5.5.1",
        "未取得充装许可从事充装活动",
        "filling without a filling licence",
        "[S]",
    ),
    _c(
        "cylinder.wrong_medium",
        {F.GAS_CYLINDER},
        "GB 45067-2024 5.5.2",
        "错装介质",
        "filling a wrong medium",
        "[S]",
    ),
    _c(
        "cylinder.emergency_shutoff",
        {F.GAS_CYLINDER},
        "GB 45067-2024 5.5.3",
        "充装设备的紧急切断装置缺失或者失效",
        "the emergency shut-off of the filling equipment missing or failed",
        "[S]",
    ),
    # ---- lifts (5.6) ----
    _c(
        "lift.inspection_failed",
        {F.LIFT},
        "GB 45067-2024 5.6.1",
        "电梯检验结论为不合格或者复检不合格仍继续使用",
        "a lift still used after its inspection or re-inspection concluded 不合格",
        "[S]",
    ),
    _c(
        "lift.door_anti_pinch",
        {F.LIFT},
        "GB 45067-2024 5.6.2",
        "乘客电梯、载货电梯门防夹人保护装置失效",
        "a passenger or goods lift's door anti-pinch protection failed",
        "[S]",
    ),
    _c(
        "lift.escalator_emergency_stop",
        {F.LIFT},
        "GB 45067-2024 5.6.3",
        "自动扶梯、自动人行道紧急停止装置缺失或者失效",
        "an escalator's or moving walk's emergency stop missing or failed",
        "[S]",
    ),
    _c(
        "lift.door_lock_bridged",
        {F.LIFT},
        "GB 45067-2024 5.6.4",
        "乘客电梯、载货电梯门锁回路被短接",
        "a passenger or goods lift's door-lock circuit bridged",
        "[S]",
    ),
    _c(
        "lift.escalator_baffle",
        {F.LIFT},
        "GB 45067-2024 5.6.5",
        "自动扶梯扶手带外缘与障碍物距离小于400 mm处未设置防护挡板",
        "an escalator without a protective baffle where the handrail's outer edge is under "
        "400 mm from an obstacle",
        "[S]",
    ),
    # ---- cranes (5.7), ropeways (5.8): sections found, items not listed: [U] ----
    _c(
        "crane.protection",
        {F.CRANE},
        "GB 45067-2024 5.7",
        "起重机械安全保护装置缺失或者失效",
        "a crane's safety protection devices missing or failed",
        "[U]",
    ),
    _c(
        "ropeway.brake",
        {F.ROPEWAY},
        "GB 45067-2024 5.8",
        "客运索道制动器或者紧急驱动装置失效",
        "a ropeway's brake or emergency drive failed",
        "[U]",
    ),
    # ---- amusement rides (5.9 by elimination), in-plant vehicles (5.10 not found) ----
    _c(
        "ride.restraint",
        {F.AMUSEMENT_RIDE},
        "GB 45067-2024 5.9",
        "大型游乐设施乘客束缚装置或者安全保护装置缺失、失效",
        "an amusement ride's passenger restraint or protection device missing or failed",
        "[U]",
    ),
    _c(
        "vehicle.brake",
        {F.VEHICLE},
        "GB 45067-2024 5.10",
        "场（厂）内专用机动车辆制动系统失效",
        "a site vehicle's brake system failed",
        "[U]",
    ),
)
CRITERIA_BY_KEY: Final = MappingProxyType({c.key: c for c in CRITERIA})


def criteria_for(family: Family | None) -> tuple[Criterion, ...]:
    """The items that can apply to a unit of ``family`` (None: a management hazard of a
    user unit, for which only the general items apply)."""
    return tuple(c for c in CRITERIA if not c.families or (family in c.families))


def classify(criterion_key: str | None, family: Family | None) -> Grade:
    """Major when ``criterion_key`` names an item of GB 45067-2024 that applies to the
    unit's family; general when no item is named. An item of another family is refused
    (a lift cannot have a boiler's water-level hazard)."""
    if criterion_key is None or criterion_key == "":
        return Grade.GENERAL
    criterion = CRITERIA_BY_KEY.get(criterion_key)
    if criterion is None:
        raise InvalidValue(
            f"{criterion_key} is not an item of GB 45067-2024's major-hazard criteria",
            field="criterion",
        )
    if criterion.families and family not in criterion.families:
        raise InvalidValue(
            f"{criterion_key} does not apply to this kind of equipment", field="criterion"
        )
    return Grade.MAJOR


# ---- the ledger (台账) -----------------------------------------------------------------


@dataclass(frozen=True)
class LedgerLine:
    """Counts of one group (a user unit, a maintenance company, an area, a district)."""

    key: str
    by_state: dict[str, int]
    major_open: int
    overdue: int

    @property
    def open(self) -> int:
        return sum(n for s, n in self.by_state.items() if s != State.VERIFIED)
