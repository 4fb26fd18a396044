"""The clean-up list (数据清理) as a page: inspection reports an inspection body uploaded
for units the register does not hold, kept for the registration office to file under
the right unit or dismiss (``GET /api/v1/inspections/cleanup``).

Scoped as the API is (``inspection_feed.cleanup_list``): the registration office sees
every entry, an inspection body's inspector only its own body's uploads, and an
inspector bound to no body is refused (403). Each open entry has two forms, posted with
the session's CSRF token: file it under the unit a code names (``inspection_feed.match``:
filed as the feed would have filed it, the unit's due dates recomputed; a unit outside
the caller's jurisdiction is not found) or dismiss it with a reason
(``inspection_feed.dismiss``). A refused field is shown next to it; the result after the
redirect.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from equipment.domain import labels
from equipment.domain.access import Permission, Principal
from equipment.domain.errors import Conflict, DomainError, NotFound
from equipment.domain.report_sheets import ReportInput
from equipment.i18n import N_
from equipment.i18n.spoken import speak
from equipment.services import clock, inspection_feed
from equipment.storage.inspection_feed import CleanupRow
from equipment.web.alarm_pages import local_time
from equipment.web.staff import needs, page, staff_language

SHOWN = 500
STATES = {"open": N_("Open"), "resolved": N_("Filed under a unit"), "dismissed": N_("Dismissed")}
REASONS = {inspection_feed.UNIT_NOT_FOUND: N_("Unit not in the register")}


def _row(entry: CleanupRow, lang: str) -> dict[str, Any]:
    report = ReportInput.from_json(entry.report)
    return {
        "id": entry.id,
        "report_no": entry.report_no,
        "unit_code": entry.unit_code,
        "inspected_on": report.inspected_on.isoformat(),
        "kind": labels.label(labels.DUE_KIND, report.kind, lang),
        "conclusion": labels.label(labels.CONCLUSION, report.conclusion, lang),
        "reason": REASONS.get(entry.reason, entry.reason),
        "received": local_time(entry.received_at),
        "resolved": local_time(entry.resolved_at) if entry.resolved_at else "",
        "equipment": entry.equipment,
        "note": entry.note,
    }


def _state(value: str | None) -> str:
    return value if value in STATES else "open"


async def _list_page(
    request: Request,
    principal: Principal,
    *,
    state: str,
    status: int = 200,
    errors: dict[int, dict[str, str]] | None = None,
    forms: dict[int, dict[str, str]] | None = None,
    problem: str = "",
) -> Template:
    rows = await inspection_feed.cleanup_list(principal, state=state, limit=SHOWN)
    lang = staff_language(request)
    return page(
        request,
        "cleanup/list.html",
        {
            "rows": [_row(r, lang) for r in rows],
            "state": state,
            "states": STATES,
            "shown": SHOWN,
            "errors": errors or {},
            "forms": forms or {},
            "problem": problem,
            "matched": (request.query_params.get("matched") or "")[:64],
            "dismissed": (request.query_params.get("dismissed") or "")[:64],
            "max_code": inspection_feed.MAX_CODE,
            "max_note": inspection_feed.MAX_NOTE,
        },
        status_code=status,
    )


@get("/ui/cleanup", include_in_schema=False, guards=[needs(Permission.INSPECTION_RECORD)])
async def cleanup_list(request: Request, principal: NamedDependency[Principal]) -> Template:
    return await _list_page(request, principal, state=_state(request.query_params.get("state")))


def _text(form: Mapping[str, Any], name: str, limit: int) -> str:
    value = form.get(name)
    # One character over the limit is kept, so the service says the text is too long.
    return value.strip()[: limit + 1] if isinstance(value, str) else ""


async def _refused(
    request: Request,
    principal: Principal,
    entry_id: int,
    exc: DomainError,
    form: dict[str, str],
    field: str,
) -> Template:
    """The list again, the refusal next to the entry's field (or above it, a 409)."""
    message = speak(staff_language(request), exc.reason)
    if isinstance(exc, Conflict):
        return await _list_page(request, principal, state="open", status=409, problem=message)
    return await _list_page(
        request,
        principal,
        state="open",
        status=422,
        errors={entry_id: {field: message}},
        forms={entry_id: form},
    )


@post(
    "/ui/cleanup/{entry_id:int}/match",
    include_in_schema=False,
    guards=[needs(Permission.INSPECTION_RECORD)],
)
async def cleanup_match(
    request: Request, principal: NamedDependency[Principal], entry_id: FromPath[int]
) -> Template | Redirect:
    """File the entry's report under the unit the code names."""
    form = {"code": _text(await request.form(), "code", inspection_feed.MAX_CODE)}
    try:
        entry = await inspection_feed.match(
            principal, entry_id, code=form["code"], today=clock.today(), now=clock.now()
        )
    except NotFound as exc:
        if exc.field != "code":
            raise  # the entry itself: not found, as another body's
        return await _refused(request, principal, entry_id, exc, form, "code")
    except DomainError as exc:
        if exc.field is None and not isinstance(exc, Conflict):
            raise  # refused outright (403): the error page
        return await _refused(request, principal, entry_id, exc, form, "code")
    query = urlencode({"matched": entry.report_no})
    return Redirect(path=f"/ui/cleanup?{query}", status_code=303)


@post(
    "/ui/cleanup/{entry_id:int}/dismiss",
    include_in_schema=False,
    guards=[needs(Permission.INSPECTION_RECORD)],
)
async def cleanup_dismiss(
    request: Request, principal: NamedDependency[Principal], entry_id: FromPath[int]
) -> Template | Redirect:
    """Dismiss the entry with the reason."""
    form = {"reason": _text(await request.form(), "reason", inspection_feed.MAX_NOTE)}
    try:
        entry = await inspection_feed.dismiss(
            principal, entry_id, reason=form["reason"], now=clock.now()
        )
    except (Conflict, NotFound) as exc:
        if isinstance(exc, NotFound):
            raise
        return await _refused(request, principal, entry_id, exc, form, "reason")
    except DomainError as exc:
        if exc.field is None:
            raise
        return await _refused(request, principal, entry_id, exc, form, "reason")
    query = urlencode({"dismissed": entry.report_no})
    return Redirect(path=f"/ui/cleanup?{query}", status_code=303)


CLEANUP_PAGES: list[Any] = [cleanup_list, cleanup_match, cleanup_dismiss]
