"""Citizen reports (举报/投诉) and the form-signing key they are signed with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

import msgspec
from piccolo.query import OrderByRaw
from piccolo.query.functions.aggregate import Count, Max

from equipment.domain.access import EquipmentScope, ScopeKind
from equipment.storage import db, jurisdiction
from equipment.storage.equipment import Clause
from equipment.storage.tables import CitizenReport, SiteSecret

# All report writes queue on one advisory lock on PostgreSQL (SQLite's IMMEDIATE
# transaction already serialises writers), so two reports sent together cannot both
# pass the count: reports are few, the queue is short.
_REPORT_LOCK = 0x5E4E6_0001


@dataclass(frozen=True)
class ReportFilter:
    equipment_id: int | None = None
    category: str | None = None
    district_code: str | None = None
    since: date | None = None  # received on or after (China time is the caller's business)
    until: date | None = None  # received before the end of this day


class ReportRow(msgspec.Struct, frozen=True):
    id: int
    equipment_id: int
    code: str
    district_code: str
    category: str
    text: str
    phone: str
    lang: str
    received_at: datetime
    finding: str
    against: int | None
    decided_on: date | None


class ReportParties(msgspec.Struct, frozen=True):
    """A report with the enterprises of its unit: who a finding may be against."""

    id: int
    equipment_id: int
    finding: str
    user_unit: int | None
    maintenance_company: int | None
    owning_station: int | None


class ReportCountRow(msgspec.Struct, frozen=True):
    equipment_id: int
    code: str
    reports: int
    last_received_at: datetime


def _clauses(scope: EquipmentScope, f: ReportFilter) -> list[Clause]:
    found: list[Clause] = []
    column = {
        ScopeKind.USER_UNIT: CitizenReport.equipment.user_unit,
        ScopeKind.MAINTENANCE_COMPANY: CitizenReport.equipment.maintenance_company,
        ScopeKind.OWNING_STATION: CitizenReport.equipment.owning_station,
    }.get(scope.kind)
    if scope.jurisdiction is not None:
        found.append(CitizenReport.equipment.is_in(jurisdiction.unit_ids(scope.jurisdiction)))
    elif column is not None:
        found.append(column == scope.org_id)
    if f.category is not None:
        found.append(CitizenReport.category == f.category)
    if f.equipment_id is not None:
        found.append(CitizenReport.equipment == f.equipment_id)
    if f.district_code is not None:
        found.append(CitizenReport.equipment.district_code == f.district_code)
    if f.since is not None:
        found.append(CitizenReport.received_at >= datetime.combine(f.since, datetime.min.time()))
    if f.until is not None:
        end = datetime.combine(f.until + timedelta(days=1), datetime.min.time())
        found.append(CitizenReport.received_at < end)
    return found


def _where(query: Any, clauses: list[Clause]) -> Any:
    for clause in clauses:
        query = query.where(clause)
    return query


class CitizenReportRepository:
    async def site_secret(self, name: str, *, make: str, now: datetime) -> str:
        """The stored secret ``name``; ``make`` is stored first when there is none yet
        (whichever worker comes first wins, the others read its value)."""
        row = await SiteSecret.select(SiteSecret.value).where(SiteSecret.name == name).first()
        if row is None:
            await SiteSecret.insert(SiteSecret(name=name, value=make, created_at=now)).on_conflict(
                action="DO NOTHING"
            )
            row = await SiteSecret.select(SiteSecret.value).where(SiteSecret.name == name).first()
        assert row is not None
        return cast(str, row["value"])

    async def lock_for_report(self) -> None:
        """Inside the report's transaction: one report write at a time."""
        if db.is_postgres():
            await CitizenReport.raw("SELECT pg_advisory_xact_lock({})", _REPORT_LOCK)

    async def count_from_client(self, client_key: str, *, since: datetime) -> int:
        return int(
            await CitizenReport.count().where(
                (CitizenReport.client_key == client_key) & (CitizenReport.received_at > since)
            )
        )

    async def count_about_unit(self, equipment_id: int, *, since: datetime) -> int:
        return int(
            await CitizenReport.count().where(
                (CitizenReport.equipment == equipment_id) & (CitizenReport.received_at > since)
            )
        )

    async def add(
        self,
        *,
        equipment_id: int,
        category: str,
        text: str,
        phone: str,
        lang: str,
        client_key: str,
        received_at: datetime,
    ) -> int:
        rows = await CitizenReport.insert(
            CitizenReport(
                equipment=equipment_id,
                category=category,
                text=text,
                phone=phone,
                lang=lang,
                client_key=client_key,
                received_at=received_at,
            )
        ).returning(CitizenReport.id)
        return cast(int, rows[0]["id"])

    async def newest_first(
        self, scope: EquipmentScope, f: ReportFilter, *, before_id: int | None, limit: int
    ) -> list[ReportRow]:
        clauses = _clauses(scope, f)
        if before_id is not None:
            clauses.append(CitizenReport.id < before_id)
        query = CitizenReport.select(
            CitizenReport.id,
            CitizenReport.equipment.as_alias("equipment_id"),
            CitizenReport.equipment.code.as_alias("code"),
            CitizenReport.equipment.district_code.as_alias("district_code"),
            CitizenReport.category,
            CitizenReport.text,
            CitizenReport.phone,
            CitizenReport.lang,
            CitizenReport.received_at,
            CitizenReport.finding,
            CitizenReport.against,
            CitizenReport.decided_on,
        )
        rows = await _where(query, clauses).order_by(CitizenReport.id, ascending=False).limit(limit)
        return [msgspec.convert(r, ReportRow, strict=False) for r in rows]

    async def counts_per_unit(
        self, scope: EquipmentScope, f: ReportFilter, *, limit: int
    ) -> list[ReportCountRow]:
        """Units by number of reports (most first, then by unit), with the latest's time."""
        query = CitizenReport.select(
            CitizenReport.equipment.as_alias("equipment_id"),
            CitizenReport.equipment.code.as_alias("code"),
            Count(CitizenReport.id, alias="reports"),
            Max(CitizenReport.received_at, alias="last_received_at"),
        ).group_by(CitizenReport.equipment, CitizenReport.equipment.code)
        query = _where(query, _clauses(scope, f)).order_by(OrderByRaw("reports"), ascending=False)
        query = query.order_by(CitizenReport.equipment)
        return [msgspec.convert(r, ReportCountRow, strict=False) for r in await query.limit(limit)]

    async def parties(self, report_id: int) -> ReportParties | None:
        row = (
            await CitizenReport.select(
                CitizenReport.id,
                CitizenReport.equipment.as_alias("equipment_id"),
                CitizenReport.finding,
                CitizenReport.equipment.user_unit.as_alias("user_unit"),
                CitizenReport.equipment.maintenance_company.as_alias("maintenance_company"),
                CitizenReport.equipment.owning_station.as_alias("owning_station"),
            )
            .where(CitizenReport.id == report_id)
            .first()
        )
        return None if row is None else msgspec.convert(row, ReportParties, strict=False)

    async def decide(self, report_id: int, values: dict[str, Any]) -> bool:
        """Store the finding unless the report has one; False: another finding was stored
        first (two decisions sent together: the later waits for the first's row lock, then
        finds the report decided)."""
        rows = (
            await CitizenReport.update({getattr(CitizenReport, k): v for k, v in values.items()})
            .where((CitizenReport.id == report_id) & (CitizenReport.finding == ""))
            .returning(CitizenReport.id)
        )
        return bool(rows)
