"""HTTP handlers for response KPIs and emergency drills."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Literal

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from equipment.api import api_docs, schemas
from equipment.api.controllers import EquipmentId, Limit, page_limit
from equipment.domain.access import Principal
from equipment.domain.errors import InvalidValue
from equipment.services import clock, emergency_records


@get("/kpis/response", tags=("alarms",), responses=api_docs.READ)
async def response_kpis(
    principal: NamedDependency[Principal],
    start: Annotated[datetime, QueryParameter(name="from")],
    end: Annotated[datetime, QueryParameter(name="to")],
    group: Annotated[Literal["company", "district"], QueryParameter()] = "company",
) -> list[schemas.ResponseKpi]:
    """Entrapment response per maintenance company or district over [from, to): median
    and p90 minutes to acknowledge and to arrive, share late, entrapments per 1,000 lifts."""
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
            id=row["id"],
            equipment_id=row["equipment"],
            held_on=row["held_on"],
            participants=_list(row["participants"]),
            scenario=row["scenario"],
            note=row["note"],
        ),
        status_code=201,
    )


def _list(value: object) -> list[str]:
    # A JSON column reads back as text unless the query loads it.
    if isinstance(value, str):
        return list(json.loads(value))
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


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
            equipment_id=r["id"],
            code=r["code"],
            address=r["address"],
            district_code=r["district_code"],
            drills=r["drills"],
            required=emergency_records.kpis.LIFT_DRILLS_PER_YEAR,
        )
        for r in rows
    ]
