"""Organisations: user units, maintenance companies, inspection bodies, filling stations."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from equipment.domain import codes
from equipment.domain.access import OrgKind, Permission, Principal
from equipment.domain.errors import Conflict, Forbidden, InvalidValue, NotFound, StaleVersion
from equipment.domain.maintenance import SUPERVISION_CLASSES
from equipment.services import audit, db
from equipment.tables import Organisation
from geo.coords import CoordinateError, check_wgs84_in_china

# Kinds that act under a licence (maintenance: TSG T5002-2017; filling: TSG 23-2021;
# inspection: accreditation). A user unit needs none.
LICENSED_KINDS = frozenset(
    {OrgKind.MAINTENANCE_COMPANY, OrgKind.INSPECTION_BODY, OrgKind.FILLING_STATION}
)
CONTACT_FIELDS = frozenset({"contact_name", "contact_phone", "public_phone", "address"})
EDITABLE_FIELDS = CONTACT_FIELDS | {
    "name",
    "licence_no",
    "licence_valid_until",
    "supervision_class",
    "station_code",
    "longitude",
    "latitude",
}
# A station code is the station's topic level and broker username (deploy/mosquitto/acl):
# letters, digits, '-' and '_' only, since '+', '#' and '/' would change what the ACL
# pattern matches.
STATION_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")


def _check_licence(kind: OrgKind, licence_no: str | None, valid_until: date | None) -> None:
    if kind in LICENSED_KINDS and (not licence_no or valid_until is None):
        raise InvalidValue(
            f"a {kind.value} must have a licence number and its validity date",
            field="licence_no" if not licence_no else "licence_valid_until",
        )


def _check_class(kind: OrgKind, supervision_class: str | None) -> None:
    if supervision_class is None:
        return
    if kind is not OrgKind.MAINTENANCE_COMPANY:
        raise InvalidValue(
            "only maintenance companies have a supervision class", field="supervision_class"
        )
    if supervision_class not in SUPERVISION_CLASSES:
        raise InvalidValue(
            f"supervision class is one of {', '.join(SUPERVISION_CLASSES)}",
            field="supervision_class",
        )


def _check_station(kind: OrgKind, data: dict[str, Any]) -> None:
    code = data.get("station_code")
    if code is not None:
        if kind is not OrgKind.FILLING_STATION:
            raise InvalidValue("only filling stations have a station code", field="station_code")
        if not STATION_CODE.fullmatch(code):
            raise InvalidValue(
                "a station code is 1-32 letters, digits, '-' or '_'", field="station_code"
            )
    lon, lat = data.get("longitude"), data.get("latitude")
    if (lon is None) != (lat is None):
        raise InvalidValue("give both longitude and latitude, or neither", field="longitude")
    if lon is not None:
        try:
            check_wgs84_in_china(lon, lat)
        except CoordinateError as exc:
            raise InvalidValue(str(exc), field="longitude") from exc


async def _check_station_code_free(code: str | None, org_id: int | None = None) -> None:
    if code is None:
        return
    query = Organisation.exists().where(Organisation.station_code == code)
    if org_id is not None:
        query = query.where(Organisation.id != org_id)
    if await query:
        raise Conflict(f"station code {code} is taken", field="station_code")


async def create_organisation(
    principal: Principal, data: dict[str, Any], *, now: datetime
) -> dict[str, Any]:
    principal.require(Permission.ORG_CREATE)
    kind = OrgKind(data["kind"])
    credit_code = codes.validate_credit_code(data["credit_code"])
    _check_class(kind, data.get("supervision_class"))
    _check_licence(kind, data.get("licence_no"), data.get("licence_valid_until"))
    _check_station(kind, data)
    async with db.transaction():
        await _check_station_code_free(data.get("station_code"))
        if await Organisation.exists().where(Organisation.credit_code == credit_code):
            raise Conflict(
                f"an organisation with credit code {credit_code} exists already",
                field="credit_code",
            )
        row = {**data, "kind": kind.value, "credit_code": credit_code}
        [created] = await Organisation.insert(
            Organisation(**row, version=1, created_at=now, updated_at=now)
        ).returning(*Organisation.all_columns())
        await audit.record(
            principal,
            entity="organisation",
            entity_id=created["id"],
            action="create",
            at=now,
            before=None,
            after=created,
        )
    return created


def _visible(principal: Principal, org_id: int) -> bool:
    return principal.sees_all_organisations() or principal.organisation_id == org_id


async def get_organisation(principal: Principal, org_id: int) -> dict[str, Any]:
    if not _visible(principal, org_id):
        raise NotFound(f"organisation {org_id} not found")
    row = await Organisation.select().where(Organisation.id == org_id).first()
    if row is None:
        raise NotFound(f"organisation {org_id} not found")
    return row


async def list_organisations(
    principal: Principal,
    *,
    kind: OrgKind | None,
    q: str | None,
    after_id: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    query = Organisation.select().order_by(Organisation.id).limit(limit)
    if not principal.sees_all_organisations():
        if principal.organisation_id is None:
            return []
        query = query.where(Organisation.id == principal.organisation_id)
    if kind is not None:
        query = query.where(Organisation.kind == kind.value)
    if q:
        needle = q.replace("%", "").replace("_", "")
        query = query.where(
            Organisation.name.ilike(f"%{needle}%") | Organisation.credit_code.ilike(f"{needle}%")
        )
    if after_id is not None:
        query = query.where(Organisation.id > after_id)
    return await query


async def update_organisation(
    principal: Principal,
    org_id: int,
    expected_version: int,
    changes: dict[str, Any],
    *,
    now: datetime,
) -> dict[str, Any]:
    current = await get_organisation(principal, org_id)
    if not principal.can(Permission.ORG_UPDATE_ANY):
        principal.require(Permission.ORG_UPDATE_OWN_CONTACT)
        if principal.organisation_id != org_id:
            raise NotFound(f"organisation {org_id} not found")
        beyond = sorted(set(changes) - CONTACT_FIELDS)
        if beyond:
            raise Forbidden(
                f"the {principal.role.value} role may change only its own contact details, "
                f"not: {', '.join(beyond)}"
            )
    unknown = sorted(set(changes) - EDITABLE_FIELDS)
    if unknown:
        raise InvalidValue(f"cannot change {', '.join(unknown)}", field=unknown[0])
    merged = {**current, **changes}
    _check_class(OrgKind(current["kind"]), merged.get("supervision_class"))
    _check_licence(OrgKind(current["kind"]), merged["licence_no"], merged["licence_valid_until"])
    _check_station(OrgKind(current["kind"]), merged)
    async with db.transaction():
        if "station_code" in changes:
            await _check_station_code_free(changes["station_code"], org_id)
        updated = (
            await Organisation.update(
                {**changes, "version": current["version"] + 1, "updated_at": now}
            )
            .where(Organisation.id == org_id, Organisation.version == expected_version)
            .returning(*Organisation.all_columns())
        )
        if not updated:
            raise StaleVersion(
                f"organisation {org_id} changed since version {expected_version}; "
                "fetch it again and reapply your change"
            )
        before, after = audit.diff(current, updated[0])
        await audit.record(
            principal,
            entity="organisation",
            entity_id=org_id,
            action="update",
            at=now,
            before=before,
            after=after,
        )
    return updated[0]


async def require_kind(org_id: int, kind: OrgKind, *, field: str) -> dict[str, Any]:
    """The organisation ``org_id``, which must be of ``kind`` (a unit's owner, maintainer...)."""
    row = await Organisation.select().where(Organisation.id == org_id).first()
    if row is None:
        raise InvalidValue(f"organisation {org_id} does not exist", field=field)
    if row["kind"] != kind.value:
        raise InvalidValue(
            f"organisation {org_id} is a {row['kind']}, not a {kind.value}", field=field
        )
    return row


async def choices(kind: OrgKind) -> list[dict[str, Any]]:
    """Id and name of every organisation of ``kind``, by name: a form's choice (the
    maintainer of a unit). Names only, which are public: a unit's public page shows its
    maintenance company."""
    return await (
        Organisation.select(Organisation.id, Organisation.name)
        .where(Organisation.kind == kind.value)
        .order_by(Organisation.name)
    )
