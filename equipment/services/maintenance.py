"""Maintenance contracts and records: who maintains what, and whether they did."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

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
from equipment.services import audit, db, hazards, jurisdiction, schedules
from equipment.services.organisations import require_kind
from equipment.services.pacing import Pacer
from equipment.tables import (
    ContractUnit,
    DueDate,
    Equipment,
    MaintenanceContract,
    MaintenanceRecord,
)

MAX_UPLOAD_ROWS = 10_000
SCORE_WINDOW_DAYS = 90


# Contracts --------------------------------------------------------------------------------


async def create_contract(
    principal: Principal, data: dict[str, Any], *, today: date, now: datetime
) -> dict[str, Any]:
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
    valid_until = company["licence_valid_until"]
    if valid_until is None or valid_until < starts:
        raise InvalidValue(
            f"the company's licence {company['licence_no'] or ''} is not valid on "
            f"{starts.isoformat()}",
            field="maintenance_company_id",
        )
    ids = sorted(set(data["equipment_ids"]))
    async with db.transaction():
        units = (
            await Equipment.select(
                Equipment.id,
                Equipment.code,
                Equipment.user_unit,
                Equipment.status,
                Equipment.parameters,
                Equipment.next_inspection_due,
            )
            .where(Equipment.id.is_in(ids))
            .output(load_json=True)
        )
        found = {u["id"]: u for u in units}
        for unit_id in ids:
            unit = found.get(unit_id)
            if unit is None or unit["user_unit"] != user_unit:
                raise InvalidValue(
                    f"equipment {unit_id} is not a unit of this user unit", field="equipment_ids"
                )
            if unit["status"] in ("scrapped", "cancelled"):
                raise InvalidValue(f"{unit['code']} is {unit['status']}", field="equipment_ids")
            if data["on_demand"]:
                params = unit["parameters"] or {}
                refusals = on_demand_refusals(
                    iot_monitored=bool(params.get("iot_monitored")),
                    liability_insured=data["liability_insured"]
                    or bool(params.get("liability_insured")),
                    supervision_class=company["supervision_class"],
                    inspection_due=unit["next_inspection_due"],
                    today=today,
                )
                if refusals:
                    raise InvalidValue(
                        f"on-demand maintenance is not allowed for {unit['code']}: "
                        + "; ".join(refusals),
                        field="on_demand",
                    )
        await _refuse_overlaps(ids, starts, ends)
        [contract] = await MaintenanceContract.insert(
            MaintenanceContract(
                user_unit=user_unit,
                maintenance_company=company["id"],
                starts_on=starts,
                ends_on=ends,
                cycle_days=data["cycle_days"],
                on_demand=data["on_demand"],
                liability_insured=data["liability_insured"],
                licence_no=company["licence_no"] or "",
                actor=principal.actor,
                created_at=now,
            )
        ).returning(*MaintenanceContract.all_columns())
        await ContractUnit.insert(
            *[
                ContractUnit(contract=contract["id"], equipment=i, starts_on=starts, ends_on=ends)
                for i in ids
            ]
        )
        await audit.record(
            principal,
            entity="maintenance_contract",
            entity_id=contract["id"],
            action="create",
            at=now,
            before=None,
            after={**contract, "equipment_ids": ids},
        )
        await sync_maintainers(today, ids)
    return {**contract, "equipment_ids": ids}


async def _refuse_overlaps(ids: Sequence[int], starts: date, ends: date) -> None:
    rows = await ContractUnit.select(
        ContractUnit.equipment,
        ContractUnit.contract.id,
        ContractUnit.starts_on,
        ContractUnit.ends_on,
        ContractUnit.contract.terminated_on,
    ).where(
        ContractUnit.equipment.is_in(list(ids)),
        ContractUnit.starts_on <= ends,
        ContractUnit.ends_on >= starts,
    )
    for row in rows:
        end = min(row["ends_on"], row["contract.terminated_on"] or row["ends_on"])
        if end >= starts:
            raise Conflict(
                f"equipment {row['equipment']} is under contract {row['contract.id']} until "
                f"{end.isoformat()}; one maintenance contract per unit at a time",
                field="equipment_ids",
            )


async def terminate_contract(
    principal: Principal, contract_id: int, *, on: date, today: date, now: datetime
) -> dict[str, Any]:
    principal.require(Permission.CONTRACT_MANAGE)
    async with db.transaction():
        contract = await _visible_contract(principal, contract_id)
        if contract["terminated_on"] is not None:
            raise Conflict(
                f"contract {contract_id} was terminated on {contract['terminated_on'].isoformat()}"
            )
        if not contract["starts_on"] <= on <= contract["ends_on"]:
            raise InvalidValue("the termination day must lie within the contract", field="on")
        await MaintenanceContract.update({MaintenanceContract.terminated_on: on}).where(
            MaintenanceContract.id == contract_id
        )
        await audit.record(
            principal,
            entity="maintenance_contract",
            entity_id=contract_id,
            action="terminate",
            at=now,
            before=None,
            after={"terminated_on": on},
        )
        units = [
            r["equipment"]
            for r in await ContractUnit.select(ContractUnit.equipment).where(
                ContractUnit.contract == contract_id
            )
        ]
        await sync_maintainers(today, units)
        return await _visible_contract(principal, contract_id)


async def _visible_contract(principal: Principal, contract_id: int) -> dict[str, Any]:
    principal.require(Permission.CONTRACT_READ)
    query = _in_scope(
        principal, MaintenanceContract.select().where(MaintenanceContract.id == contract_id)
    )
    row = await query.first()
    if row is None:
        raise NotFound(f"contract {contract_id} not found")
    return row


def _in_scope(principal: Principal, query):
    """``query`` of contracts limited to those the principal may see."""
    scope = principal.equipment_scope()
    if scope.jurisdiction is not None:
        # A contract is the inspector's when one of its units is inside.
        query = query.where(
            MaintenanceContract.id.is_in(
                ContractUnit.select(ContractUnit.contract).where(
                    ContractUnit.equipment.is_in(jurisdiction.unit_ids(scope.jurisdiction))
                )
            )
        )
    elif scope.kind is ScopeKind.USER_UNIT:
        query = query.where(MaintenanceContract.user_unit == scope.org_id)
    elif scope.kind is ScopeKind.MAINTENANCE_COMPANY:
        query = query.where(MaintenanceContract.maintenance_company == scope.org_id)
    elif scope.kind is not ScopeKind.ALL:
        query = query.where(MaintenanceContract.id == -1)
    return query


async def list_contracts(
    principal: Principal, *, after_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """The contracts the principal may see, newest first (keyset on id), each with its
    company's name and how many units it covers."""
    principal.require(Permission.CONTRACT_READ)
    query = MaintenanceContract.select(
        *MaintenanceContract.all_columns(),
        MaintenanceContract.maintenance_company.name.as_alias("company_name"),
    )
    query = _in_scope(principal, query).order_by(MaintenanceContract.id, ascending=False)
    if after_id is not None:
        query = query.where(MaintenanceContract.id < after_id)
    rows = await query.limit(limit)
    counts: dict[int, int] = {}
    if rows:
        for r in await ContractUnit.select(ContractUnit.contract).where(
            ContractUnit.contract.is_in([r["id"] for r in rows])
        ):
            counts[r["contract"]] = counts.get(r["contract"], 0) + 1
    return [{**r, "unit_count": counts.get(r["id"], 0)} for r in rows]


async def get_contract(principal: Principal, contract_id: int) -> dict[str, Any]:
    contract = await _visible_contract(principal, contract_id)
    units = await ContractUnit.select(ContractUnit.equipment).where(
        ContractUnit.contract == contract_id
    )
    return {**contract, "equipment_ids": [u["equipment"] for u in units]}


async def active_spans(unit_ids: Sequence[int]) -> dict[int, list[ContractSpan]]:
    """Every contract period of these units, ended at termination where terminated."""
    spans: dict[int, list[ContractSpan]] = {}
    for chunk_start in range(0, len(unit_ids), 1000):
        chunk = list(unit_ids[chunk_start : chunk_start + 1000])
        rows = await ContractUnit.select(
            ContractUnit.equipment,
            ContractUnit.starts_on,
            ContractUnit.ends_on,
            ContractUnit.contract.id,
            ContractUnit.contract.maintenance_company,
            ContractUnit.contract.cycle_days,
            ContractUnit.contract.terminated_on,
        ).where(ContractUnit.equipment.is_in(chunk))
        for r in rows:
            end = r["ends_on"]
            if r["contract.terminated_on"] is not None:
                end = min(end, r["contract.terminated_on"])
            spans.setdefault(r["equipment"], []).append(
                ContractSpan(
                    r["contract.id"],
                    r["contract.maintenance_company"],
                    r["starts_on"],
                    end,
                    r["contract.cycle_days"],
                )
            )
    return spans


async def sync_maintainers(today: date, unit_ids: Sequence[int] | None = None) -> int:
    """Make each covered unit's maintenance company the one of its active contract."""
    if unit_ids is None:
        unit_ids = [
            r["equipment"] for r in await ContractUnit.select(ContractUnit.equipment).distinct()
        ]
    spans = await active_spans(list(unit_ids))
    changed = 0
    for unit_id in unit_ids:
        active = next(
            (s for s in spans.get(unit_id, ()) if s.starts_on <= today <= s.ends_on), None
        )
        company = active.company_id if active else None
        current = (
            await Equipment.select(Equipment.maintenance_company)
            .where(Equipment.id == unit_id)
            .first()
        )
        if current is not None and current["maintenance_company"] != company:
            await Equipment.update({Equipment.maintenance_company: company}).where(
                Equipment.id == unit_id
            )
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
    async with db.transaction():
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
    wanted = list(codes)
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        rows = await Equipment.select(
            Equipment.id,
            Equipment.code,
            Equipment.registration_code,
            Equipment.equipment_code,
            Equipment.status,
            Equipment.commissioning_date,
        ).where(Equipment.code.is_in(chunk) | Equipment.equipment_code.is_in(chunk))
        for r in rows:
            facts = UnitFacts(r["id"], r["status"], r["commissioning_date"])
            for key in (r["code"], r["registration_code"], r["equipment_code"]):
                if key in codes:
                    found[key] = facts
    return found


RECORD_COLUMNS = (
    "equipment",
    "contract",
    "maintenance_company",
    "record_id",
    "maintained_on",
    "level",
    "items",
    "technicians",
    "findings",
    "hazards",
    "signed_off_by",
    "suspicious_reason",
    "recorded_at",
)


def _record_values(
    record: RecordInput, unit: UnitFacts, span: ContractSpan, company_id: int, now: datetime
) -> dict[str, Any]:
    return {
        "equipment": unit.id,
        "contract": span.contract_id,
        "maintenance_company": company_id,
        "record_id": record.record_id,
        "maintained_on": record.maintained_on,
        "level": record.level.value,
        "items": json.dumps(list(record.items), ensure_ascii=False),
        "technicians": json.dumps([t.__dict__ for t in record.technicians], ensure_ascii=False),
        "findings": record.findings,
        "hazards": json.dumps(list(record.hazards), ensure_ascii=False),
        "signed_off_by": record.signed_off_by,
        "suspicious_reason": "",
        "recorded_at": now,
    }


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
    if db.is_postgres():
        # COPY into a scratch table, then one INSERT ... ON CONFLICT: bulk speed with the
        # idempotency the unique (company, record_id) index gives.
        conn = db.engine().current_transaction.get().connection
        await conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS upload_scratch (LIKE maintenance_record "
            "INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        await conn.copy_records_to_table(
            "upload_scratch",
            columns=list(RECORD_COLUMNS),
            records=[tuple(v[c] for c in RECORD_COLUMNS) for v in values],
        )
        columns = ", ".join(RECORD_COLUMNS)
        rows = await conn.fetch(
            f"INSERT INTO maintenance_record ({columns}) SELECT {columns} FROM upload_scratch "
            "ON CONFLICT (maintenance_company, record_id) DO NOTHING RETURNING record_id"
        )
        return {r["record_id"] for r in rows}
    stored: set[str] = set()
    for start in range(0, len(values), 500):
        rows = (
            await MaintenanceRecord.insert(
                *[MaintenanceRecord(**v) for v in values[start : start + 500]]
            )
            .on_conflict(action="DO NOTHING")
            .returning(MaintenanceRecord.record_id)
        )
        stored.update(r["record_id"] for r in rows)
    return stored


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
    ids = list(latest)
    current = {}
    for start in range(0, len(ids), 1000):
        for r in await Equipment.select(Equipment.id, Equipment.last_maintenance_on).where(
            Equipment.id.is_in(ids[start : start + 1000])
        ):
            current[r["id"]] = r["last_maintenance_on"]
    moved = [(i, d, c) for i, (d, c) in latest.items() if current[i] is None or current[i] < d]
    if not moved:
        return
    if db.is_postgres():
        conn = db.engine().current_transaction.get().connection
        await conn.execute(
            "UPDATE equipment e SET last_maintenance_on = v.day FROM "
            "unnest($1::bigint[], $2::date[]) AS v(id, day) WHERE e.id = v.id",
            [m[0] for m in moved],
            [m[1] for m in moved],
        )
        await conn.execute(
            "UPDATE due_date d SET due_on = v.day + v.cycle, base_date = v.day, "
            "explanation = 'maintenance every ' || v.cycle || ' days (TSG T5002-2017): last on '"
            " || v.day || ', due by ' || (v.day + v.cycle) FROM "
            "unnest($1::bigint[], $2::date[], $3::int[]) AS v(id, day, cycle) "
            "WHERE d.equipment = v.id AND d.kind = 'maintenance'",
            [m[0] for m in moved],
            [m[1] for m in moved],
            [m[2] for m in moved],
        )
        return
    for unit_id, day, cycle in moved:
        await Equipment.update({Equipment.last_maintenance_on: day}).where(Equipment.id == unit_id)
        due_on = day + timedelta(days=cycle)
        await DueDate.update(
            {
                DueDate.due_on: due_on,
                DueDate.base_date: day,
                DueDate.explanation: f"maintenance every {cycle} days (TSG T5002-2017): last on "
                f"{day.isoformat()}, due by {due_on.isoformat()}",
            }
        ).where(DueDate.equipment == unit_id, DueDate.kind == "maintenance")


async def list_records(principal: Principal, equipment_id: int) -> list[dict[str, Any]]:
    principal.require(Permission.MAINTENANCE_READ)
    from equipment.services.register import get_equipment

    await get_equipment(principal, equipment_id)
    return (
        await MaintenanceRecord.select()
        .where(MaintenanceRecord.equipment == equipment_id)
        .order_by(MaintenanceRecord.maintained_on)
        .output(load_json=True)
    )


async def company_score(principal: Principal, company_id: int, *, today: date) -> dict[str, Any]:
    """Share of the company's lifts maintained within their cycle over the last 90 days."""
    principal.require(Permission.MAINTENANCE_READ)
    scope = principal.equipment_scope()
    if scope.kind is ScopeKind.MAINTENANCE_COMPANY and scope.org_id != company_id:
        raise NotFound(f"organisation {company_id} not found")
    if scope.kind not in (ScopeKind.ALL, ScopeKind.MAINTENANCE_COMPANY):
        raise Forbidden("only the regulator and the company itself see its score")
    start = today - timedelta(days=SCORE_WINDOW_DAYS)
    rows = await ContractUnit.select(
        ContractUnit.equipment,
        ContractUnit.starts_on,
        ContractUnit.ends_on,
        ContractUnit.contract.cycle_days,
        ContractUnit.contract.terminated_on,
        ContractUnit.equipment.category.as_alias("category"),
    ).where(
        ContractUnit.contract.maintenance_company == company_id,
        ContractUnit.starts_on <= today,
        ContractUnit.ends_on >= start,
    )
    lifts = [r for r in rows if catalogue.is_lift(r["category"])]
    visits: dict[int, list[date]] = {}
    if lifts:
        records = await MaintenanceRecord.select(
            MaintenanceRecord.equipment, MaintenanceRecord.maintained_on
        ).where(
            MaintenanceRecord.maintenance_company == company_id,
            MaintenanceRecord.equipment.is_in([r["equipment"] for r in lifts]),
            MaintenanceRecord.maintained_on >= start - timedelta(days=90),
        )
        for r in records:
            visits.setdefault(r["equipment"], []).append(r["maintained_on"])
    on_time = 0
    late_units = []
    for r in lifts:
        end = min(today, r["ends_on"], r["contract.terminated_on"] or r["ends_on"])
        begin = max(start, r["starts_on"])
        days = visits.get(r["equipment"], [])
        # The last visit before the window counts as the stretch's start.
        before = [d for d in days if d < begin]
        anchor = max(before) if before and begin == start else begin
        if maintained_on_time(days, cycle_days=r["contract.cycle_days"], start=anchor, end=end):
            on_time += 1
        else:
            late_units.append(r["equipment"])
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
    records = await MaintenanceRecord.select(
        MaintenanceRecord.id,
        MaintenanceRecord.equipment,
        MaintenanceRecord.maintained_on,
        MaintenanceRecord.suspicious_reason,
    ).where(MaintenanceRecord.equipment.is_in(unit_ids), MaintenanceRecord.maintained_on >= since)
    for r in records:
        reason = faked_maintenance_reason(days.get((r["equipment"], r["maintained_on"])))
        if reason and not r["suspicious_reason"]:
            await MaintenanceRecord.update({MaintenanceRecord.suspicious_reason: reason}).where(
                MaintenanceRecord.id == r["id"]
            )
            flagged += 1
    return flagged


async def suspicious_records(principal: Principal, *, limit: int) -> list[dict[str, Any]]:
    """Records telemetry contradicts, newest first: the inspector's list."""
    principal.require(Permission.MAINTENANCE_READ)
    query = MaintenanceRecord.select().where(MaintenanceRecord.suspicious_reason != "")
    scope = principal.equipment_scope()
    if scope.kind is ScopeKind.MAINTENANCE_COMPANY:
        query = query.where(MaintenanceRecord.maintenance_company == scope.org_id)
    elif scope.jurisdiction is not None:
        query = query.where(
            MaintenanceRecord.equipment.is_in(jurisdiction.unit_ids(scope.jurisdiction))
        )
    elif scope.kind is not ScopeKind.ALL:
        query = query.where(
            MaintenanceRecord.equipment.is_in(
                Equipment.select(Equipment.id).where(Equipment.user_unit == scope.org_id)
            )
        )
    return (
        await query.order_by(MaintenanceRecord.maintained_on, ascending=False)
        .limit(limit)
        .output(load_json=True)
    )
