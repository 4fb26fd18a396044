"""96333 intake: a call about a trapped passenger opens or joins the lift's entrapment
alarm, and an alarm's timeline shows every step from the first call or IoT event to the
rescue's end, with who did what and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from equipment.domain.access import Permission, Principal
from equipment.domain.errors import Conflict, InvalidValue, NotFound
from equipment.services import alarms, audit
from equipment.storage import reads, unit_of_work
from equipment.storage.alarms import AlarmRecord
from equipment.storage.calls import CallRow, RecentCallRow
from equipment.storage.equipment import EquipmentRow

# A caller cannot read a code off a car in the dark: an address finds the lift if it
# names one lift; more than this many candidates are not worth listing.
MAX_CANDIDATES = 10


async def _find_lift(registration_code: str | None, address: str | None) -> EquipmentRow:
    calls = reads().calls
    if registration_code:
        unit = await calls.live_lift_by_code(registration_code)
        if unit is None:
            raise NotFound(f"no lift with registration code {registration_code}")
        return unit
    if not address:
        raise InvalidValue("give the lift's registration code or its address", field="address")
    words = _like(address).strip()
    if len(words) < 2:
        raise InvalidValue("the address is too short to find one lift", field="address")
    found = await calls.live_lifts_at(words, limit=MAX_CANDIDATES + 1)
    if not found:
        raise NotFound(f"no lift at an address containing {address!r}")
    if len(found) > 1:
        shown = ", ".join(f"{u.code} ({u.address})" for u in found[:MAX_CANDIDATES])
        raise Conflict(
            f"several lifts match {address!r}: {shown}; ask the caller for the registration"
            " code on the car's label"
        )
    return found[0]


def _like(text: str) -> str:
    """``text`` matched literally inside LIKE: its wildcards are not the caller's."""
    return text.replace("\\", "").replace("%", "").replace("_", "")


async def take_call(
    principal: Principal,
    *,
    callback_number: str,
    registration_code: str | None,
    address: str | None,
    received_at: datetime,
    note: str,
    now: datetime,
) -> tuple[CallRow, AlarmRecord]:
    """(the call, the alarm): the lift's open entrapment joined, or a new one opened —
    never a second — and, when new, announced through the outbox like any other."""
    principal.require(Permission.CALL_INTAKE)
    if received_at > now:
        raise InvalidValue("a call cannot be received in the future", field="received_at")
    if now - received_at > alarms.OLDEST_MANUAL_ALARM:
        raise InvalidValue("the call is older than an alarm may be entered", field="received_at")
    async with unit_of_work() as uow:
        unit = await _find_lift(registration_code, address)
        already = await uow.calls.has_open_entrapment(unit.id)
        alarm = await alarms.open_or_count(
            unit,
            kind="entrapment",
            raised_at=received_at,
            source="96333",
            note=note,
            actor=principal,
            now=now,
        )
        call = await uow.calls.add(
            {
                "alarm": alarm.id,
                "equipment": unit.id,
                "callback_number": callback_number,
                "note": note,
                "received_at": received_at,
                "joined": already,
                "actor": principal.actor,
                "recorded_at": now,
            }
        )
        await audit.record(
            principal,
            entity="alarm",
            entity_id=alarm.id,
            action="call",
            at=now,
            before=None,
            # The number stays out of the audit trail: that is readable more widely.
            after={"call": call.id, "joined": already},
        )
    return call, alarm


async def recent_calls(principal: Principal, *, limit: int = 50) -> list[RecentCallRow]:
    """The latest calls for the call centre's page, newest first, with where each rescue
    stands. The callback number is personal: blanked for a role that may not read it."""
    principal.require(Permission.CALL_INTAKE)
    rows = await reads().calls.recent(limit)
    if not principal.can(Permission.CALL_CALLBACK_READ):
        rows = [msgspec.structs.replace(row, callback_number="") for row in rows]
    return rows


# ------------------------------------------------------------------ the timeline

_STEP_TIMES = {
    "raise": "raised_at",
    "acknowledge": "acknowledged_at",
    "arrive": "arrived_at",
    "finish": "finished_at",
    "close": "closed_at",
}


async def timeline(principal: Principal, alarm_id: int) -> tuple[AlarmRecord, list[dict]]:
    """The alarm and its events, oldest first; out of scope answers 404 like unknown."""
    alarm = await alarms.visible(principal, alarm_id)
    events: list[dict[str, Any]] = []
    store = reads()
    entries = await store.audit.trail("alarm", alarm_id)
    raised_by_audit = False
    for e in entries:
        if e.action == "call":
            continue  # the call's own row says more
        column = _STEP_TIMES.get(e.action)
        taken = getattr(alarm, column) if column else None
        at = taken if taken is not None else e.recorded_at
        raised_by_audit |= e.action == "raise"
        events.append({"at": at, "what": e.action, "who": e.actor, "detail": None})
    if not raised_by_audit:
        # Raised by the ingest (set-at-a-time, no audit row): the device raised it.
        events.append({"at": alarm.raised_at, "what": "raise", "who": alarm.source, "detail": None})
        for step in ("acknowledge", "arrive", "finish", "close"):
            column = _STEP_TIMES[step]
            done = getattr(alarm, column)
            if done is not None and not any(ev["what"] == step for ev in events):
                events.append({"at": done, "what": step, "who": "", "detail": None})
    callback = principal.can(Permission.CALL_CALLBACK_READ)
    for call in await store.calls.of_alarm(alarm_id):
        detail: dict[str, Any] = {"joined": call.joined, "note": call.note}
        if callback:
            detail["callback_number"] = call.callback_number
        events.append({"at": call.received_at, "what": "call", "who": call.actor, "detail": detail})
    if alarm.equipment is not None:
        end = alarm.closed_at or alarm.finished_at
        lift_events = await store.calls.lift_events(
            alarm.equipment, start=alarm.raised_at, end=end, limit=200
        )
        for ev in lift_events:
            events.append(
                {
                    "at": ev.ts,
                    "what": "lift_event",
                    "who": "device",
                    "detail": {"kind": ev.kind, "floor": ev.floor, "cleared": ev.cleared},
                }
            )
    for d in await store.calls.deliveries_of(alarm_id):
        who = (
            f"organisation {d.organisation}"
            if d.organisation is not None
            else f"duty desk {d.district_code or 'city'}"
        )
        events.append({"at": d.delivered_at, "what": "notified", "who": who, "detail": None})
    events.sort(key=lambda ev: ev["at"])
    return alarm, events
