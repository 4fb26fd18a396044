"""Random inspections (双随机、一公开) in the staff pages: the inspector's "my tasks" (a
phone in the field), a task with the form that closes it with its supervision check, and
the bureau's plans with each draw's verification. Thin: equipment.services.draws decides
scope (an inspector his tasks, an enterprise its own, the bureau all)."""

from __future__ import annotations

from typing import Annotated

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import PathParameter
from litestar.response import Redirect, Template

from equipment.api.draw_controllers import options
from equipment.domain.access import Permission, Principal
from equipment.domain.errors import Conflict, InvalidValue
from equipment.i18n import N_, Translator
from equipment.i18n.spoken import speak
from equipment.services import clock, draws, work_calendar
from equipment.settings import Settings
from equipment.web.staff import page, staff_language

TaskId = Annotated[int, PathParameter(ge=1, le=2**63 - 1)]
CONCLUSIONS = {
    "compliant": N_("Compliant"),
    "rectify": N_("Ordered to rectify"),
    "non_compliant": N_("Not compliant"),
    "not_found": N_("Not found at its address"),
}
STATES = {"open": N_("Open"), "done": N_("Done"), "cancelled": N_("Cancelled")}


@get("/ui/draws/tasks", include_in_schema=False)
async def my_tasks(request: Request, principal: NamedDependency[Principal]) -> Template:
    """The random-inspection tasks the caller may see, overdue first."""
    today = clock.today()
    tasks = await draws.list_tasks(principal)
    tasks.sort(key=lambda t: (t.state != "open", not (t.due_on < today), t.due_on, t.id))
    return page(
        request,
        "draws/tasks.html",
        {"tasks": tasks, "today": today, "states": STATES, "conclusions": CONCLUSIONS},
    )


async def _task_page(
    request: Request, principal: Principal, task_id: int, *, problem: str = "", status: int = 200
) -> Template:
    task = await draws.get_task(principal, task_id)  # 404 outside the caller's scope
    plan = await draws.get_plan_for_task(principal, task.plan)
    given = request.query_params.get("check_id") or ""
    check_id = given if given.isdigit() and len(given) < 19 else ""
    return page(
        request,
        "draws/task.html",
        {
            "task": task,
            "plan": plan,
            "today": clock.today(),
            "states": STATES,
            "conclusions": CONCLUSIONS,
            "problem": problem,
            "check_id": check_id,
        },
        status_code=status,
    )


@get("/ui/draws/tasks/{task_id:int}", include_in_schema=False)
async def task_page(
    request: Request, principal: NamedDependency[Principal], task_id: TaskId
) -> Template:
    """One task: the enterprise, the plan's checklist, and (for its inspector) the form
    that closes it with the supervision check recorded for it."""
    return await _task_page(request, principal, task_id)


@post("/ui/draws/tasks/{task_id:int}/complete", include_in_schema=False)
async def complete(
    request: Request,
    principal: NamedDependency[Principal],
    settings: NamedDependency[Settings],
    task_id: TaskId,
) -> Template | Redirect:
    form = await request.form()
    raw_check = str(form.get("check_id") or "").strip()
    conclusion = str(form.get("conclusion") or "") or None
    lang = staff_language(request)
    _ = Translator(lang)
    try:
        check_id = int(raw_check) if raw_check else None
        if check_id is not None and not 1 <= check_id < 2**63:
            raise ValueError(raw_check)
    except ValueError:
        return await _task_page(
            request, principal, task_id, problem=_("A check number is a whole number."), status=422
        )
    try:
        await draws.complete_task(
            principal,
            task_id,
            check_id=check_id,
            conclusion=conclusion,
            findings=str(form.get("findings") or "")[: draws.MAX_FINDINGS + 1],
            today=clock.today(),
            now=clock.now(),
            options=options(settings),
        )
    except (InvalidValue, Conflict) as exc:
        return await _task_page(
            request, principal, task_id, problem=speak(lang, exc.reason), status=422
        )
    return Redirect(path=f"/ui/draws/tasks/{task_id}", status_code=303)


@get("/ui/draws/plans", include_in_schema=False)
async def plans(request: Request, principal: NamedDependency[Principal]) -> Template:
    """The bureau's plans, each draw with its digests and whether it verifies now."""
    rows = await draws.list_plans(principal)
    checked = []
    for plan in rows:
        made = await draws.draws_of_plan(principal, plan.id)
        checked.append((plan, [(d, (await draws.verify_draw(d.id)).verdict) for d in made]))
    return page(
        request,
        "draws/plans.html",
        {
            "plans": checked,
            # The bureau's alarm: results past their publication deadline (一公开).
            "late": len(await draws.late_publications(principal, today=clock.today()))
            if principal.can(Permission.DRAW_MANAGE)
            else None,
        },
    )


@get("/ui/draws/late", include_in_schema=False)
async def late(request: Request, principal: NamedDependency[Principal]) -> Template:
    """The bureau's list of results not published by their deadline (一公开)."""
    today = clock.today()
    rows = await draws.late_publications(principal, today=today)
    calendar = await work_calendar.calendar()
    return page(
        request,
        "draws/late.html",
        {
            "tasks": [
                (t, draws.working_days_late(t.publish_by or today, today, calendar)) for t in rows
            ],
            "conclusions": CONCLUSIONS,
            "today": today,
        },
    )


DRAW_PAGES: list = [my_tasks, task_page, complete, plans, late]
