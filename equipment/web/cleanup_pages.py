"""The clean-up list (数据清理) as a page: inspection reports an inspection body uploaded
for units the register does not hold, kept for the registration office to file under
the right unit or dismiss (``GET /api/v1/inspections/cleanup``).

Scoped as the API is (``inspection_feed.cleanup_list``): the registration office sees
every entry, an inspection body's inspector only its own body's uploads, and an
inspector bound to no body is refused (403). Filing an entry stays on the API (the
office names the unit by id).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from equipment.domain import labels
from equipment.domain.access import Permission, Principal
from equipment.domain.report_sheets import ReportInput
from equipment.i18n import N_
from equipment.services import inspection_feed
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
    }


@get("/ui/cleanup", include_in_schema=False, guards=[needs(Permission.INSPECTION_RECORD)])
async def cleanup_list(request: Request, principal: NamedDependency[Principal]) -> Template:
    state = request.query_params.get("state", "open")
    if state not in STATES:
        state = "open"
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
        },
    )


CLEANUP_PAGES: list[Any] = [cleanup_list]
