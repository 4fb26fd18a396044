"""The 96333 call centre's page: take a call about a trapped passenger and follow the
rescues the latest calls opened or joined.

The form is the API's ``POST /api/v1/calls`` (``services.calls.take_call``): the lift by
its registration code, or by its address when the caller cannot read the code; a call
about a lift whose entrapment is already open joins that alarm instead of opening a
second one. The list under it shows, per call, the lift and where the rescue stands
(acknowledged, on site, finished, closed), so the operator can tell a caller who rings
again what is happening.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from equipment.api.schemas import CALLBACK_NUMBER_PATTERN
from equipment.domain.access import Permission, Principal
from equipment.domain.errors import Conflict, InvalidValue, NotFound
from equipment.i18n import N_
from equipment.i18n.spoken import speak
from equipment.services import calls, clock
from equipment.storage.calls import RecentCallRow
from equipment.web.alarm_pages import local_time
from equipment.web.staff import needs, page, staff_language

RECENT = 50
FIELDS = ("registration_code", "address", "callback_number", "note")
# The API's limits (schemas.CallCreate).
MAX_LENGTH = {"registration_code": 20, "address": 200, "callback_number": 32, "note": 500}
CALLBACK_NUMBER = re.compile(CALLBACK_NUMBER_PATTERN)
STATE_LABELS = {"open": N_("Open"), "closed": N_("Closed")}


def _form(fields: Any) -> dict[str, str]:
    values = {}
    for name in FIELDS:
        value = fields.get(name)
        values[name] = value.strip() if isinstance(value, str) else ""
    return values


def _check(form: dict[str, str]) -> None:
    for name, limit in MAX_LENGTH.items():
        if len(form[name]) > limit:
            raise InvalidValue(f"at most {limit} characters", field=name)
    if not CALLBACK_NUMBER.match(form["callback_number"]):
        raise InvalidValue(
            "a phone number of 5 to 31 digits (spaces and dashes allowed)",
            field="callback_number",
        )
    if not form["registration_code"] and len(form["address"]) < 4:
        raise InvalidValue("give the lift's registration code or its address", field="address")


def _row(call: RecentCallRow) -> dict[str, Any]:
    steps = (
        ("acknowledged_at", N_("Acknowledged")),
        ("arrived_at", N_("On site")),
        ("finished_at", N_("Rescue finished")),
        ("closed_at", N_("Closed")),
    )
    return {
        **msgspec.structs.asdict(call),
        "received_local": local_time(call.received_at),
        "steps": [
            (label, local_time(getattr(call, column)))
            for column, label in steps
            if getattr(call, column)
        ],
    }


async def _calls_page(
    request: Request,
    principal: Principal,
    *,
    status: int = 200,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Template:
    taken = request.query_params.get("taken") or ""
    return page(
        request,
        "calls.html",
        {
            "calls": [_row(c) for c in await calls.recent_calls(principal, limit=RECENT)],
            "form": form or {},
            "errors": errors or {},
            "taken": taken if taken in ("new", "joined") else "",
            "state_labels": STATE_LABELS,
        },
        status_code=status,
    )


@get("/ui/calls", include_in_schema=False, guards=[needs(Permission.CALL_INTAKE)])
async def call_list(request: Request, principal: NamedDependency[Principal]) -> Template:
    """The call form and the latest calls with their rescues."""
    return await _calls_page(request, principal)


@post("/ui/calls", include_in_schema=False, guards=[needs(Permission.CALL_INTAKE)])
async def call_take(request: Request, principal: NamedDependency[Principal]) -> Template | Redirect:
    """Record a call (as POST /api/v1/calls): opens the lift's entrapment alarm or joins it."""
    form = _form(await request.form())
    try:
        _check(form)
        now = clock.now()
        call, _alarm = await calls.take_call(
            principal,
            callback_number=form["callback_number"],
            registration_code=form["registration_code"] or None,
            address=None if form["registration_code"] else form["address"],
            received_at=now,
            note=form["note"],
            now=now,
        )
    except (InvalidValue, NotFound, Conflict) as refused:
        # Here a lift not found is the caller's words not matching one (the call centre
        # sees every lift): said next to the field, not as a missing page.
        field = refused.field or ("registration_code" if form["registration_code"] else "address")
        status = 409 if isinstance(refused, Conflict) else 422
        errors = {field: speak(staff_language(request), refused.reason)}
        return await _calls_page(request, principal, status=status, form=form, errors=errors)
    taken = "joined" if call.joined else "new"
    return Redirect(path=f"/ui/calls?taken={taken}#call-{call.id}", status_code=303)


CALL_PAGES: list = [call_list, call_take]
