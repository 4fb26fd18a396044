"""Special campaigns (专项整治 / 回头看) and post-licence supervision (证后监管) in the staff
pages: the campaigns, one campaign's progress per district (with its XLSX) and its open
tasks, and the licence lists. Thin: equipment.services.campaigns and .licences decide
scope (the bureau all; an inspector the tasks inside his jurisdiction; nobody else)."""

from __future__ import annotations

from typing import Annotated

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import PathParameter
from litestar.response import Template

from equipment.domain.access import Principal
from equipment.i18n import N_
from equipment.services import campaigns, clock, licences
from equipment.web.staff import page

CampaignId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
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
    """Progress per district and the tasks the caller may work (open ones first)."""
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
        },
    )


@get("/ui/licences", include_in_schema=False)
async def licence_page(request: Request, principal: NamedDependency[Principal]) -> Template:
    """Licences expiring within 90 days, expired ones in use, units installed without a
    valid licence, manufacturers' annual reports."""
    view = await licences.overview(principal, today=clock.today())
    return page(request, "campaigns/licences.html", {"view": view})


CAMPAIGN_PAGES: list = [campaign_list, campaign_page, licence_page]
