"""Staff pages of dual prevention (双重预防): supervision checks (监督检查), hazards and
their 一单四制 loop, and the user unit's routine records (日管控、周排查、月调度).

- ``/ui/checks``: the checks in scope; an inspector starts one by naming a unit (its id
  or code) or a user unit; ``/ui/checks/new`` is the checklist as a single-column form
  (mobile: one item under the other), ``/ui/checks/{id}`` the check with its hazards.
- ``/ui/hazards``: the hazards in scope (filters: state, overdue) and the ledger's Excel;
  ``/ui/hazards/{id}`` the hazard, its history and the steps the caller may take (the
  regulator assigns with the 交办单, verifies or sends back; the responsible party starts
  and submits).
- ``/ui/routine``: the user unit records its daily / weekly / monthly record of a unit;
  the units whose record of the current period is missing (the inspector sees them too).

Every handler calls the services the API calls: scope and permission are decided there
(a unit, check or hazard outside the scope is a 404 page; a step the role may not take
a 403 page; a refused form a 400 page saying why).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from equipment.domain import checks as check_rules
from equipment.domain import hazards as hazard_rules
from equipment.domain import routines as routine_rules
from equipment.domain.access import Permission, Principal
from equipment.domain.errors import InvalidValue
from equipment.i18n import N_
from equipment.services import checks, clock, hazards, register, routines
from equipment.web.staff import page, staff_language

PAGE_SIZE = 50


def _text(form: Mapping[str, Any], name: str, limit: int = 2000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _int(text: str, field: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise InvalidValue(f"{field} is not a number", field=field)
    return int(text)


def _day(text: str, field: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidValue(f"{text} is not a date (YYYY-MM-DD)", field=field) from None


# ---- supervision checks ---------------------------------------------------------------


@get("/ui/checks", include_in_schema=False)
async def check_list(request: Request, principal: NamedDependency[Principal]) -> Template:
    before = request.query_params.get("before") or ""
    listing = await checks.list_checks(
        principal,
        before_id=int(before) if before.isdigit() and len(before) < 19 else None,
        limit=PAGE_SIZE,
    )
    return page(
        request,
        "checks/list.html",
        {
            "checks": listing,
            "can_record": principal.can(Permission.CHECK_RECORD),
            "outcomes": check_rules.OUTCOME_LABELS,
        },
    )


def _target(query: Mapping[str, Any]) -> checks.Target:
    unit = _text(query, "unit", 40)
    user_unit = _text(query, "user_unit_id", 12)
    if unit:
        return checks.Target.equipment(_int(unit, "unit"))
    if user_unit:
        return checks.Target.user_unit(_int(user_unit, "user_unit_id"))
    raise InvalidValue("name a unit or a user unit by its number", field="unit")


@get("/ui/checks/new", include_in_schema=False)
async def check_form(request: Request, principal: NamedDependency[Principal]) -> Template:
    """The checklist of the named target as a form, each item with its source."""
    principal.require(Permission.CHECK_RECORD)
    target = _target(request.query_params)
    name = await checks.checklist_of(principal, target)  # 404 outside the scope
    if target.kind is check_rules.TargetKind.EQUIPMENT:
        label = await register.code_of(principal, target.id)
    else:
        label = f"#{target.id}"
    task = _text(request.query_params, "task_id", 19)
    return page(
        request,
        "checks/new.html",
        {
            # The random-inspection task this check answers (from the task's page).
            "task_id": _int(task, "task_id") if task else None,
            "target": target,
            "target_label": label,
            "items": checks.checklist_items(name),
            "lang": staff_language(request),
            "outcomes": check_rules.OUTCOME_LABELS,
            "today": clock.today(),
        },
    )


@post("/ui/checks/new", include_in_schema=False)
async def check_record(request: Request, principal: NamedDependency[Principal]) -> Redirect:
    principal.require(Permission.CHECK_RECORD)
    form = await request.form()
    kind = _text(form, "target_kind", 12)
    target_id = _int(_text(form, "target_id", 19), "target_id")
    target = (
        checks.Target.user_unit(target_id)
        if kind == check_rules.TargetKind.USER_UNIT
        else checks.Target.equipment(target_id)
    )
    answers = []
    for key in form:
        if not key.startswith("outcome:"):
            continue
        outcome = _text(form, key, 20)
        if outcome not in set(check_rules.Outcome):
            raise InvalidValue(f"{outcome} is not an outcome", field="items")
        item = key.removeprefix("outcome:")[:48]
        answers.append(
            check_rules.Answer(
                item,
                check_rules.Outcome(outcome),
                _text(form, f"note:{item}", check_rules.MAX_NOTE),
            )
        )
    task = _text(form, "task_id", 19)
    task_id = _int(task, "task_id") if task else None
    detail = await checks.record(
        principal,
        target,
        None,
        answers,
        task_id=task_id,
        inspector=_text(form, "inspector", checks.MAX_INSPECTOR),
        note=_text(form, "note", checks.MAX_CHECK_NOTE),
        checked_on=_day(_text(form, "checked_on", 10), "checked_on"),
        today=clock.today(),
        now=clock.now(),
    )
    if task_id is not None:
        # Back to the task, its form holding this check's number: one step to close it.
        return Redirect(
            path=f"/ui/draws/tasks/{task_id}?check_id={detail.check.id}", status_code=303
        )
    return Redirect(path=f"/ui/checks/{detail.check.id}", status_code=303)


@get("/ui/checks/{check_id:int}", include_in_schema=False)
async def check_detail(
    request: Request, principal: NamedDependency[Principal], check_id: FromPath[int]
) -> Template:
    detail = await checks.get_check(principal, check_id)
    return page(
        request,
        "checks/detail.html",
        {"detail": detail, "outcomes": check_rules.OUTCOME_LABELS},
    )


# ---- hazards --------------------------------------------------------------------------


@get("/ui/hazards", include_in_schema=False)
async def hazard_list(request: Request, principal: NamedDependency[Principal]) -> Template:
    q = request.query_params
    state = q.get("state") or None
    after = q.get("after") or ""
    listing = await hazards.list_hazards(
        principal,
        state=state if state in set(hazard_rules.State) else None,
        overdue=q.get("overdue") == "1",
        after_id=int(after) if after.isdigit() and len(after) < 19 else None,
        limit=PAGE_SIZE,
        today=clock.today(),
    )
    return page(
        request,
        "checks/hazards.html",
        {
            "hazards": listing,
            "state": state,
            "overdue": q.get("overdue") == "1",
            "states": hazard_rules.STATE_LABELS,
            "grades": hazard_rules.GRADE_LABELS,
            "is_overdue": hazard_rules.is_overdue,
            "State": hazard_rules.State,
            "today": clock.today(),
        },
    )


@get("/ui/hazards/{hazard_id:int}", include_in_schema=False)
async def hazard_detail(
    request: Request, principal: NamedDependency[Principal], hazard_id: FromPath[int]
) -> Template:
    hazard = await hazards.get_hazard(principal, hazard_id)
    state = hazard_rules.State(hazard.state)
    steps = [
        action.value
        for (from_state, action) in hazard_rules.TRANSITIONS
        if from_state is state
        and principal.can(
            Permission.HAZARD_MANAGE
            if action in hazard_rules.REGULATOR_ACTIONS
            else Permission.HAZARD_RECTIFY
        )
    ]
    criterion = hazard_rules.CRITERIA_BY_KEY.get(hazard.criterion or "")
    return page(
        request,
        "checks/hazard.html",
        {
            "hazard": hazard,
            "criterion": criterion,
            "history": await hazards.history(principal, hazard_id),
            "steps": steps,
            "step_names": STEP_NAMES,
            "states": hazard_rules.STATE_LABELS,
            "grades": hazard_rules.GRADE_LABELS,
            "sources": hazard_rules.SOURCE_LABELS,
            "overdue": hazard_rules.is_overdue(state, hazard.deadline, clock.today()),
            "today": clock.today(),
        },
    )


STEP_NAMES = {
    "assign": N_("Assign"),
    "start": N_("Start rectifying"),
    "submit": N_("Submit for verification"),
    "verify": N_("Verify and close"),
    "send_back": N_("Send back"),
}


@post("/ui/hazards/{hazard_id:int}", include_in_schema=False)
async def hazard_act(
    request: Request, principal: NamedDependency[Principal], hazard_id: FromPath[int]
) -> Redirect:
    """One step of the loop from the hazard's page."""
    form = await request.form()
    name = _text(form, "action", 16)
    if name not in set(hazard_rules.Action):
        # Scope first: an unknown step on someone else's hazard is still not found.
        await hazards.get_hazard(principal, hazard_id)
        raise InvalidValue(f"{name or '-'} is not a step of the loop", field="action")
    action = hazard_rules.Action(name)
    assignment = None
    if action is hazard_rules.Action.ASSIGN:
        deadline = _day(_text(form, "deadline", 10), "deadline")
        org = _text(form, "responsible_org_id", 12)
        if deadline is not None and org:
            assignment = hazard_rules.Assignment(
                responsible_org_id=_int(org, "responsible_org_id"),
                responsible_person=_text(form, "responsible_person", 100),
                measures=_text(form, "measures"),
                deadline=deadline,
                supervising_inspector=_text(form, "supervising_inspector", 100),
            )
    await hazards.act(
        principal,
        hazard_id,
        action,
        note=_text(form, "note"),
        assignment=assignment,
        today=clock.today(),
        now=clock.now(),
    )
    return Redirect(path=f"/ui/hazards/{hazard_id}", status_code=303)


# ---- the user unit's routine -------------------------------------------------------------


def _kind(text: str | None) -> routine_rules.Kind:
    return routine_rules.Kind(text) if text in set(routine_rules.Kind) else routine_rules.Kind.DAILY


@get("/ui/routine", include_in_schema=False)
async def routine_page(request: Request, principal: NamedDependency[Principal]) -> Template:
    """The missing list of the chosen kind (the current day, week or month) and, for the
    user unit, the form and its latest records."""
    kind = _kind(request.query_params.get("kind"))
    today = clock.today()
    missing = await routines.missing(principal, kind, today=today, limit=PAGE_SIZE)
    recent = await routines.list_records(principal, limit=20)
    return page(
        request,
        "checks/routine.html",
        {
            "kind": kind.value,
            "kinds": routine_rules.KIND_LABELS,
            "missing": missing,
            "recent": recent.items,
            "can_record": principal.can(Permission.ROUTINE_RECORD),
            "today": today,
            "done": request.query_params.get("done") == "1",
        },
    )


@post("/ui/routine", include_in_schema=False)
async def routine_record(request: Request, principal: NamedDependency[Principal]) -> Redirect:
    principal.require(Permission.ROUTINE_RECORD)
    form = await request.form()
    kind = _kind(_text(form, "kind", 8))
    unit = _text(form, "equipment_id", 19)
    if not unit:
        raise InvalidValue("choose a unit", field="equipment_id")
    findings = _text(form, "findings", routines.MAX_FINDINGS)
    await routines.record(
        principal,
        _int(unit, "equipment_id"),
        kind,
        all_clear=not findings,
        findings=findings,
        day=_day(_text(form, "day", 10), "day"),
        today=clock.today(),
        now=clock.now(),
    )
    return Redirect(path=f"/ui/routine?kind={kind.value}&done=1", status_code=303)


CHECK_PAGES: list = [
    check_list,
    check_form,
    check_record,
    check_detail,
    hazard_list,
    hazard_detail,
    hazard_act,
    routine_page,
    routine_record,
]
