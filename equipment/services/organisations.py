"""Organisations: user units, maintenance companies, inspection bodies, filling stations."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import msgspec

from equipment.domain import codes
from equipment.domain.access import OrgKind, Permission, Principal
from equipment.domain.errors import Conflict, Forbidden, InvalidValue, NotFound, StaleVersion
from equipment.services import audit, risk
from equipment.storage import reads, unit_of_work
from equipment.storage.organisations import OrganisationChoice, OrganisationRow
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
    "station_code",
    "longitude",
    "latitude",
    # A risk factor of GB 45067 (equipment/domain/risk.py): the user unit is a
    # hazardous-chemicals enterprise. Not a contact detail: the admin's to set.
    "hazardous_chemicals",
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


def _refuse_class(data: dict[str, Any]) -> None:
    # The class is computed (信用风险分类, equipment.services.credit); setting it by hand is an
    # override with a reason (POST /api/v1/credit/{id}/override), never a plain field.
    if data.get("supervision_class") is not None:
        raise InvalidValue(
            "the credit class is computed; set an override with a reason instead",
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


def _check_hazardous_chemicals(kind: OrgKind, data: dict[str, Any]) -> None:
    if data.get("hazardous_chemicals") and kind is not OrgKind.USER_UNIT:
        raise InvalidValue(
            "only a user unit can be a hazardous-chemicals enterprise",
            field="hazardous_chemicals",
        )


async def _check_station_code_free(code: str | None, org_id: int | None = None) -> None:
    if code is None:
        return
    if await reads().organisations.station_code_taken(code, other_than=org_id):
        raise Conflict(f"station code {code} is taken", field="station_code")


async def create_organisation(
    principal: Principal, data: dict[str, Any], *, now: datetime
) -> OrganisationRow:
    principal.require(Permission.ORG_CREATE)
    kind = OrgKind(data["kind"])
    credit_code = codes.validate_credit_code(data["credit_code"])
    _refuse_class(data)
    _check_licence(kind, data.get("licence_no"), data.get("licence_valid_until"))
    _check_station(kind, data)
    _check_hazardous_chemicals(kind, data)
    async with unit_of_work() as uow:
        await _check_station_code_free(data.get("station_code"))
        if await uow.organisations.credit_code_taken(credit_code):
            raise Conflict(
                f"an organisation with credit code {credit_code} exists already",
                field="credit_code",
            )
        row = {**data, "kind": kind.value, "credit_code": credit_code}
        created = await uow.organisations.insert(
            {**row, "version": 1, "created_at": now, "updated_at": now}
        )
        await audit.record(
            principal,
            entity="organisation",
            entity_id=created.id,
            action="create",
            at=now,
            before=None,
            after=msgspec.structs.asdict(created),
        )
    return created


def _visible(principal: Principal, org_id: int) -> bool:
    return principal.sees_all_organisations() or principal.organisation_id == org_id


async def get_organisation(principal: Principal, org_id: int) -> OrganisationRow:
    if not _visible(principal, org_id):
        raise NotFound(f"organisation {org_id} not found")
    row = await reads().organisations.get(org_id)
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
) -> list[OrganisationRow]:
    only_id = None
    if not principal.sees_all_organisations():
        if principal.organisation_id is None:
            return []
        only_id = principal.organisation_id
    return await reads().organisations.page(
        only_id=only_id,
        kind=kind.value if kind is not None else None,
        q=q.replace("%", "").replace("_", "") if q else None,
        after_id=after_id,
        limit=limit,
    )


async def update_organisation(
    principal: Principal,
    org_id: int,
    expected_version: int,
    changes: dict[str, Any],
    *,
    now: datetime,
) -> OrganisationRow:
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
    merged = {**msgspec.structs.asdict(current), **changes}
    _check_licence(OrgKind(current.kind), merged["licence_no"], merged["licence_valid_until"])
    _check_station(OrgKind(current.kind), merged)
    _check_hazardous_chemicals(OrgKind(current.kind), merged)
    async with unit_of_work() as uow:
        if "station_code" in changes:
            await _check_station_code_free(changes["station_code"], org_id)
        updated = await uow.organisations.update_if_version(
            org_id,
            expected_version,
            {**changes, "version": current.version + 1, "updated_at": now},
        )
        if updated is None:
            raise StaleVersion(
                f"organisation {org_id} changed since version {expected_version}; "
                "fetch it again and reapply your change"
            )
        before, after = audit.diff(msgspec.structs.asdict(current), msgspec.structs.asdict(updated))
        await audit.record(
            principal,
            entity="organisation",
            entity_id=org_id,
            action="update",
            at=now,
            before=before,
            after=after,
        )
    if bool(updated.hazardous_chemicals) != bool(current.hazardous_chemicals):
        # A factor of every unit of a user unit: all of them graded again, at once.
        await risk.regrade_user_units([org_id], now=now)
    return updated


async def require_kind(org_id: int, kind: OrgKind, *, field: str) -> OrganisationRow:
    """The organisation ``org_id``, which must be of ``kind`` (a unit's owner, maintainer...)."""
    row = await reads().organisations.get(org_id)
    if row is None:
        raise InvalidValue(f"organisation {org_id} does not exist", field=field)
    if row.kind != kind.value:
        raise InvalidValue(
            f"organisation {org_id} is a {row.kind}, not a {kind.value}", field=field
        )
    return row


async def choices(kind: OrgKind) -> list[OrganisationChoice]:
    """Id and name of every organisation of ``kind``, by name: a form's choice (the
    maintainer of a unit). Names only, which are public: a unit's public page shows its
    maintenance company."""
    return await reads().organisations.choices(kind.value)
