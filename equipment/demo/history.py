"""A plausible inspection and maintenance history for each demo unit. Pure and seeded.

Most units were inspected when due; a few were not (those are the overdue units a due
list exists to catch), a few came late, and a few failed their last inspection. Intervals
come from the real rules engine, so the demo's due dates are the engine's own.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from equipment.domain import rules
from equipment.domain.catalogue import is_lift
from equipment.domain.rules.dates import month_end, month_index, month_start
from equipment.domain.rules.lifts import lift_year_kind

MISSED_SHARE = 0.05  # the last obligation not met: the unit is overdue
# Lifts the demo city places in old residential areas ("neglected" rows) miss more often
# and are maintained later.
NEGLECTED_MISSED_SHARE = 0.5
MAINTAINED_DAYS_AGO = (1, 3, 5, 8, 10, 12, 14, 20, 40)
NEGLECTED_MAINTAINED_DAYS_AGO = (3, 8, 14, 20, 30, 45, 60, 90, 120)
LATE_SHARE = 0.05
FAIL_SHARE = 0.02
# lift.periodic_years and lift.after_15_years of the default policy (TSG T7001-2023).
LIFT_PERIODIC_YEARS = (1, 4, 7, 9, 11, 13, 15)
EARLY_MONTHS = 2


def unit_history(
    seed: int, unit: dict[str, Any], today: date, policy: rules.Policy = rules.DEFAULT_POLICY
) -> tuple[list[dict], date | None]:
    """(inspection rows without ids, last maintenance day) for a generated unit."""
    if unit["status"] == "pending":
        return [], None
    rows, maintained = _history(seed, unit, today, policy)
    # Report numbers are an inspection body's own and unique (the inspection bodies' feed
    # keys uploads by them): the unit's code and the report's place in its history.
    for n, row in enumerate(rows, start=1):
        row["report_no"] = f"XY{row['inspected_on']:%Y}-{unit['code']}-{n:02d}"
    return rows, maintained


def _history(
    seed: int, unit: dict[str, Any], today: date, policy: rules.Policy
) -> tuple[list[dict], date | None]:
    rng = random.Random(f"history-{seed}-{unit['code']}")
    until = min(today, unit["status_since"]) if unit["status"] != "in_use" else today
    if is_lift(unit["category"]):
        neglected = bool(unit.get("neglected"))
        rows = _lift(rng, unit, until, NEGLECTED_MISSED_SHARE if neglected else MISSED_SHARE)
        maintained = None
        if unit["status"] == "in_use":
            # Mostly within the 15-day cycle (TSG T5002-2017), a few behind it.
            days_ago = NEGLECTED_MAINTAINED_DAYS_AGO if neglected else MAINTAINED_DAYS_AGO
            maintained = today - timedelta(days=rng.choice(days_ago))
        return rows, maintained
    return _interval(rng, unit, until, policy), None


def _lift(
    rng: random.Random, unit: dict[str, Any], until: date, missed_share: float = MISSED_SHARE
) -> list[dict]:
    installed = unit["commissioning_date"] - timedelta(days=rng.randrange(5, 30))
    rows = [_row(installed, "supervisory", "pass", reason="installation")]
    origin = month_index(installed)
    events = []
    year = 1
    while month_end(origin + 12 * year) < until:
        events.append((year, origin + 12 * year))
        year += 1
    if not events:
        return rows
    last_periodic = next(
        (e for e in reversed(events) if lift_year_kind(e[0], LIFT_PERIODIC_YEARS, 1) == "periodic"),
        None,
    )
    chosen = {e for e in (last_periodic, events[-1]) if e is not None}
    missed = rng.random() < missed_share
    if missed and len(events) > 1:
        # The obligation before the missed one was met (and the periodic before that):
        # a missed unit is overdue since its last due date, weeks or months, not since
        # its first year (what a register of neglected lifts looks like, not a blank).
        before = events[:-1]
        chosen.add(before[-1])
        periodic = [e for e in before if lift_year_kind(e[0], LIFT_PERIODIC_YEARS, 1) == "periodic"]
        periodic_before = periodic[-1] if periodic else None
        if periodic_before is not None:
            chosen.add(periodic_before)
    for event in sorted(chosen):
        if event == events[-1] and missed:
            continue
        kind = lift_year_kind(event[0], LIFT_PERIODIC_YEARS, 1)
        opens, due = month_start(event[1] - EARLY_MONTHS), month_end(event[1])
        on = opens + timedelta(days=rng.randrange((due - opens).days + 1))
        rows.extend(_inspected(rng, on, kind, due, until))
    return rows


def _interval(
    rng: random.Random, unit: dict[str, Any], until: date, policy: rules.Policy
) -> list[dict]:
    """One last inspection, placed by the interval the rules give this unit."""
    start = unit["commissioning_date"] or unit["manufacture_date"]
    probe_on = start + timedelta(days=1)
    probe = rules.schedule(
        rules.UnitHistory(
            category=unit["category"],
            parameters=unit["parameters"],
            commissioning_date=unit["commissioning_date"],
            manufacture_date=unit["manufacture_date"],
            inspections=(rules.Inspection(probe_on, "periodic", "pass"),),
        ),
        probe_on,
        policy,
    )
    dues = [d for d in probe.due if d.kind in ("periodic", "external", "internal")]
    rows = []
    for due in dues:
        interval = (due.due_on - probe_on).days
        if interval <= 0:
            continue
        if rng.random() < MISSED_SHARE:
            age = interval + rng.randrange(10, 400)
        else:
            age = rng.randrange(0, max(1, interval - 5))
        on = until - timedelta(days=age)
        if on <= start:
            continue
        answered = on + timedelta(days=rng.randrange(0, 60))
        rows.extend(_inspected(rng, on, due.kind, answered, until))
    return rows


def _inspected(
    rng: random.Random, on: date, kind: str, due: date, until: date
) -> list[dict[str, Any]]:
    """An inspection on ``on`` answering the obligation due on ``due`` (maybe late). A
    failed one is followed by its re-inspection (复检), passed weeks later; a failure too
    recent for one stays a pass here: the rules keep a failed unit's obligation open from
    its first unanswered year, which would show a demo unit a decade overdue."""
    if rng.random() < LATE_SHARE:
        due = on - timedelta(days=rng.randrange(1, 90))
    failed = rng.random() < FAIL_SHARE
    again = on + timedelta(days=rng.randrange(10, 41))
    if not failed or again > until:
        return [_row(on, kind, "pass", answered_due_on=due, on_time=on <= due)]
    return [
        _row(on, kind, "fail", answered_due_on=due, on_time=on <= due),
        _row(again, kind, "pass", answered_due_on=due, on_time=again <= due),
    ]


def _row(
    on: date,
    kind: str,
    conclusion: str,
    *,
    reason: str = "",
    answered_due_on: date | None = None,
    on_time: bool | None = None,
) -> dict[str, Any]:
    return {
        "id": None,
        "kind": kind,
        "inspected_on": on,
        "conclusion": conclusion,
        "reason": reason,
        "report_no": "",  # numbered per unit by unit_history
        "findings": "" if conclusion == "pass" else "检验结论：不合格",
        "next_due_stated": None,
        "safety_grade": None,
        "answered_due_on": answered_due_on,
        "on_time": on_time,
        "corrects": None,
    }
