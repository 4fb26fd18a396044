"""The entry point: a unit's history and a day in, its Schedule out.

Dispatch by category code prefix, then the checks that do not depend on the category:
status (suspended, scrapped, cancelled and refused units owe nothing now), failed inspections
(not fit for use until a passing re-inspection), overdue kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Final

from equipment.domain.rules.boilers import boiler_findings
from equipment.domain.rules.cranes import crane_findings
from equipment.domain.rules.cylinders import cylinder_findings
from equipment.domain.rules.history import Findings, View
from equipment.domain.rules.lifts import lift_findings
from equipment.domain.rules.model import STATUTORY_KINDS, DueDate, Schedule, UnitHistory
from equipment.domain.rules.piping import piping_findings
from equipment.domain.rules.policy import DEFAULT_POLICY, Policy
from equipment.domain.rules.registration import design_life_findings
from equipment.domain.rules.reported import report_only_findings
from equipment.domain.rules.vessels import vessel_findings
from equipment.domain.rules.yearly import yearly_findings

__all__ = ["schedule"]

_FamilyRule = Callable[[View, Findings], None]

# Longest prefix first: "21" must win over a bare "2".
_FAMILIES: Final[tuple[tuple[str, _FamilyRule], ...]] = (
    ("21", vessel_findings),
    ("23", cylinder_findings),
    ("1", boiler_findings),
    ("3", lift_findings),
    ("4", crane_findings),
    ("5", yearly_findings),
    ("6", yearly_findings),
    ("8", piping_findings),
    ("9", yearly_findings),
)
# A refused application (不予登记) is not on the register: nothing is due until it is.
_NOT_DUE: Final = frozenset({"scrapped", "cancelled", "refused"})
# A re-inspection of these kinds is a full inspection, so it clears any earlier failure.
_FULL_KINDS: Final = frozenset({"supervisory", "periodic"})
# The end of service life is not something a unit can be "overdue" for: past it, the
# unit is not fit for use (reported in not_fit_reasons) and must be scrapped.
_OVERDUE_KINDS: Final = STATUTORY_KINDS | {"self_test", "maintenance"}


def schedule(unit: UnitHistory, today: date, policy: Policy = DEFAULT_POLICY) -> Schedule:
    """Every due date ``unit`` has on ``today`` under ``policy``, explained.

    Records dated after ``today`` are ignored. Raises InvalidValue for a parameter
    the unit's rules read and cannot use.
    """
    if unit.status in _NOT_DUE:
        return Schedule(
            as_of=today,
            status=unit.status,
            notes=(f"a {unit.status} unit owes no inspections",),
        )
    view = View.as_of(unit, today, policy)
    findings = Findings()
    _family_rule(unit.category)(view, findings)
    design_life_findings(view, findings)
    findings.not_fit.extend(_failed_inspections(view))
    due = tuple(sorted(findings.due, key=lambda item: (item.due_on, item.kind)))
    not_fit, notes = tuple(findings.not_fit), tuple(findings.notes)
    statutory = [item for item in due if item.kind in STATUTORY_KINDS]
    if unit.status == "suspended":
        lapsed = any(today > item.due_on for item in statutory)
        return Schedule(
            as_of=today,
            status=unit.status,
            not_fit_for_use=bool(not_fit),
            not_fit_reasons=not_fit,
            notes=notes,
            dormant=due,
            needs_inspection_before_resume=lapsed or findings.inspection_before_resume,
        )
    return Schedule(
        as_of=today,
        status=unit.status,
        not_fit_for_use=bool(not_fit),
        not_fit_reasons=not_fit,
        notes=notes,
        due=due,
        next_periodic=_earliest(statutory),
        overdue=tuple(
            item.kind for item in due if today > item.due_on and item.kind in _OVERDUE_KINDS
        ),
    )


def _family_rule(category: str) -> _FamilyRule:
    for prefix, rule in _FAMILIES:
        if category.startswith(prefix):
            return rule

    def no_rule(view: View, findings: Findings) -> None:
        report_only_findings(view, findings, "this category")

    return no_rule


def _earliest(items: list[DueDate]) -> DueDate | None:
    return min(items, key=lambda item: item.due_on) if items else None


def _failed_inspections(view: View) -> list[str]:
    """A reason for each kind whose latest inspection failed with no passing one since."""
    reasons = []
    inspections = view.unit.inspections
    for kind in sorted({i.kind for i in inspections}):
        last = [i for i in inspections if i.kind == kind][-1]
        if last.passed:
            continue
        cleared = any(
            i.passed and i.inspected_on > last.inspected_on and i.kind in _FULL_KINDS | {kind}
            for i in inspections
        )
        if not cleared:
            reasons.append(
                f"the {kind} inspection of {last.inspected_on.isoformat()} failed: not fit "
                "for use until a passing re-inspection"
            )
    return reasons
