"""HTTP handlers for 96333 calls and an alarm's timeline."""

from __future__ import annotations

from typing import Annotated

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from equipment.api import api_docs, schemas, views
from equipment.domain.access import Principal
from equipment.services import calls, clock

AlarmId = Annotated[int, PathParameter(ge=1, le=2**63 - 1)]


@post("/calls", tags=("alarms",), responses=api_docs.WRITE)
async def take_call(
    principal: NamedDependency[Principal], data: JSONBody[schemas.CallCreate]
) -> Response[schemas.CallTaken]:
    """A 96333 call about a trapped passenger: joins the lift's open entrapment alarm, or
    opens one (which starts the dispatch: the company and the duty desk are told)."""
    now = clock.now()
    call, alarm = await calls.take_call(
        principal,
        callback_number=data.callback_number,
        registration_code=data.registration_code,
        address=data.address,
        received_at=data.received_at or now,
        note=data.note,
        now=now,
    )
    return Response(
        schemas.CallTaken(call.id, call.joined, views.alarm(alarm)),
        status_code=200 if call.joined else 201,
    )


@get("/alarms/{alarm_id:int}/timeline", tags=("alarms",), responses=api_docs.READ_ONE)
async def alarm_timeline(
    principal: NamedDependency[Principal], alarm_id: AlarmId
) -> schemas.Timeline:
    """Every event of an alarm, oldest first: calls, the device's events, the response
    steps, escalations and who was told, with who did what and when."""
    alarm, events = await calls.timeline(principal, alarm_id)
    return schemas.Timeline(views.alarm(alarm), [schemas.TimelineEvent(**e) for e in events])
