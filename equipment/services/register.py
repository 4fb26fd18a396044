"""The equipment register: create, read, list, edit, and the registration workflow."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

import msgspec

from equipment.domain import catalogue, codes, parameters, regions
from equipment.domain.access import (
    EquipmentScope,
    OrgKind,
    Permission,
    Principal,
    Role,
)
from equipment.domain.errors import (
    Conflict,
    Forbidden,
    InvalidValue,
    NotFound,
    StaleVersion,
)
from equipment.domain.lifecycle import (
    Action,
    Status,
    check_effective_date,
    inspection_needed_on_resume,
    next_status,
    registration_is_late,
    suspension_notice_is_late,
)
from equipment.services import audit, membership, schedules
from equipment.services.organisations import require_kind
from equipment.services.pagination import SortKey, decode_cursor, encode_cursor
from equipment.storage import reads, unit_of_work
from equipment.storage.audit import AuditRow
from equipment.storage.equipment import (
    EquipmentFilter,
    EquipmentRow,
    NewStatusChange,
    StatusChangeRow,
    UnitLabel,
)
from geo.coords import CoordinateError, check_wgs84_in_china
from geo.crs import check_crs, to_wgs84

# Sort columns and whether each is unique on its own.
SORTS = {"id": True, "code": True, "updated_at": False}

DESCRIPTION_FIELDS = frozenset(
    {
        "manufacturer",
        "model",
        "serial_no",
        "manufacture_date",
        "commissioning_date",
        "address",
        "longitude",
        "latitude",
        "parameters",
    }
)
# A cylinder's use sets its inspection interval and service life (TSG 23-2021): regulatory.
REGULATORY_FIELDS = frozenset(
    {"category", "certificate_no", "equipment_code", "district_code", "cylinder_use"}
)
CLOSED = frozenset({Status.SCRAPPED, Status.CANCELLED})


# A page of any of the register's lists (units, due dates, fills, alarms...): the rows
# as their repository types them (mappings read by column name, or Structs).
Row = TypeVar("Row")


@dataclass(frozen=True)
class Page(Generic[Row]):
    items: list[Row]
    next_cursor: str | None


def _scope(principal: Principal) -> EquipmentScope:
    """The caller's units; storage turns the scope into each table's condition."""
    return principal.equipment_scope()


async def _load(principal: Principal, equipment_id: int) -> EquipmentRow:
    principal.require(Permission.EQUIPMENT_READ)
    row = await reads().equipment.get(equipment_id, _scope(principal))
    if row is None:
        raise NotFound(f"equipment {equipment_id} not found")
    return row


async def get_equipment(principal: Principal, equipment_id: int) -> EquipmentRow:
    return await _load(principal, equipment_id)


async def code_of(principal: Principal, equipment_id: int) -> str:
    """The code of a unit the principal can see, under the same rule as ``get_equipment``
    (404 outside the scope), reading one column: a QR image needs nothing else, and
    decoding the whole row was most of that route's time."""
    principal.require(Permission.EQUIPMENT_READ)
    code = await reads().equipment.code_of(equipment_id, _scope(principal))
    if code is None:
        raise NotFound(f"equipment {equipment_id} not found")
    return code


async def list_equipment(
    principal: Principal,
    filters: EquipmentFilter,
    sort: SortKey,
    cursor: str | None,
    limit: int,
) -> Page[EquipmentRow]:
    principal.require(Permission.EQUIPMENT_READ)
    rows = await reads().equipment.page(
        filters,
        scope=_scope(principal),
        sort=sort,
        after=decode_cursor(cursor, sort) if cursor else None,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(sort, rows[-1]) if more and rows else None)


async def _check_codes_free(registration_code: str | None, equipment_code: str | None) -> None:
    """A scrapped unit's codes can never be registered again (TSG 08-2017)."""
    for field, value in (
        ("registration_code", registration_code),
        ("equipment_code", equipment_code),
    ):
        if value is None:
            continue
        other = await reads().equipment.code_holder(field, value)
        if other is None:
            continue
        if other.status == Status.SCRAPPED:
            raise Conflict(
                f"{value} belongs to a unit scrapped on {other.status_since.isoformat()}; "
                "a scrapped unit can never be registered again (TSG 08-2017)",
                field=field,
            )
        raise Conflict(f"{value} is already on the register (equipment {other.id})", field=field)


async def _check_parties(data: dict[str, Any]) -> None:
    user_unit_kind = await reads().organisations.kind_of(data["user_unit"])
    # A filling station is the user unit of the cylinders it owns (TSG 23-2021).
    allowed = {OrgKind.USER_UNIT.value}
    if catalogue.is_cylinder(data["category"]):
        allowed.add(OrgKind.FILLING_STATION.value)
    if user_unit_kind not in allowed:
        raise InvalidValue(
            f"organisation {data['user_unit']} is not a {' or '.join(sorted(allowed))}",
            field="user_unit_id",
        )
    if data.get("maintenance_company") is not None:
        await require_kind(
            data["maintenance_company"], OrgKind.MAINTENANCE_COMPANY, field="maintenance_company_id"
        )
    if data.get("owning_station") is not None:
        if not catalogue.is_cylinder(data["category"]):
            raise InvalidValue(
                "only gas cylinders have an owning filling station", field="owning_station_id"
            )
        await require_kind(
            data["owning_station"], OrgKind.FILLING_STATION, field="owning_station_id"
        )


def _to_wgs84(crs: str, longitude: Any, latitude: Any) -> tuple[Any, Any]:
    """A position given in ``crs`` (GCJ-02 from AMap or Tencent, BD-09 from Baidu) as the
    WGS-84 the register stores; checked before conversion, so an error names what was sent.
    Without both coordinates nothing is converted (the description check says what is
    missing)."""
    try:
        crs = check_crs(crs)
        if crs == "wgs84" or longitude is None or latitude is None:
            return longitude, latitude
        check_wgs84_in_china(longitude, latitude)
    except CoordinateError as exc:
        raise InvalidValue(exc.reason, field=exc.field) from exc
    return to_wgs84(longitude, latitude, crs)


def _check_description(row: dict[str, Any], today: date) -> None:
    """Checks that hold for every version of a unit's row."""
    try:
        row["category"] = catalogue.category(row["category"]).code
    except InvalidValue as exc:
        raise InvalidValue(exc.reason, field="category") from exc
    row["parameters"] = parameters.validate_parameters(row["category"], row["parameters"] or {})
    use = row.get("cylinder_use")
    if use is not None:
        if use not in catalogue.CYLINDER_USES:
            raise InvalidValue(
                f"cylinder_use is one of {', '.join(catalogue.CYLINDER_USES)}",
                field="cylinder_use",
            )
        if not catalogue.is_cylinder(row["category"]):
            raise InvalidValue("only gas cylinders have a cylinder use", field="cylinder_use")
    row["district_code"] = regions.validate_region(row["district_code"], field="district_code")
    lon, lat = row.get("longitude"), row.get("latitude")
    if (lon is None) != (lat is None):
        raise InvalidValue(
            "give both longitude and latitude, or neither",
            field="longitude" if lon is None else "latitude",
        )
    if lon is not None:
        try:
            check_wgs84_in_china(lon, lat)
        except CoordinateError as exc:
            raise InvalidValue(exc.reason, field=exc.field) from exc
    made, commissioned = row.get("manufacture_date"), row.get("commissioning_date")
    for field, day in (("manufacture_date", made), ("commissioning_date", commissioned)):
        if day is not None and day > today:
            raise InvalidValue(f"{day.isoformat()} is in the future", field=field)
    if made and commissioned and commissioned < made:
        raise InvalidValue("commissioning cannot precede manufacture", field="commissioning_date")
    if row.get("equipment_code"):
        parsed = codes.parse_equipment_code(row["equipment_code"], today)
        row["equipment_code"] = parsed.code
    if row.get("certificate_no"):
        row["certificate_no"] = codes.validate_certificate_number(
            row["certificate_no"], field="certificate_no"
        )


def _check_registration_code(code: str, category: str, district_code: str, today: date) -> str:
    parsed = codes.parse_registration_code(code, today)
    if parsed.category_code != category:
        raise InvalidValue(
            f"the registration code's category {parsed.category_code} differs from the unit's "
            f"category {category}",
            field="registration_code",
        )
    if parsed.region_code[:4] != district_code[:4]:
        raise InvalidValue(
            f"the registration code's region {parsed.region_code} is not in the unit's city "
            f"({district_code[:4]}xx)",
            field="registration_code",
        )
    return parsed.code


async def create_equipment(
    principal: Principal, data: dict[str, Any], *, today: date, now: datetime
) -> EquipmentRow:
    """A new unit: pending registration, or (registration office importing) already in use."""
    principal.require(Permission.EQUIPMENT_CREATE)
    row = {
        "parameters": {},
        "maintenance_company": None,
        "owning_station": None,
        **data,
    }
    if principal.role is Role.USER_UNIT and row["user_unit"] != principal.organisation_id:
        raise Forbidden("a user unit registers equipment only for itself", field="user_unit_id")
    row["longitude"], row["latitude"] = _to_wgs84(
        row.pop("crs", "wgs84"), row.get("longitude"), row.get("latitude")
    )
    registered_on: date | None = row.pop("registered_on", None)
    if registered_on is not None and not principal.can(Permission.EQUIPMENT_REGISTER):
        raise Forbidden(
            "only the registration office records a registration", field="registered_on"
        )
    if not row.get("registration_code") and not row.get("equipment_code"):
        raise InvalidValue(
            "give the registration code, the equipment code, or both", field="equipment_code"
        )
    _check_description(row, today)
    if row.get("registration_code"):
        row["registration_code"] = _check_registration_code(
            row["registration_code"], row["category"], row["district_code"], today
        )
    if registered_on is not None:
        if not row.get("registration_code"):
            raise InvalidValue(
                "a registered unit needs its registration code", field="registration_code"
            )
        if registered_on > today:
            raise InvalidValue(
                f"{registered_on.isoformat()} is in the future", field="registered_on"
            )
    status = Status.IN_USE if registered_on is not None else Status.PENDING
    row.update(
        code=row.get("registration_code") or row["equipment_code"],
        status=status.value,
        status_since=registered_on or today,
        registered_on=registered_on,
        late_registration=(
            registered_on is not None
            and registration_is_late(row.get("commissioning_date"), registered_on)
        ),
        version=1,
        created_at=now,
        updated_at=now,
    )
    async with unit_of_work() as uow:
        await _check_parties(row)
        await _check_codes_free(row.get("registration_code"), row.get("equipment_code"))
        created = await uow.equipment.insert(row)
        await schedules.recompute(created, today)
        await membership.assign_unit(created, row.get("longitude"), row.get("latitude"))
        unit = await uow.equipment.get(created)
        assert unit is not None  # inserted in this transaction
        await audit.record(
            principal,
            entity="equipment",
            entity_id=unit.id,
            action="create",
            at=now,
            before=None,
            after=msgspec.structs.asdict(unit),
        )
    return unit


def _require_open(row: EquipmentRow) -> None:
    if row.status in CLOSED:
        raise Conflict(f"equipment {row.id} is {row.status}; its record is closed")


async def _write(
    principal: Principal,
    current: EquipmentRow,
    changes: dict[str, Any],
    *,
    action: str,
    expected_version: int,
    today: date,
    now: datetime,
) -> EquipmentRow:
    """Apply ``changes`` if the row is still at ``expected_version``, recompute its due
    dates, audit it. Inside the caller's transaction."""
    repository = reads().equipment
    values = {**changes, "version": current.version + 1, "updated_at": now}
    if not await repository.update_if_version(current.id, expected_version, values):
        raise StaleVersion(
            f"equipment {current.id} changed since version {expected_version}; "
            "fetch it again and reapply your change"
        )
    await schedules.recompute(current.id, today)
    after = await repository.get(current.id)
    assert after is not None  # updated in this transaction
    before_diff, after_diff = audit.diff(
        msgspec.structs.asdict(current), msgspec.structs.asdict(after)
    )
    await audit.record(
        principal,
        entity="equipment",
        entity_id=current.id,
        action=action,
        at=now,
        before=before_diff,
        after=after_diff,
    )
    return after


async def update_equipment(
    principal: Principal,
    equipment_id: int,
    expected_version: int,
    changes: dict[str, Any],
    *,
    today: date,
    now: datetime,
) -> EquipmentRow:
    """Edit a unit's description (its user unit or maintainer) or its regulatory data (admin)."""
    changes = dict(changes)
    crs = changes.pop("crs", "wgs84")
    if not changes:
        raise InvalidValue("nothing to change")
    moving = (changes.get("longitude"), changes.get("latitude"))
    if crs != "wgs84" and moving != (None, None):
        if None in moving:
            raise InvalidValue(
                f"send longitude and latitude together when they are in {crs}", field="crs"
            )
        changes["longitude"], changes["latitude"] = _to_wgs84(crs, *moving)
    else:
        _to_wgs84(crs, None, None)  # an unknown crs is refused even with nothing to convert
    unknown = sorted(set(changes) - DESCRIPTION_FIELDS - REGULATORY_FIELDS)
    if unknown:
        raise InvalidValue(
            f"{unknown[0]} is changed through its own action, not by editing", field=unknown[0]
        )
    if set(changes) & DESCRIPTION_FIELDS:
        principal.require(Permission.EQUIPMENT_EDIT_DESCRIPTION)
    if set(changes) & REGULATORY_FIELDS:
        principal.require(Permission.EQUIPMENT_EDIT_REGULATORY)
    async with unit_of_work():
        current = await _load(principal, equipment_id)
        if current.version != expected_version:
            raise StaleVersion(
                f"equipment {equipment_id} is at version {current.version}, "
                f"not {expected_version}; fetch it again and reapply your change"
            )
        _require_open(current)
        merged = {**msgspec.structs.asdict(current), **changes}
        _check_description(merged, today)
        normalised = {k: merged[k] for k in changes}
        if "equipment_code" in changes and normalised["equipment_code"] != current.equipment_code:
            await _check_codes_free(None, normalised["equipment_code"])
            if not current.registration_code:
                normalised["code"] = normalised["equipment_code"]
        after = await _write(
            principal,
            current,
            normalised,
            action="update",
            expected_version=expected_version,
            today=today,
            now=now,
        )
        moved = (after.longitude, after.latitude) != (
            current.longitude,
            current.latitude,
        )
        if moved:
            await membership.assign_unit(after.id, after.longitude, after.latitude)
        return after


async def _transition(
    principal: Principal,
    equipment_id: int,
    action: Action,
    permission: Permission,
    *,
    effective_on: date,
    expected_version: int | None,
    today: date,
    now: datetime,
    details: dict[str, Any],
    changes: Callable[[EquipmentRow], dict[str, Any]] | None = None,
    check: Callable[[EquipmentRow], Any] | None = None,
    then: Callable[[EquipmentRow], Awaitable[None]] | None = None,
) -> EquipmentRow:
    principal.require(permission)
    async with unit_of_work() as uow:
        current = await _load(principal, equipment_id)
        version = current.version if expected_version is None else expected_version
        if current.version != version:
            raise StaleVersion(
                f"equipment {equipment_id} is at version {current.version}, not {version}"
            )
        status_before = Status(current.status)
        status_after = next_status(status_before, action)
        check_effective_date(
            effective_on, status_since=current.status_since, today=today, field="on"
        )
        if check is not None:
            await check(current)
        new_values = changes(current) if changes is not None else {}
        if status_after != status_before:
            new_values.update(status=status_after.value, status_since=effective_on)
        await uow.equipment.add_status_change(
            NewStatusChange(
                equipment=equipment_id,
                action=action.value,
                from_status=status_before.value,
                to_status=status_after.value,
                effective_on=effective_on,
                details=audit.jsonable(details),
                actor=principal.actor,
                recorded_at=now,
            )
        )
        updated = await _write(
            principal,
            current,
            new_values,
            action=action.value,
            expected_version=version,
            today=today,
            now=now,
        )
        if then is not None:
            await then(updated)  # in the same transaction as the change itself
    return updated


async def register(
    principal: Principal,
    equipment_id: int,
    *,
    registration_code: str,
    certificate_no: str | None,
    registered_on: date,
    expected_version: int | None,
    today: date,
    now: datetime,
) -> EquipmentRow:
    def changes(current: EquipmentRow) -> dict[str, Any]:
        code = _check_registration_code(
            registration_code, current.category, current.district_code, today
        )
        values = {
            "registration_code": code,
            "code": code,
            "registered_on": registered_on,
            "late_registration": registration_is_late(current.commissioning_date, registered_on),
        }
        if certificate_no:
            values["certificate_no"] = codes.validate_certificate_number(
                certificate_no, field="certificate_no"
            )
        return values

    async def codes_free(current: EquipmentRow) -> None:
        code = _check_registration_code(
            registration_code, current.category, current.district_code, today
        )
        await _check_codes_free(code, None)

    return await _transition(
        principal,
        equipment_id,
        Action.REGISTER,
        Permission.EQUIPMENT_REGISTER,
        effective_on=registered_on,
        expected_version=expected_version,
        today=today,
        now=now,
        details={"registration_code": registration_code, "certificate_no": certificate_no},
        changes=changes,
        check=codes_free,
    )


REFUSAL_REASON_MAX = 500


async def refuse(
    principal: Principal,
    equipment_id: int,
    *,
    refused_on: date,
    reason: str,
    expected_version: int | None,
    today: date,
    now: datetime,
) -> EquipmentRow:
    """The registration office refuses a pending application (不予登记). The reason is
    required: the applicant must be told in writing why (TSG 08-2017); it is kept in the
    status history and the audit trail, and the user unit sees it on its unit's page."""
    reason = reason.strip()
    if not reason:
        raise InvalidValue("say why the registration is refused", field="reason")
    if len(reason) > REFUSAL_REASON_MAX:
        raise InvalidValue(f"at most {REFUSAL_REASON_MAX} characters", field="reason")
    return await _transition(
        principal,
        equipment_id,
        Action.REFUSE,
        Permission.EQUIPMENT_REGISTER,
        effective_on=refused_on,
        expected_version=expected_version,
        today=today,
        now=now,
        details={"reason": reason},
    )


async def reapply(
    principal: Principal,
    equipment_id: int,
    *,
    expected_version: int | None,
    today: date,
    now: datetime,
) -> EquipmentRow:
    """The applicant applies again after a refusal, once the record is put right: the
    unit is back in the registration office's queue, with its codes and history."""
    return await _transition(
        principal,
        equipment_id,
        Action.REAPPLY,
        Permission.EQUIPMENT_CREATE,
        effective_on=today,
        expected_version=expected_version,
        today=today,
        now=now,
        details={},
    )


async def last_refusal(principal: Principal, equipment_id: int) -> StatusChangeRow | None:
    """The refusal a refused unit is in (its reason and day), for the applicant's page."""
    await _load(principal, equipment_id)
    steps = await reads().equipment.status_history(equipment_id)
    refusals = [s for s in steps if s.action == Action.REFUSE.value]
    return refusals[-1] if refusals else None


async def suspend(
    principal: Principal,
    equipment_id: int,
    *,
    suspended_from: date,
    planned_until: date | None,
    notified_on: date,
    reason: str,
    expected_version: int | None,
    today: date,
    now: datetime,
) -> EquipmentRow:
    if planned_until is not None and planned_until <= suspended_from:
        raise InvalidValue("the planned end must come after the start", field="planned_until")
    if notified_on < suspended_from or notified_on > today:
        raise InvalidValue(
            "the notice date must lie between the start and today", field="notified_on"
        )
    late = suspension_notice_is_late(suspended_from, planned_until, notified_on)
    return await _transition(
        principal,
        equipment_id,
        Action.SUSPEND,
        Permission.EQUIPMENT_SUSPEND_RESUME,
        effective_on=suspended_from,
        expected_version=expected_version,
        today=today,
        now=now,
        details={
            "planned_until": planned_until,
            "notified_on": notified_on,
            "reason": reason,
            "late_notice": late,
        },
        changes=lambda _: {"late_suspension_notice": late},
    )


async def resume(
    principal: Principal,
    equipment_id: int,
    *,
    resumed_on: date,
    expected_version: int | None,
    today: date,
    now: datetime,
) -> EquipmentRow:
    def changes(current: EquipmentRow) -> dict[str, Any]:
        lapsed = inspection_needed_on_resume(current.next_inspection_due, resumed_on)
        return {"needs_inspection_before_resume": lapsed, "late_suspension_notice": False}

    return await _transition(
        principal,
        equipment_id,
        Action.RESUME,
        Permission.EQUIPMENT_SUSPEND_RESUME,
        effective_on=resumed_on,
        expected_version=expected_version,
        today=today,
        now=now,
        details={},
        changes=changes,
    )


async def close(
    principal: Principal,
    equipment_id: int,
    action: Action,
    *,
    on: date,
    reason: str,
    expected_version: int | None,
    today: date,
    now: datetime,
) -> EquipmentRow:
    """Scrap or cancel: the record is closed for good (TSG 08-2017)."""
    if action not in (Action.SCRAP, Action.CANCEL):
        raise ValueError(f"{action} does not close a record")
    return await _transition(
        principal,
        equipment_id,
        action,
        Permission.EQUIPMENT_REGISTER,
        effective_on=on,
        expected_version=expected_version,
        today=today,
        now=now,
        details={"reason": reason},
    )


async def transfer(
    principal: Principal,
    equipment_id: int,
    *,
    user_unit_id: int,
    transferred_on: date,
    expected_version: int | None,
    today: date,
    now: datetime,
) -> EquipmentRow:
    details: dict[str, Any] = {"to_user_unit": user_unit_id}

    async def new_owner(current: EquipmentRow) -> None:
        if current.user_unit == user_unit_id:
            raise InvalidValue("the unit already belongs to that user unit", field="user_unit_id")
        await require_kind(user_unit_id, OrgKind.USER_UNIT, field="user_unit_id")
        # The former user unit: its units' risk grades (its record) are graded again.
        details["from_user_unit"] = current.user_unit

    return await _transition(
        principal,
        equipment_id,
        Action.TRANSFER,
        Permission.EQUIPMENT_REGISTER,
        effective_on=transferred_on,
        expected_version=expected_version,
        today=today,
        now=now,
        details=details,
        check=new_owner,
        changes=lambda _: {"user_unit": user_unit_id},
    )


async def change_maintainer(
    principal: Principal,
    equipment_id: int,
    *,
    maintenance_company_id: int | None,
    changed_on: date,
    expected_version: int | None,
    today: date,
    now: datetime,
) -> EquipmentRow:
    async def company(_: EquipmentRow) -> None:
        if maintenance_company_id is not None:
            await require_kind(
                maintenance_company_id, OrgKind.MAINTENANCE_COMPANY, field="maintenance_company_id"
            )

    return await _transition(
        principal,
        equipment_id,
        Action.CHANGE_MAINTAINER,
        Permission.EQUIPMENT_CHANGE_MAINTAINER,
        effective_on=changed_on,
        expected_version=expected_version,
        today=today,
        now=now,
        details={"to_maintenance_company": maintenance_company_id},
        check=company,
        changes=lambda _: {"maintenance_company": maintenance_company_id},
        then=hand_over_open_alarms,
    )


async def hand_over_open_alarms(unit: EquipmentRow) -> None:
    """After a change of maintainer the unit's open alarms name the company that must now
    answer them; closed ones keep the company that handled them. (Who sees an alarm
    follows the unit's current maintainer in any case: services/alarms.py.)"""
    await reads().equipment.hand_over_open_alarms(unit.id, unit.maintenance_company)


async def status_history(principal: Principal, equipment_id: int) -> list[StatusChangeRow]:
    principal.require(Permission.HISTORY_READ)
    await _load(principal, equipment_id)
    return await reads().equipment.status_history(equipment_id)


async def audit_trail(principal: Principal, equipment_id: int) -> list[AuditRow]:
    principal.require(Permission.HISTORY_READ)
    await _load(principal, equipment_id)
    return await audit.trail("equipment", equipment_id)


async def organisation_names(ids: Iterable[int | None]) -> dict[int, str]:
    """Names of the organisations ``ids`` names (a unit's empty roles, None, are skipped)."""
    return await reads().organisations.names(i for i in ids if i is not None)


async def unit_labels(principal: Principal, ids: set[int]) -> dict[int, UnitLabel]:
    """Code and address of the units among ``ids`` the caller may see (lists of alarms
    name their units by these, not by id)."""
    principal.require(Permission.EQUIPMENT_READ)
    return await reads().equipment.labels(ids, _scope(principal))
