"""The demo city shows what works (issue 23): companies with believable punctuality,
telemetry with a few faked-maintenance cases, 90 days of alarms, overdue units weeks or
months late (never a decade), no pending unit overdue, cylinders made by cylinder makers.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta

import pytest

from equipment.demo import activity, city
from equipment.demo.load import demo_units
from equipment.domain.catalogue import is_cylinder, is_lift
from equipment.domain.maintenance import (
    INSPECTION_SERVICE,
    TelemetryDay,
    faked_maintenance_reason,
)

TODAY = date(2026, 12, 6)
NOW = datetime.combine(TODAY, time(10, 30), activity.CHINA)
COMPANIES = list(range(100, 116))
ORG_IDS = {
    "user_unit": [1, 2, 3],
    "maintenance_company": COMPANIES,
    "inspection_body": [20],
    "filling_station": [30, 31],
}


@pytest.fixture(scope="module")
def lifts() -> list[activity.Lift]:
    return [
        activity.Lift(
            id=n,
            company=COMPANIES[n % len(COMPANIES)],
            contract=1000 + n % len(COMPANIES),
            district_code="420606",
            code=f"3110420606202401{n:04d}",
            last_maintained=TODAY - timedelta(days=1 + n % 14),
        )
        for n in range(1, 1601)
    ]


@pytest.fixture(scope="module")
def plan(lifts) -> activity.Activity:
    return activity.plan(7, lifts, TODAY, NOW)


@pytest.fixture(scope="module")
def units() -> list:
    return list(demo_units(11, 2500, TODAY, ORG_IDS))


def test_every_company_keeps_its_own_punctuality_none_at_zero(plan):
    shares = {c: kept / total for c, (total, kept) in plan.punctuality.items()}
    assert set(shares) == set(COMPANIES)
    assert all(0.35 <= share <= 1.0 for share in shares.values()), shares
    assert max(shares.values()) - min(shares.values()) > 0.15  # good and poor companies
    assert 0.6 < statistics.mean(shares.values()) < 0.95


def test_records_are_unique_and_cover_the_score_window(plan, lifts):
    keys = Counter((r["maintenance_company"], r["record_id"]) for r in plan.records)
    assert max(keys.values()) == 1
    by_lift = defaultdict(list)
    for r in plan.records:
        by_lift[r["equipment"]].append(r["maintained_on"])
    assert set(by_lift) == {lift.id for lift in lifts}
    assert all(min(days) <= TODAY - timedelta(days=90) for days in by_lift.values())
    assert all(max(days) < TODAY for days in by_lift.values())


def test_the_faked_records_are_the_ones_their_telemetry_contradicts(plan):
    """Recomputed from the heartbeats as the ingest side summarises a day: the suspicious
    records are exactly those of full days in normal service; every honest maintenance
    day of an IoT lift shows inspection mode."""
    beats = defaultdict(list)
    for b in plan.heartbeats:
        beats[(b["equipment"], b["ts"].astimezone(activity.CHINA).date())].append(b)
    assert {lift for lift, _ in beats}  # some lifts report telemetry
    flagged = 0
    for record in plan.records:
        day = beats.get((record["equipment"], record["maintained_on"]))
        if day is None:
            assert record["suspicious_reason"] == ""
            continue
        runs = [b["total_runs"] for b in day]
        summary = TelemetryDay(
            covered_share=min(1.0, len({b["ts"].replace(second=0) for b in day}) / 1440),
            service_modes=frozenset(b["service_mode"] for b in day),
            runs=max(runs) - min(runs),
        )
        reason = faked_maintenance_reason(summary)
        assert record["suspicious_reason"] == reason
        if reason:
            flagged += 1
        else:
            assert INSPECTION_SERVICE in summary.service_modes
    assert flagged == activity.FAKED_CASES


def test_alarms_span_ninety_days_and_their_times_hold_together(plan):
    assert len(plan.alarms) > 50
    raised = [a["raised_at"] for a in plan.alarms]
    assert min(raised) >= NOW - timedelta(days=activity.ALARM_DAYS)
    assert max(raised) - min(raised) > timedelta(days=60)
    for a in plan.alarms:
        if a["state"] == "closed":
            assert a["raised_at"] < a["acknowledged_at"] < a["arrived_at"] <= a["closed_at"]
        if a["kind"] == "entrapment" and a["arrived_at"]:
            late = a["arrived_at"] - a["raised_at"] > timedelta(minutes=a["response_limit_minutes"])
            assert a["arrived_late"] is late
    assert {a["arrived_late"] for a in plan.alarms if a["kind"] == "entrapment"} >= {True, False}


def test_overdue_units_are_weeks_or_months_late_and_no_pending_unit_is_overdue(units):
    overdue_days = []
    for unit in units:
        due = unit.row["next_inspection_due"]
        if due is None or due >= TODAY:
            continue
        assert unit.row["status"] != "pending", unit.row["code"]
        if unit.row["status"] == "in_use":
            overdue_days.append((TODAY - due).days)
    assert overdue_days
    assert max(overdue_days) < 10 * 365
    assert statistics.median(overdue_days) < 365
    assert sum(d > 3 * 365 for d in overdue_days) <= len(overdue_days) * 0.05


def test_makers_make_what_they_made(units):
    lift_makers = {name for _, name in city.LIFT_MAKERS}
    cylinder_makers = {name for _, name in city.CYLINDER_MAKERS}
    for unit in units:
        row = unit.row
        if is_cylinder(row["category"]):
            assert row["manufacturer"] in cylinder_makers
        elif is_lift(row["category"]):
            assert row["manufacturer"] in lift_makers
        else:
            assert row["manufacturer"] not in lift_makers
