"""The registration workflow of one unit (TSG 08-2017, docs/rules.md "Obligations of every unit").

pending ──register──► in_use ──suspend──► suspended ──resume──► in_use
   │                    │  │                  │
   └──────scrap─────────┴──┼──────scrap───────┘──► scrapped   (permanent)
                           └─cancel─┬─────────────► cancelled (terminal: moving to
                      suspended ────┘                another authority = register anew)
pending ──refuse──► refused ──reapply──► pending

A refused application (不予登记) keeps its record and its codes: the registration office
states the reason in writing, the user unit corrects the record and applies again
(reapply), so the same equipment code can come back without a second record.

Transfer to another user unit and change of maintenance company keep the status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from equipment.domain.errors import InvalidValue, TransitionRefused
from equipment.domain.rules.dates import add_years


class Status(StrEnum):
    PENDING = "pending"
    REFUSED = "refused"
    IN_USE = "in_use"
    SUSPENDED = "suspended"
    SCRAPPED = "scrapped"
    CANCELLED = "cancelled"


class Action(StrEnum):
    REGISTER = "register"
    REFUSE = "refuse"
    REAPPLY = "reapply"
    SUSPEND = "suspend"
    RESUME = "resume"
    SCRAP = "scrap"
    CANCEL = "cancel"
    TRANSFER = "transfer"
    CHANGE_MAINTAINER = "change_maintainer"


@dataclass(frozen=True)
class TransitionRule:
    allowed_from: frozenset[Status]
    # None keeps the current status (transfer, change of maintainer).
    to: Status | None
    source: str


_LIVE = frozenset({Status.PENDING, Status.IN_USE, Status.SUSPENDED})

TRANSITIONS: dict[Action, TransitionRule] = {
    Action.REGISTER: TransitionRule(
        frozenset({Status.PENDING}),
        Status.IN_USE,
        "TSG 08-2017: use registration before, or within 30 days after, going into service",
    ),
    Action.REFUSE: TransitionRule(
        frozenset({Status.PENDING}),
        Status.REFUSED,
        "TSG 08-2017: the registration authority refuses an application that does not meet"
        " the requirements (不予登记) and tells the applicant why in writing",
    ),
    Action.REAPPLY: TransitionRule(
        frozenset({Status.REFUSED}),
        Status.PENDING,
        "TSG 08-2017: the applicant may apply again once the reasons are put right",
    ),
    Action.SUSPEND: TransitionRule(
        frozenset({Status.IN_USE}),
        Status.SUSPENDED,
        "TSG 08-2017: planned suspension of 1 year or more is notified within 30 days",
    ),
    Action.RESUME: TransitionRule(
        frozenset({Status.SUSPENDED}),
        Status.IN_USE,
        "TSG 08-2017: resuming needs a self-check, and a periodic inspection if it lapsed",
    ),
    Action.SCRAP: TransitionRule(
        _LIVE,
        Status.SCRAPPED,
        "TSG 08-2017: a scrapped unit is cancelled and can never be registered again",
    ),
    Action.CANCEL: TransitionRule(
        frozenset({Status.IN_USE, Status.SUSPENDED}),
        Status.CANCELLED,
        "TSG 08-2017: moving to another registration authority = cancel, then register anew",
    ),
    Action.TRANSFER: TransitionRule(
        _LIVE,
        None,
        "TSG 08-2017: transfer is a change of registration",
    ),
    Action.CHANGE_MAINTAINER: TransitionRule(
        _LIVE,
        None,
        "TSG 08-2017 / TSG T5002-2017: the user unit contracts a licensed maintainer",
    ),
}

REGISTRATION_GRACE = timedelta(days=30)  # TSG 08-2017 [C]
SUSPENSION_NOTICE_GRACE = timedelta(days=30)  # TSG 08-2017 [C]


def next_status(current: Status, action: Action) -> Status:
    """The status after ``action``, or TransitionRefused saying why not."""
    rule = TRANSITIONS[action]
    if current not in rule.allowed_from:
        allowed = ", ".join(sorted(s.value for s in rule.allowed_from))
        why = {
            Status.SCRAPPED: "a scrapped unit is permanently out of the register",
            Status.CANCELLED: "a cancelled registration cannot be used again; register anew",
        }.get(current, f"'{action.value}' applies only to units that are: {allowed}")
        raise TransitionRefused(f"cannot {action.value} a unit that is {current.value}: {why}")
    return rule.to if rule.to is not None else current


def check_effective_date(on: date, *, status_since: date, today: date, field: str) -> None:
    """A transition happens on a day between the current status's start and today."""
    if on > today:
        raise InvalidValue(f"{on.isoformat()} is in the future", field=field)
    if on < status_since:
        raise InvalidValue(
            f"{on.isoformat()} is before the current status began ({status_since.isoformat()})",
            field=field,
        )


def registration_is_late(commissioning_date: date | None, registered_on: date) -> bool:
    """Registered more than 30 days after going into service (TSG 08-2017)."""
    if commissioning_date is None:
        return False
    return registered_on > commissioning_date + REGISTRATION_GRACE


def suspension_notice_is_late(
    suspended_from: date, planned_until: date | None, notified_on: date
) -> bool:
    """A planned suspension of a year or more must be notified within 30 days (TSG 08-2017).

    An open-ended suspension is treated as a year or more: the unit may never come back.
    """
    long_suspension = planned_until is None or planned_until >= add_years(suspended_from, 1)
    return long_suspension and notified_on > suspended_from + SUSPENSION_NOTICE_GRACE


def inspection_needed_on_resume(next_inspection_due: date | None, resume_on: date) -> bool:
    """Resuming after the periodic inspection lapsed needs that inspection first (TSG 08-2017)."""
    return next_inspection_due is not None and next_inspection_due < resume_on
