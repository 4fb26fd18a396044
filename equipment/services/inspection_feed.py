"""The inspection bodies' feed (归集检验数据): reports uploaded in bulk, filed through the
same use case as one report (``inspections.record_inspection``: its checks, its due-date
recomputation, its hazards and audit), keyed by report number.

- a report number already on file changes nothing (the upload can be sent again);
- a report for a unit the register does not hold — or that the uploader cannot see, which
  it cannot tell apart — goes to the clean-up list for the registration office, kept
  with the report as received, never dropped;
- every other row that fails a check comes back with its reason and field, named by the
  row number the sheet shows (a JSON array's position from 1).

Each filed report is its own transaction: one unit's refusal (scrapped, a report older
than its manufacture) does not undo the others.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime

from equipment.domain import report_sheets
from equipment.domain.access import Permission, Principal, Role
from equipment.domain.errors import Conflict, DomainError, Forbidden, InvalidValue, NotFound
from equipment.domain.report_sheets import ReportInput, ReportRow
from equipment.services import audit, inspections
from equipment.services.pacing import Pacer
from equipment.storage import UnitOfWork, reads, unit_of_work
from equipment.storage.inspection_feed import CleanupRow

UNIT_NOT_FOUND = "unit_not_found"


@dataclass
class FeedResult:
    received: int
    stored: int = 0
    unchanged: int = 0
    # (row, report_no, code, clean-up entry id)
    cleanup: list[tuple[int, str, str, int]] = field(default_factory=list)
    rejected: list[tuple[int, str, str | None]] = field(default_factory=list)
    units: set[int] = field(default_factory=set)  # the units whose due dates moved


def _require_uploader(principal: Principal) -> None:
    principal.require(Permission.INSPECTION_RECORD)
    if principal.role is Role.INSPECTOR and principal.organisation_id is None:
        raise Forbidden("an upload is filed in an inspection body's name; this token has none")


def json_rows(payload: object) -> list[ReportRow]:
    return report_sheets.json_rows(payload)


async def read_file(data: bytes, media_type: str | None) -> list[ReportRow]:
    """A CSV or XLSX body's rows, read in a worker thread (untrusted CPU work)."""
    return await asyncio.to_thread(report_sheets.read_file, data, media_type)


async def upload(
    principal: Principal, rows: list[ReportRow], *, today: date, now: datetime
) -> FeedResult:
    _require_uploader(principal)
    result = FeedResult(received=len(rows))
    checked: list[tuple[int, ReportInput]] = []
    seen: set[str] = set()
    pacer = Pacer()
    for row in rows:
        await pacer.tick()
        try:
            report = report_sheets.check_report(row.fields, today=today)
        except DomainError as exc:
            result.rejected.append((row.number, exc.reason, exc.field))
            continue
        if report.report_no in seen:
            result.rejected.append(
                (
                    row.number,
                    f"report_no {report.report_no} is repeated in this upload",
                    "report_no",
                )
            )
            continue
        seen.add(report.report_no)
        checked.append((row.number, report))
    on_file = await reads().inspection_feed.reports_on_file(r.report_no for _, r in checked)
    units = await reads().inspection_feed.units_by_code(r.code for _, r in checked)
    for number, report in checked:
        await pacer.tick()
        if report.report_no in on_file:
            result.unchanged += 1
            continue
        unit = units.get(report.code)
        if unit is not None:
            try:
                await inspections.record_inspection(
                    principal, unit, report.as_inspection(), today=today, now=now
                )
            except NotFound:
                unit = None  # outside the uploader's scope: the same as unknown to it
            except (InvalidValue, Conflict, Forbidden) as exc:
                result.rejected.append((number, exc.reason, exc.field))
                continue
            else:
                result.stored += 1
                result.units.add(unit)
                continue
        entry = await _keep(principal, report, now=now)
        result.cleanup.append((number, report.report_no, report.code, entry))
    result.rejected.sort()
    return result


async def _keep(principal: Principal, report: ReportInput, *, now: datetime) -> int:
    async with unit_of_work() as uow:
        return await uow.inspection_feed.keep(
            {
                "report_no": report.report_no,
                "unit_code": report.code,
                "inspection_body": principal.organisation_id,
                "report": report.as_json(),
                "reason": UNIT_NOT_FOUND,
                "state": "open",
                "received_at": now,
                "actor": principal.actor,
            }
        )


# The clean-up list -----------------------------------------------------------------------


async def cleanup_list(principal: Principal, *, state: str | None, limit: int) -> list[CleanupRow]:
    """The registration office sees every entry; an inspection body its own uploads'."""
    _require_uploader(principal)
    body = None if principal.role is Role.ADMIN else principal.organisation_id
    return await reads().inspection_feed.listing(state=state, body=body, limit=limit)


MAX_CODE = 40  # the register's code columns
MAX_NOTE = 200  # a dismissal's reason


async def _visible_entry(principal: Principal, entry_id: int) -> CleanupRow:
    """The entry as the list shows it: every one to the registration office, its own
    body's to an inspector; any other is not found (404), as one that does not exist."""
    _require_uploader(principal)
    entry = await reads().inspection_feed.get(entry_id)
    body = None if principal.role is Role.ADMIN else principal.organisation_id
    if entry is None or (body is not None and entry.inspection_body != body):
        raise NotFound(f"clean-up entry {entry_id} not found")
    return entry


async def _close(
    uow: UnitOfWork,
    principal: Principal,
    entry_id: int,
    *,
    state: str,
    now: datetime,
    equipment: int | None = None,
    note: str = "",
) -> None:
    """Close the open entry in the caller's transaction, first of its writes: of two
    concurrent closes one wins, the other waits on the row and gets 409."""
    closed = await uow.inspection_feed.close(
        entry_id, state=state, by=principal.actor, at=now, equipment=equipment, note=note
    )
    if not closed:
        raise Conflict(f"clean-up entry {entry_id} is no longer open")


async def match(
    principal: Principal, entry_id: int, *, code: str, today: date, now: datetime
) -> CleanupRow:
    """File a kept report under the unit ``code`` names (its equipment code, registration
    code or shown code), as the feed would have filed it: the report's checks, the
    unit's due dates recomputed, audited; the entry is marked resolved, by whom and when.
    A unit the caller cannot see is not found, as one that does not exist."""
    entry = await _visible_entry(principal, entry_id)
    code = code.strip()
    if not code:
        raise InvalidValue("give the unit's equipment code or registration code", field="code")
    if len(code) > MAX_CODE:
        raise InvalidValue(f"a code has at most {MAX_CODE} characters", field="code")
    unknown = NotFound(f"no unit with the code {code} in the register", field="code")
    unit = (await reads().inspection_feed.units_by_code([code])).get(code)
    if unit is None:
        raise unknown
    report = ReportInput.from_json(entry.report)
    data = report.as_inspection() | {"inspection_body_id": entry.inspection_body}
    async with unit_of_work() as uow:
        await _close(uow, principal, entry_id, state="resolved", now=now, equipment=unit)
        if report.report_no in await uow.inspection_feed.reports_on_file([report.report_no]):
            raise Conflict(f"report {report.report_no} is already on file")
        try:
            await inspections.record_inspection(principal, unit, data, today=today, now=now)
        except NotFound:
            raise unknown from None  # outside the caller's scope (its jurisdiction)
        await audit.record(
            principal,
            entity="inspection_cleanup",
            entity_id=entry_id,
            action="resolved",
            at=now,
            before=None,
            after={"report_no": report.report_no, "code": code, "equipment_id": unit},
        )
        closed = await uow.inspection_feed.get(entry_id)
    assert closed is not None
    return closed


async def dismiss(principal: Principal, entry_id: int, *, reason: str, now: datetime) -> CleanupRow:
    """Dismiss a kept report (a duplicate, a unit outside the city...) with the reason,
    which the list shows and the audit trail keeps."""
    entry = await _visible_entry(principal, entry_id)
    reason = reason.strip()
    if not reason:
        raise InvalidValue("say why the report is dismissed", field="reason")
    if len(reason) > MAX_NOTE:
        raise InvalidValue(f"a reason has at most {MAX_NOTE} characters", field="reason")
    async with unit_of_work() as uow:
        await _close(uow, principal, entry_id, state="dismissed", now=now, note=reason)
        await audit.record(
            principal,
            entity="inspection_cleanup",
            entity_id=entry_id,
            action="dismissed",
            at=now,
            before=None,
            after={"report_no": entry.report_no, "reason": reason},
        )
        closed = await uow.inspection_feed.get(entry_id)
    assert closed is not None
    return closed
