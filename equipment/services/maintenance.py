"""Maintenance contracts and records: who maintains what, and whether they did."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import msgspec

from equipment.domain import catalogue
from equipment.domain.access import OrgKind, Permission, Principal, Role, ScopeKind
from equipment.domain.errors import Conflict, DomainError, Forbidden, InvalidValue, NotFound
from equipment.domain.hazards import Source
from equipment.domain.maintenance import (
    ContractSpan,
    RecordInput,
    TelemetryDay,
    UnitFacts,
    check_cycle,
    check_record,
    faked_maintenance_reason,
    maintained_on_time,
    on_demand_refusals,
    parse_record,
)
from equipment.domain.record_sheets import SheetRow, read_sheet
from equipment.services import audit, hazards, schedules
from equipment.services.organisations import require_kind
from equipment.services.pacing import Pacer
from equipment.storage import reads, unit_of_work
from equipment.storage.maintenance import (
    Contract,
    ContractListing,
    ContractRecord,
    MaintenanceRecordRow,
    NewContract,
    NewMaintenanceRecord,
)

MAX_UPLOAD_ROWS = 10_000
SCORE_WINDOW_DAYS = 90


# Contracts --------------------------------------------------------------------------------


async def create_contract(
    principal: Principal, data: dict[str, Any], *, today: date, now: datetime
) -> Contract:
    principal.require(Permission.CONTRACT_MANAGE)
    user_unit = data["user_unit_id"]
    if principal.role is Role.USER_UNIT and principal.organisation_id != user_unit:
        raise Forbidden("a user unit signs contracts only for itself", field="user_unit_id")
    starts, ends = data["starts_on"], data["ends_on"]
    if ends <= starts:
        raise InvalidValue("the contract must end after it starts", field="ends_on")
    check_cycle(data["cycle_days"], data["on_demand"])
    company = await require_kind(
        data["maintenance_company_id"], OrgKind.MAINTENANCE_COMPANY, field="maintenance_company_id"
    )
    valid_until = company.licence_valid_until
    if valid_until is None or valid_until < starts:
        raise InvalidValue(
            f"the company's licence {company.licence_no or ''} is not valid on "
            f"{starts.isoformat()}",
            field="maintenance_company_id",
        )
    ids = sorted(set(data["equipment_ids"]))
    async with unit_of_work() as uow:
        found = {u.id: u for u in await uow.maintenance.units_for_contract(ids)}
        for unit_id in ids:
            unit = found.get(unit_id)
            if unit is None or unit.user_unit != user_unit:
                raise InvalidValue(
                    f"equipment {unit_id} is not a unit of this user unit", field="equipment_ids"
                )
            if unit.status in ("scrapped", "cancelled"):
                raise InvalidValue(f"{unit.code} is {unit.status}", field="equipment_ids")
            if data["on_demand"]:
                params = unit.parameters or {}
                refusals = on_demand_refusals(
                    iot_monitored=bool(params.get("iot_monitored")),
                    liability_insured=data["liability_insured"]
                    or bool(params.get("liability_insured")),
                    supervision_class=company.supervision_class,
                    inspection_due=unit.next_inspection_due,
                    today=today,
                )
                if refusals:
                    raise InvalidValue(
                        f"on-demand maintenance is not allowed for {unit.code}: "
                        + "; ".join(refusals),
                        field="on_demand",
                    )
        await _refuse_overlaps(ids, starts, ends)
        contract = await uow.maintenance.add_contract(
            NewContract(
                user_unit=user_unit,
                maintenance_company=company.id,
                starts_on=starts,
                ends_on=ends,
                cycle_days=data["cycle_days"],
                on_demand=data["on_demand"],
                liability_insured=data["liability_insured"],
                licence_no=company.licence_no or "",
                actor=principal.actor,
                created_at=now,
            ),
            ids,
        )
        created = Contract(contract, ids)
        await audit.record(
            principal,
            entity="maintenance_contract",
            entity_id=contract.id,
            action="create",
            at=now,
            before=None,
            after={**msgspec.structs.asdict(contract), "equipment_ids": ids},
        )
        await sync_maintainers(today, ids)
    return created


async def _refuse_overlaps(ids: Sequence[int], starts: date, ends: date) -> None:
    for period in await reads().maintenance.overlapping(ids, starts, ends):
        end = min(period.ends_on, period.terminated_on or period.ends_on)
        if end >= starts:
            raise Conflict(
                f"equipment {period.equipment} is under contract {period.contract_id} until "
                f"{end.isoformat()}; one maintenance contract per unit at a time",
                field="equipment_ids",
            )


async def terminate_contract(
    principal: Principal, contract_id: int, *, on: date, today: date, now: datetime
) -> ContractRecord:
    principal.require(Permission.CONTRACT_MANAGE)
    async with unit_of_work() as uow:
        contract = await _visible_contract(principal, contract_id)
        if contract.terminated_on is not None:
            raise Conflict(
                f"contract {contract_id} was terminated on {contract.terminated_on.isoformat()}"
            )
        if not contract.starts_on <= on <= contract.ends_on:
            raise InvalidValue("the termination day must lie within the contract", field="on")
        await uow.maintenance.terminate(contract_id, on)
        await audit.record(
            principal,
            entity="maintenance_contract",
            entity_id=contract_id,
            action="terminate",
            at=now,
            before=None,
            after={"terminated_on": on},
        )
        await sync_maintainers(today, await uow.maintenance.unit_ids_of(contract_id))
        return await _visible_contract(principal, contract_id)


async def _visible_contract(principal: Principal, contract_id: int) -> ContractRecord:
    principal.require(Permission.CONTRACT_READ)
    row = await reads().maintenance.visible_contract(principal.equipment_scope(), contract_id)
    if row is None:
        raise NotFound(f"contract {contract_id} not found")
    return row


async def list_contracts(
    principal: Principal, *, after_id: int | None, limit: int
) -> list[ContractListing]:
    """The contracts the principal may see, newest first (keyset on id), each with its
    company's name and how many units it covers."""
    principal.require(Permission.CONTRACT_READ)
    return await reads().maintenance.contracts(
        principal.equipment_scope(), after_id=after_id, limit=limit
    )


async def get_contract(principal: Principal, contract_id: int) -> Contract:
    contract = await _visible_contract(principal, contract_id)
    return Contract(contract, await reads().maintenance.unit_ids_of(contract_id))


async def active_spans(unit_ids: Sequence[int]) -> dict[int, list[ContractSpan]]:
    """Every contract period of these units, ended at termination where terminated."""
    spans: dict[int, list[ContractSpan]] = {}
    for r in await reads().maintenance.covered_periods(unit_ids):
        end = r.ends_on
        if r.terminated_on is not None:
            end = min(end, r.terminated_on)
        spans.setdefault(r.equipment, []).append(
            ContractSpan(r.contract_id, r.maintenance_company, r.starts_on, end, r.cycle_days)
        )
    return spans


async def sync_maintainers(today: date, unit_ids: Sequence[int] | None = None) -> int:
    """Make each covered unit's maintenance company the one of its active contract."""
    repository = reads().maintenance
    if unit_ids is None:
        unit_ids = await repository.covered_unit_ids()
    spans = await active_spans(list(unit_ids))
    changed = 0
    for unit_id in unit_ids:
        active = next(
            (s for s in spans.get(unit_id, ()) if s.starts_on <= today <= s.ends_on), None
        )
        company = active.company_id if active else None
        if await repository.set_maintainer(unit_id, company):
            changed += 1
        # The cycle (on-demand or not) and the copied company column live in due_date.
        await schedules.recompute(unit_id, today)
    return changed


# Records ------------------------------------------------------------------------------------


@dataclass
class UploadResult:
    received: int
    stored: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str, str | None]] = field(default_factory=list)


async def upload_records(
    principal: Principal,
    rows: Sequence[Mapping[str, Any]] | Sequence[SheetRow],
    *,
    today: date,
    now: datetime,
) -> UploadResult:
    """Store the valid rows of an upload, all of them; name each rejected row and why.

    ``rows`` are JSON objects, numbered from 1 in the order received, or the rows of a
    spreadsheet (equipment.domain.record_sheets), named by the number the sheet shows
    (the header is row 1). A record id already stored for this company is a duplicate,
    stored once.
    """
    principal.require(Permission.MAINTENANCE_UPLOAD)
    company_id = principal.organisation_id
    if len(rows) > MAX_UPLOAD_ROWS:
        raise InvalidValue(f"an upload holds at most {MAX_UPLOAD_ROWS:,} rows, not {len(rows):,}")
    sheet = [
        row if isinstance(row, SheetRow) else SheetRow(number, row)
        for number, row in enumerate(rows, start=1)
    ]
    result = UploadResult(received=len(rows))
    parsed: list[tuple[int, RecordInput]] = []
    seen: set[str] = set()
    pacer = Pacer()
    for row in sheet:
        await pacer.tick()
        number = row.number
        try:
            if row.problem is not None:
                raise row.problem
            record = parse_record(row.fields)
        except DomainError as exc:
            result.rejected.append((number, exc.reason, exc.field))
            continue
        if record.record_id in seen:
            result.rejected.append(
                (number, f"record_id {record.record_id} is repeated in this upload", "record_id")
            )
            continue
        seen.add(record.record_id)
        parsed.append((number, record))
    units = await _units_by_code({r.code for _, r in parsed})
    spans = await active_spans([u.id for u in units.values()])
    accepted: list[tuple[RecordInput, UnitFacts, ContractSpan]] = []
    for number, record in parsed:
        await pacer.tick()
        unit = units.get(record.code)
        try:
            span = check_record(
                record,
                unit,
                spans.get(unit.id, ()) if unit else (),
                company_id=company_id,
                today=today,
            )
        except DomainError as exc:
            result.rejected.append((number, exc.reason, exc.field))
            continue
        accepted.append((record, unit, span))
    result.rejected.sort()
    async with unit_of_work():
        stored = await _store(accepted, company_id, now)
        result.stored = len(stored)
        result.duplicates = len(accepted) - len(stored)
        await _advance_maintenance(accepted, stored, today)
        await _open_hazards(principal, accepted, stored, today, now)
        await audit.record(
            principal,
            entity="maintenance_upload",
            entity_id=company_id,
            action="upload",
            at=now,
            before=None,
            after={
                "received": result.received,
                "stored": result.stored,
                "duplicates": result.duplicates,
                "rejected": len(result.rejected),
            },
        )
    return result


async def upload_file(
    principal: Principal,
    data: bytes,
    *,
    media_type: str | None,
    filename: str | None,
    today: date,
    now: datetime,
) -> UploadResult:
    """Store the records of an uploaded CSV or XLSX file (what a browser form sends): as
    :func:`upload_records`, each rejected row named by the row number the sheet shows.

    Reading the file runs in a worker thread (a workbook of 10,000 rows takes a second of
    CPU), refused at the first row past the cap.
    """
    principal.require(Permission.MAINTENANCE_UPLOAD)
    rows = await asyncio.to_thread(
        partial(
            read_sheet, data, media_type=media_type, filename=filename, max_rows=MAX_UPLOAD_ROWS
        )
    )
    return await upload_records(principal, rows, today=today, now=now)


async def _units_by_code(codes: set[str]) -> dict[str, UnitFacts]:
    found: dict[str, UnitFacts] = {}
    for r in await reads().maintenance.units_by_codes(list(codes)):
        facts = UnitFacts(r.id, r.status, r.commissioning_date)
        for key in (r.code, r.registration_code, r.equipment_code):
            if key in codes:
                found[key] = facts
    return found


def _record_values(
    record: RecordInput, unit: UnitFacts, span: ContractSpan, company_id: int, now: datetime
) -> NewMaintenanceRecord:
    return NewMaintenanceRecord(
        equipment=unit.id,
        contract=span.contract_id,
        maintenance_company=company_id,
        record_id=record.record_id,
        maintained_on=record.maintained_on,
        level=record.level.value,
        items=json.dumps(list(record.items), ensure_ascii=False),
        technicians=json.dumps([t.__dict__ for t in record.technicians], ensure_ascii=False),
        findings=record.findings,
        hazards=json.dumps(list(record.hazards), ensure_ascii=False),
        signed_off_by=record.signed_off_by,
        suspicious_reason="",
        recorded_at=now,
    )


async def _store(
    accepted: list[tuple[RecordInput, UnitFacts, ContractSpan]], company_id: int, now: datetime
) -> set[str]:
    """Insert, skipping record ids this company stored before; the ids newly stored."""
    if not accepted:
        return set()
    values = []
    pacer = Pacer()
    for record, unit, span in accepted:
        values.append(_record_values(record, unit, span, company_id, now))
        await pacer.tick()
    return await reads().maintenance.store_records(values)


async def _open_hazards(
    principal: Principal,
    accepted: list[tuple[RecordInput, UnitFacts, ContractSpan]],
    stored: set[str],
    today: date,
    now: datetime,
) -> None:
    """A stored record's hazards column opens one hazard per entry (a duplicate record,
    stored before, opened its hazards then)."""
    for record, unit, _ in accepted:
        if record.hazards and record.record_id in stored:
            await hazards.open_from(
                principal,
                unit.id,
                record.hazards,
                source=Source.MAINTENANCE,
                source_ref=f"maintenance:{record.record_id}",
                found_on=record.maintained_on,
                today=today,
                now=now,
            )


async def _advance_maintenance(
    accepted: list[tuple[RecordInput, UnitFacts, ContractSpan]], stored: set[str], today: date
) -> None:
    """Move each unit's last maintenance day and its maintenance due date forward."""
    latest: dict[int, tuple[date, int]] = {}
    for record, unit, span in accepted:
        if record.record_id not in stored:
            continue
        best = latest.get(unit.id)
        if best is None or record.maintained_on > best[0]:
            latest[unit.id] = (record.maintained_on, span.cycle_days)
    if not latest:
        return
    current = await reads().maintenance.last_maintenance(list(latest))
    moved = [(i, d, c) for i, (d, c) in latest.items() if (last := current[i]) is None or last < d]
    await reads().maintenance.advance(moved)


async def list_records(principal: Principal, equipment_id: int) -> list[MaintenanceRecordRow]:
    principal.require(Permission.MAINTENANCE_READ)
    from equipment.services.register import get_equipment

    await get_equipment(principal, equipment_id)
    return await reads().maintenance.records_of(equipment_id)


async def company_score(principal: Principal, company_id: int, *, today: date) -> dict[str, Any]:
    """Share of the company's lifts maintained within their cycle over the last 90 days."""
    principal.require(Permission.MAINTENANCE_READ)
    scope = principal.equipment_scope()
    if scope.kind is ScopeKind.MAINTENANCE_COMPANY and scope.org_id != company_id:
        raise NotFound(f"organisation {company_id} not found")
    if scope.kind not in (ScopeKind.ALL, ScopeKind.MAINTENANCE_COMPANY):
        raise Forbidden("only the regulator and the company itself see its score")
    start = today - timedelta(days=SCORE_WINDOW_DAYS)
    repository = reads().maintenance
    rows = await repository.scored_units(company_id, start, today)
    lifts = [r for r in rows if catalogue.is_lift(r.category)]
    visits: dict[int, list[date]] = {}
    if lifts:
        since = start - timedelta(days=90)
        for v in await repository.visits(company_id, [r.equipment for r in lifts], since):
            visits.setdefault(v.equipment, []).append(v.maintained_on)
    on_time = 0
    late_units = []
    for r in lifts:
        end = min(today, r.ends_on, r.terminated_on or r.ends_on)
        begin = max(start, r.starts_on)
        days = visits.get(r.equipment, [])
        # The last visit before the window counts as the stretch's start.
        before = [d for d in days if d < begin]
        anchor = max(before) if before and begin == start else begin
        if maintained_on_time(days, cycle_days=r.cycle_days, start=anchor, end=end):
            on_time += 1
        else:
            late_units.append(r.equipment)
    return {
        "maintenance_company_id": company_id,
        "window_days": SCORE_WINDOW_DAYS,
        "lifts": len(lifts),
        "maintained_on_time": on_time,
        "share_on_time": round(on_time / len(lifts), 4) if lifts else None,
        "late_equipment_ids": sorted(late_units),
    }


async def flag_faked_records(days: Mapping[tuple[int, date], TelemetryDay], *, since: date) -> int:
    """The hook lift telemetry calls: mark records its day summaries contradict.

    ``days`` maps (equipment id, day) to that day's telemetry summary. Returns how many
    records were newly flagged for the inspector.
    """
    if not days:
        return 0
    unit_ids = sorted({unit for unit, _ in days})
    flagged = 0
    repository = reads().maintenance
    for r in await repository.records_since(unit_ids, since):
        reason = faked_maintenance_reason(days.get((r.equipment, r.maintained_on)))
        if reason and not r.suspicious_reason:
            await repository.flag(r.id, reason)
            flagged += 1
    return flagged


async def suspicious_records(principal: Principal, *, limit: int) -> list[MaintenanceRecordRow]:
    """Records telemetry contradicts, newest first: the inspector's list."""
    principal.require(Permission.MAINTENANCE_READ)
    return await reads().maintenance.suspicious(principal.equipment_scope(), limit=limit)
