"""A province's gas cylinders, 10^6-10^7 of them, for the scaling measurement
(``sereg demo --units N --province``; docs/scaling.md).

The demo city (equipment/demo/load.py) generates each unit in Python and writes a year of
its activity: 71 minutes for 10^6 units on a loaded machine. This path writes only the
register a province's cylinders make: LPG steel cylinders (category 2320, the bulk of a
province's cylinders), owned by filling stations and spread evenly over Hubei's current
county-level districts, each registered (codes by the project's rules), its periodic
inspection on record when one was due, its due dates and its last fill state (what the
fill permit reads). No activity, no areas, no risk grading, no accounts or tokens.

The SQL derives every unit from its number (equipment/storage/province.py). The rules
engine is run here, once per distinct input the rules read of these cylinders: the
manufacture date and which periodic inspection the unit had (four variants), a few
thousand schedules, whose due rows SQL then joins to the units. So the stored due dates
are the engine's by construction (tests/integration/test_province.py checks them against
the engine unit by unit).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from equipment.demo.city import CREDIT_CHARS, CYLINDER_MAKERS, STREETS
from equipment.domain import codes, rules
from equipment.domain.access import SYSTEM
from equipment.domain.regions import HUBEI
from equipment.domain.rules.dates import add_months, add_years
from equipment.domain.rules.model import STATUTORY_KINDS
from equipment.services import schedules
from equipment.storage import demo_load, province

CATEGORY = "2320"
PARAMETERS = {
    "medium": "LPG",
    "water_capacity_l": 35.5,
    "nominal_working_pressure_mpa": 2.1,
    "material": "steel",
}
# Registrations spread over the last nine years: an LPG cylinder's life is 8 years (12
# with its one extension), so the oldest are at or past it, as in a real register.
MONTHS = 108
UNITS_PER_STATION = 10_000
MAX_UNITS = 10_000_000  # equipment codes are unique by construction up to here
# Which periodic inspection a cylinder had: on its due date, 30 or 60 days before it;
# variant 3 (one cylinder in twenty) has none on record.
INSPECTED_DAYS_EARLY = (0, 30, 60)
NO_INSPECTION = 3


def districts() -> list[tuple[str, str]]:
    """Hubei's current county-level districts (code, name), in code order."""
    return sorted((r.code, r.name) for r in HUBEI.values() if r.level == "county" and r.current)


def _history(made: date, inspected_on: date | None) -> rules.UnitHistory:
    return rules.UnitHistory(
        category=CATEGORY,
        status="in_use",
        parameters=PARAMETERS,
        commissioning_date=None,
        manufacture_date=made,
        inspections=(
            (rules.Inspection(inspected_on=inspected_on, kind="periodic", conclusion="pass"),)
            if inspected_on
            else ()
        ),
        suspensions=(),
        maintenance=(),
        use="",
    )


def schedule_tables(
    today: date, months: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rules engine's answer for every (manufacture date, variant) the generator can
    draw: schedule rows (made, variant, inspected_on, answered_due_on, next_due, not_fit)
    and due rows (made, variant, kind, due_on, statutory, rule_key, source, base_date,
    explanation, from_report)."""
    policy = schedules.policy()
    # The SQL's bounds: registered in the last ``months`` months (day 0-27 of the month),
    # commissioned 0-19 days before, made 30-229 days before that.
    earliest = add_months(today.replace(day=1), -(months - 1)) - timedelta(days=19 + 229)
    latest = today - timedelta(days=30)
    out_schedules: list[tuple[Any, ...]] = []
    out_dues: list[tuple[Any, ...]] = []
    made = earliest
    while made <= latest:
        first_due = add_years(made, 4)
        for variant in range(NO_INSPECTION + 1):
            inspected = None
            if variant != NO_INSPECTION:
                day = first_due - timedelta(days=INSPECTED_DAYS_EARLY[variant])
                inspected = day if day <= today else None
            schedule = rules.schedule(_history(made, inspected), today, policy)
            derived = schedules.derived_fields("in_use", False, schedule, today)
            out_schedules.append(
                (
                    made,
                    variant,
                    inspected,
                    first_due if inspected else None,
                    derived["next_inspection_due"],
                    derived["not_fit_for_use"],
                )
            )
            for due in schedule.due:
                out_dues.append(
                    (
                        made,
                        variant,
                        due.kind,
                        due.due_on,
                        due.kind in STATUTORY_KINDS,
                        due.rule_key,
                        due.source[:200],
                        due.base_date,
                        due.explanation,
                        due.from_report,
                    )
                )
        made += timedelta(days=1)
    return out_schedules, out_dues


def stations(units: int, seed: int, today: date) -> list[dict[str, Any]]:
    """The filling stations, ``per_district`` in each district, district-major: about one
    per 10,000 cylinders; each licensed for two more years."""
    places = districts()
    per_district = max(1, units // (UNITS_PER_STATION * len(places)))
    rng = random.Random(f"province-stations-{seed}")
    out: list[dict[str, Any]] = []
    for code, name in places:
        for k in range(per_district):
            serial = len(out) + 1
            body = f"91{code}{serial:08d}" + rng.choice(CREDIT_CHARS)
            out.append(
                {
                    "kind": "filling_station",
                    "credit_code": body + codes.credit_code_check_char(body),
                    "name": f"{name}液化气充装站{k + 1:02d}",
                    "contact_name": "",
                    "contact_phone": "",
                    "public_phone": "",
                    "address": f"湖北省{name}{rng.choice(STREETS)}{rng.randrange(1, 400)}号",
                    "licence_no": f"TS{rng.randrange(10**9):09d}",
                    "licence_valid_until": today + timedelta(days=730),
                    "station_code": f"HBS{serial:05d}",
                    "longitude": None,
                    "latitude": None,
                }
            )
    return out


async def load_province(
    *,
    units: int,
    seed: int,
    today: date,
    now: datetime,
    step: Callable[[str, float], None],
    jobs: int = 2,
    defer: bool = False,
) -> dict[str, int]:
    """Generate the province's cylinders into an empty PostgreSQL register, ``jobs``
    statements side by side."""
    province.require_postgres()
    if not 1 <= units <= MAX_UNITS:
        raise ValueError(f"--province takes 1 to {MAX_UNITS:,} units")
    if not await province.register_is_empty():
        raise ValueError("the register already has units: the province needs an empty one")
    started = time.perf_counter()
    station_rows = stations(units, seed, today)
    made = await demo_load.add_organisations(station_rows, now=now)
    step(f"organisations ({len(made):,} filling stations)", time.perf_counter() - started)
    started = time.perf_counter()
    schedule_rows, due_rows = schedule_tables(today, MONTHS)
    step(
        f"rules engine: {len(schedule_rows):,} schedules, {len(due_rows):,} due rows",
        time.perf_counter() - started,
    )
    places = districts()
    plan = province.Plan(
        units=units,
        months=MONTHS,
        today=today,
        now=now,
        district_codes=[c for c, _ in places],
        district_names=[n for _, n in places],
        station_ids=[m.id for m in made],
        station_codes=[s["station_code"] for s in station_rows],
        makers=[name for _, name in CYLINDER_MAKERS],
        streets=list(STREETS),
        parameters_json=json.dumps(PARAMETERS, ensure_ascii=False),
        actor=SYSTEM.actor,
        schedules=schedule_rows,
        dues=due_rows,
    )
    return await province.generate(plan, step, jobs=jobs, defer=defer)
