"""Citizen reports (举报/投诉) from a unit's public page: accepting one (signed form, rate
limits kept in the database), and the inspectors' list and counts per unit.

Reports are never shown publicly: reading them needs ``Permission.CITIZEN_REPORT_READ``,
and the list is cut to the reader's equipment scope like the register.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from equipment.domain import citizen_reports as rules
from equipment.domain.access import EquipmentScope, Permission, Principal
from equipment.domain.errors import Conflict, DomainError, InvalidValue, NotFound
from equipment.services import audit, clock
from equipment.settings import PublicSettings
from equipment.storage import reads, unit_of_work
from equipment.storage.citizen_reports import ReportCountRow, ReportFilter, ReportRow

RATE_WINDOW = timedelta(hours=1)
FINDINGS = ("upheld", "not_upheld")
MAX_NOTE = 2000


class RateLimited(DomainError):
    """Too many reports from one client or about one unit within the window."""

    def __init__(self, reason: str, *, scope: str, retry_after_s: int) -> None:
        super().__init__(reason)
        self.scope = scope  # "client" or "unit"
        self.retry_after_s = retry_after_s


_secret: bytes | None = None


async def form_key(configured: str | None) -> bytes:
    """The form-signing key: ``configured`` (SEREG_FORM_SECRET), else one random key kept
    in the database (made by whichever worker needs it first, then shared by all)."""
    global _secret
    if configured:
        return configured.encode()
    if _secret is None:
        stored = await reads().citizen_reports.site_secret(
            "form", make=secrets.token_hex(32), now=clock.now()
        )
        _secret = stored.encode()
    return _secret


def forget_cached_key() -> None:
    """Tests bind a fresh database: its key is not the previous one's."""
    global _secret
    _secret = None


@dataclass(frozen=True)
class Accepted:
    id: int


async def submit(
    equipment_id: int,
    report: rules.ReportInput,
    *,
    client_address: str,
    lang: str,
    now: datetime,
    limits: PublicSettings,
) -> Accepted:
    """Store a validated report unless a rate limit is reached (``RateLimited``)."""
    settings = limits
    key = rules.client_key(await form_key(limits.form_secret), client_address)
    since = now - RATE_WINDOW
    async with unit_of_work() as uow:
        reports = uow.citizen_reports
        await reports.lock_for_report()
        by_client = await reports.count_from_client(key, since=since)
        if by_client >= settings.reports_per_client_hour:
            raise RateLimited(
                "too many reports from this address within an hour",
                scope="client",
                retry_after_s=int(RATE_WINDOW.total_seconds()),
            )
        by_unit = await reports.count_about_unit(equipment_id, since=since)
        if by_unit >= settings.reports_per_unit_hour:
            raise RateLimited(
                "this unit has received many reports within the hour",
                scope="unit",
                retry_after_s=int(RATE_WINDOW.total_seconds()),
            )
        report_id = await reports.add(
            equipment_id=equipment_id,
            category=report.category,
            text=report.text,
            phone=report.phone,
            lang=lang,
            client_key=key,
            received_at=now,
        )
    return Accepted(report_id)


async def equipment_id_of(code: str) -> int | None:
    return await reads().equipment.id_by_code(code)


def _scope(principal: Principal, f: ReportFilter) -> EquipmentScope:
    principal.require(Permission.CITIZEN_REPORT_READ)
    if f.category is not None and f.category not in rules.CATEGORIES:
        raise InvalidValue(
            f"unknown category {f.category!r}; one of {sorted(rules.CATEGORIES)}",
            field="category",
        )
    return principal.equipment_scope()


async def list_reports(
    principal: Principal, f: ReportFilter, *, before_id: int | None, limit: int
) -> list[ReportRow]:
    """Newest first; the next page starts before the last id shown."""
    scope = _scope(principal, f)
    return await reads().citizen_reports.newest_first(scope, f, before_id=before_id, limit=limit)


async def counts_per_unit(
    principal: Principal, f: ReportFilter, *, limit: int
) -> list[ReportCountRow]:
    """Units by number of reports (most first), with the latest report's time."""
    return await reads().citizen_reports.counts_per_unit(_scope(principal, f), f, limit=limit)


async def decide(
    principal: Principal,
    report_id: int,
    *,
    finding: str,
    against: int | None,
    note: str,
    today: date,
    now: datetime,
) -> None:
    """The bureau's finding on a report it looked into: upheld (查实) against one of the
    unit's enterprises (its user unit unless named: the maintainer or the owning station
    may be the one at fault), or not upheld. Decided once, audited; an upheld report counts
    against that enterprise's credit class (equipment.domain.credit)."""
    principal.require(Permission.CREDIT_MANAGE)
    if finding not in FINDINGS:
        raise InvalidValue(f"a finding is one of {', '.join(FINDINGS)}", field="finding")
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise InvalidValue(f"a note holds at most {MAX_NOTE} characters", field="note")
    async with unit_of_work() as uow:
        report = await uow.citizen_reports.parties(report_id)
        if report is None:
            raise NotFound(f"citizen report {report_id} not found")
        if report.finding:
            raise Conflict(f"report {report_id} is decided already", field="finding")
        parties = [
            p
            for p in (
                report.user_unit,
                report.maintenance_company,
                report.owning_station,
            )
            if p is not None
        ]
        if finding == "upheld":
            against = report.user_unit if against is None else against
            if against not in parties:
                raise InvalidValue(
                    "a report is upheld against the unit's user unit, maintainer or owning station",
                    field="against",
                )
        else:
            against = None
        values = {
            "finding": finding,
            "against": against,
            "decided_on": today,
            "decision_note": note,
            "decided_by": principal.actor,
        }
        if not await uow.citizen_reports.decide(report_id, values):
            # Decided by another request since it was read above: nothing is written.
            raise Conflict(f"report {report_id} is decided already", field="finding")
        await audit.record(
            principal,
            entity="citizen_report",
            entity_id=report_id,
            action="decide",
            at=now,
            before=None,
            after=values,
        )
