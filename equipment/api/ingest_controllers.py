"""HTTP handlers for fills (the interlock, fill lists, cylinder traces, joint operation),
lift live state, and the ingest's dead letters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter

from equipment.api import api_docs, schemas, views
from equipment.api.controllers import EquipmentId, Limit, page_limit, query_text
from equipment.domain import aliases
from equipment.domain.access import Principal
from equipment.domain.fills import FillAttempt
from equipment.services import clock, dead_letters, fills, telemetry

CylinderCode = Annotated[
    str, PathParameter(min_length=1, max_length=64, pattern=r"^[^\x00/]*$", description="code")
]
BeforeId = Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1, required=False)]


class CylinderController(Controller):
    path = "/cylinders"
    tags = ("fills",)

    @get("/{code:str}/fill-permit", responses=api_docs.READ_ONE)
    async def fill_permit(
        self,
        principal: NamedDependency[Principal],
        code: CylinderCode,
        medium: Annotated[str, query_text(32, "LPG, O2, Ar+CO2... or 液化石油气, 氧气...")],
        language: NamedDependency[str],
        station: Annotated[str | None, query_text(32)] = None,
        purged_or_evacuated: FromQuery[bool | None] = None,
        people_in_vehicle: FromQuery[bool | None] = None,
        vehicle_registration: Annotated[str | None, query_text(16)] = None,
    ) -> schemas.FillPermit:
        """May ``station`` fill cylinder ``code`` with ``medium`` now? The same codes and
        reasons as the verdict a fill event gets (00 and 09 allow, every other refuses).
        A station asks for itself (``station`` may be left out). The optional checks
        (a new cylinder purged or evacuated, people in the vehicle, the vehicle's
        registration) are judged when given and not checked when left out."""
        checks = FillAttempt(
            medium=medium,
            at=clock.now(),
            purged_or_evacuated=purged_or_evacuated,
            people_in_vehicle=people_in_vehicle,
            vehicle_registration=vehicle_registration,
        )
        answer = await fills.fill_permit(
            principal,
            code,
            station_code=station,
            medium=aliases.medium_code(medium),  # 液化石油气 → LPG
            now=checks.at,
            checks=checks,
        )
        return views.fill_permit(answer, language)

    @get("/{code:str}/trace", responses=api_docs.READ_ONE)
    async def trace(
        self,
        principal: NamedDependency[Principal],
        code: CylinderCode,
        language: NamedDependency[str],
        limit: Limit = None,
    ) -> schemas.CylinderTrace:
        """The cylinder's fill count, last fill and latest fills (traceability)."""
        return views.cylinder_trace(
            await fills.cylinder_trace(principal, code, limit=page_limit(limit)), language
        )


class FillController(Controller):
    path = "/fills"
    tags = ("fills",)

    @get("/", responses=api_docs.READ)
    async def list_(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        station_id: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
        cylinder_code: Annotated[str | None, query_text(64)] = None,
        allowed: FromQuery[bool | None] = None,
        verdict: Annotated[str | None, QueryParameter(pattern=r"^[0-9]{2}$")] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        before: BeforeId = None,
        limit: Limit = None,
    ) -> schemas.FillPage:
        """Fills newest first; a station sees its own only."""
        page = await fills.list_fills(
            principal,
            fills.FillFilter(station_id, cylinder_code, allowed, verdict, since, until),
            before_id=before,
            limit=page_limit(limit),
        )
        return schemas.FillPage([views.fill(r, language) for r in page.items], page.next_cursor)


class JointFillingController(Controller):
    path = "/joint-fillings"
    tags = ("fills",)

    @post("/", responses=api_docs.WRITE)
    async def create(
        self, principal: NamedDependency[Principal], data: JSONBody[schemas.JointFillingCreate]
    ) -> Response[schemas.JointFilling]:
        """Let one station fill another's cylinders (interlock code 09)."""
        row = await fills.create_joint_filling(
            principal,
            owner_station_id=data.owner_station_id,
            filling_station_id=data.filling_station_id,
            valid_from=data.valid_from,
            valid_until=data.valid_until,
            now=clock.now(),
        )
        return Response(views.joint_filling(row), status_code=201)

    @get("/", responses=api_docs.READ)
    async def list_(self, principal: NamedDependency[Principal]) -> list[schemas.JointFilling]:
        return [views.joint_filling(r) for r in await fills.list_joint_fillings(principal)]


class EntrustmentController(Controller):
    path = "/cylinder-entrustments"
    tags = ("fills",)

    @post("/", responses=api_docs.WRITE)
    async def create(
        self, principal: NamedDependency[Principal], data: JSONBody[schemas.EntrustmentCreate]
    ) -> Response[schemas.Entrustment]:
        """Entrust an owner's cylinders (托管) to a station: it fills them as its own
        (interlock code 00, reason "entrusted")."""
        row = await fills.create_entrustment(
            principal,
            owner_id=data.owner_id,
            filling_station_id=data.filling_station_id,
            valid_from=data.valid_from,
            valid_until=data.valid_until,
            now=clock.now(),
        )
        return Response(views.entrustment(row), status_code=201)

    @get("/", responses=api_docs.READ)
    async def list_(self, principal: NamedDependency[Principal]) -> list[schemas.Entrustment]:
        return [views.entrustment(r) for r in await fills.list_entrustments(principal)]


@get("/equipment/{equipment_id:int}/live", tags=["telemetry"], responses=api_docs.READ_ONE)
async def lift_live_state(
    principal: NamedDependency[Principal], equipment_id: EquipmentId
) -> schemas.LiftLiveState:
    """The lift's latest heartbeat: state, service mode, counters, online or offline."""
    return views.lift_state(await telemetry.live_state(principal, equipment_id))


class DeadLetterController(Controller):
    path = "/dead-letters"
    tags = ("ingest",)

    @get("/", responses=api_docs.READ)
    async def list_(
        self,
        principal: NamedDependency[Principal],
        reason: Annotated[str | None, query_text(32)] = None,
        unit_code: Annotated[str | None, query_text(64)] = None,
        since: FromQuery[datetime | None] = None,
        before: BeforeId = None,
        limit: Limit = None,
    ) -> schemas.DeadLetterPage:
        """MQTT messages the ingest could not accept, newest first, with the reason."""
        page = await dead_letters.list_dead_letters(
            principal,
            reason=reason,
            unit_code=unit_code,
            since=since,
            before_id=before,
            limit=page_limit(limit),
        )
        return schemas.DeadLetterPage([views.dead_letter(r) for r in page.items], page.next_cursor)

    @get("/summary", responses=api_docs.READ)
    async def summary(
        self, principal: NamedDependency[Principal], since: FromQuery[datetime | None] = None
    ) -> schemas.DeadLetterSummary:
        """Counts by reason, and unknown unit codes counted per code (register clean-up)."""
        found = await dead_letters.summary(principal, since=since)
        return schemas.DeadLetterSummary(
            by_reason=found["by_reason"],
            unknown_codes=[schemas.UnknownCode(**r) for r in found["unknown_codes"]],
        )
