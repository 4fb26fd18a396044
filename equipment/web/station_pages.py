"""The enterprise client of a filling station (企业客户端, 充装单位): today's fills with
their verdicts, the refused and suspicious ones, a cylinder lookup with the interlock's
permit answer, and the station's own cylinders due for inspection.

Every page calls the services the API calls (equipment/services/fills.py, due.py): the
station sees its own fills and cylinders only, and the permit speaks of another's
cylinder as the interlock does (code 08, nothing of the owner's).
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any

import msgspec
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template

from equipment.api import views
from equipment.domain import aliases
from equipment.domain import fills as fill_rules
from equipment.domain.access import Principal
from equipment.domain.errors import InvalidValue, NotFound
from equipment.i18n import Translator
from equipment.i18n.spoken import speak
from equipment.services import clock, due, fills
from equipment.storage.fills import FillRow
from equipment.web import company_labels as labels
from equipment.web.staff import page, staff_language

PAGE_SIZE = 50
DUE_WITHIN_DAYS = 30  # the inspector's "due within 30 days" horizon, overdue ones too
MAX_CODE = 64  # the API's cylinder code limit (equipment/api/ingest_controllers.py)
Before = Annotated[int | None, QueryParameter(name="before", ge=1, le=2**63 - 1, required=False)]
Cursor = Annotated[str | None, QueryParameter(name="cursor", max_length=400, required=False)]
Text = Annotated[str | None, QueryParameter(max_length=200, required=False)]


def _fill_row(row: FillRow, lang: str) -> dict[str, Any]:
    return {
        **msgspec.structs.asdict(row),
        "verdict_label": fill_rules.verdict_label(fill_rules.VerdictCode(row.verdict), lang),
        "reason_texts": [r.text for r in views.verdict_reasons(row.reasons, lang)],
        "filled_local": row.filled_at.astimezone(clock.CHINA).strftime("%m-%d %H:%M"),
    }


async def _fills_page(
    request: Request,
    principal: Principal,
    template: str,
    filters: fills.FillFilter,
    before: int | None,
) -> Template:
    lang = staff_language(request)
    found = await fills.list_fills(principal, filters, before_id=before, limit=PAGE_SIZE)
    return page(
        request,
        template,
        {
            "fills": [_fill_row(r, lang) for r in found.items],
            "next_before": found.next_cursor,
            "today": clock.today(),
        },
    )


@get("/ui/station/fills", include_in_schema=False)
async def todays_fills(
    request: Request, principal: NamedDependency[Principal], before: Before = None
) -> Template:
    """The station's fills since midnight (China time), newest first, with verdicts."""
    midnight = datetime.combine(clock.today(), time(0), tzinfo=clock.CHINA)
    return await _fills_page(
        request, principal, "station/fills.html", fills.FillFilter(since=midnight), before
    )


@get("/ui/station/refused", include_in_schema=False)
async def refused_fills(
    request: Request, principal: NamedDependency[Principal], before: Before = None
) -> Template:
    """Refused and suspicious fills, newest first, each with its reasons."""
    return await _fills_page(
        request, principal, "station/refused.html", fills.FillFilter(flagged=True), before
    )


@get("/ui/station/cylinders", include_in_schema=False)
async def cylinder_lookup(
    request: Request,
    principal: NamedDependency[Principal],
    code: Text = None,
    medium: Text = None,
) -> Template:
    """May this station fill the cylinder now? The interlock's answer (the same codes a
    fill would be recorded with) and, for its own cylinder, its latest fills."""
    lang = staff_language(request)
    _ = Translator(lang)
    form = {"code": (code or "").strip(), "medium": (medium or "").strip()}
    context: dict[str, Any] = {"form": form, "errors": {}, "permit": None, "trace": None}
    if code is None:  # the empty form: nothing asked yet
        return page(request, "station/cylinders.html", context)
    if not form["code"] or len(form["code"]) > MAX_CODE or "/" in form["code"]:
        context["errors"]["code"] = _("Enter the cylinder's code (at most 64 characters).")
        return page(request, "station/cylinders.html", context, status_code=422)
    try:
        trace = await fills.cylinder_trace(principal, form["code"], limit=10)
    except NotFound:
        trace = None  # not the station's own: the permit below says all it may know
    if medium is None and trace is not None:
        # Opened from a list (no medium asked): the medium its own cylinder is registered for.
        form["medium"] = trace.cylinder.medium or ""
    if not form["medium"]:
        context["errors"]["medium"] = _("Enter the medium to fill (LPG, 液化石油气, O2...).")
        return page(request, "station/cylinders.html", context, status_code=422)
    now = clock.now()
    try:
        answer = await fills.fill_permit(
            principal,
            form["code"],
            station_code=None,
            medium=aliases.medium_code(form["medium"]),
            now=now,
        )
    except InvalidValue as refused:
        context["errors"][refused.field or "code"] = speak(lang, refused.reason)
        return page(request, "station/cylinders.html", context, status_code=422)
    context["permit"] = views.fill_permit(answer, lang)
    if trace is not None:
        facts = trace.cylinder
        context["trace"] = {
            "status": labels.label(labels.STATUS, facts.status, _),
            "medium": facts.medium,
            "next_periodic_due": facts.next_periodic_due,
            "fill_count": trace.state.fill_count if trace.state else 0,
            "fills": [_fill_row(r, lang) for r in trace.fills],
        }
    return page(request, "station/cylinders.html", context)


@get("/ui/station/due", include_in_schema=False)
async def cylinders_due(
    request: Request, principal: NamedDependency[Principal], cursor: Cursor = None
) -> Template:
    """The station's own cylinders overdue or due for inspection within 30 days."""
    lang = staff_language(request)
    _ = Translator(lang)
    found = await due.due_list(
        principal,
        due.DueFilter(within_days=DUE_WITHIN_DAYS),
        today=clock.today(),
        cursor=cursor,
        limit=PAGE_SIZE,
    )
    items = [
        {
            **i,
            "explanation": speak(lang, i["explanation"] or ""),
            "state_label": labels.label(labels.DUE_STATES, i["state"], _),
        }
        for i in found.items
    ]
    return page(
        request,
        "station/due.html",
        {"items": items, "next_cursor": found.next_cursor, "within_days": DUE_WITHIN_DAYS},
    )


PAGES: list = [todays_fills, refused_fills, cylinder_lookup, cylinders_due]
