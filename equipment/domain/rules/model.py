"""The values the rules engine reads (a unit's history) and returns (its schedule).

Inputs are validated when they are built, so every rule module can trust them; a bad
value raises :class:`~equipment.domain.errors.InvalidValue` naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Final

from equipment.domain.catalogue import CYLINDER_USES
from equipment.domain.errors import InvalidValue

__all__ = [
    "CONCLUSIONS",
    "DUE_KINDS",
    "INSPECTION_KINDS",
    "PASSING",
    "STATUSES",
    "STATUTORY_KINDS",
    "SUPERVISORY_REASONS",
    "DueDate",
    "Inspection",
    "Schedule",
    "Suspension",
    "UnitHistory",
]

STATUSES: Final = frozenset({"pending", "refused", "in_use", "suspended", "scrapped", "cancelled"})
INSPECTION_KINDS: Final = frozenset(
    {"supervisory", "periodic", "self_test", "external", "internal", "hydrostatic", "annual_check"}
)
CONCLUSIONS: Final = frozenset({"pass", "conditional_pass", "fail"})
# A conditional pass (e.g. a vessel allowed into monitored use) still lets the unit run,
# so it counts as done for scheduling; only "fail" does not.
PASSING: Final = frozenset({"pass", "conditional_pass"})
# Why a supervisory inspection took place. Installation and modernisation restart a
# lift's year count; a major repair only moves its due month (TSG T7001-2023).
SUPERVISORY_REASONS: Final = frozenset({"", "installation", "modernisation", "major_repair"})
# What a DueDate can be for: inspection kinds plus the obligations that are not
# inspections by an inspection body (a change registration is the user unit's, at the
# registration office).
DUE_KINDS: Final = INSPECTION_KINDS | {"maintenance", "end_of_service_life", "change_registration"}
# Due kinds that are statutory inspections by an inspection body: the ones that make
# a unit "due for inspection" (应检必检) and set ``Schedule.next_periodic``.
STATUTORY_KINDS: Final = frozenset({"periodic", "external", "internal", "hydrostatic"})

_CATEGORY = re.compile(r"[0-9A-Z]{4}")


@dataclass(frozen=True, slots=True)
class Inspection:
    """One inspection or self-test report.

    ``next_due`` is the next-due date the report states, if it states one; for pressure
    vessels, piping and power-station boilers it is the authority (docs/rules.md).
    ``safety_grade`` is the grade the report assigns (vessels, piping), if any.
    ``reason`` only matters for supervisory inspections; empty means "infer it": a
    supervisory inspection that follows a recorded major repair is a major-repair one,
    any other is treated like an installation.
    """

    inspected_on: date
    kind: str
    conclusion: str
    next_due: date | None = None
    safety_grade: int | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.kind not in INSPECTION_KINDS:
            raise InvalidValue(
                f"unknown inspection kind {self.kind!r}; one of {sorted(INSPECTION_KINDS)}",
                field="kind",
            )
        if self.conclusion not in CONCLUSIONS:
            raise InvalidValue(
                f"unknown conclusion {self.conclusion!r}; one of {sorted(CONCLUSIONS)}",
                field="conclusion",
            )
        if self.next_due is not None and self.next_due <= self.inspected_on:
            raise InvalidValue(
                f"the stated next due date {self.next_due.isoformat()} is not after the "
                f"inspection date {self.inspected_on.isoformat()}",
                field="next_due",
            )
        if self.safety_grade is not None and (
            isinstance(self.safety_grade, bool)
            or not isinstance(self.safety_grade, int)
            or not 1 <= self.safety_grade <= 5
        ):
            raise InvalidValue("a safety grade is an integer from 1 to 5", field="safety_grade")
        if self.reason not in SUPERVISORY_REASONS:
            raise InvalidValue(
                f"unknown supervisory reason {self.reason!r}; one of "
                f"{sorted(SUPERVISORY_REASONS - {''})} or empty",
                field="reason",
            )

    @property
    def passed(self) -> bool:
        """True when the report lets the unit run (pass or conditional pass)."""
        return self.conclusion in PASSING


@dataclass(frozen=True, slots=True)
class Suspension:
    """A period out of use (停用): ``start`` inclusive, ``end`` the restart day or None."""

    start: date
    end: date | None = None

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise InvalidValue(
                f"suspension ends ({self.end.isoformat()}) before it starts "
                f"({self.start.isoformat()})",
                field="suspensions",
            )


@dataclass(frozen=True, slots=True)
class UnitHistory:
    """Everything the rules need to know about one unit, as plain values.

    ``parameters`` is the unit's category-specific parameter mapping (the register's
    JSON column); each rule module reads and checks the keys it uses.
    ``maintenance`` lists the days routine maintenance was done (lifts); ``use`` is a gas
    cylinder's use (``catalogue.CYLINDER_USES``: diving, vehicle, taxi...).
    Records dated after the ``today`` given to ``schedule`` are ignored, so a schedule
    can be computed "as of" any past day from the full history.
    """

    category: str
    status: str = "in_use"
    parameters: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    commissioning_date: date | None = None
    manufacture_date: date | None = None
    inspections: tuple[Inspection, ...] = ()
    major_repairs: tuple[date, ...] = ()
    suspensions: tuple[Suspension, ...] = ()
    maintenance: tuple[date, ...] = ()
    # Gas cylinders: what the cylinder is used for (catalogue.CYLINDER_USES); "" unset.
    use: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.category, str) or not _CATEGORY.fullmatch(self.category):
            raise InvalidValue(
                f"a category code is 4 digits or capital letters (e.g. 3110, 23T0, 4D00); "
                f"got {self.category!r}",
                field="category",
            )
        if self.status not in STATUSES:
            raise InvalidValue(
                f"unknown status {self.status!r}; one of {sorted(STATUSES)}", field="status"
            )
        if self.use and self.use not in CYLINDER_USES:
            raise InvalidValue(
                f"unknown cylinder use {self.use!r}; one of {list(CYLINDER_USES)} or empty",
                field="cylinder_use",
            )
        # The exact types first: an ABC check costs more than the rest of this together.
        if type(self.parameters) not in (MappingProxyType, dict) and not isinstance(
            self.parameters, Mapping
        ):
            raise InvalidValue("parameters must be a mapping", field="parameters")
        # Tuples keep the value hashable and immutable even when a caller passes lists.
        for name in ("inspections", "major_repairs", "suspensions", "maintenance"):
            value = getattr(self, name)
            if type(value) is not tuple:
                object.__setattr__(self, name, tuple(value))


@dataclass(frozen=True, slots=True)
class DueDate:
    """One obligation with its deadline and why.

    The unit is in date on ``due_on`` itself and overdue from the next day. ``source``
    is the regulation and clause, ``tag`` the docs/rules.md confidence tag (C, S or U) of
    the rule row, ``from_report`` True when the date is the one an inspection report
    stated rather than a computed one.
    """

    kind: str
    due_on: date
    rule_key: str
    source: str
    tag: str
    base_date: date
    explanation: str
    from_report: bool = False


@dataclass(frozen=True, slots=True)
class Schedule:
    """What a unit owes, as of ``as_of``.

    ``due`` holds the obligations the unit is held to now, one per kind; it is empty for
    suspended, scrapped and cancelled units. For a suspended unit the dates it would owe
    are in ``dormant`` instead, and ``needs_inspection_before_resume`` says whether an
    inspection must come before it runs again. ``overdue`` lists the kinds in ``due``
    whose date has passed. ``notes`` explain what could not be computed and why.
    """

    as_of: date
    status: str
    due: tuple[DueDate, ...] = ()
    dormant: tuple[DueDate, ...] = ()
    next_periodic: DueDate | None = None
    overdue: tuple[str, ...] = ()
    not_fit_for_use: bool = False
    not_fit_reasons: tuple[str, ...] = ()
    needs_inspection_before_resume: bool = False
    notes: tuple[str, ...] = ()

    def for_kind(self, kind: str) -> DueDate | None:
        """The due date of ``kind`` (held to now, or dormant), or None."""
        for item in (*self.due, *self.dormant):
            if item.kind == kind:
                return item
        return None
