"""Decoding MQTT contract v1 payloads (docs/mqtt-contract.md).

Every way a device can get a message wrong ends as a dead letter with its reason; a
valid message of each topic decodes; nothing a device sends makes decode() raise.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.domain import aliases
from equipment.domain.fills import Measure, measure_for
from equipment.domain.lift_events import KINDS, load_fault_codes
from ingest_mqtt.messages import (
    MAX_PAYLOAD_BYTES,
    DeadLetterReason,
    Decoded,
    FillEvent,
    LiftEvent,
    LiftStatus,
    Rejected,
    decode,
    encode_verdict,
)
from ingest_mqtt.topics import TopicKind

R = DeadLetterReason
STATION = "XYS001"
LIFT = "31104206062016053337"
FILLS = f"sereg/v1/stations/{STATION}/fills"
VERDICTS = f"sereg/v1/stations/{STATION}/verdicts"
STATUS = f"sereg/v1/elevators/{LIFT}/status"
EVENTS = f"sereg/v1/elevators/{LIFT}/events"

FILL: dict[str, Any] = {
    "event_id": "f-0001",
    "station_code": STATION,
    "cylinder_code": "XY2401000123",
    "medium": "LPG",
    "filled_at": "2025-03-01T09:30:00+08:00",
    "started_at": "2025-03-01T09:28:30+08:00",
    "filled_mass_kg": 14.5,
    "pre_check_passed": True,
    "post_check_passed": True,
    "operator": "TS2342010-2023-00123",
}
STATUS_MSG: dict[str, Any] = {
    "ts": "2025-03-01T01:30:00Z",
    "running": True,
    "direction": 1,
    "door_zone": False,
    "floor": 12,
    "doors_closed": True,
    "occupied": True,
    "service_mode": 1,
    "total_runs": 182734,
    "total_hours": 9120.5,
    "door_cycles": 365000,
}
EVENT: dict[str, Any] = {
    "event_id": "e-77",
    "ts": "2025-03-01T01:31:00Z",
    "kind": "entrapment",
    "floor": 12,
}
VALID = {FILLS: FILL, STATUS: STATUS_MSG, EVENTS: EVENT}
DROP = object()  # a field value meaning "leave the field out"


def body(base: dict[str, Any], **changes: Any) -> bytes:
    merged = {**base, **changes}
    return json.dumps({k: v for k, v in merged.items() if v is not DROP}).encode()


def rejected(topic: str, payload: bytes, **kwargs: Any) -> Rejected:
    result = decode(topic, payload, **kwargs)
    assert isinstance(result, Rejected), result
    assert result.detail
    return result


def decoded(topic: str, payload: bytes, **kwargs: Any) -> Decoded:
    result = decode(topic, payload, **kwargs)
    assert isinstance(result, Decoded), result
    return result


# --- valid messages -------------------------------------------------------------------


def test_valid_fill():
    result = decoded(FILLS, body(FILL))
    assert (result.topic.kind, result.topic.code) == (TopicKind.FILLS, STATION)
    china = timezone(timedelta(hours=8))
    assert result.message == FillEvent(
        event_id="f-0001",
        station_code=STATION,
        cylinder_code="XY2401000123",
        medium="LPG",
        filled_at=datetime(2025, 3, 1, 9, 30, tzinfo=china),
        pre_check_passed=True,
        post_check_passed=True,
        operator="TS2342010-2023-00123",
        started_at=datetime(2025, 3, 1, 9, 28, 30, tzinfo=china),
        filled_mass_kg=14.5,
    )


def test_valid_status():
    result = decoded(STATUS, body(STATUS_MSG))
    assert (result.topic.kind, result.topic.code) == (TopicKind.STATUS, LIFT)
    assert result.message == LiftStatus(
        ts=datetime(2025, 3, 1, 1, 30, tzinfo=UTC),
        running=True,
        direction=1,
        door_zone=False,
        floor=12,
        doors_closed=True,
        occupied=True,
        service_mode=1,
        total_runs=182734,
        total_hours=9120.5,
        door_cycles=365000,
    )


def test_valid_event():
    result = decoded(EVENTS, body(EVENT))
    assert (result.topic.kind, result.topic.code) == (TopicKind.EVENTS, LIFT)
    assert result.message == LiftEvent(
        event_id="e-77", ts=datetime(2025, 3, 1, 1, 31, tzinfo=UTC), kind="entrapment", floor=12
    )


def test_minimal_status_without_counters():
    counters = dict.fromkeys(("total_runs", "total_hours", "door_cycles"), DROP)
    status = decoded(STATUS, body(STATUS_MSG, **counters)).message
    assert isinstance(status, LiftStatus)
    assert (status.total_runs, status.total_hours, status.door_cycles) == (None, None, None)
    assert status.registration_code is None


def test_optional_fields_may_be_null():
    fill = decoded(FILLS, body(FILL, started_at=None)).message
    assert isinstance(fill, FillEvent) and fill.started_at is None
    status = decoded(STATUS, body(STATUS_MSG, total_runs=None)).message
    assert isinstance(status, LiftStatus) and status.total_runs is None


@pytest.mark.parametrize(
    ("medium", "fields"),
    [
        ("LPG", {"filled_mass_kg": 14.5}),
        ("CO2", {"filled_mass_kg": 20}),
        ("C2H2", {"filled_mass_kg": 6.0}),
        ("O2", {"filled_mass_kg": DROP, "final_pressure_mpa": 15.0}),
        ("Ar", {"filled_mass_kg": DROP, "final_pressure_mpa": 15}),
        ("CNG", {"filled_mass_kg": DROP, "final_pressure_mpa": 20.0}),
        ("LPG", {"final_pressure_mpa": 0.8}),  # both given: fine
        ("XYZ", {"filled_mass_kg": DROP}),  # unknown medium: neither needed here
        ("Ar+CO2", {"filled_mass_kg": DROP}),
    ],
)
def test_fill_measures(medium, fields):
    decoded(FILLS, body(FILL, medium=medium, **fields))


def test_lift_payload_may_repeat_its_own_code():
    decoded(STATUS, body(STATUS_MSG, registration_code=LIFT))
    decoded(EVENTS, body(EVENT, registration_code=LIFT))


def test_unknown_fields_are_ignored():
    extra = {
        "firmware": "2.1.7",
        "gps": {"lat": 32.0, "lon": 112.1, "nested": [1, [2, {"x": None}]]},
        "event_id_2": 5,
        "note": "电梯",
    }
    assert decoded(FILLS, body(FILL, **extra)).message == decoded(FILLS, body(FILL)).message
    decoded(STATUS, body(STATUS_MSG, **extra))
    decoded(EVENTS, body(EVENT, **extra))


def test_non_ascii_utf8_is_accepted():
    fill = decoded(FILLS, body(FILL, operator="张三-0001")).message
    assert isinstance(fill, FillEvent) and fill.operator == "张三-0001"


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2025-03-01T01:30:00Z", datetime(2025, 3, 1, 1, 30, tzinfo=UTC)),
        ("2025-03-01T09:30:00+08:00", datetime(2025, 3, 1, 1, 30, tzinfo=UTC)),
        ("2025-03-01T01:30:00.250Z", datetime(2025, 3, 1, 1, 30, 0, 250000, tzinfo=UTC)),
        ("2025-03-01T01:30:00+00:00", datetime(2025, 3, 1, 1, 30, tzinfo=UTC)),
        ("2025-02-28T20:30:00-05:00", datetime(2025, 3, 1, 1, 30, tzinfo=UTC)),
    ],
)
def test_timestamps_with_an_offset(stamp, expected):
    status = decoded(STATUS, body(STATUS_MSG, ts=stamp)).message
    assert isinstance(status, LiftStatus)
    assert status.ts == expected
    assert status.ts.utcoffset() is not None


def test_offset_is_kept():
    fill = decoded(FILLS, body(FILL)).message
    assert isinstance(fill, FillEvent)
    assert fill.filled_at.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    ("topic", "base", "field"),
    [
        (FILLS, FILL, "filled_at"),
        (FILLS, FILL, "started_at"),
        (STATUS, STATUS_MSG, "ts"),
        (EVENTS, EVENT, "ts"),
    ],
)
def test_naive_timestamps_are_refused(topic, base, field):
    result = rejected(topic, body(base, **{field: "2025-03-01T09:30:00"}))
    assert result.reason is R.INVALID_VALUE
    assert result.detail == f"`$.{field}`: expected a timestamp with a UTC offset"


@pytest.mark.parametrize(
    "stamp", ["2025-03-01", "09:30:00Z", "yesterday", "2025-13-01T00:00:00Z", "", "2025-03-01Z"]
)
def test_malformed_timestamps_are_invalid(stamp):
    result = rejected(FILLS, body(FILL, filled_at=stamp))
    assert result.reason is R.INVALID_VALUE
    assert "`$.filled_at`" in result.detail


# --- lift events: kind and code -------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_contract_kind_is_accepted(kind):
    event = decoded(EVENTS, body(EVENT, kind=kind)).message
    assert isinstance(event, LiftEvent) and event.kind == kind


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (41, "power_loss"),
        ("41", "power_loss"),
        ("041", "power_loss"),
        (1, "safety_circuit_open"),
        ("90", "alarm_button"),
    ],
)
def test_code_is_mapped_when_kind_is_absent(code, kind):
    result = decoded(EVENTS, body(EVENT, kind=DROP, code=code))
    assert isinstance(result.message, LiftEvent)
    assert result.message.kind == kind
    assert result.message.code == code  # the raw code is kept for the record


def test_null_kind_counts_as_absent():
    event = decoded(EVENTS, body(EVENT, kind=None, code=5)).message
    assert isinstance(event, LiftEvent) and event.kind == "unintended_movement"


def test_platform_code_with_a_platform_table():
    table = load_fault_codes({"platforms": {"xyiot": {"E07": "entrapment"}}})
    payload = body(EVENT, kind=DROP, code="xyiot:E07")
    event = decoded(EVENTS, payload, fault_codes=table).message
    assert isinstance(event, LiftEvent) and event.kind == "entrapment"
    assert rejected(EVENTS, payload).reason is R.UNKNOWN_FAULT_CODE  # default: national only


def test_kind_wins_over_code():
    event = decoded(EVENTS, body(EVENT, kind="overspeed", code=41)).message
    assert isinstance(event, LiftEvent) and (event.kind, event.code) == ("overspeed", 41)


def test_cleared_flag():
    event = decoded(EVENTS, body(EVENT, cleared=True)).message
    assert isinstance(event, LiftEvent) and event.cleared is True
    event = decoded(EVENTS, body(EVENT)).message
    assert isinstance(event, LiftEvent) and event.cleared is False


@pytest.mark.parametrize("kind", ["offline", "fire", "Entrapment", "", " entrapment"])
def test_kind_outside_the_contract_is_invalid(kind):
    result = rejected(EVENTS, body(EVENT, kind=kind))
    assert result.reason is R.INVALID_VALUE
    assert "`$.kind`" in result.detail


@pytest.mark.parametrize("code", [-1, "", "x" * 65, 2**63])
def test_fault_code_out_of_bounds_is_invalid(code):
    result = rejected(EVENTS, body(EVENT, kind=DROP, code=code))
    assert result.reason is R.INVALID_VALUE
    assert "`$.code`" in result.detail


@pytest.mark.parametrize("code", [40, "42", 0, "E07", "xyiot:E07", 10**18])
def test_unknown_fault_code(code):
    result = rejected(EVENTS, body(EVENT, kind=DROP, code=code))
    assert result.reason is R.UNKNOWN_FAULT_CODE
    assert "`$.code`" in result.detail


def test_neither_kind_nor_code():
    result = rejected(EVENTS, body(EVENT, kind=DROP))
    assert result.reason is R.MISSING_FIELD
    assert "`kind`" in result.detail
    assert rejected(EVENTS, body(EVENT, kind=None, code=None)).reason is R.MISSING_FIELD


# --- dead letters ---------------------------------------------------------------------


def padded(size: int) -> bytes:
    """A valid fill of exactly ``size`` bytes, padded in an unknown field."""
    bare = len(body(FILL, pad=""))
    return body(FILL, pad="x" * (size - bare))


# One case per reason decode() produces (and then some), as (topic, payload, reason).
DEAD_LETTERS = {
    "topic not of v1": ("sereg/v2/stations/X/fills", body(FILL), R.UNKNOWN_TOPIC),
    "topic of another family": ("sereg/v1/stations/X/status", body(FILL), R.UNKNOWN_TOPIC),
    "empty topic": ("", body(FILL), R.UNKNOWN_TOPIC),
    "wildcard topic": ("sereg/v1/stations/+/fills", body(FILL), R.UNKNOWN_TOPIC),
    "verdicts are ours": (VERDICTS, b'{"event_id": "f-0001", "code": "00"}', R.UNKNOWN_TOPIC),
    "too large": (FILLS, padded(MAX_PAYLOAD_BYTES + 1), R.TOO_LARGE),
    "too large garbage": (STATUS, b"\xff" * (MAX_PAYLOAD_BYTES + 1), R.TOO_LARGE),
    "not utf-8": (FILLS, b"\xff\xfe{}", R.NOT_UTF8),
    "not utf-8 in a kept field": (FILLS, body(FILL).replace(b"LPG", b"LP\xc3"), R.NOT_UTF8),
    "not utf-8 in an ignored field": (
        STATUS,
        body(STATUS_MSG, junk="JUNK").replace(b"JUNK", b"\xed\xa0\x80"),  # a surrogate
        R.NOT_UTF8,
    ),
    "overlong utf-8": (EVENTS, body(EVENT, junk="JU").replace(b"JU", b"\xc0\xaf"), R.NOT_UTF8),
    "empty": (FILLS, b"", R.NOT_JSON),
    "blank": (FILLS, b"  \n", R.NOT_JSON),
    "garbage": (STATUS, b"running=1", R.NOT_JSON),
    "trailing": (EVENTS, body(EVENT) + b" x", R.NOT_JSON),
    "two objects": (EVENTS, body(EVENT) * 2, R.NOT_JSON),
    "truncated": (FILLS, body(FILL)[:-1], R.NOT_JSON),
    "malformed after a type error": (FILLS, b'{"event_id": 1, oops', R.NOT_JSON),
    "truncated array": (FILLS, b"[1, 2", R.NOT_JSON),
    "NaN": (STATUS, body(STATUS_MSG, total_hours="NAN").replace(b'"NAN"', b"NaN"), R.NOT_JSON),
    "Infinity": (
        STATUS,
        body(STATUS_MSG, total_hours="I").replace(b'"I"', b"Infinity"),
        R.NOT_JSON,
    ),
    "single quotes": (EVENTS, b"{'event_id': 'e'}", R.NOT_JSON),
    "byte order mark": (EVENTS, b"\xef\xbb\xbf" + body(EVENT), R.NOT_JSON),
    "lone surrogate escape": (EVENTS, body(EVENT, event_id="\ud800"), R.NOT_JSON),
    "deep nesting in an ignored field": (
        EVENTS,
        body(EVENT, deep="D").replace(b'"D"', b"[" * 5_000 + b"]" * 5_000),
        R.NOT_JSON,
    ),
    "array": (FILLS, b"[]", R.NOT_AN_OBJECT),
    "array of an object": (FILLS, b"[" + body(FILL) + b"]", R.NOT_AN_OBJECT),
    "string": (STATUS, b'"hello"', R.NOT_AN_OBJECT),
    "number": (STATUS, b"42", R.NOT_AN_OBJECT),
    "null": (EVENTS, b"null", R.NOT_AN_OBJECT),
    "true": (EVENTS, b"true", R.NOT_AN_OBJECT),
    "empty object": (FILLS, b"{}", R.MISSING_FIELD),
    "LPG without mass": (FILLS, body(FILL, filled_mass_kg=DROP), R.MISSING_FIELD),
    "lpg lower case without mass": (
        FILLS,
        body(FILL, medium="lpg", filled_mass_kg=None),
        R.MISSING_FIELD,
    ),
    "O2 without pressure": (
        FILLS,
        body(FILL, medium="O2", filled_mass_kg=DROP),
        R.MISSING_FIELD,
    ),
    "event without kind or code": (EVENTS, body(EVENT, kind=DROP), R.MISSING_FIELD),
    "string for an int": (STATUS, body(STATUS_MSG, floor="1"), R.WRONG_TYPE),
    "int for a bool": (STATUS, body(STATUS_MSG, running=1), R.WRONG_TYPE),
    "bool for an int": (STATUS, body(STATUS_MSG, direction=True), R.WRONG_TYPE),
    "float for an int": (STATUS, body(STATUS_MSG, floor=1.0), R.WRONG_TYPE),
    "null for a required field": (FILLS, body(FILL, event_id=None), R.WRONG_TYPE),
    "empty event_id": (FILLS, body(FILL, event_id=""), R.INVALID_VALUE),
    "direction 3": (STATUS, body(STATUS_MSG, direction=3), R.INVALID_VALUE),
    "infinite mass": (
        FILLS,
        body(FILL, filled_mass_kg="INF").replace(b'"INF"', b"1e999"),
        R.INVALID_VALUE,
    ),
    "naive timestamp": (EVENTS, body(EVENT, ts="2025-03-01T01:31:00"), R.INVALID_VALUE),
    "kind not of the contract": (EVENTS, body(EVENT, kind="offline"), R.INVALID_VALUE),
    "station of another topic": (FILLS, body(FILL, station_code="XYS002"), R.TOPIC_MISMATCH),
    "station differing in case": (
        FILLS,
        body(FILL, station_code=STATION.lower()),
        R.TOPIC_MISMATCH,
    ),
    "status of another lift": (
        STATUS,
        body(STATUS_MSG, registration_code="31104206062016050000"),
        R.TOPIC_MISMATCH,
    ),
    "event of another lift": (
        EVENTS,
        body(EVENT, registration_code="31104206062016050000"),
        R.TOPIC_MISMATCH,
    ),
    "unknown fault code": (EVENTS, body(EVENT, kind=DROP, code="E99"), R.UNKNOWN_FAULT_CODE),
}


@pytest.mark.parametrize(("topic", "payload", "reason"), DEAD_LETTERS.values(), ids=DEAD_LETTERS)
def test_dead_letters(topic, payload, reason):
    assert rejected(topic, payload).reason is reason


def test_every_reason_decode_can_give_is_exercised():
    consumer_only = {R.UNKNOWN_UNIT, R.INTERNAL_ERROR}
    assert {reason for _, _, reason in DEAD_LETTERS.values()} == set(R) - consumer_only


def test_size_boundary():
    assert len(padded(MAX_PAYLOAD_BYTES)) == MAX_PAYLOAD_BYTES == 16384
    decoded(FILLS, padded(MAX_PAYLOAD_BYTES))
    assert len(padded(MAX_PAYLOAD_BYTES + 1)) == 16385
    result = rejected(FILLS, padded(MAX_PAYLOAD_BYTES + 1))
    assert result.reason is R.TOO_LARGE
    assert "16385" in result.detail


def test_topic_is_checked_before_the_payload():
    assert rejected("nope", b"\xff" * 20_000).reason is R.UNKNOWN_TOPIC


def test_measure_details():
    assert rejected(FILLS, body(FILL, filled_mass_kg=DROP)).detail == (
        "filled_mass_kg is required for liquefied gas LPG"
    )
    detail = rejected(FILLS, body(FILL, medium="O2", filled_mass_kg=DROP)).detail
    assert detail == "final_pressure_mpa is required for compressed gas O2"


def test_mismatch_is_checked_before_the_measure():
    payload = body(FILL, station_code="OTHER", filled_mass_kg=DROP)
    assert rejected(FILLS, payload).reason is R.TOPIC_MISMATCH


def test_details_name_the_field():
    assert rejected(FILLS, body(FILL, event_id=DROP)).detail == (
        "missing required field `event_id`"
    )
    assert rejected(STATUS, body(STATUS_MSG, floor="3")).detail == (
        "`$.floor`: expected `int`, got `str`"
    )
    assert (
        rejected(STATUS, body(STATUS_MSG, floor=301)).detail == "`$.floor`: expected `int` <= 300"
    )
    assert rejected(FILLS, b"[]").detail == "expected a JSON object, got `array`"
    infinite = body(FILL, filled_mass_kg="INF").replace(b'"INF"', b"-1e999")
    assert "`$.filled_mass_kg`" in rejected(FILLS, infinite).detail


REQUIRED = [
    *(
        (FILLS, FILL, f)
        for f in (
            "event_id",
            "station_code",
            "cylinder_code",
            "medium",
            "filled_at",
            "pre_check_passed",
            "post_check_passed",
            "operator",
        )
    ),
    *(
        (STATUS, STATUS_MSG, f)
        for f in (
            "ts",
            "running",
            "direction",
            "door_zone",
            "floor",
            "doors_closed",
            "occupied",
            "service_mode",
        )
    ),
    *((EVENTS, EVENT, f) for f in ("event_id", "ts")),
]


@pytest.mark.parametrize(
    ("topic", "base", "field"), REQUIRED, ids=lambda v: v if isinstance(v, str) else None
)
def test_missing_required_field(topic, base, field):
    result = rejected(topic, body(base, **{field: DROP}))
    assert result.reason is R.MISSING_FIELD
    assert result.detail == f"missing required field `{field}`"


def test_struct_required_fields_are_the_contracts():
    def required(struct: type[msgspec.Struct]) -> set[str]:
        return set(struct.__struct_fields__[: -len(struct.__struct_defaults__) or None])

    assert required(FillEvent) == {f for t, _, f in REQUIRED if t == FILLS}
    assert required(LiftStatus) == {f for t, _, f in REQUIRED if t == STATUS}
    assert required(LiftEvent) == {f for t, _, f in REQUIRED if t == EVENTS}


STR, INT, FLOAT, BOOL, STAMP = "str", "int", "float", "bool", "timestamp"
OPTIONAL_BOOL = "optional bool"  # null is "not checked", so not a wrong type
WRONG_VALUES: dict[str, list[Any]] = {
    STR: [1, 1.5, True, [], {}],
    INT: ["1", True, 1.5, 1.0, [], {}],
    FLOAT: ["1.5", True, [], {}],
    BOOL: [1, 0, "true", None, []],
    OPTIONAL_BOOL: [1, 0, "true", "false", []],
    STAMP: [1740792600, 1.5, True, [], {}],
}
FIELD_TYPES = [
    (FILLS, FILL, "event_id", STR),
    (FILLS, FILL, "station_code", STR),
    (FILLS, FILL, "cylinder_code", STR),
    (FILLS, FILL, "medium", STR),
    (FILLS, FILL, "filled_at", STAMP),
    (FILLS, FILL, "started_at", STAMP),
    (FILLS, FILL, "filled_mass_kg", FLOAT),
    (FILLS, FILL, "final_pressure_mpa", FLOAT),
    (FILLS, FILL, "pre_check_passed", BOOL),
    (FILLS, FILL, "post_check_passed", BOOL),
    (FILLS, FILL, "operator", STR),
    (FILLS, FILL, "purged_or_evacuated", OPTIONAL_BOOL),
    (FILLS, FILL, "people_in_vehicle", OPTIONAL_BOOL),
    (FILLS, FILL, "vehicle_registration", STR),
    (STATUS, STATUS_MSG, "ts", STAMP),
    (STATUS, STATUS_MSG, "running", BOOL),
    (STATUS, STATUS_MSG, "direction", INT),
    (STATUS, STATUS_MSG, "door_zone", BOOL),
    (STATUS, STATUS_MSG, "floor", INT),
    (STATUS, STATUS_MSG, "doors_closed", BOOL),
    (STATUS, STATUS_MSG, "occupied", BOOL),
    (STATUS, STATUS_MSG, "service_mode", INT),
    (STATUS, STATUS_MSG, "total_runs", INT),
    (STATUS, STATUS_MSG, "total_hours", FLOAT),
    (STATUS, STATUS_MSG, "door_cycles", INT),
    (STATUS, STATUS_MSG, "registration_code", STR),
    (EVENTS, EVENT, "event_id", STR),
    (EVENTS, EVENT, "ts", STAMP),
    (EVENTS, EVENT, "kind", STR),
    (EVENTS, EVENT, "floor", INT),
    (EVENTS, EVENT, "cleared", BOOL),
    (EVENTS, EVENT, "registration_code", STR),
]
WRONG_TYPE_CASES = [
    pytest.param(topic, base, field, value, id=f"{topic.rsplit('/', 1)[1]}.{field}={value!r}")
    for topic, base, field, kind in FIELD_TYPES
    for value in WRONG_VALUES[kind]
    # null is a valid "absent" for optional fields; only required bools get it above
    if not (value is None and field not in {f for _, _, f in REQUIRED})
]
WRONG_TYPE_CASES += [
    pytest.param(EVENTS, EVENT, "code", value, id=f"events.code={value!r}")
    for value in (True, 1.5, [], {})
]


@pytest.mark.parametrize(("topic", "base", "field", "value"), WRONG_TYPE_CASES)
def test_wrong_type(topic, base, field, value):
    result = rejected(topic, body(base, **{field: value}))
    assert result.reason is R.WRONG_TYPE
    assert result.detail.startswith(f"`$.{field}`: expected `")


def test_every_field_has_a_wrong_type_case():
    covered = {(t, f) for t, _, f, _ in FIELD_TYPES} | {(EVENTS, "code")}
    for topic, struct in ((FILLS, FillEvent), (STATUS, LiftStatus), (EVENTS, LiftEvent)):
        assert {f for t, f in covered if t == topic} == set(struct.__struct_fields__)


LONG = "x" * 65
INVALID_VALUES = [
    (FILLS, FILL, "vehicle_registration", ""),
    (FILLS, FILL, "vehicle_registration", "鄂F" + "1" * 15),
    (FILLS, FILL, "event_id", ""),
    (FILLS, FILL, "event_id", LONG),
    (FILLS, FILL, "station_code", ""),
    (FILLS, FILL, "cylinder_code", ""),
    (FILLS, FILL, "cylinder_code", LONG),
    (FILLS, FILL, "medium", ""),
    (FILLS, FILL, "medium", "x" * 33),
    (FILLS, FILL, "operator", ""),
    (FILLS, FILL, "operator", LONG),
    (FILLS, FILL, "filled_mass_kg", -0.1),
    (FILLS, FILL, "final_pressure_mpa", -1),
    (STATUS, STATUS_MSG, "direction", -1),
    (STATUS, STATUS_MSG, "direction", 3),
    (STATUS, STATUS_MSG, "floor", -11),
    (STATUS, STATUS_MSG, "floor", 301),
    (STATUS, STATUS_MSG, "service_mode", -1),
    (STATUS, STATUS_MSG, "service_mode", 8),
    (STATUS, STATUS_MSG, "total_runs", -1),
    (STATUS, STATUS_MSG, "total_hours", -0.5),
    (STATUS, STATUS_MSG, "door_cycles", -1),
    (EVENTS, EVENT, "event_id", ""),
    (EVENTS, EVENT, "event_id", LONG),
]


@pytest.mark.parametrize(("topic", "base", "field", "value"), INVALID_VALUES)
def test_invalid_value(topic, base, field, value):
    result = rejected(topic, body(base, **{field: value}))
    assert result.reason is R.INVALID_VALUE
    assert result.detail.startswith(f"`$.{field}`: ")


@pytest.mark.parametrize(
    ("topic", "base", "field"),
    [
        (FILLS, FILL, "event_id"),
        (FILLS, FILL, "cylinder_code"),
        (FILLS, FILL, "medium"),
        (FILLS, FILL, "operator"),
        (EVENTS, EVENT, "event_id"),
    ],
)
@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_text_holding_nul_is_an_invalid_value(topic, base, field, where):
    value = {"start": "\x00ab", "middle": "a\x00b", "end": "ab\x00"}[where]
    payload = body(base, **{field: value})
    assert b"\\u0000" in payload  # how JSON spells it
    result = rejected(topic, payload)
    assert result.reason is R.INVALID_VALUE
    assert result.detail.startswith(f"`$.{field}`: ") and "U+0000" in result.detail


def test_nul_only_in_an_ignored_field_or_escaped_as_text_is_accepted():
    assert decoded(FILLS, body(FILL, note="a\x00b")).message.operator == FILL["operator"]
    # A backslash followed by the letters u0000 is text, not U+0000.
    payload = body(FILL, operator="op\\u0000")
    assert decoded(FILLS, payload).message.operator == "op\\u0000"


@pytest.mark.parametrize(
    ("topic", "base", "field"),
    [
        (FILLS, FILL, "filled_mass_kg"),
        (FILLS, FILL, "final_pressure_mpa"),
        (STATUS, STATUS_MSG, "total_hours"),
    ],
)
@pytest.mark.parametrize("number", [b"1e999", b"-1e999", b"1" + b"0" * 400])
def test_numbers_must_be_finite(topic, base, field, number):
    result = rejected(topic, body(base, **{field: "NUM"}).replace(b'"NUM"', number))
    assert result.reason is R.INVALID_VALUE
    assert f"`$.{field}`" in result.detail


def test_huge_integers_are_out_of_range():
    payload = body(STATUS_MSG, total_runs="N").replace(b'"N"', b"9" * 5000)
    assert rejected(STATUS, payload).reason is R.INVALID_VALUE
    payload = body(EVENT, kind=DROP, code="N").replace(b'"N"', b"9" * 5000)
    assert rejected(EVENTS, payload).reason is R.INVALID_VALUE


BOUNDARIES = [
    (FILLS, FILL, "event_id", "x" * 64),
    (FILLS, FILL, "event_id", "x"),
    (FILLS, FILL, "medium", "LPG" + " " * 29),
    (FILLS, FILL, "filled_mass_kg", 0),
    (FILLS, FILL, "final_pressure_mpa", 0.0),
    (STATUS, STATUS_MSG, "direction", 0),
    (STATUS, STATUS_MSG, "direction", 2),
    (STATUS, STATUS_MSG, "floor", -10),
    (STATUS, STATUS_MSG, "floor", 300),
    (STATUS, STATUS_MSG, "service_mode", 0),
    (STATUS, STATUS_MSG, "service_mode", 7),
    (STATUS, STATUS_MSG, "total_runs", 0),
    (STATUS, STATUS_MSG, "total_hours", 0),
    (STATUS, STATUS_MSG, "total_hours", 1e308),
    (EVENTS, EVENT, "event_id", "x" * 64),
    (EVENTS, EVENT, "floor", -3),
]


@pytest.mark.parametrize(("topic", "base", "field", "value"), BOUNDARIES)
def test_boundary_values_are_accepted(topic, base, field, value):
    decoded(topic, body(base, **{field: value}))


# --- verdicts -------------------------------------------------------------------------


def test_encode_verdict():
    payload = encode_verdict("f-0001", {"code": "04", "reasons": ["overdue: 2024-12-31"]})
    assert isinstance(payload, bytes)
    assert json.loads(payload) == {
        "event_id": "f-0001",
        "code": "04",
        "reasons": ["overdue: 2024-12-31"],
    }
    assert payload.startswith(b'{"event_id":"f-0001"')


def test_encode_verdict_is_utf8_json():
    payload = encode_verdict("f-1", {"reasons": ["气瓶超期未检"]})
    assert json.loads(payload.decode("utf-8"))["reasons"] == ["气瓶超期未检"]


# --- decode never raises --------------------------------------------------------------

TOPICS = st.one_of(
    st.sampled_from([FILLS, STATUS, EVENTS, VERDICTS]),
    st.text(max_size=80),
    st.builds(
        "sereg/v1/{}/{}/{}".format,
        st.sampled_from(["stations", "elevators", "x"]),
        st.text(max_size=10),
        st.sampled_from(["fills", "status", "events", "verdicts", ""]),
    ),
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)


def assert_well_formed(result: Decoded | Rejected) -> None:
    assert isinstance(result, Decoded | Rejected)
    if isinstance(result, Rejected):
        assert isinstance(result.reason, DeadLetterReason)
        assert result.reason not in (R.UNKNOWN_UNIT, R.INTERNAL_ERROR)
        assert isinstance(result.detail, str) and result.detail
        # The catch-all is a safety net, not a path: no input should reach it.
        assert not result.detail.startswith("undecodable message")
    else:
        if isinstance(result.message, LiftEvent):
            assert result.message.kind in KINDS


@given(TOPICS, st.binary(max_size=300))
def test_decode_never_raises_on_bytes(topic, payload):
    assert_well_formed(decode(topic, payload))


@given(st.sampled_from([FILLS, STATUS, EVENTS]), JSON_VALUES)
def test_decode_never_raises_on_any_json(topic, value):
    assert_well_formed(decode(topic, json.dumps(value).encode()))


@given(
    st.sampled_from(sorted(VALID)),
    st.dictionaries(
        st.sampled_from(
            sorted({*FILL, *STATUS_MSG, *EVENT, "code", "cleared", "registration_code"})
        ),
        JSON_VALUES,
        max_size=4,
    ),
)
def test_decode_never_raises_on_mutated_valid_payloads(topic, changes):
    assert_well_formed(decode(topic, body(VALID[topic], **changes)))


@given(st.sampled_from(sorted(VALID)), st.data())
def test_decode_never_raises_on_corrupted_bytes(topic, data):
    payload = bytearray(body(VALID[topic]))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(payload) - 1))
        payload[at] = data.draw(st.integers(0, 255))
    assert_well_formed(decode(topic, bytes(payload)))


def test_the_optional_fill_checks_decode_and_default_to_not_checked():
    plain = decoded(FILLS, body(FILL)).message
    assert isinstance(plain, FillEvent)
    assert (plain.purged_or_evacuated, plain.people_in_vehicle, plain.vehicle_registration) == (
        None,
        None,
        None,
    )
    nulls = decoded(
        FILLS,
        body(FILL, purged_or_evacuated=None, people_in_vehicle=None, vehicle_registration=None),
    ).message
    assert nulls == plain
    checked = decoded(
        FILLS,
        body(
            FILL, purged_or_evacuated=False, people_in_vehicle=True, vehicle_registration="鄂F·D1"
        ),
    ).message
    assert isinstance(checked, FillEvent)
    assert (checked.purged_or_evacuated, checked.people_in_vehicle) == (False, True)
    assert checked.vehicle_registration == "鄂F·D1"


# --- Chinese names devices send for the contract's codes -------------------------------


@given(st.sampled_from(sorted(aliases.MEDIA)))
def test_a_chinese_medium_name_decodes_as_its_contract_code(name):
    code = aliases.MEDIA[name]
    fields = (
        {"filled_mass_kg": 10.0}
        if measure_for(code) is Measure.MASS
        else {"filled_mass_kg": DROP, "final_pressure_mpa": 15.0}
    )
    chinese = decoded(FILLS, body(FILL, medium=name, **fields)).message
    english = decoded(FILLS, body(FILL, medium=code, **fields)).message
    assert isinstance(chinese, FillEvent) and chinese.medium == code
    assert chinese == english  # stored and judged exactly as the English code


@given(st.lists(st.sampled_from(sorted(aliases.MEDIA)), min_size=2, max_size=3))
def test_a_chinese_mixture_decodes_part_by_part(names):
    both = {"filled_mass_kg": 1.0, "final_pressure_mpa": 1.0}  # whichever the mixture needs
    fill = decoded(FILLS, body(FILL, medium="+".join(names), **both)).message
    assert isinstance(fill, FillEvent)
    assert fill.medium == "+".join(aliases.MEDIA[n] for n in names)


def test_a_compressed_gas_named_in_chinese_still_needs_its_pressure():
    result = rejected(FILLS, body(FILL, medium="氧气", filled_mass_kg=DROP))
    assert result.reason is R.MISSING_FIELD and "final_pressure_mpa" in result.detail
    assert "O2" in result.detail


@given(st.text(max_size=8).filter(lambda t: t.strip() not in aliases.MEDIA and "+" not in t))
def test_any_other_medium_text_is_kept_as_sent(text):
    result = decode(FILLS, body(FILL, medium=text))
    if isinstance(result, Decoded):
        assert isinstance(result.message, FillEvent) and result.message.medium == text


@given(st.sampled_from(sorted(aliases.LIFT_EVENT_KINDS)))
def test_a_chinese_event_kind_decodes_as_its_contract_kind(name):
    event = decoded(EVENTS, body(EVENT, kind=name)).message
    assert isinstance(event, LiftEvent) and event.kind == aliases.LIFT_EVENT_KINDS[name]


def test_every_chinese_event_name_is_a_contract_kind_and_every_kind_has_one():
    assert set(aliases.LIFT_EVENT_KINDS.values()) == set(KINDS)


@pytest.mark.parametrize("kind", ["火警", "困", "困人 困人"])
def test_an_unknown_chinese_kind_is_still_invalid(kind):
    result = rejected(EVENTS, body(EVENT, kind=kind))
    assert result.reason is R.INVALID_VALUE and kind in result.detail


def test_the_contract_document_lists_every_chinese_name():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "mqtt-contract.md").read_text()
    listed: dict[str, str] = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and any("\u4e00" <= ch <= "\u9fff" for ch in cells[1]):
            listed |= {name.strip(): cells[0] for name in cells[1].split(",")}
    assert listed == dict(aliases.MEDIA) | dict(aliases.LIFT_EVENT_KINDS)
