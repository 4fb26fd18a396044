"""Lifts (3xxx): periodic inspection, self-testing and maintenance.

TSG T7001-2023 counts lift-years from the installation (or modernisation) supervisory
inspection, the *origin*. Inspections fall due once a year in the *due month*: the
month of the *anchor*, which is the latest of

- the origin itself,
- a later passed supervisory inspection (after a major repair: it replaces that
  year's periodic inspection, and its month becomes the due month),
- the last passed periodic or supervisory inspection made during a suspension of 1
  year or more that has ended (the inspection before restart).

The events after the anchor are the same month of each following year. Event *E*
belongs to lift-year ``ceil(months from origin month to E's month / 12)``; in the
years of ``lift.periodic_years`` (1, 4, 7, 9, 11, 13, 15) and every year after the 15th
it is a periodic inspection, in the others a self-test (TSG T7008-2023).

Due date: the **last day of the due month**. An inspection counts for an event when it
is made on or after the first day of the month 2 months before the due month (so for a
March due month, from 1 January); counting for that event, it does not move the next
one (``lift.early``). An inspection made earlier than that counts for nothing, and a
late inspection counts for the event it was late for. A periodic inspection also
counts for a self-test falling in its window, being the fuller check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from equipment.domain.rules.dates import add_days, add_years, month_end, month_index, month_start
from equipment.domain.rules.history import Findings, View, param_int
from equipment.domain.rules.model import DueDate, Inspection
from equipment.domain.rules.table import RuleRow

__all__ = ["lift_findings", "lift_year_kind"]

# Longest lift-year scan: well beyond any lift's life, bounded so a loop always ends.
_MAX_LIFT_YEARS: Final = 200


@dataclass(frozen=True, slots=True)
class _Point:
    """A dated reference point (origin or anchor) and what it was."""

    on: date
    label: str
    row: RuleRow


def lift_year_kind(year: int, periodic_years: tuple[int, ...], after_interval: int) -> str:
    """``periodic`` or ``self_test`` for lift-year ``year`` (1-based)."""
    last = max(periodic_years)
    if year in periodic_years:
        return "periodic"
    if year > last and (year - last) % after_interval == 0:
        return "periodic"
    return "self_test"


def lift_findings(view: View, findings: Findings) -> None:
    """Add the lift's next periodic inspection, next self-test and next maintenance."""
    origin = _origin(view)
    if origin is None:
        findings.notes.append(
            "no installation supervisory inspection and no commissioning date on file: "
            "the lift's inspection dates cannot be computed"
        )
    else:
        anchor = _anchor(view, origin)
        findings.add_earliest(_next_event(view, origin, anchor, "periodic", ("periodic",)))
        findings.add_earliest(
            _next_event(view, origin, anchor, "self_test", ("self_test", "periodic"))
        )
    findings.add_earliest(_maintenance(view, origin))


def _supervisory_reasons(view: View) -> list[tuple[Inspection, str]]:
    """Passed supervisory inspections with their reason, inferred where not recorded."""
    result: list[tuple[Inspection, str]] = []
    previous: date | None = None
    for inspection in view.passing(["supervisory"]):
        reason = inspection.reason
        if not reason:
            after_repair = any(
                (previous is None or previous < repaired) and repaired <= inspection.inspected_on
                for repaired in view.unit.major_repairs
            )
            reason = "major_repair" if after_repair else "installation"
        result.append((inspection, reason))
        previous = inspection.inspected_on
    return result


def _origin(view: View) -> _Point | None:
    row = view.row("lift.periodic_years")
    restarts = [
        (i, r) for i, r in _supervisory_reasons(view) if r in ("installation", "modernisation")
    ]
    if restarts:
        inspection, reason = restarts[-1]
        return _Point(inspection.inspected_on, f"{reason} supervisory inspection", row)
    if view.unit.commissioning_date is not None:
        return _Point(
            view.unit.commissioning_date,
            "commissioning date (no installation supervisory inspection on file)",
            row,
        )
    return None


def _anchor(view: View, origin: _Point) -> _Point:
    candidates = [_Point(origin.on, origin.label, view.row("lift.due_month"))]
    for inspection, reason in _supervisory_reasons(view):
        if reason == "major_repair" and inspection.inspected_on > origin.on:
            candidates.append(
                _Point(
                    inspection.inspected_on,
                    "supervisory inspection after major repair",
                    view.row("lift.major_repair"),
                )
            )
    restart_row = view.row("lift.suspension_anchor")
    min_stop = restart_row.value("min_stop_years")
    for suspension in view.unit.suspensions:
        end = suspension.end
        if end is None or add_years(suspension.start, min_stop) > end:
            continue
        before_restart = [
            i
            for i in view.passing(["periodic", "supervisory"])
            if suspension.start <= i.inspected_on <= end and i.inspected_on > origin.on
        ]
        if before_restart:
            candidates.append(
                _Point(
                    before_restart[-1].inspected_on,
                    f"inspection before restart after the suspension of "
                    f"{suspension.start.isoformat()} to {end.isoformat()}",
                    restart_row,
                )
            )
    return max(candidates, key=lambda point: point.on)


def _next_event(
    view: View, origin: _Point, anchor: _Point, kind: str, counted: tuple[str, ...]
) -> DueDate | None:
    """The first ``kind`` event after the anchor not yet covered by an inspection."""
    years_row = view.row("lift.periodic_years")
    after_row = view.row("lift.after_15_years")
    early = view.row("lift.early").value("months")
    after_interval = after_row.value("interval_years")
    done = [i.inspected_on for i in view.passing(counted) if i.inspected_on > anchor.on]
    latest = done[-1] if done else None
    origin_month = month_index(origin.on)
    anchor_month = month_index(anchor.on)
    for step in range(1, _MAX_LIFT_YEARS + 1):
        event_month = anchor_month + 12 * step
        lift_year = -(-(event_month - origin_month) // 12)
        if lift_year_kind(lift_year, years_row.years, after_interval) != kind:
            continue
        window_opens = month_start(event_month - early)
        if latest is not None and window_opens <= latest:
            continue
        due_on = month_end(event_month)
        if kind == "self_test":
            row, what = view.row("lift.self_test"), "self-testing"
        elif lift_year > max(years_row.years):
            row, what = after_row, "periodic inspection"
        else:
            row, what = years_row, "periodic inspection"
        return DueDate(
            kind=kind,
            due_on=due_on,
            rule_key=row.key,
            source=row.source,
            tag=row.tag,
            base_date=anchor.on,
            explanation=(
                f"lift-year {lift_year} counted from the {origin.label} of "
                f"{origin.on.isoformat()}: {what} ({row.summary}); due month "
                f"{due_on:%Y-%m}, the month of the {anchor.label} of "
                f"{anchor.on.isoformat()} ({anchor.row.key}); due by {due_on.isoformat()}, "
                f"may be done from {window_opens.isoformat()} without moving the next date"
            ),
        )
    return None


def _maintenance(view: View, origin: _Point | None) -> DueDate | None:
    """Next routine maintenance: 15 days, or the on-demand contract's cycle."""
    contract_days = param_int(view.params, "maintenance_cycle_days", 1, 366)
    if contract_days is None:
        row = view.row("lift.maintenance")
        days = row.value("interval_days")
        why = f"every {days} days"
    else:
        row = view.row("lift.maintenance.on_demand")
        days = contract_days
        why = f"on-demand contract cycle of {days} days"
    if view.unit.maintenance:
        base, label = view.unit.maintenance[-1], "last maintenance"
    elif origin is not None:
        base, label = origin.on, origin.label
    else:
        return None
    due_on = add_days(base, days)
    return DueDate(
        kind="maintenance",
        due_on=due_on,
        rule_key=row.key,
        source=row.source,
        tag=row.tag,
        base_date=base,
        explanation=(
            f"{row.summary}: {label} on {base.isoformat()} + {why} = due by {due_on.isoformat()}"
        ),
    )
