"""Payloads of MQTT contract v1: decoded, validated, or refused with a dead-letter reason.

Source: docs/mqtt-contract.md (exact: devices in the field are built against
it). Payloads are UTF-8 JSON objects of at most 16 KiB, timestamps are RFC 3339 with an
offset, unknown extra fields are ignored, and a missing or wrongly typed required field
dead-letters the message with its reason. Lift event kinds and fault codes:
:mod:`equipment.domain.lift_events` (GB/T 24476-2017, docs/rules.md "Lift IoT"); which fills
are measured by mass or by pressure: :func:`equipment.domain.fills.measure_for`.

:func:`decode` is fed by devices, so it never raises: every input ends as
:class:`Decoded` or :class:`Rejected`. It runs for every message (tens of thousands a
second), so the accepting path is one msgspec decode into a typed struct plus a few
comparisons; the slower work of explaining a refusal happens only on refusal.

msgspec's JSON decoding is strict by default, which is what the contract wants: ``"1"``
for an int, ``1`` for a bool, ``true`` for an int and ``1.0`` for an int are all type
errors, and a number too large for its type is out of range rather than infinite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Final

import msgspec

from equipment.domain import aliases
from equipment.domain.fills import Measure, measure_for
from equipment.domain.lift_events import DEFAULT_FAULT_CODES, KINDS, FaultCodeTable
from ingest_mqtt.topics import Topic, TopicKind, UnknownTopic, parse_topic

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "DeadLetterReason",
    "Decoded",
    "FillEvent",
    "LiftEvent",
    "LiftStatus",
    "Rejected",
    "TimeWindow",
    "TimeWindows",
    "decode",
    "encode_verdict",
]

MAX_PAYLOAD_BYTES: Final = 16 * 1024


class DeadLetterReason(StrEnum):
    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    INVALID_VALUE = "invalid_value"
    UNKNOWN_TOPIC = "unknown_topic"
    TOPIC_MISMATCH = "topic_mismatch"
    UNKNOWN_UNIT = "unknown_unit"  # consumer only: decode() does not know the register
    UNKNOWN_FAULT_CODE = "unknown_fault_code"
    INTERNAL_ERROR = "internal_error"  # consumer only: a failure after decoding


# tz=True: a timestamp without an offset names no instant, and the contract requires one.
Timestamp = Annotated[datetime, msgspec.Meta(tz=True)]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Medium = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
# JSON cannot spell inf or NaN, and msgspec refuses a literal that overflows a double
# ("Number out of range"), so ge=0 is all a finite, non-negative quantity needs.
Quantity = Annotated[float, msgspec.Meta(ge=0)]
# Bounded by the storage columns (BIGINT, INTEGER): a larger number from a device is an
# invalid value at the door, not a database error later.
Count = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
Floor = Annotated[int, msgspec.Meta(ge=-10, le=300)]
# A vehicle registration (plate) as read at the pump; 16 bounds the longest plates.
Plate = Annotated[str, msgspec.Meta(min_length=1, max_length=16)]

# gc=False: the fields are atoms (str, int, float, bool, datetime), so these structs can
# never be part of a reference cycle, and untracking them spares the collector at the
# message rate.


class FillEvent(msgspec.Struct, frozen=True, gc=False):
    """``sereg/v1/stations/{station_code}/fills``: one finished fill."""

    event_id: Code
    station_code: Code
    cylinder_code: Code
    medium: Medium
    filled_at: Timestamp
    pre_check_passed: bool
    post_check_passed: bool
    operator: Code
    started_at: Timestamp | None = None
    filled_mass_kg: Quantity | None = None
    final_pressure_mpa: Quantity | None = None
    # Optional checks, added within v1 (docs/mqtt-contract.md): absent means "not
    # checked", never a refusal, so devices built before them keep working.
    purged_or_evacuated: bool | None = None
    people_in_vehicle: bool | None = None
    vehicle_registration: Plate | None = None


class LiftStatus(msgspec.Struct, frozen=True, gc=False):
    """``sereg/v1/elevators/{registration_code}/status``: heartbeat and state.

    ``service_mode`` as in docs/rules.md "Lift IoT": 0 out of service, 1 normal, 2 inspection,
    3 fire return, 4 firefighter, 5 emergency power, 6 earthquake, 7 unknown.
    """

    ts: Timestamp
    running: bool
    direction: Annotated[int, msgspec.Meta(ge=0, le=2)]  # 0 stopped, 1 up, 2 down
    door_zone: bool
    floor: Floor
    doors_closed: bool
    occupied: bool
    service_mode: Annotated[int, msgspec.Meta(ge=0, le=7)]
    total_runs: Count | None = None
    total_hours: Quantity | None = None
    door_cycles: Count | None = None
    registration_code: str | None = None


class LiftEvent(msgspec.Struct, frozen=True, gc=False):
    """``sereg/v1/elevators/{registration_code}/events``: a fault or alarm.

    Once decoded, ``kind`` is always set: a device that sends only its raw ``code`` has
    it mapped through the fault-code table.
    """

    event_id: Code
    ts: Timestamp
    kind: str | None = None
    code: Code | Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] | None = None
    floor: Floor | None = None
    cleared: bool = False
    registration_code: str | None = None


Message = FillEvent | LiftStatus | LiftEvent


@dataclass(frozen=True, slots=True)
class Decoded:
    topic: Topic
    message: Message


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: DeadLetterReason
    detail: str  # for the dead-letter record: names the field and what was wrong


_FILL_DECODER: Final = msgspec.json.Decoder(FillEvent)
_STATUS_DECODER: Final = msgspec.json.Decoder(LiftStatus)
_EVENT_DECODER: Final = msgspec.json.Decoder(LiftEvent)
# Only on refusal: tells malformed JSON from a type error the typed decoder met first.
_SYNTAX_DECODER: Final = msgspec.json.Decoder(msgspec.Raw)
_ENCODER: Final = msgspec.json.Encoder()

# Parsing a topic costs about as much as decoding its payload, and every unit publishes
# under the same topic again and again: a city's 10^4-10^5 units fit this cache (about
# 20 MB when full). Only parsed topics are kept, so unknown ones cannot fill it.
_parse_topic: Final = lru_cache(maxsize=1 << 16)(parse_topic)
# A handful of media recur; lengths are capped at 32 by the time it is called.
_measure_for: Final = lru_cache(maxsize=256)(measure_for)

_MEASURED_BY: Final[dict[Measure | None, tuple[str, str]]] = {
    Measure.MASS: ("filled_mass_kg", "liquefied gas"),
    Measure.PRESSURE: ("final_pressure_mpa", "compressed gas"),
}


def _fill(topic: Topic, payload: bytes, fault_codes: FaultCodeTable) -> Decoded | Rejected:
    fill = _FILL_DECODER.decode(payload)
    if fill.station_code != topic.code:
        return Rejected(
            DeadLetterReason.TOPIC_MISMATCH,
            f"`$.station_code` {fill.station_code!r} is not the topic's station {topic.code!r}",
        )
    medium = aliases.medium_code(fill.medium)
    if medium != fill.medium:
        # 液化石油气 is LPG: a scale that names its medium in Chinese means the same gas,
        # and the fill is stored and judged under the contract's code.
        fill = msgspec.structs.replace(fill, medium=medium)
    required = _MEASURED_BY.get(_measure_for(fill.medium))
    if required is not None:
        field, gas = required
        if getattr(fill, field) is None:
            return Rejected(
                DeadLetterReason.MISSING_FIELD, f"{field} is required for {gas} {fill.medium}"
            )
    return Decoded(topic, fill)


def _mismatch(topic: Topic, registration_code: str | None) -> Rejected | None:
    if registration_code is None or registration_code == topic.code:
        return None
    return Rejected(
        DeadLetterReason.TOPIC_MISMATCH,
        f"`$.registration_code` {registration_code!r} is not the topic's lift {topic.code!r}",
    )


def _status(topic: Topic, payload: bytes, fault_codes: FaultCodeTable) -> Decoded | Rejected:
    status = _STATUS_DECODER.decode(payload)
    mismatch = _mismatch(topic, status.registration_code)
    return Decoded(topic, status) if mismatch is None else mismatch


def _event(topic: Topic, payload: bytes, fault_codes: FaultCodeTable) -> Decoded | Rejected:
    event = _EVENT_DECODER.decode(payload)
    mismatch = _mismatch(topic, event.registration_code)
    if mismatch is not None:
        return mismatch
    if event.kind is not None:
        kind = aliases.lift_event_kind(event.kind)  # 困人 → entrapment
        if kind != event.kind:
            event = msgspec.structs.replace(event, kind=kind)
        if event.kind not in KINDS:
            return Rejected(
                DeadLetterReason.INVALID_VALUE,
                f"`$.kind`: {event.kind!r} is not a lift event kind of the contract",
            )
        return Decoded(topic, event)
    if event.code is None:
        return Rejected(
            DeadLetterReason.MISSING_FIELD,
            "missing required field `kind` (or a `code` to map to one)",
        )
    mapped = fault_codes.kind_for(str(event.code))
    if mapped is None:
        return Rejected(
            DeadLetterReason.UNKNOWN_FAULT_CODE,
            f"`$.code`: {event.code!r} is neither a GB/T 24476 code nor in a platform table",
        )
    return Decoded(topic, msgspec.structs.replace(event, kind=mapped))


_Route = Callable[[Topic, bytes, FaultCodeTable], Decoded | Rejected]
_ROUTES: Final[dict[TopicKind, _Route]] = {
    TopicKind.FILLS: _fill,
    TopicKind.STATUS: _status,
    TopicKind.EVENTS: _event,
}


def _split(error: str) -> tuple[str, str | None]:
    """msgspec's ``"<message> - at `$.path`"`` as (message, path); no path at the root."""
    message, separator, rest = error.rpartition(" - at `")
    if separator and rest.endswith("`"):
        return message, rest[:-1]
    return error, None


def _explain(error: msgspec.ValidationError, payload: bytes) -> Rejected:
    """The reason for a payload the typed decoder refused."""
    try:
        _SYNTAX_DECODER.decode(payload)
    except msgspec.DecodeError as exc:
        return Rejected(DeadLetterReason.NOT_JSON, str(exc))
    except RecursionError:
        return Rejected(DeadLetterReason.NOT_JSON, "JSON nested too deeply to decode")
    message, path = _split(str(error))
    if message.startswith("Object missing required field "):
        field = message.removeprefix("Object missing required field ")
        where = f" at `{path}`" if path else ""
        return Rejected(DeadLetterReason.MISSING_FIELD, f"missing required field {field}{where}")
    if path is None and message.startswith("Expected `object`, got "):
        got = message.removeprefix("Expected `object`, got ")
        return Rejected(DeadLetterReason.NOT_AN_OBJECT, f"expected a JSON object, got {got}")
    where = f"`{path or '$'}`: "
    if message == "Expected `datetime` with a timezone component":
        return Rejected(
            DeadLetterReason.INVALID_VALUE, f"{where}expected a timestamp with a UTC offset"
        )
    explained = message[:1].lower() + message[1:]
    # "Expected `int`, got `str`" is a type error; "Expected `int` <= 300" or
    # "Expected `str` of length >= 1" is a constraint, hence a bad value.
    if message.startswith("Expected `") and "`, got `" in message:
        return Rejected(DeadLetterReason.WRONG_TYPE, f"{where}{explained}")
    if message.endswith("out of range"):
        explained += " (numbers must be finite and fit their type)"
    return Rejected(DeadLetterReason.INVALID_VALUE, f"{where}{explained}")


def _decode(topic: str, payload: bytes, fault_codes: FaultCodeTable) -> Decoded | Rejected:
    try:
        parsed = _parse_topic(topic)
    except UnknownTopic as exc:
        return Rejected(DeadLetterReason.UNKNOWN_TOPIC, str(exc))
    route = _ROUTES.get(parsed.kind)
    if route is None:
        return Rejected(
            DeadLetterReason.UNKNOWN_TOPIC, f"{topic!r}: sereg publishes verdicts, never reads them"
        )
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Rejected(
            DeadLetterReason.TOO_LARGE,
            f"{len(payload)} bytes, more than the {MAX_PAYLOAD_BYTES} the contract allows",
        )
    # msgspec checks UTF-8 only in the strings it keeps, not in skipped unknown fields;
    # isascii() settles the common all-ASCII payload without building a str.
    if not payload.isascii():
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Rejected(
                DeadLetterReason.NOT_UTF8, f"byte {exc.start}: not UTF-8 ({exc.reason})"
            )
    try:
        decoded = route(parsed, payload, fault_codes)
    except msgspec.ValidationError as exc:
        return _explain(exc, payload)
    except msgspec.DecodeError as exc:
        return Rejected(DeadLetterReason.NOT_JSON, str(exc))
    except RecursionError:
        # Deep nesting in an ignored field; RFC 8259 section 9 lets a parser limit depth.
        return Rejected(DeadLetterReason.NOT_JSON, "JSON nested too deeply to decode")
    # JSON can carry U+0000 only as the escape \u0000, so a payload without it is clean.
    if isinstance(decoded, Decoded) and b"\\u0000" in payload:
        return _refuse_nul(decoded) or decoded
    return decoded


def _refuse_nul(decoded: Decoded) -> Rejected | None:
    """PostgreSQL text cannot hold U+0000 (nor jsonb spell it): refused at the door, it is
    one dead letter, where at the database it failed the whole batch, which was then stored
    one message at a time to find it (a station could slow every batch that way)."""
    message = decoded.message
    for field in message.__struct_fields__:
        value = getattr(message, field)
        if isinstance(value, str) and "\x00" in value:
            return Rejected(
                DeadLetterReason.INVALID_VALUE,
                f"`$.{field}`: text may not contain U+0000 (NUL), which the register cannot store",
            )
    return None


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """How far before and after the moment sereg receives a message its timestamps may lie.

    A timestamp outside is no clock drift but a broken or forged one (9999-12-31, 0001-01-01,
    a dead RTC battery's 1970): refused at the door as ``invalid_value``, it is one dead
    letter with its payload kept, where inside it would reach the rules and the cylinders'
    and lifts' state (and, at the edges of the calendar, overflow date arithmetic).
    """

    max_age: timedelta
    max_ahead: timedelta


@dataclass(frozen=True, slots=True)
class TimeWindows:
    """The window of each topic kind; the defaults are sereg's (settings: ``IngestSettings``).

    Both kinds reach 30 days back: a station or a lift buffers while its network is down
    (a long holiday closure or a rural outage fits), and anything older would be judged
    against a register that has moved on since (due dates, ownership), and for
    heartbeats is older than their retention. Ahead, a fill may be a day out (a device
    in the wrong time zone is 8 h out): it is stored, since the fill happened, and
    flagged "impossible" (19, ``FillPolicy.future_skew``), and it never moves the
    cylinder's state past its receive time. A lift's status or event has no such flag,
    and one from the future would hide the lift's real state and alarms until then, so
    it may be minutes ahead only.
    """

    fills: TimeWindow = TimeWindow(timedelta(days=30), timedelta(days=1))
    lifts: TimeWindow = TimeWindow(timedelta(days=30), timedelta(minutes=10))


DEFAULT_WINDOWS: Final = TimeWindows()


def _span(delta: timedelta) -> str:
    if delta >= timedelta(days=2):
        return f"{delta.days} days"
    if delta >= timedelta(hours=2):
        return f"{delta.total_seconds() / 3600:.0f} h"
    return f"{delta.total_seconds() / 60:.0f} min"


def _outside(decoded: Decoded, received_at: datetime, windows: TimeWindows) -> Rejected | None:
    """The first timestamp of the message outside its window, as a refusal."""
    window = windows.fills if decoded.topic.kind is TopicKind.FILLS else windows.lifts
    message = decoded.message
    for name in message.__struct_fields__:
        value = getattr(message, name)
        if not isinstance(value, datetime):
            continue
        # Subtracting two aware datetimes never overflows (at most ~3.7 million days apart),
        # where adding the window to either could at the edges of the calendar.
        offset = value - received_at
        if offset > window.max_ahead:
            return Rejected(
                DeadLetterReason.INVALID_VALUE,
                f"`$.{name}`: {value.isoformat()} is {_span(offset)} after the message was "
                f"received; at most {_span(window.max_ahead)} ahead is accepted: check the "
                "device clock",
            )
        if -offset > window.max_age:
            return Rejected(
                DeadLetterReason.INVALID_VALUE,
                f"`$.{name}`: {value.isoformat()} is {_span(-offset)} before the message was "
                f"received; at most {_span(window.max_age)} back is accepted: check the "
                "device clock",
            )
    return None


def decode(
    topic: str,
    payload: bytes,
    fault_codes: FaultCodeTable = DEFAULT_FAULT_CODES,
    *,
    received_at: datetime | None = None,
    windows: TimeWindows = DEFAULT_WINDOWS,
) -> Decoded | Rejected:
    """The message on ``topic``, or why it is dead-lettered. Never raises.

    With ``received_at`` (an aware datetime), every timestamp of the message must lie in
    its kind's window around it."""
    try:
        decoded = _decode(topic, payload, fault_codes)
        if received_at is not None and isinstance(decoded, Decoded):
            return _outside(decoded, received_at, windows) or decoded
        return decoded
    except Exception as exc:
        # A bug here must dead-letter one message, not stop the worker for every device.
        return Rejected(
            DeadLetterReason.INVALID_VALUE, f"undecodable message ({type(exc).__name__})"
        )


def encode_verdict(event_id: str, verdict: dict[str, object]) -> bytes:
    """The payload for ``sereg/v1/stations/{station_code}/verdicts``."""
    return _ENCODER.encode({"event_id": event_id, **verdict})
