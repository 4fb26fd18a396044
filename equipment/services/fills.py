"""Fill use cases over HTTP: the interlock ("may station S fill cylinder C with M now?"),
a station's fills, a cylinder's trace, and joint-operation agreements.

The permit runs the very rules and readers the ingest uses, so the answer a filling
scale gets before it unlocks is the verdict the fill would be recorded with.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import msgspec

from equipment.domain import fills as rules
from equipment.domain.access import OrgKind, Permission, Principal, Role, ScopeKind
from equipment.domain.errors import Forbidden, InvalidValue, NotFound
from equipment.services import audit, fill_facts, policies
from equipment.services.organisations import require_kind
from equipment.services.register import Page
from equipment.settings import FillSettings
from equipment.storage import db, reads, unit_of_work
from equipment.storage.fills import (
    EntrustmentRow,
    FillFilter,
    FillRow,
    FillStateRow,
    JointFillingRow,
)

__all__ = [
    "FillFilter",
    "create_entrustment",
    "create_joint_filling",
    "cylinder_trace",
    "fill_permit",
    "fill_policy",
    "list_entrustments",
    "list_fills",
    "list_joint_fillings",
    "policy",
]


def policy() -> rules.FillPolicy:
    """The fill rules' limits the bootstrap installed (equipment.services.policies)."""
    return policies.current().fills


def fill_policy(settings: FillSettings) -> rules.FillPolicy:
    """The fill rules' limits as the settings have them. Built once by the bootstrap, not
    per permit (5 % of a permit's time, measured)."""
    return rules.FillPolicy(
        min_refill_interval=timedelta(minutes=settings.min_refill_minutes),
        max_travel_kmh=float(settings.max_travel_kmh),
    )


async def fill_permit(
    principal: Principal,
    cylinder_code: str,
    *,
    station_code: str | None,
    medium: str,
    now: datetime,
    checks: rules.FillAttempt | None = None,
) -> dict[str, Any]:
    """``checks`` carries the optional checks the scale reports (purged or evacuated,
    people in the vehicle, vehicle registration); absent ones are not checked."""
    principal.require(Permission.FILL_PERMIT)
    if not medium.strip():
        raise InvalidValue("medium is required", field="medium")
    if principal.role is not Role.STATION and station_code is None:
        raise InvalidValue("station is required", field="station")
    # Reads only, on one pooled connection: a filling scale waits for this answer.
    async with db.reading() as bulk:
        if principal.role is Role.STATION:
            # A station asks for itself only.
            station, cylinder = await reads().fill_facts.permit_facts(
                bulk, cylinder_code, station_id=principal.organisation_id
            )
            if station is None:
                raise InvalidValue(
                    "this station has no station code on file: ask the registration office"
                )
            if station_code is not None and station_code != station.code:
                raise Forbidden("a station may ask for permits for its own code only")
        else:
            assert station_code is not None
            station, cylinder = await reads().fill_facts.permit_facts(
                bulk, cylinder_code, station_code=station_code
            )
            if station is None:
                raise NotFound(f"no filling station has code {station_code!r}")
        agreed = await fill_facts.agreements(bulk, [(station, cylinder)])
    verdict = fill_facts.judge(
        rules.FillAttempt(
            medium=medium,
            at=now,
            purged_or_evacuated=checks.purged_or_evacuated if checks else None,
            people_in_vehicle=checks.people_in_vehicle if checks else None,
            vehicle_registration=checks.vehicle_registration if checks else None,
        ),
        station,
        cylinder,
        agreed,
        previous=cylinder.previous if cylinder else None,
        received_at=now,
        policy=policy(),
    )
    if principal.equipment_scope().kind is not ScopeKind.ALL and any(
        r.code is rules.VerdictCode.NOT_OWN_PROPERTY for r in verdict.reasons
    ):
        # Another station's cylinder (or one with no owner on file): the station may not
        # fill it whatever else is true, and its state, medium and last fill belong to
        # the owner, whose /trace answers 404 here. Least privilege: say 08, nothing else.
        verdict = rules.not_own_property(cylinder_code)
    return {
        **verdict.as_dict(),
        "cylinder_code": cylinder_code,
        "station_code": station.code,
        "medium": medium,
        "checked_at": now,
    }


def _station_scope(principal: Principal) -> int | None:
    principal.require(Permission.FILL_READ)
    scope = principal.equipment_scope()
    if scope.kind is ScopeKind.ALL:
        return None
    if scope.kind is ScopeKind.OWNING_STATION:
        return scope.org_id
    raise Forbidden(f"the {principal.role.value} role may not read fills")


async def list_fills(
    principal: Principal, f: FillFilter, *, before_id: int | None, limit: int
) -> Page[FillRow]:
    """Fills newest first (keyset on id, which grows with arrival)."""
    own = _station_scope(principal)
    rows = await reads().fills.newest_first(f, station=own, before_id=before_id, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    if own is not None:
        rows = [_as_the_station_sees(row) for row in rows]
    return Page(rows, str(rows[-1].id) if more and rows else None)


def _as_the_station_sees(row: FillRow) -> FillRow:
    stored = {"code": row.verdict, "reasons": row.reasons}
    seen = rules.for_the_station(stored, row.cylinder_code)
    if seen is stored:
        return row
    return msgspec.structs.replace(
        row,
        verdict=seen["code"],
        reasons=seen["reasons"],
        allowed=seen["allowed"],
        suspicious=seen["suspicious"],
    )


async def cylinder_trace(principal: Principal, cylinder_code: str, *, limit: int) -> CylinderTrace:
    """A cylinder's fill state and latest fills. A station sees only its own cylinders'."""
    own = _station_scope(principal)
    async with db.reading() as bulk:
        found = await reads().fill_facts.cylinders_by_code(bulk, [cylinder_code])
    cylinder = found.get(cylinder_code)
    if cylinder is None or (own is not None and cylinder.facts.owning_station_id != own):
        raise NotFound(f"cylinder {cylinder_code!r} not found")
    state = await reads().fills.state_of(cylinder.facts.id)
    fills = await reads().fills.latest_of(cylinder.facts.id, limit)
    return CylinderTrace(cylinder.facts, state, fills)


class CylinderTrace(msgspec.Struct, frozen=True):
    cylinder: rules.CylinderFacts
    state: FillStateRow | None
    fills: list[FillRow]


async def create_joint_filling(
    principal: Principal,
    *,
    owner_station_id: int,
    filling_station_id: int,
    valid_from: date,
    valid_until: date,
    now: datetime,
) -> JointFillingRow:
    """Register a joint-operation agreement (interlock code 09: allowed)."""
    principal.require(Permission.JOINT_FILLING_MANAGE)
    if owner_station_id == filling_station_id:
        raise InvalidValue("a station needs no agreement to fill its own cylinders")
    if valid_until < valid_from:
        raise InvalidValue("valid_until is before valid_from", field="valid_until")
    async with unit_of_work() as uow:
        await require_kind(owner_station_id, OrgKind.FILLING_STATION, field="owner_station_id")
        await require_kind(filling_station_id, OrgKind.FILLING_STATION, field="filling_station_id")
        row = await uow.fills.add_joint_filling(
            owner_station=owner_station_id,
            filling_station=filling_station_id,
            valid_from=valid_from,
            valid_until=valid_until,
            actor=principal.actor,
            created_at=now,
        )
        await audit.record(
            principal, entity="joint_filling", entity_id=row.id, action="create", at=now,
            before=None, after=msgspec.structs.asdict(row),
        )  # fmt: skip
    return row


async def list_joint_fillings(principal: Principal) -> list[JointFillingRow]:
    return await reads().fills.joint_fillings(station=_station_scope(principal))


async def create_entrustment(
    principal: Principal,
    *,
    owner_id: int,
    filling_station_id: int,
    valid_from: date,
    valid_until: date,
    now: datetime,
) -> EntrustmentRow:
    """Register an entrustment (托管): ``owner`` (a user unit or a station) entrusts its
    cylinders to ``filling_station``, which may then fill them as its own (code 00, reason
    "entrusted"; TSG 23-2021 [S])."""
    principal.require(Permission.JOINT_FILLING_MANAGE)
    if owner_id == filling_station_id:
        raise InvalidValue("a station needs no agreement to fill its own cylinders")
    if valid_until < valid_from:
        raise InvalidValue("valid_until is before valid_from", field="valid_until")
    async with unit_of_work() as uow:
        kind = await uow.organisations.kind_of(owner_id)
        if kind not in (OrgKind.USER_UNIT, OrgKind.FILLING_STATION):
            raise InvalidValue(
                f"organisation {owner_id} is not a user unit or filling station that owns "
                "cylinders",
                field="owner_id",
            )
        await require_kind(filling_station_id, OrgKind.FILLING_STATION, field="filling_station_id")
        row = await uow.fills.add_entrustment(
            owner=owner_id,
            filling_station=filling_station_id,
            valid_from=valid_from,
            valid_until=valid_until,
            actor=principal.actor,
            created_at=now,
        )
        await audit.record(
            principal, entity="cylinder_entrustment", entity_id=row.id, action="create",
            at=now, before=None, after=msgspec.structs.asdict(row),
        )  # fmt: skip
    return row


async def list_entrustments(principal: Principal) -> list[EntrustmentRow]:
    """Entrustment agreements; a station sees those it fills under."""
    return await reads().fills.entrustments(filling_station=_station_scope(principal))
