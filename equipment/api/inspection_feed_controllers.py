"""HTTP handlers of the inspection bodies' feed (归集检验数据) and its clean-up list: thin,
the service decides."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter
from msgspec import Meta, Struct

from equipment.api import api_docs, bodies
from equipment.api.controllers import Limit, page_limit
from equipment.domain.access import Permission, Principal
from equipment.domain.record_sheets import CSV_MEDIA_TYPES, XLSX_MEDIA_TYPE
from equipment.i18n.spoken import speak
from equipment.services import clock, inspection_feed
from equipment.storage.inspection_feed import CleanupRow

EntryId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="clean-up entry id")]


class RejectedRow(Struct):
    row: int  # the row number the sheet shows (header: row 1); a JSON array's from 1
    reason: str
    field: str | None


class KeptRow(Struct):
    row: int
    report_no: str
    code: str
    cleanup_id: int  # its entry in GET /inspections/cleanup


class ReportUploadResult(Struct):
    received: int
    stored: int  # filed, the units' due dates recomputed
    unchanged: int  # report numbers already on file
    cleanup: list[KeptRow]  # for units the register does not hold: kept for clean-up
    rejected: list[RejectedRow]
    units_touched: list[int]


class CleanupEntry(Struct):
    id: int
    report_no: str
    unit_code: str
    inspection_body_id: int | None
    report: dict[str, Any]
    reason: str  # unit_not_found
    state: str  # open | resolved | dismissed
    received_at: datetime
    resolved_at: datetime | None
    equipment_id: int | None
    resolved_by: str
    note: str  # why it was dismissed


class Match(Struct, forbid_unknown_fields=True):
    """The unit the report belongs to: its equipment code or registration code."""

    code: Annotated[str, Meta(min_length=1, max_length=inspection_feed.MAX_CODE)]


class Dismiss(Struct, forbid_unknown_fields=True):
    """Why the report is dismissed (shown on the list, kept by the audit trail)."""

    reason: Annotated[str, Meta(min_length=1, max_length=inspection_feed.MAX_NOTE)]


def _entry(row: CleanupRow) -> CleanupEntry:
    return CleanupEntry(
        id=row.id,
        report_no=row.report_no,
        unit_code=row.unit_code,
        inspection_body_id=row.inspection_body,
        report=row.report,
        reason=row.reason,
        state=row.state,
        received_at=row.received_at,
        resolved_at=row.resolved_at,
        equipment_id=row.equipment,
        resolved_by=row.resolved_by,
        note=row.note,
    )


class InspectionFeedController(Controller):
    path = "/inspections"
    tags = ("inspections",)

    @post(
        "/reports",
        status_code=200,
        request_max_body_size=bodies.MAINTENANCE_UPLOAD_MAX_BYTES,
        responses=api_docs.WRITE,
    )
    async def upload(
        self,
        principal: NamedDependency[Principal],
        request: Request,
        language: NamedDependency[str],
    ) -> ReportUploadResult:
        """Upload inspection reports in bulk: a JSON array, a CSV body (``text/csv``, UTF-8
        or GBK) or an XLSX body, up to 5,000 reports and 8 MiB. Columns: report_no
        (报告编号, the idempotency key), code (设备注册代码 or 设备代码), kind (检验类别),
        inspected_on (检验日期), conclusion (检验结论), next_due_stated (下次检验日期),
        safety_grade, reason, findings. A report number on file changes nothing; a report
        for a unit the register lacks is kept on the clean-up list; each rejected row
        comes back with its reason. The units' due dates are recomputed."""
        principal.require(Permission.INSPECTION_RECORD)  # before reading a byte of the body
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        data = await request.body()
        if media in CSV_MEDIA_TYPES or media == XLSX_MEDIA_TYPE:
            rows = await inspection_feed.read_file(data, media)
        else:
            rows = inspection_feed.json_rows(bodies.decode_json(data))
        result = await inspection_feed.upload(principal, rows, today=clock.today(), now=clock.now())
        return ReportUploadResult(
            received=result.received,
            stored=result.stored,
            unchanged=result.unchanged,
            cleanup=[KeptRow(*kept) for kept in result.cleanup],
            rejected=[
                RejectedRow(row, speak(language, reason), field)
                for row, reason, field in result.rejected
            ],
            units_touched=sorted(result.units),
        )

    @get("/cleanup", responses=api_docs.READ)
    async def cleanup(
        self,
        principal: NamedDependency[Principal],
        entry_state: Annotated[
            Literal["open", "resolved", "dismissed"] | None, QueryParameter(name="state")
        ] = "open",
        limit: Limit = None,
    ) -> list[CleanupEntry]:
        """Reports kept for units the register does not hold, oldest first: every entry
        for the registration office, its own for an inspection body."""
        rows = await inspection_feed.cleanup_list(
            principal, state=entry_state, limit=page_limit(limit)
        )
        return [_entry(r) for r in rows]

    @post("/cleanup/{entry_id:int}/match", status_code=200, responses=api_docs.WRITE)
    async def match(
        self,
        principal: NamedDependency[Principal],
        entry_id: EntryId,
        data: JSONBody[Match],
    ) -> CleanupEntry:
        """File the kept report under the unit its code names, as the feed would have
        filed it (its checks, the unit's due dates recomputed); the entry is resolved.
        Scoped as the list: another body's entry, or a unit outside the caller's scope,
        is not found (404); an entry no longer open is 409."""
        row = await inspection_feed.match(
            principal, entry_id, code=data.code, today=clock.today(), now=clock.now()
        )
        return _entry(row)

    @post("/cleanup/{entry_id:int}/dismiss", status_code=200, responses=api_docs.WRITE)
    async def dismiss(
        self,
        principal: NamedDependency[Principal],
        entry_id: EntryId,
        data: JSONBody[Dismiss],
    ) -> CleanupEntry:
        """Dismiss the kept report with the reason (required); 409 once it is closed."""
        row = await inspection_feed.dismiss(
            principal, entry_id, reason=data.reason, now=clock.now()
        )
        return _entry(row)
