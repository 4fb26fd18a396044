"""Fixed pressure vessels (21xx), TSG 21-2016 8.1.6.

- No periodic inspection yet: first within 3 years of commissioning (1 year when the
  parameter ``non_metallic`` is true).
- Afterwards by the safety grade the last report gave (``Inspection.safety_grade``, else
  the unit parameter ``safety_grade``): 1-2 every 6 years; 3 every 3 years (policy may
  choose up to 6); 4 monitored use, the date set by the inspection body, 1 year when the
  report states none, and never past 3 years from the first grade-4 report of the
  current run (``max_total_years``; a grade-4 report made once those 3 years are spent
  leaves the vessel not fit for use); 5 not to be used: no date, a not-fit flag.
- The next-due date stated on the last report always wins over the computed one.
- Grade unknown after an inspection: the grade-3 interval, with a note (the shortest
  routine interval; grade 4 is an inspection body's explicit decision).
Non-metallic vessels use the same grade table after their first inspection: docs/rules.md
gives no other.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from equipment.domain.rules.dates import add_years
from equipment.domain.rules.history import (
    Findings,
    View,
    due_from_interval,
    due_from_report,
    param_bool,
    param_int,
)
from equipment.domain.rules.model import Inspection

__all__ = ["vessel_findings"]

_GRADE_ROWS = {
    1: "vessel.grade_1_2",
    2: "vessel.grade_1_2",
    3: "vessel.grade_3",
    4: "vessel.grade_4",
    5: "vessel.grade_5",
}


def vessel_findings(view: View, findings: Findings) -> None:
    """Add the vessel's next periodic inspection, or flag a grade-5 vessel."""
    inspections = view.passing(["periodic"])
    if not inspections:
        _first(view, findings)
        return
    latest = inspections[-1]
    unit_grade = param_int(view.params, "safety_grade", 1, 5)
    grade = latest.safety_grade if latest.safety_grade is not None else unit_grade
    if grade == 5:
        row = view.row("vessel.grade_5")
        findings.not_fit.append(
            f"safety grade 5 on the report of {latest.inspected_on.isoformat()}: "
            f"{row.summary} ({row.source})"
        )
        return
    if grade is None:
        findings.notes.append(
            "the safety grade of the last inspection is unknown: the grade-3 interval applies"
        )
        row = view.row("vessel.grade_3")
    else:
        row = view.row(_GRADE_ROWS[grade])
    if row.report_date_wins and latest.next_due is not None:
        findings.add_earliest(due_from_report(row, "periodic", latest))
        return
    detail = f"safety grade {grade}" if grade is not None else "safety grade unknown"
    due = due_from_interval(
        row,
        "periodic",
        latest.inspected_on,
        row.value("interval_years"),
        "last periodic inspection",
        detail,
    )
    if grade == 4:
        started = _monitoring_start(inspections, unit_grade)
        cap = add_years(started, row.value("max_total_years"))
        if cap <= latest.inspected_on:
            # The monitored-use allowance is spent: a vessel still at grade 4 must be
            # repaired and re-graded (or retired) before it runs again.
            findings.not_fit.append(
                f"safety grade 4 since {started.isoformat()}: monitored use may last "
                f"{row.max_total_years} years in total, spent on {cap.isoformat()} "
                f"({row.source})"
            )
            return
        if cap < due.due_on:
            due = replace(
                due,
                due_on=cap,
                explanation=(
                    f"{row.summary}: monitored use since {started.isoformat()} may last "
                    f"{row.max_total_years} years in total, so due by {cap.isoformat()}"
                ),
            )
    findings.add_earliest(due)


def _first(view: View, findings: Findings) -> None:
    non_metallic = param_bool(view.params, "non_metallic")
    row = view.row("vessel.first.non_metallic" if non_metallic else "vessel.first")
    start = view.start_of_use()
    if start is None:
        findings.notes.append("no commissioning date: the first periodic inspection is unknown")
        return
    findings.add_earliest(
        due_from_interval(
            row,
            "periodic",
            start[0],
            row.value("first_interval_years"),
            start[1],
            "first periodic inspection",
        )
    )


def _monitoring_start(inspections: list[Inspection], unit_grade: int | None) -> date:
    """Date of the first report in the trailing run of grade-4 reports."""
    started = inspections[-1].inspected_on
    for position in range(len(inspections) - 1, -1, -1):
        inspection = inspections[position]
        grade = inspection.safety_grade
        if grade is None and position == len(inspections) - 1:
            grade = unit_grade
        if grade != 4:
            break
        started = inspection.inspected_on
    return started
