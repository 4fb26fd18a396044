"""Change registration when a unit reaches its design service life and stays in use.

TSG 08-2017 lists reaching the design service life while staying in use
(达到设计使用年限继续使用) among the triggers of a change registration [S], generally
within 30 days [U] (rule ``registration.change.design_life``). The design service life is
the unit's parameter ``design_service_life_years``, counted from commissioning (else
manufacture). Gas cylinders are left out: past its service life a cylinder is scrapped,
not registered anew (:mod:`.cylinders`).
"""

from __future__ import annotations

from equipment.domain.rules.dates import add_days, add_years
from equipment.domain.rules.history import Findings, View, param_int
from equipment.domain.rules.model import DueDate

__all__ = ["design_life_findings"]


def design_life_findings(view: View, findings: Findings) -> None:
    """Add the change registration due once the design service life is reached."""
    if view.unit.category.startswith("23"):
        return
    years = param_int(view.params, "design_service_life_years", 1, 100)
    if years is None:
        return
    if view.unit.commissioning_date is not None:
        start, label = view.unit.commissioning_date, "commissioning"
    elif view.unit.manufacture_date is not None:
        start, label = view.unit.manufacture_date, "manufacture"
    else:
        findings.notes.append(
            "no commissioning or manufacture date: when the design service life ends is unknown"
        )
        return
    reached = add_years(start, years)
    if view.today < reached:
        return
    row = view.row("registration.change.design_life")
    days = row.value("interval_days")
    due_on = add_days(reached, days)
    findings.add_earliest(
        DueDate(
            kind="change_registration",
            due_on=due_on,
            rule_key=row.key,
            source=row.source,
            tag=row.tag,
            base_date=reached,
            explanation=(
                f"{row.summary}: {label} on {start.isoformat()} + design service life of "
                f"{years} years = reached on {reached.isoformat()}; change registration due "
                f"by {due_on.isoformat()} ({days} days)"
            ),
        )
    )
