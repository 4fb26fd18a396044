"""Categories with no computed interval in docs/rules.md: the report's stated date or nothing.

Mobile pressure vessels (2200), oxygen chambers (2400), long-distance piping (8100),
cranes outside TSG Q7015-2016's lists as docs/rules.md gives them, and any other code: the
next due date stated on the last passed inspection report is used (row
``report.stated``); without one the schedule carries a note instead of inventing a
number the rules do not give.
"""

from __future__ import annotations

from equipment.domain.rules.history import Findings, View, due_from_report

__all__ = ["report_only_findings"]


def report_only_findings(view: View, findings: Findings, what: str) -> None:
    """Use the stated next-due date of the last passed inspection that states one."""
    row = view.row("report.stated")
    stated = [
        i
        for i in view.passing(["periodic", "supervisory", "annual_check", "internal", "external"])
        if i.next_due is not None
    ]
    if stated:
        findings.add_earliest(due_from_report(row, "periodic", stated[-1]))
        return
    findings.notes.append(
        f"the rule table (docs/rules.md) gives no inspection interval for {what} "
        f"(category {view.unit.category}); "
        "record the next due date stated on the inspection report"
    )
