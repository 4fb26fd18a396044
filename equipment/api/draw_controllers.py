"""HTTP handlers for credit classes and random inspections (双随机、一公开): thin."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter
from msgspec import Meta, Struct

from equipment.api import api_docs
from equipment.api.schemas import OrgId, text
from equipment.domain.access import Principal
from equipment.domain.workdays import WorkCalendar
from equipment.i18n import gettext
from equipment.services import clock, credit, draws, work_calendar
from equipment.settings import Settings
from equipment.storage.draws import DrawRecord, PlanRecord, RosterRecord, TaskRecord

PathOrg = Annotated[int, PathParameter(ge=1, le=2**31 - 1, description="organisation id")]
PathId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
PathBig = Annotated[int, PathParameter(ge=1, le=2**63 - 1)]
ClassName = Literal["A", "B", "C", "D"]
KindName = Literal["user_unit", "maintenance_company", "filling_station"]
TopCategory = Annotated[str, Meta(pattern=r"^[0-9A-Z]000$")]
District = Annotated[str, Meta(pattern=r"^\d{6}$")]
Ratio = Annotated[float, Meta(ge=0, le=1)]


def options(settings: Settings) -> draws.DrawOptions:
    return draws.DrawOptions(
        settings.draw.ratios, settings.draw.conflict_months, settings.draw.publish_working_days
    )


# ---- credit ---------------------------------------------------------------------------


class PenaltyRequest(Struct, forbid_unknown_fields=True):
    decision_no: Annotated[str, text(64, 1)]
    decided_on: date
    clause: Annotated[str, text(2000, 1)]
    note: Annotated[str, text(2000)] = ""
    task_id: Annotated[int, Meta(ge=1, le=2**63 - 1)] | None = None


class OverrideRequest(Struct, forbid_unknown_fields=True):
    reason: Annotated[str, text(500, 1)]
    klass: ClassName | None = msgspec.field(default=None, name="class")  # None: clear


class CreditController(Controller):
    path = "/credit"
    tags = ("credit",)

    @get("/{org_id:int}", responses=api_docs.READ_ONE)
    async def read(
        self, principal: NamedDependency[Principal], language: NamedDependency[str], org_id: PathOrg
    ) -> dict[str, Any]:
        """The class in force, today's computation explained factor by factor (each factor
        with its label in the caller's language and its source), the history."""
        got = await credit.view(principal, org_id, today=clock.today())
        org = got.organisation
        assessment = None
        if got.assessment is not None:
            assessment = got.assessment.as_json()
            labels = {f.key: gettext(language, f.label) for f in got.assessment.factors}
            for factor in assessment["factors"]:  # type: ignore[attr-defined]
                factor["label"] = labels[factor["key"]]
        return {
            "organisation_id": org.id,
            "kind": org.kind,
            "class": org.effective,
            "computed": org.computed,
            "override": org.override,
            "override_reason": org.override_reason,
            "assessment": assessment,
            "history": [msgspec.to_builtins(h) for h in got.history],
        }

    @post("/assess", responses=api_docs.WRITE, status_code=200)
    async def assess(self, principal: NamedDependency[Principal]) -> dict[str, int]:
        """Compute every enterprise's class now (a change is kept in its history)."""
        return await credit.assess_all(principal, today=clock.today(), now=clock.now())

    @post("/{org_id:int}/override", responses=api_docs.WRITE, status_code=200)
    async def override(
        self,
        principal: NamedDependency[Principal],
        org_id: PathOrg,
        data: JSONBody[OverrideRequest],
    ) -> dict[str, Any]:
        """Set the class by hand (``class``), or clear the override (``class`` null); a
        reason either way, audited."""
        if data.klass is None:
            got = await credit.clear_override(
                principal, org_id, data.reason, today=clock.today(), now=clock.now()
            )
        else:
            got = await credit.set_override(
                principal, org_id, data.klass, data.reason, today=clock.today(), now=clock.now()
            )
        return {"organisation_id": got.id, "class": got.effective, "override": got.override}

    @post("/{org_id:int}/violations", responses=api_docs.WRITE)
    async def add_violation(
        self,
        principal: NamedDependency[Principal],
        org_id: PathOrg,
        data: JSONBody[PenaltyRequest],
    ) -> Response[dict[str, Any]]:
        """Record an administrative penalty decision (行政处罚决定书) against the enterprise:
        its number, date and the clause applied; ``task_id`` when it follows a random
        inspection concluded non-compliant (that case then counts once)."""
        row = await credit.record_penalty(
            principal,
            org_id,
            decision_no=data.decision_no,
            decided_on=data.decided_on,
            clause=data.clause,
            note=data.note,
            task_id=data.task_id,
            today=clock.today(),
            now=clock.now(),
        )
        return Response(msgspec.to_builtins(row), status_code=201)

    @get("/{org_id:int}/violations", responses=api_docs.READ_ONE)
    async def violations(
        self, principal: NamedDependency[Principal], org_id: PathOrg
    ) -> list[dict[str, Any]]:
        """The violations on record against the enterprise, newest first (the bureau and
        inspectors; an enterprise its own)."""
        return [msgspec.to_builtins(v) for v in await credit.violations(principal, org_id)]


# ---- draws ----------------------------------------------------------------------------


class RosterCreate(Struct, forbid_unknown_fields=True):
    name: Annotated[str, text(100, 1)]
    account_id: OrgId | None = None
    token_id: OrgId | None = None
    inspection_body_id: OrgId | None = None
    districts: Annotated[list[District], Meta(max_length=50)] = []
    qualifications: Annotated[list[TopCategory], Meta(max_length=20)] = []
    available: bool = True


class RosterUpdate(Struct, forbid_unknown_fields=True):
    available: bool | None = None
    districts: Annotated[list[District], Meta(max_length=50)] | None = None
    qualifications: Annotated[list[TopCategory], Meta(max_length=20)] | None = None


class PlanCreate(Struct, forbid_unknown_fields=True):
    title: Annotated[str, text(200, 1)]
    enterprise_kinds: Annotated[list[KindName], Meta(min_length=1, max_length=3)]
    checklist: Annotated[str, text(64, 1)]
    period_start: date
    period_end: date
    categories: Annotated[list[TopCategory], Meta(max_length=20)] = []
    districts: Annotated[list[District], Meta(max_length=50)] = []
    ratios: dict[ClassName, Ratio] = {}
    # 一公开: results published within this many working days of the check (default:
    # SEREG_DRAW_PUBLISH_DAYS).
    publish_working_days: Annotated[int, Meta(ge=1, le=60)] | None = None


class SeedRequest(Struct, forbid_unknown_fields=True):
    seed: Annotated[str, text(200, 8)]


class DrawRequest(Struct, forbid_unknown_fields=True):
    reason: Annotated[str, text(500)] = ""


class CompleteRequest(Struct, forbid_unknown_fields=True):
    """The supervision check that did the task (POST /api/v1/checks with its task_id);
    the conclusion follows the check unless given; only not_found needs no check."""

    check_id: Annotated[int, Meta(ge=1, le=2**63 - 1)] | None = None
    conclusion: Literal["compliant", "rectify", "non_compliant", "not_found"] | None = None
    findings: Annotated[str, text(4000)] = ""


class PublishRequest(Struct, forbid_unknown_fields=True):
    task_ids: (
        Annotated[list[Annotated[int, Meta(ge=1, le=2**63 - 1)]], Meta(max_length=5000)] | None
    ) = None


def roster_view(r: RosterRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "account_id": r.account,
        "token_id": r.token,
        "inspection_body_id": r.inspection_body,
        "districts": [d for d in r.districts.split(",") if d],
        "qualifications": [q for q in r.qualifications.split(",") if q],
        "available": r.available,
    }


def plan_view(p: PlanRecord) -> dict[str, Any]:
    return {
        "id": p.id,
        "title": p.title,
        "year": p.year,
        "categories": [c for c in p.categories.split(",") if c],
        "districts": [d for d in p.districts.split(",") if d],
        "enterprise_kinds": [k for k in p.enterprise_kinds.split(",") if k],
        "checklist": p.checklist,
        "period_start": p.period_start,
        "period_end": p.period_end,
        "ratios": p.ratios,
        "publish_working_days": p.publish_working_days,
        "seed": p.seed or None,
        "seed_announced_at": p.seed_announced_at,
        "published_at": p.published_at,
    }


def draw_view(d: DrawRecord, *, with_inspectors: bool) -> dict[str, Any]:
    targets = d.result.get("targets", [])
    return {
        "id": d.id,
        "plan_id": d.plan,
        "number": d.number,
        "reason": d.reason,
        "algorithm": d.algorithm,
        "seed": d.seed,
        "inputs_digest": d.inputs_digest,
        "result_digest": d.result_digest,
        "superseded_by": d.superseded_by,
        "drawn_at": d.drawn_at,
        "targets": [
            {
                "enterprise_id": e,
                "class": k,
                "rank": r,
                **({"inspectors": i} if with_inspectors else {}),
            }
            for e, k, r, i in targets
        ],
    }


def task_view(t: TaskRecord, today: date) -> dict[str, Any]:
    return {
        "id": t.id,
        "plan_id": t.plan,
        "draw_id": t.draw,
        "enterprise_id": t.enterprise,
        "enterprise": t.enterprise_name,
        "enterprise_kind": t.enterprise_kind,
        "class": t.klass,
        "district_code": t.district_code,
        "inspectors": t.inspectors,
        "due_on": t.due_on,
        "state": t.state,
        "overdue": t.state == "open" and t.due_on < today,
        "check_id": t.check_id,
        "conclusion": t.conclusion,
        "findings": t.findings,
        "done_on": t.done_on,
        "publish_by": t.publish_by,
        "published_at": t.published_at,
    }


def late_view(t: TaskRecord, today: date, calendar: WorkCalendar) -> dict[str, Any]:
    assert t.publish_by is not None
    days_late = draws.working_days_late(t.publish_by, today, calendar)
    return {**task_view(t, today), "days_late": days_late}


class DrawController(Controller):
    path = "/draws"
    tags = ("draws",)

    @post("/roster", responses=api_docs.WRITE)
    async def add_inspector(
        self, principal: NamedDependency[Principal], data: JSONBody[RosterCreate]
    ) -> Response[dict[str, Any]]:
        row = await draws.add_inspector(
            principal,
            {
                "name": data.name,
                "account": data.account_id,
                "token": data.token_id,
                "inspection_body": data.inspection_body_id,
                "districts": data.districts,
                "qualifications": data.qualifications,
                "available": data.available,
            },
            now=clock.now(),
        )
        return Response(roster_view(row), status_code=201)

    @get("/roster", responses=api_docs.READ)
    async def roster(self, principal: NamedDependency[Principal]) -> list[dict[str, Any]]:
        return [roster_view(r) for r in await draws.roster(principal)]

    @patch("/roster/{inspector_id:int}", responses=api_docs.WRITE)
    async def update_inspector(
        self,
        principal: NamedDependency[Principal],
        inspector_id: PathId,
        data: JSONBody[RosterUpdate],
    ) -> dict[str, Any]:
        values = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not None}
        return roster_view(
            await draws.update_inspector(principal, inspector_id, values, now=clock.now())
        )

    @post("/plans", responses=api_docs.WRITE)
    async def create_plan(
        self,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        data: JSONBody[PlanCreate],
    ) -> Response[dict[str, Any]]:
        plan = await draws.create_plan(
            principal, msgspec.structs.asdict(data), now=clock.now(), options=options(settings)
        )
        return Response(plan_view(plan), status_code=201)

    @get("/plans", responses=api_docs.READ)
    async def plans(self, principal: NamedDependency[Principal]) -> list[dict[str, Any]]:
        return [plan_view(p) for p in await draws.list_plans(principal)]

    @get("/plans/{plan_id:int}", responses=api_docs.READ_ONE)
    async def plan(self, principal: NamedDependency[Principal], plan_id: PathId) -> dict[str, Any]:
        return plan_view(await draws.get_plan(principal, plan_id))

    @post("/plans/{plan_id:int}/seed", responses=api_docs.WRITE, status_code=200)
    async def seed(
        self, principal: NamedDependency[Principal], plan_id: PathId, data: JSONBody[SeedRequest]
    ) -> dict[str, Any]:
        """Announce (and publish) the plan's seed: fixed before the draw, never changed."""
        return plan_view(await draws.announce_seed(principal, plan_id, data.seed, now=clock.now()))

    @post("/plans/{plan_id:int}/draw", responses=api_docs.WRITE)
    async def draw(
        self,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        plan_id: PathId,
        data: JSONBody[DrawRequest],
    ) -> Response[dict[str, Any]]:
        """Draw targets and inspectors; a plan drawn already needs a reason (a re-draw)."""
        made = await draws.run_draw(
            principal,
            plan_id,
            today=clock.today(),
            now=clock.now(),
            options=options(settings),
            reason=data.reason,
        )
        return Response(draw_view(made, with_inspectors=True), status_code=201)

    @get("/{draw_id:int}", responses=api_docs.READ_ONE)
    async def read(self, principal: NamedDependency[Principal], draw_id: PathBig) -> dict[str, Any]:
        return draw_view(await draws.get_draw(principal, draw_id), with_inspectors=True)

    @get("/{draw_id:int}/verify", responses=api_docs.READ_ONE)
    async def verify(
        self, principal: NamedDependency[Principal], draw_id: PathBig
    ) -> dict[str, Any]:
        """Run the draw again from its stored inputs: match or mismatch."""
        await draws.get_draw(principal, draw_id)
        check = await draws.verify_draw(draw_id)
        return {
            "draw_id": draw_id,
            "verdict": check.verdict,
            "inputs_match": check.inputs_match,
            "result_match": check.result_match,
        }

    @get("/tasks", responses=api_docs.READ)
    async def tasks(
        self,
        principal: NamedDependency[Principal],
        plan_id: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
        task_state: Annotated[
            Literal["open", "done", "cancelled"] | None, QueryParameter(name="state")
        ] = None,
        overdue: Annotated[bool, QueryParameter(description="open tasks past due")] = False,
    ) -> list[dict[str, Any]]:
        """The bureau: every task; an inspector: his; an enterprise: its own."""
        today = clock.today()
        rows = await draws.list_tasks(
            principal, plan=plan_id, state=task_state, overdue_on=today if overdue else None
        )
        return [task_view(t, today) for t in rows]

    @get("/tasks/late", responses=api_docs.READ)
    async def late(self, principal: NamedDependency[Principal]) -> list[dict[str, Any]]:
        """Results not published by their deadline (一公开): done, not public, past
        ``publish_by``; the longest late first, with the working days late."""
        today = clock.today()
        rows = await draws.late_publications(principal, today=today)
        calendar = await work_calendar.calendar()
        return [late_view(t, today, calendar) for t in rows]

    @get("/tasks/{task_id:int}", responses=api_docs.READ_ONE)
    async def task(self, principal: NamedDependency[Principal], task_id: PathBig) -> dict[str, Any]:
        return task_view(await draws.get_task(principal, task_id), clock.today())

    @post("/tasks/{task_id:int}/complete", responses=api_docs.WRITE, status_code=200)
    async def complete(
        self,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        task_id: PathBig,
        data: JSONBody[CompleteRequest],
    ) -> dict[str, Any]:
        today = clock.today()
        done = await draws.complete_task(
            principal,
            task_id,
            conclusion=data.conclusion,
            findings=data.findings,
            check_id=data.check_id,
            today=today,
            now=clock.now(),
            options=options(settings),
        )
        return task_view(done, today)

    @post("/tasks/publish", responses=api_docs.WRITE, status_code=200)
    async def publish(
        self, principal: NamedDependency[Principal], data: JSONBody[PublishRequest]
    ) -> dict[str, int]:
        """Publish done tasks' results (一公开): the listed ones, or all not yet out."""
        n = await draws.publish_results(principal, now=clock.now(), task_ids=data.task_ids)
        return {"published": n}


# ---- the public side (一公开) ----------------------------------------------------------


@get("/public/draws", tags=["public"], responses=api_docs.PUBLIC)
async def public_plans() -> list[dict[str, Any]]:
    """Published random-inspection plans (their seed, announced before the draw)."""
    return [plan_view(p) for p in await draws.public_plans()]


@get("/public/draws/{plan_id:int}", tags=["public"], responses=api_docs.PUBLIC_LOOKUP)
async def public_plan(plan_id: PathId) -> dict[str, Any]:
    """A published plan, its draws (digests and targets, never the inspectors) and each
    target's published result."""
    plan, made, tasks = await draws.public_plan(plan_id)
    return {
        "plan": plan_view(plan),
        "draws": [draw_view(d, with_inspectors=False) for d in made],
        "targets": [draws.public_task(t) for t in tasks],
    }
