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
# The clause numbers below were written from memory of the standard's layout (general
# items first, then one section per kind of equipment) and could not be checked against
# its text here: they are tagged [U] until someone with the standard confirms them. The
# two filling items are the ones sereg's fill rules already cite as [C] (docs/rules.md).
CRITERIA: Final[tuple[Criterion, ...]] = (
    _c(
        "general.illegal_manufacture",
        set(),
        "GB 45067-2024 4.1",
        "使用非法生产的特种设备",
        "using special equipment manufactured without a licence",
        "[U]",
    ),
    _c(
        "general.beyond_parameters",
        set(),
        "GB 45067-2024 4.2",
        "超过特种设备的规定参数范围使用",
        "using the equipment beyond its rated parameters",
        "[U]",
    ),
    _c(
        "general.scrapped_in_use",
        set(),
        "GB 45067-2024 4.3",
        "使用已经报废、达到报废条件或者超过设计使用年限未办理变更的特种设备",
        "using equipment that is scrapped, due for scrapping, or past its design life "
        "without a change of registration",
        "[U]",
    ),
    _c(
        "general.not_inspected",
        set(),
        "GB 45067-2024 4.4",
        "使用未经检验或者检验不合格的特种设备",
        "using equipment never inspected or that failed its inspection",
        "[U]",
    ),
    _c(
        "general.unqualified_operator",
        set(),
        "GB 45067-2024 4.5",
        "使用无相应资格的人员从事特种设备作业",
        "operation by persons without the required certificate",
        "[U]",
    ),
    _c(
        "boiler.water_level",
        {F.BOILER},
        "GB 45067-2024 5.1.1",
        "锅炉缺水、满水保护或水位计失效仍继续运行",
        "a boiler running with its low/high-water protection or water gauge failed",
        "[U]",
    ),
    _c(
        "boiler.safety_valve",
        {F.BOILER},
        "GB 45067-2024 5.1.2",
        "锅炉安全阀缺失、失效或者被拆除、堵塞",
        "a boiler's safety valve missing, failed, removed or blocked",
        "[U]",
    ),
    _c(
        "vessel.safety_accessory",
        {F.PRESSURE_VESSEL, F.OXYGEN_CHAMBER},
        "GB 45067-2024 5.2.1",
        "压力容器安全附件或者联锁装置缺失、失效",
        "a pressure vessel's safety accessories or interlocks missing or failed",
        "[U]",
    ),
    _c(
        "vessel.quick_door_interlock",
        {F.PRESSURE_VESSEL},
        "GB 45067-2024 5.2.2",
        "快开门式压力容器安全联锁装置失效",
        "the safety interlock of a quick-opening door vessel failed",
        "[U]",
    ),
    _c(
        "cylinder.no_licence",
        {F.GAS_CYLINDER},
        "GB 45067-2024 5.5.1",
        "未取得充装许可从事气瓶充装",
        "filling gas cylinders without a filling licence",
        "[C]",
    ),
    _c(
        "cylinder.wrong_medium",
        {F.GAS_CYLINDER},
        "GB 45067-2024 5.5.2",
        "气瓶错装介质或者充装超期未检、报废气瓶",
        "filling a cylinder with a wrong medium, or one overdue or scrapped",
        "[C]",
    ),
    _c(
        "piping.leak_uncontrolled",
        {F.PIPING},
        "GB 45067-2024 5.4.1",
        "压力管道存在泄漏等缺陷未采取控制措施继续使用",
        "pressure piping leaking without control measures and still in use",
        "[U]",
    ),
    _c(
        "lift.safety_device",
        {F.LIFT},
        "GB 45067-2024 5.6.1",
        "电梯限速器、安全钳、缓冲器、门锁等安全保护装置缺失、失效或者被短接",
        "a lift's overspeed governor, safety gear, buffer or door lock missing, failed or bridged",
        "[U]",
    ),
    _c(
        "lift.brake",
        {F.LIFT},
        "GB 45067-2024 5.6.2",
        "电梯制动器失效或者曳引能力不足导致轿厢意外移动",
        "a lift's brake failed or its traction insufficient (unintended car movement)",
        "[U]",
    ),
    _c(
        "lift.escalator_stop",
        {F.LIFT},
        "GB 45067-2024 5.6.3",
        "自动扶梯、自动人行道附加制动器或者梯级缺失保护装置失效",
        "an escalator's auxiliary brake or missing-step protection failed",
        "[U]",
    ),
    _c(
        "crane.limiter",
        {F.CRANE},
        "GB 45067-2024 5.7.1",
        "起重机械起重量限制器、起升高度限位器等安全保护装置缺失或者失效",
        "a crane's load limiter, hoist limit switch or other protection missing or failed",
        "[U]",
    ),
    _c(
        "crane.structure",
        {F.CRANE},
        "GB 45067-2024 5.7.2",
        "起重机械主要受力结构件有可见裂纹、严重变形或者严重腐蚀",
        "a crane's main load-bearing structure cracked, badly deformed or corroded",
        "[U]",
    ),
    _c(
        "vehicle.brake",
        {F.VEHICLE},
        "GB 45067-2024 5.8.1",
        "场（厂）内专用机动车辆制动系统失效",
        "a site vehicle's brake system failed",
        "[U]",
    ),
    _c(
        "ride.restraint",
        {F.AMUSEMENT_RIDE},
        "GB 45067-2024 5.9.1",
        "大型游乐设施乘客束缚装置或者安全保护装置缺失、失效",
        "an amusement ride's passenger restraint or protection device missing or failed",
        "[U]",
    ),
    _c(
        "ropeway.brake",
        {F.ROPEWAY},
        "GB 45067-2024 5.10.1",
        "客运索道制动器或者紧急驱动装置失效",
        "a ropeway's brake or emergency drive failed",
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
