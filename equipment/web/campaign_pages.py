"""Special campaigns (专项整治 / 回头看) and post-licence supervision (证后监管) in the staff
pages: the campaigns, one campaign's progress per district (with its XLSX) and its open
tasks, and the licence lists. Thin: equipment.services.campaigns and .licences decide
scope (the bureau all; an inspector the tasks inside his jurisdiction; nobody else)."""

from __future__ import annotations

from typing import Annotated

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import PathParameter
from litestar.response import Redirect, Template

from equipment.domain.access import Principal
from equipment.domain.errors import Conflict, InvalidValue
from equipment.i18n import N_, Translator
from equipment.i18n.spoken import speak
from equipment.services import campaigns, clock, licences
from equipment.web.staff import page, staff_language

CampaignId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
TaskId = Annotated[int, PathParameter(ge=1, le=2**63 - 1)]
KINDS = {"campaign": N_("Special campaign"), "follow_up": N_("Follow-up check")}
STATES = {"open": N_("Open"), "done": N_("Done")}


@get("/ui/campaigns", include_in_schema=False)
async def campaign_list(request: Request, principal: NamedDependency[Principal]) -> Template:
    """Every campaign, newest first."""
    rows = await campaigns.list_campaigns(principal)
    return page(request, "campaigns/list.html", {"campaigns": rows, "kinds": KINDS})


@get("/ui/campaigns/{campaign_id:int}", include_in_schema=False)
async def campaign_page(
    request: Request, principal: NamedDependency[Principal], campaign_id: CampaignId
) -> Template:
    """Progress per district and the tasks the caller may work (open ones first), each
    open one with the form that closes it with its supervision check."""
    return await _campaign_page(request, principal, campaign_id)


async def _campaign_page(
    request: Request,
    principal: Principal,
    campaign_id: int,
    *,
    problem: str = "",
    status: int = 200,
) -> Template:
    campaign = await campaigns.get_campaign(principal, campaign_id)
    progress = await campaigns.progress(principal, campaign_id)
    tasks = await campaigns.list_tasks(principal, campaign_id)
    tasks.sort(key=lambda t: (t.state != "open", t.district_code, t.id))
    return page(
        request,
        "campaigns/campaign.html",
        {
            "campaign": campaign,
            "progress": progress,
            "tasks": tasks[:500],
            "kinds": KINDS,
            "states": STATES,
            "problem": problem,
        },
        status_code=status,
    )


@post("/ui/campaigns/tasks/{task_id:int}/complete", include_in_schema=False)
async def complete(
    request: Request, principal: NamedDependency[Principal], task_id: TaskId
) -> Template | Redirect:
    """Close a task with the number of the check recorded for its target."""
    task = await campaigns.get_task(principal, task_id)  # 404 outside the caller's scope
    form = await request.form()
    raw = str(form.get("check_id") or "").strip()
    lang = staff_language(request)
    _ = Translator(lang)
    if not raw.isdigit() or not 1 <= int(raw) < 2**63:
        return await _campaign_page(
            request,
            principal,
            task.campaign,
            problem=_("A check number is a whole number."),
            status=422,
        )
    try:
        await campaigns.complete_task(
            principal, task_id, check_id=int(raw), today=clock.today(), now=clock.now()
        )
    except (InvalidValue, Conflict) as exc:
        return await _campaign_page(
            request, principal, task.campaign, problem=speak(lang, exc.reason), status=422
        )
    return Redirect(path=f"/ui/campaigns/{task.campaign}", status_code=303)


@get("/ui/licences", include_in_schema=False)
async def licence_page(request: Request, principal: NamedDependency[Principal]) -> Template:
    """Licences expiring within 90 days, expired ones in use, units installed without a
    valid licence, manufacturers' annual reports."""
    view = await licences.overview(principal, today=clock.today())
    return page(request, "campaigns/licences.html", {"view": view})


CAMPAIGN_PAGES: list = [campaign_list, campaign_page, complete, licence_page]
