"""A believable year of the demo city's lifts in use: maintenance visits with each
company's own punctuality, a week of telemetry for the lifts with IoT (a few of them
showing a maintenance record the telemetry contradicts), and 90 days of alarms.

Pure and seeded: same seed, lifts and day, same activity. The rows are written by
``equipment.storage.demo_activity``; the punctuality is judged by the real rule
(``maintained_on_time``) and the faked records by the real check
(``faked_maintenance_reason``), so the demo shows what the product computes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from equipment.domain import lift_events
from equipment.domain.maintenance import (
    DEFAULT_CYCLE_DAYS,
    INSPECTION_SERVICE,
    NORMAL_SERVICE,
    TelemetryDay,
    faked_maintenance_reason,
)

# China time (services.clock.CHINA; the demo keeps to the domain's imports).
CHINA = timezone(timedelta(hours=8), "CST")

# Score window of the companies' punctuality (services.maintenance.SCORE_WINDOW_DAYS)
# plus the visit before it, which anchors the window's first stretch.
HISTORY_DAYS = 110
# Each company's share of lifts maintained within the 15-day cycle (TSG T5002-2017): a
# city has good and poor companies, none perfect and none that never comes.
PUNCTUALITY = (0.65, 0.98)
IOT_SHARE = 0.015  # lifts reporting telemetry over the v1 contract
TELEMETRY_DAYS = 7
HEARTBEAT_MINUTES = 60  # a week at this step; a faked day at one a minute (judged)
FAKED_CASES = 5  # IoT lifts whose last maintenance record the telemetry contradicts
ALARM_DAYS = 90
ALARM_SHARE = 0.06  # lifts with at least one alarm in the 90 days
ALARM_KINDS = (
    ("door_close_fault", 30),
    ("door_open_fault", 18),
    ("entrapment", 14),
    ("power_loss", 10),
    ("stopped_outside_door_zone", 8),
    ("safety_circuit_open", 6),
    ("alarm_button", 10),
    ("floor_position_lost", 4),
)
TECHNICIANS = ("李强", "王伟", "张磊", "刘洋", "陈杰", "杨帆", "赵鹏", "周涛")
ITEMS = ("机房、滑轮间环境", "曳引机润滑", "制动器检查", "门锁检查", "轿厢照明、风扇", "底坑环境")
# Three items a visit, chosen from these (one draw a record: the demo writes thousands).
ITEM_SETS = tuple(
    json_list
    for json_list in ([ITEMS[i], ITEMS[(i + 2) % 6], ITEMS[(i + 4) % 6]] for i in range(6))
)


@dataclass(frozen=True)
class Lift:
    """A lift in use under a maintenance contract, as the loader read it back."""

    id: int
    company: int
    contract: int
    district_code: str
    code: str
    last_maintained: date | None


@dataclass
class Activity:
    records: list[dict[str, Any]] = field(default_factory=list)
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    alarms: list[dict[str, Any]] = field(default_factory=list)
    # company id → (lifts, lifts maintained on time over the score window)
    punctuality: dict[int, tuple[int, int]] = field(default_factory=dict)


def company_punctuality(seed: int, company: int) -> float:
    rng = random.Random(f"punctuality-{seed}-{company}")
    low, high = PUNCTUALITY
    return round(rng.uniform(low, high), 3)


def visits(rng: random.Random, lift: Lift, today: date, *, on_time: bool) -> list[date]:
    """Maintenance days over the last HISTORY_DAYS, newest last: every 8-15 days for a lift
    maintained on time; one stretch of 17-40 days for one that is not."""
    last = lift.last_maintained or today - timedelta(days=rng.randrange(1, DEFAULT_CYCLE_DAYS))
    last = min(last, today)
    days = [last]
    late_at = rng.randrange(1, 6) if not on_time else -1
    while days[-1] > today - timedelta(days=HISTORY_DAYS):
        gap = rng.randrange(17, 41) if len(days) == late_at else rng.randrange(8, 16)
        days.append(days[-1] - timedelta(days=gap))
    return sorted(days)


def plan(seed: int, lifts: list[Lift], today: date, now: datetime) -> Activity:
    from equipment.domain.maintenance import maintained_on_time

    out = Activity()
    rng = random.Random(f"activity-{seed}")
    shares = {lift.company: company_punctuality(seed, lift.company) for lift in lifts}
    window_start = today - timedelta(days=90)
    iot = [lift for lift in lifts if rng.random() < IOT_SHARE]
    faked = {lift.id for lift in iot[:FAKED_CASES]}
    for lift in lifts:
        days = visits(rng, lift, today, on_time=rng.random() < shares[lift.company])
        if lift.id in faked and (today - days[-1]).days > TELEMETRY_DAYS - 1:
            days.append(today - timedelta(days=rng.randrange(1, TELEMETRY_DAYS)))
        before = [d for d in days if d < window_start]
        anchor = max(before) if before else window_start
        lifts_done, kept = out.punctuality.get(lift.company, (0, 0))
        ok = maintained_on_time(days, cycle_days=DEFAULT_CYCLE_DAYS, start=anchor, end=today)
        out.punctuality[lift.company] = (lifts_done + 1, kept + ok)
        for n, day in enumerate(days):
            out.records.append(_record(rng, lift, day, n, now))
    days_of: dict[int, set[date]] = {lift.id: set() for lift in iot}
    for record in out.records:
        if record["equipment"] in days_of:
            days_of[record["equipment"]].add(record["maintained_on"])
    for lift in iot:
        _telemetry(rng, lift, today, now, out, days_of[lift.id], faked=lift.id in faked)
    for lift in lifts:
        if rng.random() < ALARM_SHARE:
            open_kinds: set[str] = set()
            for _ in range(rng.choice((1, 1, 1, 2, 3))):
                alarm = _alarm(rng, lift, now, open_kinds)
                out.alarms.append(alarm)
    return out


def _record(rng: random.Random, lift: Lift, day: date, n: int, now: datetime) -> dict[str, Any]:
    technician = rng.choice(TECHNICIANS)
    return {
        "equipment": lift.id,
        "contract": lift.contract,
        "maintenance_company": lift.company,
        "record_id": f"WB{lift.id:06d}-{day:%Y%m%d}-{n}",
        "maintained_on": day,
        "level": "half_monthly",
        "items": rng.choice(ITEM_SETS),
        "technicians": [{"name": technician, "certificate": f"T1-4206-{rng.randrange(10**4):04d}"}],
        "findings": "",
        "hazards": [],
        "signed_off_by": "",
        "suspicious_reason": "",
        "recorded_at": datetime.combine(day, time(18), CHINA) if day < now.date() else now,
    }


def _telemetry(
    rng: random.Random,
    lift: Lift,
    today: date,
    now: datetime,
    out: Activity,
    maintained: set[date],
    *,
    faked: bool,
) -> None:
    """A week of heartbeats every HEARTBEAT_MINUTES in normal service; on a maintenance
    day an hour in inspection mode (the visit shows). A faked case: its last maintenance
    day at one heartbeat a minute, in normal service all day and running — the real check
    marks its record."""
    start = datetime.combine(today - timedelta(days=TELEMETRY_DAYS), time(0), CHINA)
    faked_day = max(maintained) if faked else None
    runs = rng.randrange(10_000, 400_000)
    faked_runs = 0
    moment = start
    end = min(now, datetime.combine(today, time(0), CHINA))
    visit_hour = rng.randrange(9, 16)
    while moment < end:
        day = moment.date()
        step = 1 if day == faked_day else HEARTBEAT_MINUTES
        mode = NORMAL_SERVICE
        if day in maintained and day != faked_day and moment.hour == visit_hour:
            mode = INSPECTION_SERVICE
        running = mode == NORMAL_SERVICE and 6 <= moment.hour <= 22 and rng.random() < 0.4
        runs += step if running else 0
        faked_runs += step if running and day == faked_day else 0
        out.heartbeats.append(
            {
                "equipment": lift.id,
                "ts": moment,
                "running": running,
                "direction": rng.choice((1, 2)) if running else 0,
                "door_zone": not running,
                "floor": rng.randrange(1, 19),
                "doors_closed": running or rng.random() < 0.7,
                "occupied": running and rng.random() < 0.8,
                "service_mode": mode,
                "total_runs": runs,
                "total_hours": round(runs / 40, 1),
                "door_cycles": runs * 2,
                "received_at": moment + timedelta(seconds=1),
            }
        )
        moment += timedelta(minutes=step)
    if faked_day is not None:
        summary = TelemetryDay(1.0, frozenset({NORMAL_SERVICE}), runs=faked_runs)
        reason = faked_maintenance_reason(summary)
        for record in out.records:
            if record["equipment"] == lift.id and record["maintained_on"] == faked_day:
                record["suspicious_reason"] = reason
    for n in range(rng.randrange(0, 4)):
        at = start + timedelta(minutes=rng.randrange(TELEMETRY_DAYS * 1440))
        kind = rng.choice(("door_close_fault", "door_open_fault", "power_loss"))
        out.events.append(
            {
                "equipment": lift.id,
                "event_id": f"demo-{lift.id}-{n}",
                "ts": at,
                "kind": kind,
                "raw_code": None,
                "floor": rng.randrange(1, 19),
                "cleared": True,
                "received_at": at + timedelta(seconds=1),
            }
        )


def _alarm(rng: random.Random, lift: Lift, now: datetime, open_kinds: set[str]) -> dict[str, Any]:
    """An alarm raised in the last 90 days, answered and closed; one raised in the last
    hours of a kind not already open on the lift is still open (the live board's)."""
    from equipment.services.alarms import response_limit_minutes

    kinds, weights = zip(*ALARM_KINDS, strict=True)
    kind = rng.choices(kinds, weights)[0]
    raised = now - timedelta(minutes=rng.randrange(30, ALARM_DAYS * 1440))
    limit = response_limit_minutes(kind, lift.district_code)
    acknowledged = raised + timedelta(minutes=rng.randrange(1, 8))
    # Most arrive within the limit, some do not (the response figures need both).
    arrive_after = rng.randrange(8, (limit or 90) + 25)
    arrived = raised + timedelta(minutes=arrive_after)
    finished = arrived + timedelta(minutes=rng.randrange(10, 90))
    still_open = now - raised < timedelta(hours=6) and kind not in open_kinds
    if still_open:
        open_kinds.add(kind)
        return {
            **_alarm_row(lift, kind, raised, limit, rng),
            "state": "open",
            "acknowledged_at": acknowledged if acknowledged < now else None,
        }
    return {
        **_alarm_row(lift, kind, raised, limit, rng),
        "acknowledged_at": acknowledged,
        "arrived_at": arrived,
        "arrived_late": (arrive_after > limit) if limit else None,
        "finished_at": finished,
        "closed_at": finished,
    }


def _alarm_row(
    lift: Lift, kind: str, raised: datetime, limit: int | None, rng: random.Random
) -> dict[str, Any]:
    return {
        "equipment": lift.id,
        "kind": kind,
        "severity": lift_events.severity(kind),
        "state": "closed",
        "source": "iot" if rng.random() < 0.6 else "manual",
        "count": 1,
        "raised_at": raised,
        "last_raised_at": raised,
        "maintenance_company": lift.company,
        "district_code": lift.district_code,
        "response_limit_minutes": limit,
        "acknowledged_at": None,
        "arrived_at": None,
        "arrived_late": None,
        "finished_at": None,
        "closed_at": None,
        "note": "",
        "station": None,
        "fill": None,
        "detail": "",
    }


async def lifts(today: date) -> list[Lift]:
    """The lifts in use under a contract, read back after the units and contracts."""
    from equipment.storage import demo_activity

    return [
        Lift(
            id=r["id"],
            company=r["maintenance_company"],
            contract=r["contract"],
            district_code=r["district_code"],
            code=r["code"],
            last_maintained=_day(r["last_maintenance_on"]),
        )
        for r in await demo_activity.lifts_in_use(today)
    ]


async def write(found: Activity) -> None:
    from equipment.storage import demo_activity

    await demo_activity.write(found.records, found.heartbeats, found.events, found.alarms)


async def add_activity(seed: int, *, today: date, now: datetime) -> Activity:
    """Plan and write the activity of the demo city's lifts in use (after the units and
    their contracts are written)."""
    found = plan(seed, await lifts(today), today, now)
    await write(found)
    return found


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)
