"""Risk grades (风险分级): computing them for the register, keeping them current, and the
lists by grade.

The grade is the pure :func:`equipment.domain.risk.score` over inputs storage gathers set
at a time (equipment/storage/risk.py). Three ways it is computed:

- ``recompute_all``: the whole register in id ranges of ``batch`` units, one transaction
  each (``sereg risk recompute``, after a policy change, and at the end of the demo load);
- ``catch_up``: the bounded background pass of the notify worker: units whose inputs
  changed (inspection, hazard, alarm, maintenance record, the unit or its area edited)
  since the last pass, oldest change first; how long a change waited is observed in
  ``sereg_risk_lag_seconds``;
- ``recompute_units``: given units, inside the caller's transaction.

Only what changed is written: the grade's points and explanation (kept so that reading a
unit's explanation computes nothing) when they move, and the rank on the unit and its due
dates, with a ``risk_change`` row, when it moves.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from prometheus_client import Histogram

from equipment.domain import risk
from equipment.domain.access import Permission, Principal
from equipment.domain.errors import InvalidValue
from equipment.services import clock, policies
from equipment.storage import db
from equipment.storage.risk import (
    CLOSED,
    GatheredUnit,
    GradeChangeRow,
    GradedUnitRow,
    GradeWrite,
    RiskRepository,
)
from equipment.storage.scheduled_jobs import JobState, ScheduledJobRepository

__all__ = [
    "GroupGrades",
    "catch_up",
    "daily_pass",
    "explain_now",
    "explain_unit",
    "grade_name",
    "group_grades",
    "load_policy",
    "recompute_all",
    "recompute_units",
    "regrade_user_units",
]

ALARM_WINDOW = timedelta(days=90)
BATCH = 50_000
# The category medians change slowly: the background pass reuses them this long.
MEDIANS_MAX_AGE_S = 600.0
# A process's first background pass looks back this far for changes.
FIRST_LOOKBACK = timedelta(days=1)

RISK_LAG = Histogram(
    "sereg_risk_lag_seconds",
    "How long a change of a risk input waited before the background pass graded its unit",
    buckets=(1, 5, 15, 30, 60, 120, 300, 900, 3600),
)

_repo = RiskRepository()
_jobs = ScheduledJobRepository()


def policy() -> risk.RiskPolicy:
    return policies.current().risk


def load_policy(path: Path | None) -> risk.RiskPolicy:
    """The ``risk`` section of the rules policy file (SEREG_RULES_POLICY), else defaults."""
    if path is None:
        return risk.DEFAULT_RISK_POLICY
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidValue(f"cannot read the rules policy {path}: {exc}") from exc
    if not isinstance(mapping, dict):
        raise InvalidValue("a policy is a mapping (a JSON object)", field="policy")
    return risk.load_risk_policy(mapping.get("risk"))


@dataclass(frozen=True)
class Context:
    """What every unit of a run is compared against."""

    today: date
    since: datetime
    medians: dict[str, float]
    records: dict[int, float]


def inputs_of(unit: GatheredUnit, ctx: Context) -> risk.RiskInputs:
    today = ctx.today
    due = unit.next_inspection_due
    maintenance = unit.maintenance_due
    return risk.RiskInputs(
        age_years=(today - unit.started_on).days / 365.25 if unit.started_on else 0.0,
        design_life_years=unit.design_life_years,
        days_overdue=(today - due).days if due is not None and due < today else 0,
        last_conclusion=unit.conclusion,
        safety_grade=unit.safety_grade,
        open_general_hazards=unit.general_hazards,
        open_major_hazards=unit.major_hazards,
        faults_90_days=unit.faults,
        entrapments_90_days=unit.entrapments,
        category_median_faults=ctx.medians.get(unit.category, 0.0),
        maintenance_days_late=(today - maintenance).days if maintenance is not None else 0,
        old_residential=unit.old_residential,
        hazardous_chemicals=unit.hazardous_chemicals,
        user_unit_bad_share=ctx.records.get(unit.user_unit, 0.0),
    )


def _medians(units: dict[str, int], faults: Iterable[tuple[str, int]]) -> dict[str, float]:
    per: dict[str, list[int]] = {}
    for category, n in faults:
        per.setdefault(category, []).append(n)
    out: dict[str, float] = {}
    for category, total in units.items():
        counts = per.get(category, [])
        zeros = max(total - len(counts), 0)
        # More than half without a fault: the median is 0 without sorting anything.
        out[category] = 0.0 if zeros > total / 2 else float(statistics.median([0] * zeros + counts))
    return out


_medians_cache: dict[int, tuple[float, dict[str, float]]] = {}


async def _context(now: datetime, user_units: Sequence[int] | None, fresh: bool) -> Context:
    today = now.astimezone(clock.CHINA).date()
    since = now - ALARM_WINDOW
    key = id(db.engine())
    cached = _medians_cache.get(key)
    if fresh or cached is None or time.monotonic() - cached[0] > MEDIANS_MAX_AGE_S:
        medians = _medians(*await _repo.fault_counts(since))
        _medians_cache[key] = (time.monotonic(), medians)
    else:
        medians = cached[1]
    records = await _repo.user_unit_records(today=today, user_units=user_units)
    return Context(today, since, medians, records)


_encode = msgspec.json.Encoder().encode


def factors_text(pairs: Sequence[tuple[float, float]]) -> str:
    """The stored explanation: JSON [[value, points], ...] in FACTORS order."""
    return _encode(pairs).decode()


def _grades(units: Sequence[GatheredUnit], ctx: Context) -> list[GradeWrite]:
    """Score ``units``; the ones whose rank, points or explanation changed. A unit graded
    for the first time moves its rank only when it is not 蓝 (the unit's rank starts at 0),
    so a first grading writes the unit, its due dates and a history row for those only."""
    fast = risk.compile_explained(policy())
    out = []
    for unit in units:
        rank, points, pairs = fast(inputs_of(unit, ctx))
        factors = factors_text(pairs)
        grade_changed = not unit.graded or points != unit.risk_points or factors != unit.factors
        rank_changed = rank != unit.risk_rank
        if not (grade_changed or rank_changed):
            continue
        out.append(
            GradeWrite(
                unit.id,
                rank,
                points,
                factors,
                unit.risk_rank if unit.graded else None,
                grade_changed=grade_changed,
                rank_changed=rank_changed,
            )
        )
    return out


@dataclass(frozen=True)
class Recompute:
    units: int
    changed: int  # grades written (rank, points or explanation moved)
    seconds: float
    moved: int = 0  # of which the rank moved (the unit, its due dates, a history row)


async def recompute_all(
    *, now: datetime, batch: int = BATCH, progress: Callable[[int, int], None] | None = None
) -> Recompute:
    """Grade every unit; ``progress(done, total)`` after each batch (ids, not units)."""
    started = time.perf_counter()
    async with db.transaction():
        bounds = await _repo.id_bounds()
        ctx = await _context(now, None, fresh=True)
    if bounds is None:
        return Recompute(0, 0, time.perf_counter() - started)
    lo, hi = bounds
    if progress is not None:
        progress(0, hi + 1 - lo)
    units = changed = moved = 0
    for start in range(lo, hi + 1, batch):
        async with db.transaction():
            # A unit regraded by the background pass meanwhile waits for this batch, or
            # this batch for it: never a grade from older facts written over a newer one.
            await _repo.lock_for_grading(lo=start, hi=start + batch)
            gathered = await _repo.gather_range(
                start, start + batch, today=ctx.today, since=ctx.since
            )
            grades = _grades(gathered, ctx)
            await _repo.write(grades, now)
        units += len(gathered)
        changed += len(grades)
        moved += sum(1 for g in grades if g.rank_changed)
        if progress is not None:
            progress(min(start + batch, hi + 1) - lo, hi + 1 - lo)
    return Recompute(units, changed, time.perf_counter() - started, moved)


_RECORD = risk.FACTOR_KEYS.index("user_unit_record")


def _stored_record(factors: str | None) -> float | None:
    """The user unit's record as a stored explanation holds it (None: none stored)."""
    try:
        return float(json.loads(factors)[_RECORD][0]) if factors else None
    except (ValueError, TypeError, IndexError, KeyError):
        return None


def _records_moved(units: Sequence[GatheredUnit], grades: Sequence[GradeWrite]) -> set[int]:
    """The user units whose record (the share of their units overdue or with open hazards,
    a factor of every one of their units) differs from what a regraded unit had stored:
    their other units' stored grades are stale."""
    written = {g.id: g.factors for g in grades if g.grade_changed}
    moved: set[int] = set()
    for unit in units:
        if unit.id not in written or unit.user_unit in moved:
            continue
        if _stored_record(unit.factors) != _stored_record(written[unit.id]):
            moved.add(unit.user_unit)
    return moved


async def _regrade(ids: Sequence[int], now: datetime) -> tuple[int, set[int]]:
    """Grade ``ids``: how many grades changed, and the user units whose record moved (a
    unit of theirs closed counts: it left the share)."""
    async with db.transaction():
        await _repo.lock_for_grading(ids)
        gathered = await _repo.gather_units(
            ids, today=now.astimezone(clock.CHINA).date(), since=now - ALARM_WINDOW
        )
        ctx = await _context(now, sorted({u.user_unit for u in gathered}), fresh=False)
        grades = _grades(gathered, ctx)
        await _repo.write(grades, now)
        moved = _records_moved(gathered, grades)
        if len(gathered) < len(ids):  # scrapped or cancelled
            closed = set(ids) - {u.id for u in gathered}
            moved |= await _repo.user_units_of(sorted(closed))
    return len(grades), moved


async def regrade_user_units(user_units: Sequence[int], *, now: datetime) -> int:
    """Grade every unit of ``user_units`` (a fact of the user unit itself changed, as its
    hazardous-chemical flag): one gather and one write; how many grades changed."""
    async with db.transaction():
        ids = await _repo.units_of(sorted(set(user_units)))
    return (await _regrade(ids, now))[0] if ids else 0


async def recompute_units(unit_ids: Iterable[int], *, now: datetime) -> int:
    """Grade ``unit_ids`` (in a transaction of their own); how many grades changed. When
    that moves a user unit's record, every other unit of that user unit is graded again
    too, all at once in a second transaction: the record is a factor of each of them."""
    ids = sorted(set(unit_ids))
    if not ids:
        return 0
    changed, moved = await _regrade(ids, now)
    if moved:
        async with db.transaction():
            siblings = await _repo.units_of(sorted(moved))
        done = set(ids)
        rest = [i for i in siblings if i not in done]
        if rest:
            changed += (await _regrade(rest, now))[0]
    return changed


DAILY_JOB = "risk_daily"
# The daily round's batch: one a notify pass, so the worker's other duties (escalation
# timers, deliveries) wait at most one batch.
DAILY_BATCH = 10_000
_daily_done: dict[int, date] = {}


def daily_round(now: datetime, hour: int) -> date:
    """The day whose round is due at ``now``: today from ``hour`` o'clock China time,
    yesterday before it."""
    local = now.astimezone(clock.CHINA)
    return local.date() if local.hour >= hour else local.date() - timedelta(days=1)


async def daily_pass(*, now: datetime, hour: int, batch: int = DAILY_BATCH) -> int:
    """One step of the day's grading of the whole register, for the notify worker: days
    overdue, days of late maintenance and age move with the calendar while no input
    changes, so once a day (from ``hour`` o'clock China time) every unit is graded again,
    one batch of ids a call. The round's progress is kept in the database: every worker
    shares one round, and a restarted worker goes on where it stopped. Answers the units
    graded (0: nothing due, or another worker is on the round's next batch)."""
    day = daily_round(now, hour)
    key = id(db.engine())
    if _daily_done.get(key) == day:
        return 0
    async with db.transaction():
        state = await _jobs.claim(DAILY_JOB, now=now)
        if state is None:
            return 0
        if state.day == day and state.next_id is None:
            _daily_done[key] = day
            return 0
        bounds = await _repo.id_bounds()
        if bounds is None:
            await _jobs.save(DAILY_JOB, JobState(day, None), now=now)
            return 0
        lo, hi = bounds
        start = state.next_id if state.day == day and state.next_id is not None else lo
        await _repo.lock_for_grading(lo=start, hi=start + batch)
        gathered = await _repo.gather_range(
            start, start + batch, today=now.astimezone(clock.CHINA).date(), since=now - ALARM_WINDOW
        )
        ctx = await _context(now, sorted({u.user_unit for u in gathered}), fresh=start == lo)
        await _repo.write(_grades(gathered, ctx), now)
        following = start + batch
        await _jobs.save(DAILY_JOB, JobState(day, following if following <= hi else None), now=now)
    return max(len(gathered), 1)


@dataclass(frozen=True)
class _Progress:
    seen: datetime  # the newest change graded
    # Set when the last pass was full (more changed than it took): the next one goes on
    # from this (change, id) instead of looking back.
    cursor: tuple[datetime, int] | None


_progress: dict[int, _Progress] = {}
# A change is stamped before its transaction commits, so a pass can miss one stamped
# before its watermark and committed after it: each pass looks this far back again.
# Grading a unit again is harmless (an unchanged grade is not written).
OVERLAP = timedelta(seconds=30)


async def catch_up(*, now: datetime, limit: int = 2000) -> int:
    """The background pass: grade the units whose inputs changed since the last pass (at
    most ``limit`` per pass, oldest change first); answers how many grades changed, so
    an idle register leaves the worker idle."""
    key = id(db.engine())
    state = _progress.get(key, _Progress(now - FIRST_LOOKBACK, None))
    async with db.transaction():
        if state.cursor is not None:
            # Just before the cursor's instant: its ties with a higher id are still due.
            since = state.cursor[0] - timedelta(microseconds=1)
            found = await _repo.changed_units(since, state.cursor, limit)
        else:
            found = await _repo.changed_units(state.seen - OVERLAP, None, limit)
    if not found:
        _progress[key] = _Progress(state.seen, None)
        return 0
    changed = await recompute_units([unit for unit, _ in found], now=now)
    for _, at in found:
        if at > state.seen:  # first seen now: how long it waited to be graded
            RISK_LAG.observe(max((now - at).total_seconds(), 0.0))
    last_unit, last_at = found[-1]
    _progress[key] = _Progress(
        max(state.seen, *(at for _, at in found)),
        (last_at, last_unit) if len(found) >= limit else None,
    )
    # A full pass is work done even when no grade moved: the worker goes on at once.
    return max(changed, 1) if len(found) >= limit else changed


def explained(result: risk.RiskResult) -> dict[str, Any]:
    names = {f.key: f for f in risk.FACTORS}
    return {
        "grade": result.grade.value,
        "grade_zh": risk.GRADE_ZH[result.grade],
        "points": result.points,
        "forced_by_major_hazard": result.forced,
        "factors": [
            {
                "factor": c.factor,
                "name": names[c.factor].name_zh,
                "value": c.value,
                "points": c.points,
            }
            for c in result.factors
        ],
    }


async def explain_unit(equipment_id: int, *, now: datetime) -> dict[str, Any] | None:
    """The unit's grade with every factor, as the last grading stored it (None: scrapped
    or cancelled): one read by key. A unit not graded yet (or graded before explanations
    were stored) is scored as its inputs stand now. The caller has checked the unit is in
    scope."""
    stored = await _repo.stored(equipment_id)
    if stored is None or stored.status in CLOSED:
        return None
    if stored.points is not None and stored.factors:
        try:
            pairs = json.loads(stored.factors)
        except ValueError:
            pairs = None
        result = (
            risk.result_of(stored.rank, stored.points, pairs) if isinstance(pairs, list) else None
        )
        if result is not None:
            return explained(result)
    return await explain_now(equipment_id, now=now)


async def explain_now(equipment_id: int, *, now: datetime) -> dict[str, Any] | None:
    """The unit's grade as its inputs stand now, computed (None: scrapped or cancelled)."""
    async with db.transaction():
        gathered = await _repo.gather_units(
            [equipment_id], today=now.astimezone(clock.CHINA).date(), since=now - ALARM_WINDOW
        )
        if not gathered:
            return None
        ctx = await _context(now, [gathered[0].user_unit], fresh=False)
    return explained(risk.score(inputs_of(gathered[0], ctx), policy()))


def parse_grade(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return risk.rank(risk.RiskGrade(text))
    except ValueError:
        raise InvalidValue(
            f"grade must be one of {', '.join(g.value for g in risk.GRADE_ORDER)}", field="grade"
        ) from None


def grade_name(rank: int) -> str:
    """The grade's stable code (red, orange, yellow, blue) of a rank 3 to 0."""
    return risk.GRADE_ORDER[rank].value


async def units_by_grade(
    principal: Principal, *, grade: str | None, cursor: str | None, limit: int
) -> tuple[list[GradedUnitRow], str | None]:
    """The caller's graded units, worst first (红 before 橙 ...), then newest id."""
    principal.require(Permission.EQUIPMENT_READ)
    rank = parse_grade(grade)
    after = _decode_pair(cursor)
    rows = await _repo.units_by_grade(
        principal.equipment_scope(), rank=rank, after=after, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = f"{rows[-1].risk_rank}.{rows[-1].id}" if more and rows else None
    return rows, next_cursor


def _decode_pair(cursor: str | None) -> tuple[int, int] | None:
    if cursor is None:
        return None
    try:
        rank_text, id_text = cursor.split(".", 1)
        rank, unit_id = int(rank_text), int(id_text)
    except ValueError:
        raise InvalidValue("the cursor is not one this API issued", field="cursor") from None
    if not 0 <= rank <= 3 or unit_id < 0 or len(cursor) > 40:
        raise InvalidValue("the cursor is not one this API issued", field="cursor")
    return rank, unit_id


async def changes(
    principal: Principal,
    *,
    since: datetime,
    grade: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[GradeChangeRow], str | None]:
    """Grade changes since ``since`` (``grade=red``: the units that became 红)."""
    principal.require(Permission.EQUIPMENT_READ)
    to_rank = parse_grade(grade)
    after: int | None = None
    if cursor is not None:
        if not cursor.isdigit() or len(cursor) > 20:
            raise InvalidValue("the cursor is not one this API issued", field="cursor")
        after = int(cursor)
    rows = await _repo.changes(
        principal.equipment_scope(), since=since, to_rank=to_rank, after=after, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (str(rows[-1].id) if more and rows else None)


class GroupGrades(msgspec.Struct, frozen=True):
    """A user unit's or an area's grade (None: no graded unit) and its units per grade."""

    id: int
    grade: str | None
    units: int
    red: int
    orange: int
    yellow: int
    blue: int


async def group_grades(principal: Principal, *, by: str) -> list[GroupGrades]:
    """Per user unit or area (``by``): its units per grade and the group's grade
    (:func:`equipment.domain.risk.grade_of_group`), worst first."""
    principal.require(Permission.EQUIPMENT_READ)
    if by not in ("user_unit", "area"):
        raise InvalidValue("by must be user_unit or area", field="by")
    counts: dict[int, dict[risk.RiskGrade, int]] = {}
    for r in await _repo.group_counts(principal.equipment_scope(), by):
        counts.setdefault(r.group, {})[risk.GRADE_ORDER[r.risk_rank]] = r.units
    p = policy()
    ranked: list[tuple[int, GroupGrades]] = []
    for group, per in counts.items():
        group_grade = risk.grade_of_group(per, p)
        line = GroupGrades(
            id=group,
            grade=group_grade.value if group_grade else None,
            units=sum(per.values()),
            red=per.get(risk.RiskGrade.RED, 0),
            orange=per.get(risk.RiskGrade.ORANGE, 0),
            yellow=per.get(risk.RiskGrade.YELLOW, 0),
            blue=per.get(risk.RiskGrade.BLUE, 0),
        )
        ranked.append((risk.rank(group_grade) if group_grade else -1, line))
    ranked.sort(key=lambda e: (-e[0], -e[1].red, -e[1].orange, e[1].id))
    return [line for _, line in ranked]
