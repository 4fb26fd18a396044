"""The plain "every N years from the last inspection" rule shared by several families.

Used by cranes, piping and the yearly categories (ropeways, amusement rides, in-plant
vehicles): the next periodic inspection is due N years after the last passed one, the
first N years after commissioning (docs/rules.md gives these families no separate first
interval). Where the row says the report's date wins, the stated date is used.
"""

from __future__ import annotations

from equipment.domain.rules.history import Findings, View, due_from_interval, due_from_report
from equipment.domain.rules.table import RuleRow

__all__ = ["every_n_years"]


def every_n_years(view: View, findings: Findings, row: RuleRow, detail: str = "") -> None:
    """Add the periodic inspection due under ``row``."""
    years = row.value("interval_years")
    latest = view.latest_passing(["periodic"])
    if latest is not None:
        if row.report_date_wins and latest.next_due is not None:
            findings.add_earliest(due_from_report(row, "periodic", latest))
            return
        findings.add_earliest(
            due_from_interval(
                row, "periodic", latest.inspected_on, years, "last periodic inspection", detail
            )
        )
        return
    start = view.start_of_use()
    if start is None:
        findings.notes.append("no commissioning date: the first periodic inspection is unknown")
        return
    findings.add_earliest(due_from_interval(row, "periodic", start[0], years, start[1], detail))
