"""Lifts (3xxx): periodic inspection, self-testing and maintenance.

TSG T7001-2023 counts lift-years from the installation (or modernisation) supervisory
inspection, the *origin*, in calendar years of use: year *N* is the calendar year
``origin.year + N``. Inspections fall due once a year in the *due month*, a separate
input: the month of the *anchor*, which is the latest of

- the origin itself,
- a later passed supervisory inspection after a major repair: it replaces that year's
  periodic inspection (当年的定期检验(如果有)不再实施) and its month becomes the due
  month, but the years are still counted from the origin (其后仍然按照…确定的年份):
  only the month moves (``lift.major_repair``),
- the periodic (or supervisory) inspection before restart after a suspension of 1 year
  or more, required even when the last one has not lapsed
  (``lift.restart_inspection``); the years continue.

The events after the anchor are the same month of each following year. Event *E* in
calendar year *Y* belongs to lift-year ``Y - origin.year``; in the years of
``lift.periodic_years`` (1, 4, 7, 9, 11, 13, 15) and every year after the 15th it is a
periodic inspection, in the others a self-test (TSG T7008-2023), in the same month.

Example (TSG T7001-2023 as corrected in issue 25): installed 2016-04, periodic 2023-04 (year 7) and
2025-04 (year 9), major repair passed 2025-08-14: self-test 2026-08 (year 10), next
periodic inspection 2027-08 (year 11).

Due date: the **last day of the due month**. A periodic inspection counts for an event
when it is made on or after the first day of the month 2 months before the due month
(``lift.early``), a self-test from the first day of the month before (``lift.self_test_early``);
counting for that event, it does not move the next one. An inspection made earlier than
that counts for nothing, and a late inspection counts for the event it was late for. A
periodic inspection also counts for a self-test falling in its window, being the fuller
check.

A lift stopped for 1 year or more needs a periodic inspection before it runs again: while
it is suspended the schedule says so (``needs_inspection_before_resume``); restarted
without one, a periodic inspection is due on the restart day (so it is overdue).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from equipment.domain.rules.dates import add_days, add_years, month_end, month_index, month_start
from equipment.domain.rules.history import Findings, View, param_int
from equipment.domain.rules.model import DueDate, Inspection
from equipment.domain.rules.table import RuleRow

__all__ = ["lift_findings", "lift_year", "lift_year_kind"]

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


def lift_year(origin: date, event: date) -> int:
    """The lift-year of an event: calendar years of use since the origin (TSG T7001-2023)."""
    return event.year - origin.year


def lift_findings(view: View, findings: Findings) -> None:
    """Add the lift's next periodic inspection, next self-test and next maintenance."""
    origin = _origin(view)
    if origin is None:
        findings.notes.append(
            "no installation supervisory inspection and no commissioning date on file: "
            "the lift's inspection dates cannot be computed"
        )
    else:
        anchor = _anchor(view, origin, findings)
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


def _anchor(view: View, origin: _Point, findings: Findings) -> _Point:
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
    candidates.extend(_restart_points(view, origin, findings))
    return max(candidates, key=lambda point: point.on)


def _restart_points(view: View, origin: _Point, findings: Findings) -> list[_Point]:
    """The inspection before restart of each long suspension, or what is owed instead.

    A suspension of ``min_stop_years`` or more (counted to its end, or to today while it
    lasts) needs a periodic inspection before restart even when the last one has not
    lapsed (TSG T7001-2023, ``lift.restart_inspection``). The last passed periodic or
    supervisory inspection made while stopped (failing that, the first made late after
    restart) is that inspection: its month becomes the due month
    (``lift.suspension_anchor``), the years continue.
    """
    restart_row = view.row("lift.restart_inspection")
    anchor_row = view.row("lift.suspension_anchor")
    min_stop = restart_row.value("min_stop_years")
    inspections = view.passing(["periodic", "supervisory"])
    points: list[_Point] = []
    for suspension in view.unit.suspensions:
        stopped_until = suspension.end if suspension.end is not None else view.today
        if add_years(suspension.start, min_stop) > stopped_until:
            continue
        after_start = [
            i.inspected_on
            for i in inspections
            # The origin itself counts: a modernisation while stopped is that inspection.
            if i.inspected_on >= suspension.start and i.inspected_on >= origin.on
        ]
        # The last one made while stopped; failing that, one made late after restart.
        within = [day for day in after_start if day <= stopped_until]
        done = within[-1:] or after_start[:1]
        if done:
            points.append(
                _Point(
                    done[0],
                    f"inspection before restart after the suspension from "
                    f"{suspension.start.isoformat()}",
                    anchor_row,
                )
            )
            continue
        if suspension.end is None:
            findings.inspection_before_resume = True
            findings.notes.append(
                f"stopped since {suspension.start.isoformat()} (1 year or more): a periodic "
                f"inspection is required before restart, even if the last one has not lapsed "
                f"({restart_row.source})"
            )
            continue
        findings.add_earliest(
            DueDate(
                kind="periodic",
                due_on=suspension.end,
                rule_key=restart_row.key,
                source=restart_row.source,
                tag=restart_row.tag,
                base_date=suspension.start,
                explanation=(
                    f"{restart_row.summary}: stopped from {suspension.start.isoformat()} to "
                    f"{suspension.end.isoformat()}, so the periodic inspection was due by the "
                    f"restart on {suspension.end.isoformat()}"
                ),
            )
        )
    return points


def _next_event(
    view: View, origin: _Point, anchor: _Point, kind: str, counted: tuple[str, ...]
) -> DueDate | None:
    """The first ``kind`` event after the anchor not yet covered by an inspection."""
    years_row = view.row("lift.periodic_years")
    after_row = view.row("lift.after_15_years")
    early_row = view.row("lift.early" if kind == "periodic" else "lift.self_test_early")
    early = early_row.value("months")
    after_interval = after_row.value("interval_years")
    done = [i.inspected_on for i in view.passing(counted) if i.inspected_on > anchor.on]
    latest = done[-1] if done else None
    anchor_month = month_index(anchor.on)
    first_step = 1
    if latest is not None:
        # An event whose window opened on or before the latest inspection is covered:
        # month_start(m - early) <= latest exactly when m - early <= month_index(latest),
        # so the walk starts at the first step past it (the same answer as skipping the
        # covered years one by one, without walking a long-inspected lift's whole life).
        first_step = max(1, (month_index(latest) + early - anchor_month) // 12 + 1)
    periodic_years = years_row.years
    last_listed = max(periodic_years)
    for step in range(first_step, _MAX_LIFT_YEARS + 1):
        event_month = anchor_month + 12 * step
        # The event's calendar year from its month index (month_end's year, without
        # building the date of a year of the wrong kind): lift_year, lift_year_kind.
        year = event_month // 12 - origin.on.year
        is_periodic = year in periodic_years or (
            year > last_listed and (year - last_listed) % after_interval == 0
        )
        if is_periodic != (kind == "periodic"):
            continue
        due_on = month_end(event_month)
        window_opens = month_start(event_month - early)
        if latest is not None and window_opens <= latest:
            continue
        if kind == "self_test":
            row, what = view.row("lift.self_test"), "self-testing"
        elif year > max(years_row.years):
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
                f"lift-year {year} counted in calendar years from the {origin.label} of "
                f"{origin.on.isoformat()}: {what} ({row.summary}); due month "
                f"{due_on:%Y-%m}, the month of the {anchor.label} of "
                f"{anchor.on.isoformat()} ({anchor.row.key}); due by {due_on.isoformat()}, "
                f"may be done from {window_opens.isoformat()} without moving the next date "
                f"({early_row.key})"
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
