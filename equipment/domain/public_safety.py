"""What the public may read about a unit, and how safe it is to use (公众查询).

One function, :func:`public_view`, decides both, for the JSON lookup and the page a phone
shows when someone scans the QR code on a lift. It reads only facts the service gathered
and never a person: no names, phones or certificates of people, only organisations.

The public safety state is the most severe of the conditions that hold, in this order
(a unit may be overdue *and* past its service life: the public sees the worse one, and
the others are listed beside it):

1. ``out_of_service`` 停止使用 — scrapped or cancelled (TSG 08-2017: a scrapped unit loses
   its registration), not fit for use after a failed inspection ("no use until a passing
   re-inspection", TSG T7001-2023 / GB 45067-2024 5.6.1), or an open major accident
   hazard (GB 45067-2024: continued use with a major hazard is forbidden);
2. ``inspection_overdue`` 超期未检 — past its periodic inspection date: "no use after it
   expires" (TSG 08-2017, docs/rules.md);
3. ``past_service_life`` 超过设计使用年限 — past the end of its (design) service life (gas
   cylinders TSG 23-2021: to be scrapped; other units need a change of registration);
4. ``suspended`` 暂停使用 — the user unit has suspended it (TSG 08-2017 停用);
5. ``not_registered`` 未办理使用登记 — on file but not yet registered for use;
6. ``in_use`` 正常使用.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from equipment.domain import labels
from equipment.domain.catalogue import category, is_cylinder
from equipment.i18n import N_, gettext

DEFAULT_EMERGENCY_NUMBER = "96333"  # the special-equipment emergency line (特种设备应急救援)


class SafetyState(StrEnum):
    """Stable codes of the public safety state, most severe first."""

    OUT_OF_SERVICE = "out_of_service"
    INSPECTION_OVERDUE = "inspection_overdue"
    PAST_SERVICE_LIFE = "past_service_life"
    SUSPENDED = "suspended"
    NOT_REGISTERED = "not_registered"
    IN_USE = "in_use"


SEVERITY: tuple[SafetyState, ...] = tuple(SafetyState)

# The label of each state (English message id; zh-CN from the catalogue) and whether the
# public may use the unit in that state.
LABELS: dict[SafetyState, str] = {
    SafetyState.OUT_OF_SERVICE: N_("Out of service"),
    SafetyState.INSPECTION_OVERDUE: N_("Inspection overdue"),
    SafetyState.PAST_SERVICE_LIFE: N_("Past its design service life"),
    SafetyState.SUSPENDED: N_("Suspended"),
    SafetyState.NOT_REGISTERED: N_("Not registered for use"),
    SafetyState.IN_USE: N_("In normal use"),
}
SAFE_TO_USE = frozenset({SafetyState.IN_USE})

CONCLUSION_LABELS = labels.CONCLUSION


@dataclass(frozen=True)
class PublicFacts:
    """A unit's facts as stored, limited to what could ever be public (no person)."""

    code: str
    category: str
    address: str
    status: str  # pending, in_use, suspended, scrapped, cancelled
    status_since: date
    not_fit_for_use: bool = False
    next_inspection_due: date | None = None
    last_inspection_on: date | None = None
    last_inspection_conclusion: str | None = None
    end_of_service_life: date | None = None
    last_maintenance_on: date | None = None
    user_unit_name: str | None = None
    maintenance_company_name: str | None = None
    maintenance_company_phone: str | None = None
    filling_station_name: str | None = None
    # The day the oldest open major accident hazard was found; None while no hazard is
    # open (equipment.services.hazards).
    major_hazard_since: date | None = None


@dataclass(frozen=True)
class Condition:
    """One safety condition that holds: its state, why (a message id and its values) and
    the day it began."""

    state: SafetyState
    reason: str
    since: date | None
    params: dict[str, str] = field(default_factory=dict)

    def label(self, lang: str) -> str:
        return gettext(lang, LABELS[self.state])

    def reason_text(self, lang: str) -> str:
        return gettext(lang, self.reason, **self.params)


@dataclass(frozen=True)
class PublicView:
    """Everything the public sees about one unit."""

    code: str
    category: str
    address: str
    safety: Condition
    # Every condition that holds, most severe first (``safety`` is the first).
    conditions: tuple[Condition, ...]
    status: str  # the registration status, a stable code
    registered: bool
    next_inspection_due: date | None
    last_inspection_on: date | None
    last_inspection_conclusion: str | None
    last_maintenance_on: date | None
    user_unit_name: str | None
    maintenance_company_name: str | None
    maintenance_company_phone: str | None
    is_cylinder: bool
    filling_station_name: str | None
    end_of_service_life: date | None
    emergency_number: str

    @property
    def safe_to_use(self) -> bool:
        return self.safety.state in SAFE_TO_USE

    def category_name(self, lang: str) -> str:
        entry = category(self.category)
        return entry.name_zh if lang == "zh-CN" else entry.name_en

    def conclusion_label(self, lang: str) -> str | None:
        conclusion = self.last_inspection_conclusion
        if conclusion is None:
            return None
        return gettext(lang, CONCLUSION_LABELS.get(conclusion, conclusion))


def _day(value: date) -> str:
    return value.isoformat()


def conditions(facts: PublicFacts, today: date) -> tuple[Condition, ...]:
    """Every safety condition that holds on ``today``, most severe first (never empty)."""
    found: list[Condition] = []
    status = facts.status
    life_ended = facts.end_of_service_life is not None and facts.end_of_service_life < today
    failed = facts.last_inspection_conclusion == "fail"
    if status == "scrapped":
        found.append(
            Condition(
                SafetyState.OUT_OF_SERVICE,
                N_("This unit was scrapped on {day} and must never be used again."),
                facts.status_since,
                {"day": _day(facts.status_since)},
            )
        )
    elif status == "cancelled":
        found.append(
            Condition(
                SafetyState.OUT_OF_SERVICE,
                N_(
                    "The use registration of this unit was cancelled on {day}; it must not be used."
                ),
                facts.status_since,
                {"day": _day(facts.status_since)},
            )
        )
    elif status == "refused":
        found.append(
            Condition(
                SafetyState.OUT_OF_SERVICE,
                N_(
                    "The registration office refused to register this unit on {day}; "
                    "it must not be used until it is registered."
                ),
                facts.status_since,
                {"day": _day(facts.status_since)},
            )
        )
    if facts.major_hazard_since is not None:
        found.append(
            Condition(
                SafetyState.OUT_OF_SERVICE,
                N_(
                    "A major accident hazard found on {day} is not yet rectified; "
                    "the unit must not be used until it is."
                ),
                facts.major_hazard_since,
                {"day": _day(facts.major_hazard_since)},
            )
        )
    # The rules engine sets not_fit_for_use for a failed inspection and for a cylinder past
    # its service life; the latter is its own, less severe, state below. An open major
    # hazard sets it too, and is said above: the flag adds nothing then.
    hazard_explains = facts.major_hazard_since is not None and not failed
    if facts.not_fit_for_use and (failed or not life_ended) and not hazard_explains:
        if failed and facts.last_inspection_on is not None:
            found.append(
                Condition(
                    SafetyState.OUT_OF_SERVICE,
                    N_(
                        "The unit failed its inspection on {day} and must not be used until "
                        "it passes a re-inspection."
                    ),
                    facts.last_inspection_on,
                    {"day": _day(facts.last_inspection_on)},
                )
            )
        else:
            found.append(
                Condition(
                    SafetyState.OUT_OF_SERVICE,
                    N_("The inspection body found this unit not fit for use."),
                    facts.last_inspection_on,
                )
            )
    live = status in ("in_use", "pending")
    due = facts.next_inspection_due
    if live and due is not None and due < today:
        found.append(
            Condition(
                SafetyState.INSPECTION_OVERDUE,
                N_(
                    "The periodic inspection was due on {day} and has not been done; "
                    "the unit must not be used until it is inspected."
                ),
                due + timedelta(days=1),
                {"day": _day(due)},
            )
        )
    if status not in ("scrapped", "cancelled") and life_ended:
        end = facts.end_of_service_life
        assert end is not None
        found.append(
            Condition(
                SafetyState.PAST_SERVICE_LIFE,
                N_("Its design service life ended on {day}; it must not be used any more."),
                end + timedelta(days=1),
                {"day": _day(end)},
            )
        )
    if status == "suspended":
        found.append(
            Condition(
                SafetyState.SUSPENDED,
                N_("The user unit suspended this unit on {day}; it is not in service."),
                facts.status_since,
                {"day": _day(facts.status_since)},
            )
        )
    if status == "pending":
        found.append(
            Condition(
                SafetyState.NOT_REGISTERED,
                N_("This unit is on file but not yet registered for use."),
                facts.status_since,
            )
        )
    if not found:
        found.append(
            Condition(
                SafetyState.IN_USE,
                N_("Registered for use, inspected in time, and in service."),
                facts.last_inspection_on or facts.status_since,
            )
        )
    found.sort(key=lambda c: SEVERITY.index(c.state))  # stable: the order above breaks ties
    return tuple(found)


def public_view(facts: PublicFacts, today: date, emergency_number: str) -> PublicView:
    """What the public sees: the safety state first, organisations only, never a person."""
    found = conditions(facts, today)
    registered = facts.status in ("in_use", "suspended")
    cylinder = is_cylinder(facts.category)
    return PublicView(
        code=facts.code,
        category=facts.category,
        address=facts.address,
        safety=found[0],
        conditions=found,
        status=facts.status,
        registered=registered,
        next_inspection_due=facts.next_inspection_due,
        last_inspection_on=facts.last_inspection_on,
        last_inspection_conclusion=facts.last_inspection_conclusion,
        last_maintenance_on=facts.last_maintenance_on,
        user_unit_name=facts.user_unit_name,
        # A maintainer answers for a unit in service only: not for a pending one.
        maintenance_company_name=facts.maintenance_company_name if registered else None,
        maintenance_company_phone=facts.maintenance_company_phone or None if registered else None,
        is_cylinder=cylinder,
        filling_station_name=facts.filling_station_name if cylinder else None,
        end_of_service_life=facts.end_of_service_life,
        emergency_number=emergency_number,
    )
