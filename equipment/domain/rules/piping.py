"""Pressure piping (8xxx): industrial (TSG D7005-2018) and public (TSG D7004-2010).

Industrial piping (83xx) by safety grade (last report's, else the unit parameter
``safety_grade``): 1-2 at most 6 years, 3 at most 3 years; an ungraded pipe, or a
grade docs/rules.md gives no interval for (4, 5), takes the 3-year row with a note.
Public gas and heat piping (82xx): parameter ``pipe_class`` GB1-III at most 8 years,
GB1-IV or GB2 at most 12, parameter ``material`` PE or cast_iron at most 15; when both
apply the shortest wins. The next due date stated on the last report always wins.
Long-distance piping (81xx) has no row in docs/rules.md: report's date or a note.
"""

from __future__ import annotations

from typing import Final

from equipment.domain.errors import InvalidValue
from equipment.domain.rules.history import Findings, View, param_int, param_str
from equipment.domain.rules.intervals import every_n_years
from equipment.domain.rules.reported import report_only_findings
from equipment.domain.rules.table import RuleRow

__all__ = ["piping_findings"]

PIPE_CLASSES: Final = {
    "GB1-III": "piping.public.gb1_iii",
    "GB1-IV": "piping.public.gb1_iv_gb2",
    "GB2": "piping.public.gb1_iv_gb2",
}
SLOW_AGEING_MATERIALS: Final = frozenset({"PE", "cast_iron"})


def piping_findings(view: View, findings: Findings) -> None:
    """Add the pipe's next periodic inspection."""
    category = view.unit.category
    if category.startswith("83"):
        _industrial(view, findings)
    elif category.startswith("82"):
        _public(view, findings)
    else:
        report_only_findings(view, findings, "this kind of piping")


def _industrial(view: View, findings: Findings) -> None:
    latest = view.latest_passing(["periodic"])
    grade = latest.safety_grade if latest is not None else None
    if grade is None:
        grade = param_int(view.params, "safety_grade", 1, 5)
    if grade in (1, 2):
        every_n_years(view, findings, view.row("piping.industrial.grade_1_2"), f"grade {grade}")
        return
    label = f"grade {grade}" if grade is not None else "ungraded"
    if grade != 3:
        findings.notes.append(f"industrial piping {label}: the 3-year interval applies")
    every_n_years(view, findings, view.row("piping.industrial.grade_3"), label)


def _public(view: View, findings: Findings) -> None:
    candidates: list[RuleRow] = []
    pipe_class = param_str(view.params, "pipe_class")
    if pipe_class is not None:
        if pipe_class not in PIPE_CLASSES:
            raise InvalidValue(
                f"parameter pipe_class is one of {sorted(PIPE_CLASSES)}, got {pipe_class!r}",
                field="parameters.pipe_class",
            )
        candidates.append(view.row(PIPE_CLASSES[pipe_class]))
    material = param_str(view.params, "material")
    if material in SLOW_AGEING_MATERIALS:
        candidates.append(view.row("piping.public.pe_cast_iron"))
    if not candidates:
        report_only_findings(view, findings, "public piping without pipe_class or PE/cast iron")
        return
    row = min(candidates, key=lambda r: r.value("interval_years"))
    detail = ", ".join(
        part for part in (f"class {pipe_class}" if pipe_class else "", material or "") if part
    )
    every_n_years(view, findings, row, detail)
