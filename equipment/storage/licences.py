"""Post-licence supervision (证后监管): licences and approvals, who installed which unit,
manufacturers' annual reports, and the acts (installations, inspections) checked against
them. Every table access of equipment.services.licences is here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import msgspec
from piccolo.query.functions.aggregate import Max

from equipment.storage.tables import (
    AnnualReport,
    Equipment,
    Inspection,
    Installation,
    Licence,
    Organisation,
)


def _date(value: Any) -> date:
    # SQLite gives an aggregate of a date column back as text.
    return date.fromisoformat(value) if isinstance(value, str) else value


class LicenceRecord(msgspec.Struct, frozen=True):
    id: int
    organisation: int
    kind: str
    scope: str
    number: str
    valid_from: date
    valid_until: date
    actor: str
    created_at: datetime


class InstallationRecord(msgspec.Struct, frozen=True):
    id: int
    equipment: int
    installer: int
    installed_on: date
    actor: str


class ReportRecord(msgspec.Struct, frozen=True):
    id: int
    organisation: int
    year: int
    submitted_on: date
    actor: str


class OrgName(msgspec.Struct, frozen=True):
    id: int
    kind: str
    name: str


class LicenceRepository:
    async def insert(self, values: Mapping[str, Any]) -> LicenceRecord:
        [row] = await Licence.insert(Licence(**values)).returning(*Licence.all_columns())
        return msgspec.convert(row, LicenceRecord, strict=False)

    async def all(self) -> list[LicenceRecord]:
        rows = await Licence.select(*Licence.all_columns()).order_by(Licence.id)
        return [msgspec.convert(r, LicenceRecord, strict=False) for r in rows]

    async def of(self, organisations: Sequence[int]) -> list[LicenceRecord]:
        if not organisations:
            return []
        rows = await Licence.select(*Licence.all_columns()).where(
            Licence.organisation.is_in(list(organisations))
        )
        return [msgspec.convert(r, LicenceRecord, strict=False) for r in rows]

    async def organisations(self, kinds: Sequence[str]) -> list[OrgName]:
        rows = (
            await Organisation.select(Organisation.id, Organisation.kind, Organisation.name)
            .where(Organisation.kind.is_in(list(kinds)))
            .order_by(Organisation.id)
        )
        return [msgspec.convert(r, OrgName, strict=False) for r in rows]

    async def organisation(self, org_id: int) -> OrgName | None:
        row = (
            await Organisation.select(Organisation.id, Organisation.kind, Organisation.name)
            .where(Organisation.id == org_id)
            .first()
        )
        return None if row is None else msgspec.convert(row, OrgName, strict=False)

    async def unit_exists(self, equipment_id: int) -> date | bool | None:
        """False: no such unit; else its commissioning date (None when unknown)."""
        row = (
            await Equipment.select(Equipment.commissioning_date)
            .where(Equipment.id == equipment_id)
            .first()
        )
        return False if row is None else row["commissioning_date"]

    async def record_installation(self, values: Mapping[str, Any]) -> InstallationRecord:
        await Installation.delete().where(Installation.equipment == values["equipment"])
        [row] = await Installation.insert(Installation(**values)).returning(
            *Installation.all_columns()
        )
        return msgspec.convert(row, InstallationRecord, strict=False)

    async def installations(self) -> list[InstallationRecord]:
        rows = await Installation.select(*Installation.all_columns()).order_by(Installation.id)
        return [msgspec.convert(r, InstallationRecord, strict=False) for r in rows]

    async def last_inspections(self, bodies: Sequence[int]) -> dict[int, date]:
        """Each inspection body's latest inspection date."""
        if not bodies:
            return {}
        rows = (
            await Inspection.select(
                Inspection.inspection_body, Max(Inspection.inspected_on, alias="last")
            )
            .where(Inspection.inspection_body.is_in(list(bodies)))
            .group_by(Inspection.inspection_body)
        )
        return {int(r["inspection_body"]): _date(r["last"]) for r in rows}

    async def put_report(self, values: Mapping[str, Any]) -> ReportRecord:
        """One report per organisation and year: a second replaces the first's date."""
        await AnnualReport.delete().where(
            (AnnualReport.organisation == values["organisation"])
            & (AnnualReport.year == values["year"])
        )
        [row] = await AnnualReport.insert(AnnualReport(**values)).returning(
            *AnnualReport.all_columns()
        )
        return msgspec.convert(row, ReportRecord, strict=False)

    async def reports(self) -> list[ReportRecord]:
        rows = await AnnualReport.select(*AnnualReport.all_columns()).order_by(AnnualReport.id)
        return [msgspec.convert(r, ReportRecord, strict=False) for r in rows]
