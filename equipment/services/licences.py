"""Post-licence supervision (证后监管): manufacturers', installers' and inspection bodies'
licences and approvals, the acts done without one, manufacturers' annual reports.

Rules: equipment.domain.licences. The bureau (admin) records licences, installations
and reports; the bureau and inspectors read the lists (they are about licensed
organisations, not about units of a jurisdiction, so a bound inspector reads them too).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec

from equipment.domain import licences as rules
from equipment.domain.access import Permission, Principal
from equipment.domain.errors import InvalidValue, NotFound
from equipment.services import audit
from equipment.storage import reads, unit_of_work
from equipment.storage.licences import InstallationRecord, LicenceRecord, ReportRecord

MAX_TEXT = 500


async def add_licence(
    principal: Principal,
    organisation_id: int,
    *,
    kind: str,
    number: str,
    scope: str,
    valid_from: date,
    valid_until: date,
    now: datetime,
) -> LicenceRecord:
    principal.require(Permission.LICENCE_MANAGE)
    number, scope = number.strip(), scope.strip()
    if not number or len(number) > 64 or len(scope) > MAX_TEXT:
        raise InvalidValue("a licence needs a number (at most 64 characters)", field="number")
    if valid_until < valid_from:
        raise InvalidValue("a licence ends after it begins", field="valid_until")
    async with unit_of_work() as uow:
        org = await uow.licences.organisation(organisation_id)
        if org is None:
            raise NotFound(f"organisation {organisation_id} not found")
        if rules.KIND_OF_ORG.get(org.kind) != kind:
            raise InvalidValue(f"a {org.kind} holds no licence of kind {kind}", field="kind")
        row = await uow.licences.insert(
            {
                "organisation": organisation_id,
                "kind": kind,
                "scope": scope,
                "number": number,
                "valid_from": valid_from,
                "valid_until": valid_until,
                "actor": principal.actor,
                "created_at": now,
            }
        )
        await audit.record(
            principal,
            entity="licence",
            entity_id=row.id,
            action="add",
            at=now,
            before=None,
            after=msgspec.to_builtins(row),
        )
    return row


async def record_installation(
    principal: Principal,
    equipment_id: int,
    *,
    installer_id: int,
    installed_on: date | None,
    now: datetime,
) -> InstallationRecord:
    """Who installed the unit, and when (default: its commissioning date)."""
    principal.require(Permission.LICENCE_MANAGE)
    async with unit_of_work() as uow:
        commissioned = await uow.licences.unit_exists(equipment_id)
        if commissioned is False:
            raise NotFound(f"equipment {equipment_id} not found")
        day = installed_on or (commissioned if isinstance(commissioned, date) else None)
        if day is None:
            raise InvalidValue(
                "the unit has no commissioning date: give installed_on", field="installed_on"
            )
        org = await uow.licences.organisation(installer_id)
        if org is None or org.kind != "installer":
            raise NotFound(f"installer {installer_id} not found")
        return await uow.licences.record_installation(
            {
                "equipment": equipment_id,
                "installer": installer_id,
                "installed_on": day,
                "actor": principal.actor,
            }
        )


async def record_report(
    principal: Principal, organisation_id: int, *, year: int, submitted_on: date, now: datetime
) -> ReportRecord:
    principal.require(Permission.LICENCE_MANAGE)
    if not 2000 <= year <= submitted_on.year:
        raise InvalidValue("a report is for a past or the current year", field="year")
    async with unit_of_work() as uow:
        org = await uow.licences.organisation(organisation_id)
        if org is None or org.kind != "manufacturer":
            raise NotFound(f"manufacturer {organisation_id} not found")
        row = await uow.licences.put_report(
            {
                "organisation": organisation_id,
                "year": year,
                "submitted_on": submitted_on,
                "actor": principal.actor,
            }
        )
        await audit.record(
            principal,
            entity="annual_report",
            entity_id=row.id,
            action="record",
            at=now,
            before=None,
            after=msgspec.to_builtins(row),
        )
    return row


def _licence(row: LicenceRecord, names: dict[int, str]) -> dict[str, Any]:
    return {**msgspec.to_builtins(row), "organisation_name": names.get(row.organisation, "")}


async def overview(
    principal: Principal,
    *,
    today: date,
    year: int | None = None,
    warning_days: int = rules.EXPIRY_WARNING_DAYS,
) -> dict[str, Any]:
    """Every list of post-licence supervision at once: the licences, those expiring
    within ``warning_days``, organisations acting after their licence lapsed, units
    installed without a valid licence, and the annual reports of ``year`` (default: last
    year, the one reported on now) with the missing ones and the rate."""
    principal.require(Permission.LICENCE_READ)
    store = reads().licences
    year = year or today.year - 1
    orgs = await store.organisations(list(rules.KIND_OF_ORG))
    names = {o.id: o.name for o in orgs}
    licences = await store.of(list(names))
    by_org: dict[int, list[LicenceRecord]] = {}
    for x in licences:
        by_org.setdefault(x.organisation, []).append(x)

    installations = await store.installations()
    last_install: dict[int, date] = {}
    for i in installations:
        if i.installed_on > last_install.get(i.installer, date.min):
            last_install[i.installer] = i.installed_on
    last_inspection = await store.last_inspections(
        [o.id for o in orgs if o.kind == "inspection_body"]
    )
    lapsed = []
    for org in orgs:
        kind = rules.KIND_OF_ORG[org.kind]
        since = rules.lapsed_since(by_org.get(org.id, []), kind, today)
        if since is None:
            continue
        acted = (last_install if org.kind == "installer" else last_inspection).get(org.id)
        if org.kind == "manufacturer" or acted is None or acted < since:
            continue  # lapsed but not seen acting since: expired, not "in use"
        lapsed.append(
            {
                "organisation": org.id,
                "organisation_name": org.name,
                "kind": org.kind,
                "lapsed_since": since,
                "last_act_on": acted,
            }
        )
    unlicensed = [
        {
            "equipment": i.equipment,
            "installer": i.installer,
            "installer_name": names.get(i.installer, ""),
            "installed_on": i.installed_on,
        }
        for i in installations
        if not rules.valid_on(by_org.get(i.installer, []), "installation", i.installed_on)
    ]
    reports = await store.reports()
    reported = {r.organisation for r in reports if r.year == year}
    makers = [o for o in orgs if o.kind == "manufacturer"]
    rate = rules.ReportRate(year, len(makers), sum(1 for o in makers if o.id in reported))
    by_year: dict[int, set[int]] = {}
    for r in reports:
        by_year.setdefault(r.year, set()).add(r.organisation)
    maker_ids = {o.id for o in makers}
    rates = [
        {
            "year": y,
            "reported": len(by_year.get(y, set()) & maker_ids),
            "percent": rules.ReportRate(
                y, len(makers), len(by_year.get(y, set()) & maker_ids)
            ).percent,
        }
        for y in sorted(set(by_year) | {year})
    ]
    return {
        "today": today,
        "warning_days": warning_days,
        "licences": [_licence(x, names) for x in licences],
        "expiring": [_licence(x, names) for x in rules.expiring(licences, today, warning_days)],
        "expired_in_use": lapsed,
        "unlicensed_installations": unlicensed,
        "reports": {
            "year": year,
            "manufacturers": rate.manufacturers,
            "reported": rate.reported,
            "percent": rate.percent,
            "target_percent": rules.REPORT_TARGET_PERCENT,
            "met": rate.met,
            "missing": [
                {"organisation": o.id, "organisation_name": o.name}
                for o in makers
                if o.id not in reported
            ],
            "per_year": rates,
        },
    }
