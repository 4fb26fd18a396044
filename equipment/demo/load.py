"""Write the demo city: asyncpg COPY on PostgreSQL, batched inserts on SQLite; then its
areas (districts and old residential areas), and every unit assigned to them."""

from __future__ import annotations

import asyncio
import functools
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Any, TextIO

from equipment.demo import activity, city, dual_prevention, history, showcase
from equipment.domain import rules
from equipment.domain.access import SYSTEM
from equipment.domain.maintenance import DEFAULT_CYCLE_DAYS
from equipment.services import areas, audit, risk, schedules
from equipment.storage import demo_load
from geo.areas import Area, ParsedAreas
from geo.demo_areas import demo_areas

DUE_COLUMNS = (
    "equipment",
    "kind",
    "due_on",
    "statutory",
    "rule_key",
    "source",
    "base_date",
    "explanation",
    "from_report",
    *schedules.DUE_COPIED_COLUMNS,
)


class Progress:
    """A one-line progress bar on stderr (no dependency for 20 lines of output)."""

    def __init__(self, total: int, label: str, stream: TextIO = sys.stderr) -> None:
        self.total, self.label, self.stream = total, label, stream
        self.started = time.perf_counter()
        self.done = 0

    def advance(self, n: int) -> None:
        self.done += n
        share = self.done / self.total if self.total else 1.0
        bar = "#" * int(share * 30)
        elapsed = time.perf_counter() - self.started
        self.stream.write(
            f"\r{self.label} [{bar:<30}] {self.done:>9,}/{self.total:,} {elapsed:6.1f} s"
        )
        if self.done >= self.total:
            self.stream.write("\n")
        self.stream.flush()


@dataclass
class DemoUnit:
    row: dict[str, Any]
    inspections: list[dict[str, Any]]
    # The unit's due_date rows, "equipment" filled in once the unit has its id.
    due: list[dict[str, Any]]


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _with_history(rows: list[dict[str, Any]], seed: int, today: date) -> list[DemoUnit]:
    """History and schedule for generated rows: the CPU-heavy half of a load.

    Runs in worker processes too, so it reads the policy itself (a policy holds mapping
    proxies, which do not pickle).
    """
    policy = schedules.policy()
    out = []
    for row in rows:
        inspections, maintained = history.unit_history(seed, row, today, policy)
        row["last_maintenance_on"] = maintained
        row["needs_inspection_before_resume"] = False
        changes = (
            [{"action": "suspend", "effective_on": row["status_since"]}]
            if row["status"] == "suspended"
            else []
        )
        plain = schedules.plain_history(
            category=row["category"],
            status=row["status"],
            parameters=row["parameters"],
            commissioning_date=row["commissioning_date"],
            manufacture_date=row["manufacture_date"],
            last_maintenance_on=maintained,
            cylinder_use=row.get("cylinder_use"),
            inspections=[
                rules.Inspection(
                    inspected_on=i["inspected_on"],
                    kind=i["kind"],
                    conclusion=i["conclusion"],
                    next_due=i["next_due_stated"],
                    safety_grade=i["safety_grade"],
                    reason=i["reason"],
                )
                for i in inspections  # generated: none corrects another
            ],
            steps=[(c["action"], c["effective_on"]) for c in changes],
        )
        schedule = rules.schedule(plain, today, policy)
        row.update(schedules.derived_fields(row["status"], False, schedule, today))
        due = schedules.due_rows(None, row, row.get("risk_rank", 0), schedule)
        out.append(DemoUnit(row, inspections, due))
    return out


PARALLEL_FROM = 50_000  # below this, worker processes cost more than they save


def demo_units(
    seed: int,
    count: int,
    today: date,
    org_ids: dict[str, list[int]],
    demo_area_list: Sequence[Area] | None = None,
) -> Iterator[DemoUnit]:
    """Generated units with their history, scheduled by the real inspection rules.

    Large cities are scheduled in worker processes (one per core), in order: the rows
    come from one sequential generator, so the city is the same whatever the core count.
    """
    chunks = _batches(city.units(seed, count, today, org_ids, demo_area_list), 2_000)
    if count < PARALLEL_FROM or (os.cpu_count() or 1) < 2:
        for chunk in chunks:
            yield from _with_history(chunk, seed, today)
        return
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        work = functools.partial(_with_history, seed=seed, today=today)
        for units in pool.map(work, chunks):
            yield from units


async def register_is_empty() -> bool:
    return await demo_load.register_is_empty()


async def load_demo_city(
    *, seed: int, units: int, today: date, now: datetime, show_progress: bool = True
) -> dict[str, list[int]]:
    """Organisations, then ``units`` units with inspections and due dates, then the demo
    areas with every unit assigned to them; returns the organisation ids by kind."""
    area_list = demo_areas(seed)
    orgs = city.organisations(seed, units, today)
    org_ids: dict[str, list[int]] = {}
    for made in await demo_load.add_organisations([{**o.__dict__} for o in orgs], now=now):
        org_ids.setdefault(made.kind, []).append(made.id)
    # Every twelfth user unit handles hazardous chemicals (危化品相关): the risk grade's
    # factor has something to weigh.
    await demo_load.mark_hazardous_chemicals(every=12)
    progress = Progress(units, "demo units") if show_progress else None
    batch_size = demo_load.batch_size()
    batches = _batches(demo_units(seed, units, today, org_ids, area_list), batch_size)
    # Generate (and schedule) the next batch in a thread while the database takes the
    # current one: both halves take a similar time.
    covered: dict[tuple[int, int], list[int]] = {}
    pending: list[Any] | None = await asyncio.to_thread(next, batches, None)
    while pending is not None:
        writing = asyncio.ensure_future(_write_batch(pending, now))
        following = await asyncio.to_thread(next, batches, None)
        first, last = await writing
        # One audit entry per batch: a bulk import is one act of the registration office.
        await audit.record(
            SYSTEM,
            entity="equipment",
            entity_id=first,
            action="import",
            at=now,
            before=None,
            after={
                "source": f"demo city seed {seed}",
                "first_id": first,
                "last_id": last,
                "count": len(pending),
            },
        )
        for unit in pending:
            # A contract covers the lifts in use (a scrapped or cancelled unit is not
            # maintained, and the company's punctuality is judged on those it must keep).
            if unit.row["maintenance_company"] is not None and unit.row["status"] == "in_use":
                key = (unit.row["user_unit"], unit.row["maintenance_company"])
                covered.setdefault(key, []).append(unit.row["id"])
        if progress:
            progress.advance(len(pending))
        pending = following
    await _write_contracts(covered, today, now)
    # A year of the lifts' life: maintenance, telemetry, alarms (equipment/demo/activity.py),
    # planned in a thread while the showcase and the areas are written, then written.
    planning = asyncio.ensure_future(
        asyncio.to_thread(activity.plan, seed, await activity.lifts(today), today, now)
    )
    # The corrected rules on show: a lift after a major repair, an entrusted and a taxi
    # cylinder (equipment/demo/showcase.py).
    await showcase.add_showcase(org_ids, today=today, now=now, areas=area_list)
    # Through the import service: the areas are audited like any import, and the one
    # bulk reassignment puts every unit in its areas.
    await areas.import_areas(
        SYSTEM, ParsedAreas(area_list, []), now=now, progress=Progress if show_progress else None
    )
    await activity.write(await planning)
    # Supervision checks, hazards across the 一单四制 loop and routine records.
    await dual_prevention.add_dual_prevention(seed=seed, today=today, now=now)
    await demo_load.analyze()
    # Every unit's risk grade, set at a time (services/risk.py), now that its inputs are in.
    risk_bar: list[Progress] = []

    def risk_progress(done: int, total: int) -> None:
        if not risk_bar:
            risk_bar.append(Progress(total, "risk grades"))
        risk_bar[0].advance(done - risk_bar[0].done)

    await risk.recompute_all(now=now, progress=risk_progress if show_progress else None)
    return org_ids


async def _write_contracts(
    covered: dict[tuple[int, int], list[int]], today: date, now: datetime
) -> None:
    """One 15-day contract per (user unit, company) covering the units it maintains."""
    await demo_load.add_contracts(
        list(covered),
        covered,
        starts=today - timedelta(days=365),
        ends=today + timedelta(days=365),
        cycle_days=DEFAULT_CYCLE_DAYS,
        actor=SYSTEM.actor,
        now=now,
    )


def _children(
    batch: list[DemoUnit], ids: list[int], now: datetime
) -> tuple[list[dict], list[dict]]:
    inspections: list[dict] = []
    dues: list[dict] = []
    for unit, unit_id in zip(batch, ids, strict=True):
        unit.row["id"] = unit_id
        for row in unit.inspections:
            inspections.append(
                {**row, "equipment": unit_id, "actor": SYSTEM.actor, "recorded_at": now}
            )
        dues.extend({**due, "equipment": unit_id} for due in unit.due)
    return inspections, dues


async def _write_batch(batch: list[DemoUnit], now: datetime) -> tuple[int, int]:
    for unit in batch:
        unit.row.update(version=1, created_at=now, updated_at=now)
    async with demo_load.unit_batch() as writer:
        ids = await writer.units([u.row for u in batch])
        inspections, dues = _children(batch, ids, now)
        await writer.inspections(inspections)
        await writer.due_dates(dues, DUE_COLUMNS)
    return ids[0], ids[-1]
