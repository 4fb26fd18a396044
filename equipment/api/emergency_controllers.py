"""HTTP handlers for response KPIs and emergency drills."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Literal

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from equipment.api import api_docs, schemas
from equipment.api.controllers import EquipmentId, Limit, page_limit
from equipment.domain import rescue
from equipment.domain.access import Principal
from equipment.domain.errors import InvalidValue
from equipment.i18n import gettext
from equipment.services import clock, emergency_records
from equipment.storage.emergency import OutcomeRecord

AlarmId = Annotated[int, PathParameter(ge=1, le=2**63 - 1)]


@get("/kpis/response", tags=("alarms",), responses=api_docs.READ)
async def response_kpis(
    principal: NamedDependency[Principal],
    start: Annotated[datetime, QueryParameter(name="from")],
    end: Annotated[datetime, QueryParameter(name="to")],
    group: Annotated[Literal["company", "district"], QueryParameter()] = "company",
) -> list[schemas.ResponseKpi]:
    """Entrapment response per maintenance company or district over [from, to): median
    and p90 minutes to acknowledge and to arrive, share late, entrapments per 1,000 lifts,
    and from the rescue outcomes: people released, injuries, deaths, entrapments per cause."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidValue("from and to need a UTC offset", field="from")
    rows = await emergency_records.response_kpis(principal, group_by=group, start=start, end=end)
    return [schemas.ResponseKpi(**{**asdict(r), "group": str(r.group)}) for r in rows]


@post("/equipment/{equipment_id:int}/drills", tags=("alarms",), responses=api_docs.WRITE)
async def record_drill(
    principal: NamedDependency[Principal],
    equipment_id: EquipmentId,
    data: JSONBody[schemas.DrillCreate],
) -> Response[schemas.Drill]:
    """An emergency drill (应急演练) held on the unit, with its participants."""
    row = await emergency_records.record_drill(
        principal,
        equipment_id,
        held_on=data.held_on,
        participants=list(data.participants),
        scenario=data.scenario,
        note=data.note,
        today=clock.today(),
        now=clock.now(),
    )
    return Response(
        schemas.Drill(
            id=row.id,
            equipment_id=row.equipment,
            held_on=row.held_on,
            participants=row.participants,
            scenario=row.scenario,
            note=row.note,
        ),
        status_code=201,
    )


@get("/drills/missing", tags=("alarms",), responses=api_docs.READ)
async def missing_drills(
    principal: NamedDependency[Principal],
    year: Annotated[int, QueryParameter(ge=2000, le=2100)],
    limit: Limit = None,
) -> list[schemas.MissingDrill]:
    """Lifts in use with fewer emergency drills in ``year`` than required (two: one every
    half year), fewest first."""
    rows = await emergency_records.missing_drills(principal, year=year, limit=page_limit(limit))
    return [
        schemas.MissingDrill(
            equipment_id=r.id,
            code=r.code,
            address=r.address,
            district_code=r.district_code,
            drills=r.drills,
            required=emergency_records.kpis.LIFT_DRILLS_PER_YEAR,
        )
        for r in rows
    ]


@post("/alarms/{alarm_id:int}/outcome", tags=("alarms",), responses=api_docs.WRITE)
async def record_outcome(
    principal: NamedDependency[Principal],
    language: NamedDependency[str],
    alarm_id: AlarmId,
    data: JSONBody[schemas.RescueOutcomeCreate],
) -> Response[schemas.RescueOutcome]:
    """The finished rescue's outcome (救援结果): people released, injuries, how they were
    released, the cause, who did it. It closes the entrapment, and the close is announced
    like the raise (webhooks and the organisations' MQTT alert topics)."""
    row = await emergency_records.record_outcome(
        principal,
        alarm_id,
        rescue.Outcome(
            people_released=data.people_released,
            injuries=data.injuries,
            fatalities=data.fatalities,
            release_method=data.release_method,
            cause=data.cause,
            rescuers=tuple(data.rescuers),
        ),
        note=data.note,
        now=clock.now(),
    )
    return Response(_outcome(row, language), status_code=201)


@get("/alarms/{alarm_id:int}/outcome", tags=("alarms",), responses=api_docs.READ_ONE)
async def get_outcome(
    principal: NamedDependency[Principal], language: NamedDependency[str], alarm_id: AlarmId
) -> schemas.RescueOutcome:
    """The rescue outcome recorded for an entrapment (404 while none is)."""
    return _outcome(await emergency_records.get_outcome(principal, alarm_id), language)


def _outcome(row: OutcomeRecord, language: str) -> schemas.RescueOutcome:
    return schemas.RescueOutcome(
        alarm_id=row.alarm,
        equipment_id=row.equipment,
        people_released=row.people_released,
        injuries=row.injuries,
        fatalities=row.fatalities,
        release_method=row.release_method,
        release_method_label=gettext(language, rescue.RELEASE_METHODS[row.release_method]),
        cause=row.cause,
        cause_label=gettext(language, rescue.CAUSES[row.cause]),
        rescuers=row.rescuers,
        note=row.note,
        recorded_by_organisation_id=row.organisation,
        recorded_at=row.recorded_at,
    )
