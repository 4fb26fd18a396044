"""Random inspections (双随机、一公开): the roster, plans, verifiable draws, tasks and their
publication.

The draw itself is equipment.domain.draw (pure, documented in docs/draw.md); this module
gathers its inputs from the register (candidates by credit class, the roster, conflicts of
interest), stores them with the result so :func:`verify_draw` can run it again, and turns
the targets into tasks. Nobody re-draws silently: a plan's second draw needs a reason,
supersedes the first (its open tasks cancelled) and is audited like the first.

Scope: the bureau (admin) manages plans, the roster and draws and sees every task; an
inspector sees the tasks he was drawn for (his account on the roster); an enterprise sees
its own tasks and results, published or not; the public sees published plans, their
targets (never the inspectors) and published results (equipment.services.public_draws).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any

from equipment.domain import draw as rules
from equipment.domain.access import Jurisdiction, Permission, Principal, Role
from equipment.domain.errors import Conflict, Forbidden, InvalidValue, NotFound
from equipment.domain.workdays import WorkCalendar
from equipment.services import audit, checks, credit, work_calendar
from equipment.settings import MAX_PUBLISH_WORKING_DAYS
from equipment.storage import reads, unit_of_work
from equipment.storage.draws import DrawRecord, PlanRecord, RosterRecord, TaskRecord

MAX_TITLE = 200
# A target whose enterprise has no class yet is drawn as B: no history is not a good one.
UNGRADED_CLASS = "B"
CONCLUSIONS = ("compliant", "rectify", "non_compliant", "not_found")
MAX_FINDINGS = 4000
# The enterprise kinds a plan may draw: those holding units of the register (a unit's
# user unit, maintainer or owning station); producers are graded but not drawn here.
DRAWN_KINDS = ("user_unit", "maintenance_company", "filling_station")
MAX_PUBLISH_DAYS = MAX_PUBLISH_WORKING_DAYS


@dataclass(frozen=True)
class DrawOptions:
    """The bureau's settings the draw reads (equipment.settings.DrawSettings)."""

    ratios: str = "A=3%,B=5%,C=10%,D=20%"
    conflict_months: int = 12
    publish_working_days: int = 20


def _csv(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _families(categories: list[str]) -> list[str]:
    """Top-level category codes ("3000") → their family digit ("3")."""
    out = []
    for code in categories:
        if len(code) != 4 or not code.endswith("000"):
            raise InvalidValue(
                f"{code!r} is not a top-level category code like 3000", field="categories"
            )
        out.append(code[0])
    return out


# ---- the roster ---------------------------------------------------------------------


def _roster_values(data: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "name" in data:
        name = str(data["name"]).strip()
        if not name or len(name) > 100:
            raise InvalidValue("an inspector needs a name (at most 100 characters)", field="name")
        values["name"] = name
    if "districts" in data:
        text = ",".join(data["districts"]) if isinstance(data["districts"], list) else ""
        jurisdiction = Jurisdiction.parse(text)
        if jurisdiction is not None and jurisdiction.areas:
            raise InvalidValue("the roster names districts, not areas", field="districts")
        values["districts"] = "" if jurisdiction is None else str(jurisdiction)
    if "qualifications" in data:
        quals = list(data["qualifications"])
        _families(quals)
        values["qualifications"] = ",".join(sorted(set(quals)))
    for key in ("account", "token", "inspection_body"):
        if key in data:
            values[key] = data[key]
    if "available" in data:
        values["available"] = bool(data["available"])
    return values


async def add_inspector(
    principal: Principal, data: dict[str, Any], *, now: datetime
) -> RosterRecord:
    principal.require(Permission.DRAW_MANAGE)
    values = _roster_values(data)
    if "name" not in values:
        raise InvalidValue("an inspector needs a name", field="name")
    async with unit_of_work() as uow:
        row = await uow.draws.add_inspector({**values, "created_at": now, "updated_at": now})
        await audit.record(
            principal,
            entity="roster_inspector",
            entity_id=row.id,
            action="create",
            at=now,
            before=None,
            after=values,
        )
    return row


async def update_inspector(
    principal: Principal, inspector_id: int, data: dict[str, Any], *, now: datetime
) -> RosterRecord:
    principal.require(Permission.DRAW_MANAGE)
    values = _roster_values(data)
    async with unit_of_work() as uow:
        row = await uow.draws.update_inspector(inspector_id, {**values, "updated_at": now})
        if row is None:
            raise NotFound(f"inspector {inspector_id} not found")
        await audit.record(
            principal,
            entity="roster_inspector",
            entity_id=inspector_id,
            action="update",
            at=now,
            before=None,
            after=values,
        )
    return row


async def roster(principal: Principal) -> list[RosterRecord]:
    principal.require(Permission.DRAW_MANAGE)
    return await reads().draws.roster()


# ---- plans --------------------------------------------------------------------------


def _plan_values(data: dict[str, Any], options: DrawOptions) -> dict[str, Any]:
    title = str(data.get("title", "")).strip()
    if not title or len(title) > MAX_TITLE:
        raise InvalidValue(f"a plan needs a title (at most {MAX_TITLE} characters)", field="title")
    kinds = list(data.get("enterprise_kinds") or [])
    if not kinds or any(k not in DRAWN_KINDS for k in kinds):
        raise InvalidValue(
            f"enterprise kinds are some of {', '.join(DRAWN_KINDS)}", field="enterprise_kinds"
        )
    categories = list(data.get("categories") or [])
    _families(categories)
    districts = list(data.get("districts") or [])
    jurisdiction = Jurisdiction.parse(",".join(districts))
    if jurisdiction is not None and jurisdiction.areas:
        raise InvalidValue("a plan's scope names districts, not areas", field="districts")
    start, end = data.get("period_start"), data.get("period_end")
    if not isinstance(start, date) or not isinstance(end, date) or end < start:
        raise InvalidValue("a plan's period ends on or after its start", field="period_end")
    defaults = rules.parse_ratios(options.ratios)
    given = data.get("ratios") or {}
    ratios = rules.check_ratios({**defaults, **{k: Fraction(str(v)) for k, v in given.items()}})
    publish_days = data.get("publish_working_days")
    if publish_days is None:
        publish_days = options.publish_working_days
    if not isinstance(publish_days, int) or not 1 <= publish_days <= MAX_PUBLISH_DAYS:
        raise InvalidValue(
            f"results are published within 1 to {MAX_PUBLISH_DAYS} working days",
            field="publish_working_days",
        )
    checklist = str(data.get("checklist", "")).strip()
    names = checks.checklist_names()
    if checklist not in names:
        # 清单之外无事项: a plan checks against one of the checklists, nothing else.
        raise InvalidValue(
            f"a plan names its checklist (清单之外无事项), one of {', '.join(names)}",
            field="checklist",
        )
    return {
        "title": title,
        "year": start.year,
        "categories": ",".join(sorted(set(categories))),
        "districts": "" if jurisdiction is None else str(jurisdiction),
        "enterprise_kinds": ",".join(sorted(set(kinds))),
        "checklist": checklist,
        "period_start": start,
        "period_end": end,
        "ratios": {k: str(v) for k, v in ratios.items()},
        "publish_working_days": publish_days,
    }


async def create_plan(
    principal: Principal, data: dict[str, Any], *, now: datetime, options: DrawOptions
) -> PlanRecord:
    principal.require(Permission.DRAW_MANAGE)
    values = _plan_values(data, options)
    async with unit_of_work() as uow:
        plan = await uow.draws.add_plan({**values, "actor": principal.actor, "created_at": now})
        await audit.record(
            principal,
            entity="draw_plan",
            entity_id=plan.id,
            action="create",
            at=now,
            before=None,
            after=values,
        )
    return plan


async def _plan(plan_id: int) -> PlanRecord:
    plan = await reads().draws.plan(plan_id)
    if plan is None:
        raise NotFound(f"plan {plan_id} not found")
    return plan


async def get_plan(principal: Principal, plan_id: int) -> PlanRecord:
    principal.require(Permission.DRAW_READ)
    return await _plan(plan_id)


async def list_plans(principal: Principal) -> list[PlanRecord]:
    principal.require(Permission.DRAW_READ)
    return await reads().draws.plans(published_only=False)


async def get_plan_for_task(principal: Principal, plan_id: int) -> PlanRecord:
    """The plan of a task the caller can see (get_task decided that): its title and
    checklist are shown with the task."""
    return await _plan(plan_id)


async def draws_of_plan(principal: Principal, plan_id: int) -> list[DrawRecord]:
    principal.require(Permission.DRAW_READ)
    return await reads().draws.draws_of(plan_id)


async def announce_seed(
    principal: Principal, plan_id: int, seed: str, *, now: datetime
) -> PlanRecord:
    """Fix the plan's seed, published with the plan before any draw; never changed."""
    principal.require(Permission.DRAW_MANAGE)
    seed = rules.check_seed(seed)
    async with unit_of_work() as uow:
        plan = await _plan(plan_id)
        if plan.seed:
            raise Conflict("the plan's seed is announced already and cannot change", field="seed")
        updated = await uow.draws.update_plan(
            plan_id,
            {"seed": seed, "seed_announced_at": now, "published_at": plan.published_at or now},
        )
        assert updated is not None
        await audit.record(
            principal,
            entity="draw_plan",
            entity_id=plan_id,
            action="announce_seed",
            at=now,
            before=None,
            after={"seed": seed},
        )
    return updated


# ---- the draw -----------------------------------------------------------------------


def candidates_from(
    units: list[Any], classes: dict[int, str | None]
) -> tuple[rules.Candidate, ...]:
    """One candidate per enterprise: its district is where most of its units in scope
    are (the smallest code on a tie); its categories the families it has in scope."""
    per_district: dict[int, Counter[str]] = {}
    families: dict[int, set[str]] = {}
    for u in units:
        per_district.setdefault(u.enterprise, Counter())[u.district_code] += u.units
        families.setdefault(u.enterprise, set()).add(f"{u.family}000")
    out = []
    for enterprise, counts in sorted(per_district.items()):
        district = min(counts, key=lambda d: (-counts[d], d))
        klass = classes.get(enterprise) or UNGRADED_CLASS
        out.append(
            rules.Candidate(enterprise, klass, district, tuple(sorted(families[enterprise])))
        )
    return tuple(out)


async def _inputs(plan: PlanRecord, *, today: date, options: DrawOptions) -> rules.DrawInputs:
    store = reads()
    fams = [c[0] for c in _csv(plan.categories)]
    districts = _csv(plan.districts)
    candidates: list[rules.Candidate] = []
    bodies: dict[int, set[int]] = {}
    since = today - timedelta(days=round(options.conflict_months * 30.44))
    for kind in _csv(plan.enterprise_kinds):
        units = await store.draws.scope_units(kind, fams, districts)
        classes = {o.id: o.effective for o in await store.credit.organisations([kind])}
        candidates.extend(candidates_from(units, classes))
        bodies.update(await store.draws.bodies_inspecting(kind, since))
    roster_rows = await store.draws.roster()
    roster = tuple(
        rules.RosterEntry(
            r.id, frozenset(_csv(r.districts)), frozenset(_csv(r.qualifications)), r.available
        )
        for r in roster_rows
    )
    conflicts = rules.conflicts_of(
        [(r.id, r.inspection_body) for r in roster_rows], bodies, await store.draws.last_checkers()
    )
    ratios = {k: Fraction(v) for k, v in plan.ratios.items()}
    return rules.DrawInputs(plan.seed, tuple(candidates), roster, conflicts, ratios)


async def run_draw(
    principal: Principal,
    plan_id: int,
    *,
    today: date,
    now: datetime,
    options: DrawOptions,
    reason: str = "",
) -> DrawRecord:
    """Draw the plan's targets and inspectors and make the tasks. A plan drawn already is
    drawn again only with a reason: the new draw supersedes the old, audited."""
    principal.require(Permission.DRAW_MANAGE)
    async with unit_of_work() as uow:
        plan = await _plan(plan_id)
        if not plan.seed or plan.seed_announced_at is None or plan.seed_announced_at >= now:
            raise Conflict(
                "announce the plan's seed before drawing (the draw must be verifiable)",
                field="seed",
            )
        earlier = [d for d in await uow.draws.draws_of(plan_id) if d.superseded_by is None]
        reason = reason.strip()
        if earlier and not reason:
            raise Conflict(
                "this plan has been drawn; a re-draw is a new draw and needs a reason",
                field="reason",
            )
        inputs = await _inputs(plan, today=today, options=options)
        sizes = Counter(c.klass for c in inputs.candidates)
        drawn = await uow.draws.drawn_in_year(plan.year, exclude_plan=plan_id)
        rules.check_yearly_share(sizes, inputs.ratios, drawn)
        result = rules.run(inputs)
        number = 1 + len(await uow.draws.draws_of(plan_id))
        draw_id = await uow.draws.add_draw(
            {
                "plan": plan_id,
                "number": number,
                "reason": reason,
                "algorithm": rules.ALGORITHM,
                "seed": plan.seed,
                "inputs": inputs.canonical(),
                "inputs_digest": rules.inputs_digest(inputs),
                "result": result.canonical(),
                "result_digest": rules.result_digest(result),
                "actor": principal.actor,
                "drawn_at": now,
            }
        )
        for old in earlier:
            await uow.draws.supersede(old.id, draw_id)
            await uow.draws.cancel_open_tasks(old.id, principal.actor)
        by_id = {c.id: c for c in inputs.candidates}
        kinds = await _kinds_of([t.enterprise_id for t in result.targets])
        await uow.draws.add_tasks(
            (
                {
                    "draw": draw_id,
                    "plan": plan_id,
                    "enterprise": t.enterprise_id,
                    "enterprise_kind": kinds.get(t.enterprise_id, ""),
                    "klass": t.klass,
                    "district_code": by_id[t.enterprise_id].district,
                    "due_on": plan.period_end,
                    "state": "open",
                    "actor": principal.actor,
                    "created_at": now,
                }
                for t in result.targets
            ),
            (t.inspectors for t in result.targets),
        )
        await audit.record(
            principal,
            entity="draw_plan",
            entity_id=plan_id,
            action="redraw" if earlier else "draw",
            at=now,
            before=None if not earlier else {"draws": [d.id for d in earlier]},
            after={
                "draw": draw_id,
                "number": number,
                "reason": reason,
                "targets": len(result.targets),
                "short": list(result.short),
                "inputs_digest": rules.inputs_digest(inputs),
                "result_digest": rules.result_digest(result),
            },
        )
        stored = await uow.draws.draw(draw_id)
    assert stored is not None
    return stored


async def _kinds_of(org_ids: list[int]) -> dict[int, str]:
    out = {}
    for org_id in org_ids:
        kind = await reads().organisations.kind_of(org_id)
        if kind is not None:
            out[org_id] = kind
    return out


async def get_draw(principal: Principal, draw_id: int) -> DrawRecord:
    principal.require(Permission.DRAW_READ)
    found = await reads().draws.draw(draw_id)
    if found is None:
        raise NotFound(f"draw {draw_id} not found")
    return found


async def verify_draw(draw_id: int) -> rules.Verification:
    """Run a past draw again from its stored, published inputs (``sereg draw verify``)."""
    found = await reads().draws.draw(draw_id)
    if found is None:
        raise NotFound(f"draw {draw_id} not found")
    inputs = rules.DrawInputs.from_canonical(found.inputs)
    return rules.verify(
        inputs,
        published_inputs_digest=found.inputs_digest,
        stored_result=rules.result_from_canonical(found.result),
        published_result_digest=found.result_digest,
    )


# ---- tasks --------------------------------------------------------------------------


async def list_tasks(
    principal: Principal,
    *,
    plan: int | None = None,
    state: str | None = None,
    overdue_on: date | None = None,
    task_id: int | None = None,
) -> list[TaskRecord]:
    """The bureau: every task; an inspector: his own; an enterprise: its own."""
    store = reads().draws
    due_before = overdue_on
    if overdue_on is not None:
        state = "open"
    if principal.role is Role.ADMIN:
        return await store.tasks(task_id=task_id, plan=plan, state=state, due_before=due_before)
    if principal.can(Permission.DRAW_TASK):
        mine = await store.roster_ids_of(
            account_id=principal.account_id, token_id=principal.token_id
        )
        return await store.tasks(
            task_id=task_id, plan=plan, state=state, due_before=due_before, inspector_ids=mine
        )
    if principal.can(Permission.DRAW_RESULT_OWN) and principal.organisation_id is not None:
        return await store.tasks(
            task_id=task_id,
            plan=plan,
            state=state,
            due_before=due_before,
            enterprise=principal.organisation_id,
        )
    raise Forbidden(f"the {principal.role.value} role may not draw.read")


async def get_task(principal: Principal, task_id: int) -> TaskRecord:
    found = await list_tasks(principal, task_id=task_id)
    if found and found[0].id == task_id:
        return found[0]
    # Outside the caller's scope it does not exist.
    raise NotFound(f"task {task_id} not found")


async def _task_for_inspector(principal: Principal, task_id: int) -> TaskRecord:
    found = await reads().draws.tasks(task_id=task_id)
    if not found:
        raise NotFound(f"task {task_id} not found")
    task = found[0]
    if principal.role is Role.ADMIN:
        return task
    principal.require(Permission.DRAW_TASK)
    mine = set(
        await reads().draws.roster_ids_of(
            account_id=principal.account_id, token_id=principal.token_id
        )
    )
    if not mine & set(task.inspectors):
        raise NotFound(f"task {task_id} not found")
    return task


async def complete_task(
    principal: Principal,
    task_id: int,
    *,
    check_id: int | None,
    conclusion: str | None = None,
    findings: str = "",
    today: date,
    now: datetime,
    options: DrawOptions,
) -> TaskRecord:
    """A drawn inspector closes his task with the supervision check that did it (recorded
    with this task's id, equipment.services.checks): the conclusion follows the check
    (no failed item: compliant; else rectify) unless he states one. Only "not_found" (the
    enterprise is not at its address) closes a task without a check. The result is due
    for publication within its plan's working days; a non-compliant conclusion is a
    violation on the enterprise's record (its credit class counts it)."""
    if conclusion is not None and conclusion not in CONCLUSIONS:
        raise InvalidValue(f"a conclusion is one of {', '.join(CONCLUSIONS)}", field="conclusion")
    findings = findings.strip()
    if len(findings) > MAX_FINDINGS:
        raise InvalidValue(f"findings hold at most {MAX_FINDINGS} characters", field="findings")
    async with unit_of_work() as uow:
        task = await _task_for_inspector(principal, task_id)
        if task.state != "open":
            raise Conflict(f"task {task_id} is {task.state}", field="state")
        if check_id is None:
            if conclusion != "not_found":
                raise InvalidValue(
                    "a task is done by recording its supervision check: give check_id",
                    field="check_id",
                )
        else:
            detail = await checks.get_check(principal, check_id)
            if detail.check.task_id != task_id:
                raise InvalidValue(
                    f"check {check_id} was not recorded for task {task_id}", field="check_id"
                )
            if conclusion is None:
                conclusion = "compliant" if detail.check.failed == 0 else "rectify"
            if not findings:
                findings = "; ".join(i.text for i in detail.items if i.outcome == "failed")[
                    :MAX_FINDINGS
                ]
        plan = await _plan(task.plan)
        # 一公开: the plan's deadline, fixed when the plan was made.
        publish_by = rules.working_days_after(
            today, plan.publish_working_days, await work_calendar.calendar()
        )
        values = {
            "state": "done",
            "check_id": check_id,
            "conclusion": conclusion,
            "findings": findings,
            "done_on": today,
            "publish_by": publish_by,
            "actor": principal.actor,
        }
        if not await uow.draws.complete(task_id, values):
            raise Conflict(f"task {task_id} is no longer open", field="state")
        if conclusion == "non_compliant":
            await credit.record_task_violation(
                principal.actor,
                task.enterprise,
                task_id,
                decided_on=today,
                findings=findings,
                now=now,
            )
        await audit.record(
            principal,
            entity="draw_task",
            entity_id=task_id,
            action="complete",
            at=now,
            before={"state": "open"},
            after=values,
        )
    [done] = await reads().draws.tasks(task_id=task_id)
    return done


async def publish_results(
    principal: Principal, *, now: datetime, task_ids: list[int] | None = None
) -> int:
    """Publish done tasks' results (一公开): the listed ones, or every one not yet out."""
    principal.require(Permission.DRAW_MANAGE)
    async with unit_of_work() as uow:
        if task_ids is None:
            task_ids = [
                t.id
                for t in await uow.draws.tasks(state="done", limit=100_000)
                if t.published_at is None
            ]
        n = await uow.draws.publish(task_ids, now)
        if n:
            await audit.record(
                principal,
                entity="draw_task",
                entity_id=0,
                action="publish",
                at=now,
                before=None,
                after={"tasks": task_ids, "published": n},
            )
    return n


def working_days_late(deadline: date, today: date, calendar: WorkCalendar) -> int:
    """Working days a result due on ``deadline`` is late on ``today``, by ``calendar``
    (``await work_calendar.calendar()``, read once per page or answer)."""
    return rules.working_days_late(deadline, today, calendar)


async def late_publications(principal: Principal, *, today: date) -> list[TaskRecord]:
    """The bureau's list of results not published by their deadline (一公开): done tasks
    whose ``publish_by`` has passed and that are not public yet, the longest late first."""
    principal.require(Permission.DRAW_MANAGE)
    return await reads().draws.tasks(unpublished_by=today, limit=5000)


# ---- the public side (一公开) ---------------------------------------------------------


async def public_plans() -> list[PlanRecord]:
    return await reads().draws.plans(published_only=True)


async def public_plan(plan_id: int) -> tuple[PlanRecord, list[DrawRecord], list[TaskRecord]]:
    """A published plan, its draws (inputs digests and targets, never the inspectors) and
    its published results."""
    plan = await reads().draws.plan(plan_id)
    if plan is None or plan.published_at is None:
        raise NotFound(f"plan {plan_id} not found")
    draws = await reads().draws.draws_of(plan_id)
    tasks = await reads().draws.tasks(plan=plan_id, limit=100_000)
    return plan, draws, tasks


def public_task(task: TaskRecord) -> dict[str, Any]:
    """What the public sees of a target: the enterprise and, once published, the result."""
    out: dict[str, Any] = {
        "task_id": task.id,
        "draw": task.draw,
        "enterprise": task.enterprise_name,
        "enterprise_kind": task.enterprise_kind,
        "district_code": task.district_code,
        "state": "cancelled"
        if task.state == "cancelled"
        else ("published" if task.published_at is not None else "in_progress"),
    }
    if task.published_at is not None:
        out.update(
            conclusion=task.conclusion,
            findings=task.findings,
            done_on=task.done_on,
            published_at=task.published_at,
        )
    return out
