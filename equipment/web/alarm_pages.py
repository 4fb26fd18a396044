"""The live alarm board (``/ui/alarms``): the caller's open alarms, kept current by the
server-sent events of the alarm stream, with the response buttons where the role may.

``/ui/alarms/stream`` is ``GET /api/v1/alarms/stream`` for a page (one function,
equipment.api.stream_controllers.open_stream): EventSource cannot send a bearer token,
so the session authenticates it, and the session is asked again every keep-alive (a
logout or a disabled account ends an open stream within seconds, as a revoked token
does). Each event names an alarm; the page then fetches that alarm's card
(``/ui/alarms/{id}/card``), rendered here with the same labels as the first load.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter
from litestar.response import Redirect, ServerSentEvent, Template

from equipment.api.stream_controllers import open_stream, resume_point
from equipment.domain.access import Permission, Principal
from equipment.domain.errors import NotFound
from equipment.domain.labels import ALARM_KIND, ALARM_SEVERITY
from equipment.i18n import N_
from equipment.services import accounts, alarm_board, alarms, clock
from equipment.web.staff import SESSION_COOKIE, page

FILL_ALARM = N_("Refused or suspicious fill")
STEP_LABELS = {
    "acknowledge": N_("Acknowledge"),
    "arrive": N_("On site"),
    "finish": N_("Rescue finished"),
}


def kind_label(kind: str) -> str:
    if kind.startswith("fill_"):
        return FILL_ALARM
    return ALARM_KIND.get(kind, kind)


def local_time(at: datetime | None) -> str:
    """A time as people in the city read it (China Standard Time)."""
    if at is None:
        return "—"
    if at.tzinfo is None:  # stored as UTC
        at = at.replace(tzinfo=UTC)
    return at.astimezone(clock.CHINA).strftime("%Y-%m-%d %H:%M")


def _context(principal: Principal) -> dict[str, Any]:
    return {
        "kind_label": kind_label,
        "severity_labels": ALARM_SEVERITY,
        "step_labels": STEP_LABELS,
        "step_columns": {step: spec[0] for step, spec in alarms.STEPS.items()},
        "local_time": local_time,
        "can_respond": principal.can(Permission.ALARM_RESPOND),
    }


@get("/ui/alarms", include_in_schema=False)
async def board_page(request: Request, principal: NamedDependency[Principal]) -> Template:
    """The open alarms of the caller's scope; the page's script keeps them current."""
    rows, more = await alarm_board.open_alarms(principal)
    return page(
        request, "map_board/alarms.html", {**_context(principal), "rows": rows, "more": more}
    )


@get("/ui/alarms/{alarm_id:int}/card", include_in_schema=False)
async def alarm_card(
    request: Request, principal: NamedDependency[Principal], alarm_id: FromPath[int]
) -> Template:
    """One alarm's card (an HTML fragment the board's script puts in place)."""
    row = await alarm_board.board_row(principal, alarm_id)
    return page(request, "map_board/alarm_card.html", {**_context(principal), "row": row})


@post("/ui/alarms/{alarm_id:int}/{step:str}", include_in_schema=False)
async def alarm_step(
    principal: NamedDependency[Principal], alarm_id: FromPath[int], step: FromPath[str]
) -> Redirect:
    """Acknowledge, on site, finished: the API's response steps (alarms.respond)."""
    if step not in alarms.STEPS:
        raise NotFound(f"no step {step}")
    now = clock.now()
    await alarms.respond(principal, alarm_id, step, at=now, now=now)
    return Redirect(path=f"/ui/alarms#alarm-{alarm_id}", status_code=303)


@get("/ui/alarms/stream", include_in_schema=False)
async def alarm_board_stream(
    request: Request,
    principal: NamedDependency[Principal],
    state: State,
    last_event_id: Annotated[
        str | None, HeaderParameter(name="Last-Event-ID", max_length=20, required=False)
    ] = None,
) -> ServerSentEvent:
    """The alarm stream of the session's principal (see the module's docstring)."""
    session_id = request.cookies.get(SESSION_COOKIE, "")

    async def still_allowed() -> bool:
        session = await accounts.session(session_id, now=clock.now())
        return session is not None and session.principal == principal

    return await open_stream(
        principal, state.alarm_feed, resume_point(last_event_id, None), still_allowed
    )


ALARM_PAGES: list = [board_page, alarm_board_stream, alarm_card, alarm_step]
