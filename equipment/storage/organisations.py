"""Organisations (user units, maintenance companies, inspection bodies, filling stations)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, cast

import msgspec
from piccolo.columns import Serial

from equipment.storage import db
from equipment.storage.tables import Organisation

# Piccolo adds the implicit primary key at class creation; the stub does not know it.
_org_id: Serial = Organisation.id


class OrganisationRow(msgspec.Struct, frozen=True):
    id: int
    kind: str
    credit_code: str
    name: str
    contact_name: str
    contact_phone: str
    public_phone: str
    address: str
    licence_no: str | None
    licence_valid_until: date | None
    supervision_class: str | None
    station_code: str | None
    longitude: float | None
    latitude: float | None
    hazardous_chemicals: bool
    version: int
    created_at: datetime
    updated_at: datetime


class OrganisationChoice(msgspec.Struct, frozen=True):
    """An organisation as a form offers it: its id and name."""

    id: int
    name: str


class OrganisationRepository:
    async def get(self, org_id: int) -> OrganisationRow | None:
        row = await Organisation.select().where(_org_id == org_id).first()
        return None if row is None else msgspec.convert(row, OrganisationRow, strict=False)

    async def kind_of(self, org_id: int) -> str | None:
        row = await Organisation.select(Organisation.kind).where(_org_id == org_id).first()
        return None if row is None else cast(str, row["kind"])

    async def name_of(self, org_id: int, kind: str) -> str | None:
        """The organisation's name, when it exists and is of ``kind``."""
        row = (
            await Organisation.select(Organisation.name)
            .where((_org_id == org_id) & (Organisation.kind == kind))
            .first()
        )
        return None if row is None else cast(str, row["name"])

    async def names(self, ids: Iterable[int]) -> dict[int, str]:
        wanted = list(ids)
        if not wanted:
            return {}
        rows = await Organisation.select(_org_id, Organisation.name).where(_org_id.is_in(wanted))
        return {cast(int, r["id"]): cast(str, r["name"]) for r in rows}

    async def choices(self, kind: str) -> list[OrganisationChoice]:
        """Id and name of every organisation of ``kind``, by name."""
        rows = await (
            Organisation.select(_org_id, Organisation.name)
            .where(Organisation.kind == kind)
            .order_by(Organisation.name)
        )
        return [OrganisationChoice(r["id"], r["name"]) for r in rows]

    async def station_code_taken(self, code: str, *, other_than: int | None = None) -> bool:
        query = Organisation.exists().where(Organisation.station_code == code)
        if other_than is not None:
            query = query.where(_org_id != other_than)
        return bool(await query)

    async def credit_code_taken(self, credit_code: str) -> bool:
        return bool(await Organisation.exists().where(Organisation.credit_code == credit_code))

    async def insert(self, values: Mapping[str, Any]) -> OrganisationRow:
        [created] = await Organisation.insert(Organisation(**values)).returning(
            *Organisation.all_columns()
        )
        return msgspec.convert(created, OrganisationRow, strict=False)

    async def update_if_version(
        self, org_id: int, expected_version: int, values: Mapping[str, Any]
    ) -> OrganisationRow | None:
        """The updated row, or None when the row is no longer at ``expected_version``."""
        updated = (
            await Organisation.update(dict[Any, Any](values))
            .where(_org_id == org_id, Organisation.version == expected_version)
            .returning(*Organisation.all_columns())
        )
        return msgspec.convert(updated[0], OrganisationRow, strict=False) if updated else None

    async def page(
        self,
        *,
        only_id: int | None,
        kind: str | None,
        q: str | None,
        after_id: int | None,
        limit: int,
    ) -> list[OrganisationRow]:
        """By id; ``q`` matches the name anywhere or the credit code's start (a literal
        without LIKE wildcards)."""
        query = Organisation.select().order_by(_org_id).limit(limit)
        if only_id is not None:
            query = query.where(_org_id == only_id)
        if kind is not None:
            query = query.where(Organisation.kind == kind)
        if q:
            query = query.where(
                db.any_case_like(Organisation.name, f"%{q}%")
                | db.any_case_like(Organisation.credit_code, f"{q}%")
            )
        if after_id is not None:
            query = query.where(_org_id > after_id)
        return [msgspec.convert(r, OrganisationRow, strict=False) for r in await query]
