"""Citizen reports (举报/投诉) from a unit's public page: accepting one (signed form, rate
limits kept in the database), and the inspectors' list and counts per unit.

Reports are never shown publicly: reading them needs ``Permission.CITIZEN_REPORT_READ``,
and the list is cut to the reader's equipment scope like the register.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from piccolo.query import OrderByRaw
from piccolo.query.functions.aggregate import Count, Max

from equipment.domain import citizen_reports as rules
from equipment.domain.access import Permission, Principal, ScopeKind
from equipment.domain.errors import DomainError, InvalidValue
from equipment.services import clock
from equipment.storage import db
from equipment.tables import CitizenReport, Equipment, SiteSecret
from sereg.settings import get_settings

RATE_WINDOW = timedelta(hours=1)
# All report writes queue on one advisory lock on PostgreSQL (SQLite's IMMEDIATE
# transaction already serialises writers), so two reports sent together cannot both
# pass the count: reports are few, the queue is short.
_REPORT_LOCK = 0x5E4E6_0001


class RateLimited(DomainError):
    """Too many reports from one client or about one unit within the window."""

    def __init__(self, reason: str, *, scope: str, retry_after_s: int) -> None:
        super().__init__(reason)
        self.scope = scope  # "client" or "unit"
        self.retry_after_s = retry_after_s


_secret: bytes | None = None


async def form_key() -> bytes:
    """The form-signing key: SEREG_FORM_SECRET, else one random key kept in the database
    (made by whichever worker needs it first, then shared by all)."""
    global _secret
    configured = get_settings().public.form_secret
    if configured:
        return configured.encode()
    if _secret is None:
        row = await SiteSecret.select(SiteSecret.value).where(SiteSecret.name == "form").first()
        if row is None:
            await SiteSecret.insert(
                SiteSecret(name="form", value=secrets.token_hex(32), created_at=clock.now())
            ).on_conflict(action="DO NOTHING")
            row = await SiteSecret.select(SiteSecret.value).where(SiteSecret.name == "form").first()
        assert row is not None
        _secret = row["value"].encode()
    return _secret


def forget_cached_key() -> None:
    """Tests bind a fresh database: its key is not the previous one's."""
    global _secret
    _secret = None


@dataclass(frozen=True)
class Accepted:
    id: int


async def submit(
    equipment_id: int, report: rules.ReportInput, *, client_address: str, lang: str, now: datetime
) -> Accepted:
    """Store a validated report unless a rate limit is reached (``RateLimited``)."""
    settings = get_settings().public
    key = rules.client_key(await form_key(), client_address)
    since = now - RATE_WINDOW
    async with db.transaction():
        if db.is_postgres():
            await CitizenReport.raw("SELECT pg_advisory_xact_lock({})", _REPORT_LOCK)
        by_client = await CitizenReport.count().where(
            (CitizenReport.client_key == key) & (CitizenReport.received_at > since)
        )
        if by_client >= settings.reports_per_client_hour:
            raise RateLimited(
                "too many reports from this address within an hour",
                scope="client",
                retry_after_s=int(RATE_WINDOW.total_seconds()),
            )
        by_unit = await CitizenReport.count().where(
            (CitizenReport.equipment == equipment_id) & (CitizenReport.received_at > since)
        )
        if by_unit >= settings.reports_per_unit_hour:
            raise RateLimited(
                "this unit has received many reports within the hour",
                scope="unit",
                retry_after_s=int(RATE_WINDOW.total_seconds()),
            )
        rows = await CitizenReport.insert(
            CitizenReport(
                equipment=equipment_id,
                category=report.category,
                text=report.text,
                phone=report.phone,
                lang=lang,
                client_key=key,
                received_at=now,
            )
        ).returning(CitizenReport.id)
    return Accepted(rows[0]["id"])


async def equipment_id_of(code: str) -> int | None:
    row = (
        await Equipment.select(Equipment.id)
        .where(
            (Equipment.code == code)
            | (Equipment.registration_code == code)
            | (Equipment.equipment_code == code)
        )
        .first()
    )
    return None if row is None else row["id"]


@dataclass(frozen=True)
class ReportFilter:
    equipment_id: int | None = None
    category: str | None = None
    district_code: str | None = None
    since: date | None = None  # received on or after (China time is the caller's business)
    until: date | None = None  # received before the end of this day


def _scope(principal: Principal):
    principal.require(Permission.CITIZEN_REPORT_READ)
    scope = principal.equipment_scope()
    column = {
        ScopeKind.USER_UNIT: CitizenReport.equipment.user_unit,
        ScopeKind.MAINTENANCE_COMPANY: CitizenReport.equipment.maintenance_company,
        ScopeKind.OWNING_STATION: CitizenReport.equipment.owning_station,
    }.get(scope.kind)
    return None if column is None else column == scope.org_id


def _clauses(principal: Principal, f: ReportFilter) -> list[Any]:
    clauses = []
    scope = _scope(principal)
    if scope is not None:
        clauses.append(scope)
    if f.category is not None:
        if f.category not in rules.CATEGORIES:
            raise InvalidValue(
                f"unknown category {f.category!r}; one of {sorted(rules.CATEGORIES)}",
                field="category",
            )
        clauses.append(CitizenReport.category == f.category)
    if f.equipment_id is not None:
        clauses.append(CitizenReport.equipment == f.equipment_id)
    if f.district_code is not None:
        clauses.append(CitizenReport.equipment.district_code == f.district_code)
    if f.since is not None:
        clauses.append(CitizenReport.received_at >= datetime.combine(f.since, datetime.min.time()))
    if f.until is not None:
        end = datetime.combine(f.until + timedelta(days=1), datetime.min.time())
        clauses.append(CitizenReport.received_at < end)
    return clauses


def _where(query, clauses: list[Any]):
    for clause in clauses:
        query = query.where(clause)
    return query


async def list_reports(
    principal: Principal, f: ReportFilter, *, before_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """Newest first; the next page starts before the last id shown."""
    clauses = _clauses(principal, f)
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
    )
    return await _where(query, clauses).order_by(CitizenReport.id, ascending=False).limit(limit)


async def counts_per_unit(principal: Principal, f: ReportFilter, *, limit: int) -> list[dict]:
    """Units by number of reports (most first), with the latest report's time."""
    clauses = _clauses(principal, f)
    query = CitizenReport.select(
        CitizenReport.equipment.as_alias("equipment_id"),
        CitizenReport.equipment.code.as_alias("code"),
        Count(CitizenReport.id, alias="reports"),
        Max(CitizenReport.received_at, alias="last_received_at"),
    ).group_by(CitizenReport.equipment, CitizenReport.equipment.code)
    query = _where(query, clauses).order_by(OrderByRaw("reports"), ascending=False)
    query = query.order_by(CitizenReport.equipment)
    return await query.limit(limit)
