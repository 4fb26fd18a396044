"""Shared pieces of the rule modules: the history as of a day, parameters, due dates.

Every rule module gets a :class:`View` (the unit's history with everything after
``today`` dropped, plus the policy) and adds what it finds to a :class:`Findings`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import pairwise
from typing import Any

from equipment.domain.errors import InvalidValue
from equipment.domain.rules.dates import add_years
from equipment.domain.rules.model import DueDate, Inspection, Suspension, UnitHistory
from equipment.domain.rules.policy import Policy
from equipment.domain.rules.table import RuleRow

__all__ = [
    "Findings",
    "StartOfUse",
    "View",
    "due_from_interval",
    "due_from_report",
    "param_bool",
    "param_int",
    "param_str",
]


# When the inspection clock starts, and what that day was (for explanations).
StartOfUse = tuple[date, str]


@dataclass(frozen=True, slots=True)
class View:
    """A unit's history as known on ``today``, with the policy in force."""

    unit: UnitHistory
    today: date
    policy: Policy

    @classmethod
    def as_of(cls, unit: UnitHistory, today: date, policy: Policy) -> View:
        """Drop records dated after ``today``; a restart after ``today`` has not happened."""
        if _known_as_of(unit, today):
            # Nothing to drop or sort (an imported row's history: at most one inspection,
            # no suspensions): the unit as it is, without rebuilding and re-validating it.
            return cls(unit, today, policy)
        suspensions = tuple(
            Suspension(s.start, s.end if s.end is not None and s.end <= today else None)
            for s in unit.suspensions
            if s.start <= today
        )
        known = replace(
            unit,
            inspections=tuple(
                sorted(
                    (i for i in unit.inspections if i.inspected_on <= today),
                    key=lambda i: i.inspected_on,
                )
            ),
            major_repairs=tuple(sorted(d for d in unit.major_repairs if d <= today)),
            suspensions=tuple(sorted(suspensions, key=lambda s: s.start)),
            maintenance=tuple(sorted(d for d in unit.maintenance if d <= today)),
        )
        return cls(known, today, policy)

    @property
    def params(self) -> Mapping[str, object]:
        return self.unit.parameters

    def row(self, key: str) -> RuleRow:
        return self.policy.row(key)

    def passing(self, kinds: Iterable[str]) -> list[Inspection]:
        """Passed (or conditionally passed) inspections of ``kinds``, oldest first."""
        wanted = set(kinds)
        return [i for i in self.unit.inspections if i.kind in wanted and i.passed]

    def latest_passing(self, kinds: Iterable[str]) -> Inspection | None:
        found = self.passing(kinds)
        return found[-1] if found else None

    def start_of_use(self) -> StartOfUse | None:
        """The day the inspection clock starts for a unit with no periodic inspection yet.

        The commissioning date; failing that, the first passed supervisory inspection.
        """
        if self.unit.commissioning_date is not None:
            return self.unit.commissioning_date, "commissioning"
        supervisory = self.passing(["supervisory"])
        if supervisory:
            return supervisory[0].inspected_on, "supervisory inspection"
        return None


def _sorted_by(items: tuple[Any, ...], key: Callable[[Any], date]) -> bool:
    return len(items) < 2 or all(key(a) <= key(b) for a, b in pairwise(items))


def _known_as_of(unit: UnitHistory, today: date) -> bool:
    """True when ``View.as_of`` would give ``unit`` back unchanged: every record on or
    before ``today``, each kind in date order, no suspension ending after ``today``."""
    if unit.suspensions:
        return False
    inspections, repairs, maintenance = unit.inspections, unit.major_repairs, unit.maintenance
    if not (inspections or repairs or maintenance):
        return True
    return (
        all(i.inspected_on <= today for i in inspections)
        and all(d <= today for d in repairs)
        and all(d <= today for d in maintenance)
        and _sorted_by(inspections, lambda i: i.inspected_on)
        and _sorted_by(repairs, lambda d: d)
        and _sorted_by(maintenance, lambda d: d)
    )


@dataclass
class Findings:
    """What the rule modules found; ``schedule`` turns it into a Schedule."""

    due: list[DueDate] = field(default_factory=list)
    not_fit: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Set by a rule that demands an inspection before restart whatever the dates
    # (a boiler stopped for a year or more).
    inspection_before_resume: bool = False

    def add_earliest(self, item: DueDate | None) -> None:
        """Keep one due date per kind: the earliest, since that one binds."""
        if item is None:
            return
        for index, existing in enumerate(self.due):
            if existing.kind == item.kind:
                if item.due_on < existing.due_on:
                    self.due[index] = item
                return
        self.due.append(item)


def due_from_interval(
    row: RuleRow, kind: str, base: date, years: int, base_label: str, detail: str = ""
) -> DueDate:
    """``base`` + ``years`` (29 February clamps to 28 February), explained.

    ``detail`` adds why this row was chosen (the medium, the safety grade...).
    """
    due_on = add_years(base, years)
    unit = "year" if years == 1 else "years"
    # Two sentence shapes rather than an optional piece glued to the summary, so each is
    # one catalogue id with its values apart (equipment/i18n/spoken.py).
    return DueDate(
        kind=kind,
        due_on=due_on,
        rule_key=row.key,
        source=row.source,
        tag=row.tag,
        base_date=base,
        explanation=(
            f"{row.summary} ({detail}): {base_label} on {base.isoformat()} + {years} {unit} "
            f"= due by {due_on.isoformat()}"
            if detail
            else f"{row.summary}: {base_label} on {base.isoformat()} + {years} {unit} "
            f"= due by {due_on.isoformat()}"
        ),
    )


def due_from_report(row: RuleRow, kind: str, inspection: Inspection) -> DueDate:
    """The next-due date stated by ``inspection``'s report, which wins under ``row``."""
    if inspection.next_due is None:
        raise ValueError("due_from_report needs a report that states a next due date")
    return DueDate(
        kind=kind,
        due_on=inspection.next_due,
        rule_key=row.key,
        source=row.source,
        tag=row.tag,
        base_date=inspection.inspected_on,
        explanation=(
            f"the {inspection.kind} inspection report of {inspection.inspected_on.isoformat()} "
            f"states the next inspection by {inspection.next_due.isoformat()}; the stated "
            f"date is the authority over the computed one ({row.summary})"
        ),
        from_report=True,
    )


def param_bool(params: Mapping[str, object], name: str) -> bool:
    """A yes/no parameter; absent means False."""
    value = params.get(name, False)
    if not isinstance(value, bool):
        raise InvalidValue(f"parameter {name} is true or false", field=f"parameters.{name}")
    return value


def param_int(params: Mapping[str, object], name: str, low: int, high: int) -> int | None:
    """A whole-number parameter in ``low..high``; absent or null means None."""
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidValue(
            f"parameter {name} is a whole number from {low} to {high}, got {value!r}",
            field=f"parameters.{name}",
        )
    return value


def param_str(params: Mapping[str, object], name: str) -> str | None:
    """A text parameter; absent, null or blank means None."""
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidValue(f"parameter {name} is text", field=f"parameters.{name}")
    return value.strip() or None
