"""Boilers (1xxx), TSG 11-2020: external, internal and hydrostatic inspections.

- External inspection every year, counted from the last one (or from commissioning).
- Internal inspection every 2 years, the first 1 year after commissioning. For a
  power-station boiler (parameter ``power_station``) every 3 to 6 years with the
  overhaul: the unit's parameter ``internal_interval_years`` (3-6) if set, else the
  policy's value (default 3, the strictest the regulation allows); the date stated on
  its last internal inspection report wins over both. Its first internal inspection
  also follows the 1-year first-inspection rule (the regulation states no other).
- Internal inspection before restart after being stopped 1 year or more: a suspension
  of that length that has ended with no internal inspection since it began makes the
  internal inspection due on the restart day; one still running flags the unit as
  needing inspection before it resumes.
- Where internal inspection is impossible (parameter ``internal_inspection_impossible``)
  a hydrostatic test every 3 years takes its place.

A record of kind ``periodic`` counts as both an external and an internal inspection.
"""

from __future__ import annotations

from equipment.domain.rules.dates import add_years
from equipment.domain.rules.history import (
    Findings,
    StartOfUse,
    View,
    due_from_interval,
    due_from_report,
    param_bool,
    param_int,
)
from equipment.domain.rules.model import DueDate

__all__ = ["boiler_findings"]


def boiler_findings(view: View, findings: Findings) -> None:
    """Add the boiler's external, internal (or hydrostatic) due dates."""
    start = view.start_of_use()
    external = view.row("boiler.external")
    latest = view.latest_passing(["external", "periodic"])
    if latest is not None:
        findings.add_earliest(
            due_from_interval(
                external,
                "external",
                latest.inspected_on,
                external.value("interval_years"),
                f"last {latest.kind} inspection",
            )
        )
    elif start is not None:
        findings.add_earliest(due_from_interval(external, "external", start[0], 1, start[1]))
    else:
        findings.notes.append("no commissioning date: the first external inspection is unknown")

    if param_bool(view.params, "internal_inspection_impossible"):
        _hydrostatic(view, findings, start)
    else:
        _internal(view, findings, start)
        _restart(view, findings)


def _internal(view: View, findings: Findings, start: StartOfUse | None) -> None:
    normal = view.row("boiler.internal")
    power_station = param_bool(view.params, "power_station")
    row = view.row("boiler.internal.power_station") if power_station else normal
    latest = view.latest_passing(["internal", "periodic"])
    if latest is None:
        if start is None:
            findings.notes.append("no commissioning date: the first internal inspection is unknown")
            return
        findings.add_earliest(
            due_from_interval(
                normal,
                "internal",
                start[0],
                normal.value("first_interval_years"),
                start[1],
                "first internal inspection",
            )
        )
        return
    if row.report_date_wins and latest.next_due is not None:
        findings.add_earliest(due_from_report(row, "internal", latest))
        return
    years = row.value("interval_years")
    detail = ""
    if power_station and row.choice is not None:
        _, low, high = row.choice
        unit_years = param_int(view.params, "internal_interval_years", low, high)
        if unit_years is not None:
            years, detail = unit_years, "the unit's overhaul cycle"
    findings.add_earliest(
        due_from_interval(
            row, "internal", latest.inspected_on, years, f"last {latest.kind} inspection", detail
        )
    )


def _restart(view: View, findings: Findings) -> None:
    row = view.row("boiler.internal.restart")
    min_stop = row.value("min_stop_years")
    internals = [i.inspected_on for i in view.passing(["internal", "periodic"])]
    for suspension in view.unit.suspensions:
        stopped_until = suspension.end if suspension.end is not None else view.today
        if add_years(suspension.start, min_stop) > stopped_until:
            continue
        if any(done >= suspension.start for done in internals):
            continue
        if suspension.end is None:
            findings.inspection_before_resume = True
            findings.notes.append(
                f"stopped since {suspension.start.isoformat()} (1 year or more): an internal "
                f"inspection is required before restart ({row.source})"
            )
            continue
        findings.add_earliest(
            DueDate(
                kind="internal",
                due_on=suspension.end,
                rule_key=row.key,
                source=row.source,
                tag=row.tag,
                base_date=suspension.start,
                explanation=(
                    f"{row.summary}: stopped from {suspension.start.isoformat()} to "
                    f"{suspension.end.isoformat()}, so the internal inspection was due by the "
                    f"restart on {suspension.end.isoformat()}"
                ),
            )
        )


def _hydrostatic(view: View, findings: Findings, start: StartOfUse | None) -> None:
    row = view.row("boiler.hydrostatic")
    years = row.value("interval_years")
    latest = view.latest_passing(["hydrostatic"])
    if latest is not None:
        base, label = latest.inspected_on, "last hydrostatic test"
    elif start is not None:
        base, label = start
    else:
        findings.notes.append("no commissioning date: the first hydrostatic test is unknown")
        return
    findings.add_earliest(
        due_from_interval(row, "hydrostatic", base, years, label, "internal inspection impossible")
    )
