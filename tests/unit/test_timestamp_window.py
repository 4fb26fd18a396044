"""Timestamps at the edges of the calendar (issue 16, items 4 and 5): refused at the door
with their reason, never an overflow in the fill rules, and a fill dated ahead never
moves its cylinder's state past its receipt."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.domain import fills as rules
from ingest_mqtt.messages import (
    DeadLetterReason,
    Decoded,
    Rejected,
    TimeWindow,
    TimeWindows,
    decode,
)

NOW = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)
CHINA = timezone(timedelta(hours=8))
EXTREMES = (
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59+08:00",
    "9999-12-31T23:59:59-08:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+08:00",
    "0001-01-01T00:00:00-08:00",
    "1970-01-01T00:00:00Z",  # a device whose clock battery died
)
FILLS, STATUS, EVENTS = (
    "sereg/v1/stations/XYS0001/fills",
    "sereg/v1/elevators/31103506002016053337/status",
    "sereg/v1/elevators/31103506002016053337/events",
)


def _fill(**overrides: object) -> dict[str, object]:
    return {
        "event_id": "e-1",
        "station_code": "XYS0001",
        "cylinder_code": "C-1",
        "medium": "LPG",
        "filled_at": (NOW - timedelta(minutes=1)).isoformat(),
        "filled_mass_kg": 14.5,
        "pre_check_passed": True,
        "post_check_passed": True,
        "operator": "OP-1",
        **overrides,
    }


def _status(ts: str) -> dict[str, object]:
    return {
        "ts": ts, "running": False, "direction": 0, "door_zone": True, "floor": 1,
        "doors_closed": True, "occupied": False, "service_mode": 1,
    }  # fmt: skip


def _decode(topic: str, body: dict[str, object], received_at: datetime = NOW):
    return decode(topic, msgspec.json.encode(body), received_at=received_at)


@pytest.mark.parametrize("moment", EXTREMES)
@pytest.mark.parametrize(
    ("topic", "field", "body"),
    [
        (FILLS, "filled_at", lambda m: _fill(filled_at=m)),
        (FILLS, "started_at", lambda m: _fill(started_at=m)),
        (STATUS, "ts", _status),
        (EVENTS, "ts", lambda m: {"event_id": "x", "ts": m, "kind": "entrapment"}),
    ],
)
def test_an_impossible_timestamp_is_an_invalid_value_naming_its_field(
    topic, field, body, moment
) -> None:
    result = _decode(topic, body(moment))
    assert isinstance(result, Rejected), result
    assert result.reason is DeadLetterReason.INVALID_VALUE
    assert f"`$.{field}`" in result.detail and "check the device clock" in result.detail


@pytest.mark.parametrize(
    ("topic", "body", "accepted"),
    [
        # A station that buffered through an outage: 29 days back is taken, 31 is not.
        (FILLS, _fill(filled_at=(NOW - timedelta(days=29)).isoformat()), True),
        (FILLS, _fill(filled_at=(NOW - timedelta(days=31)).isoformat()), False),
        # A device in the wrong time zone (8 h ahead) is stored and flagged 19 by the rules.
        (FILLS, _fill(filled_at=(NOW + timedelta(hours=8)).isoformat()), True),
        (FILLS, _fill(filled_at=(NOW + timedelta(hours=25)).isoformat()), False),
        (STATUS, _status((NOW + timedelta(minutes=5)).isoformat()), True),
        (STATUS, _status((NOW + timedelta(minutes=20)).isoformat()), False),
        (STATUS, _status((NOW - timedelta(days=29)).isoformat()), True),
    ],
)
def test_the_window_around_the_receipt(topic, body, accepted) -> None:
    assert isinstance(_decode(topic, body), Decoded) is accepted


def test_the_window_is_configurable() -> None:
    narrow = TimeWindows(
        fills=TimeWindow(timedelta(hours=1), timedelta(0)),
        lifts=TimeWindow(timedelta(days=1), timedelta(0)),
    )
    old = msgspec.json.encode(_fill(filled_at=(NOW - timedelta(hours=2)).isoformat()))
    assert isinstance(decode(FILLS, old, received_at=NOW), Decoded)
    refused = decode(FILLS, old, received_at=NOW, windows=narrow)
    assert isinstance(refused, Rejected) and "at most 60 min back" in refused.detail


def test_without_a_receipt_time_there_is_no_window() -> None:
    body = msgspec.json.encode(_fill(filled_at="9999-12-31T23:59:59Z"))
    assert isinstance(decode(FILLS, body), Decoded)


aware = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
)
edge = st.sampled_from(EXTREMES).map(datetime.fromisoformat)
moments = st.one_of(aware, edge)


@given(moments)
def test_decode_takes_a_timestamp_only_inside_its_window(moment: datetime) -> None:
    result = _decode(FILLS, _fill(filled_at=moment.isoformat()))
    inside = NOW - timedelta(days=30) <= moment <= NOW + timedelta(days=1)
    assert isinstance(result, Decoded) is inside, result


# ------------------------------------------------------------------------ fill rules

STATION = rules.StationFacts(1, "XYS0001", "TS1", date(9999, 12, 31), 112.14, 32.04)
CYLINDER = rules.CylinderFacts(
    id=7, code="C-1", category="2320", status="in_use", owning_station_id=1, medium="LPG",
    water_capacity_l=35.5, nominal_working_pressure_mpa=2.1, vehicle=False,
    next_periodic_due=date(9999, 12, 31), end_of_service_life=date(9999, 12, 31),
    last_periodic_failed=False,
)  # fmt: skip


@given(at=moments, started=st.none() | moments, previous=st.none() | moments, received=moments)
def test_the_fill_rules_never_overflow(at, started, previous, received) -> None:
    """Before the fix: OverflowError for 9999-12-31T23:59:59Z (China time is in year
    10000), which the ingest dead-lettered as internal_error after storing its whole
    batch again one message at a time."""
    verdict = rules.judge_fill(
        rules.FillAttempt(medium="LPG", at=at, started_at=started, filled_mass_kg=14.0),
        STATION,
        CYLINDER,
        previous=None
        if previous is None
        else rules.PreviousFill(2, "XYS0002", previous, 114.30, 30.60),
        received_at=received,
    )
    assert verdict.code in rules.VerdictCode
    assert (verdict.code is rules.VerdictCode.IMPOSSIBLE_FILL) is (
        at - received > rules.DEFAULT_FILL_POLICY.future_skew
        or (started is not None and started > at)
    )


@pytest.mark.parametrize("moment", EXTREMES)
def test_a_fill_at_the_calendar_edge_is_judged(moment: str) -> None:
    at = datetime.fromisoformat(moment)
    verdict = rules.judge_fill(
        rules.FillAttempt(medium="LPG", at=at, filled_mass_kg=14.0),
        STATION,
        CYLINDER,
        previous=rules.PreviousFill(1, "XYS0001", at, 112.14, 32.04),
        received_at=NOW,
    )
    assert rules.VerdictCode.REFILLED_TOO_SOON in {r.code for r in verdict.reasons}


@given(filled=moments, received=moments)
def test_a_fill_never_moves_the_state_past_its_receipt(filled, received) -> None:
    skew = rules.DEFAULT_FILL_POLICY.future_skew
    moved_to = rules.fill_state_time(filled, received, rules.DEFAULT_FILL_POLICY)
    assert moved_to <= filled
    assert moved_to - received <= skew
    if filled - received <= skew:
        assert moved_to == filled


def test_a_fill_dated_ahead_moves_the_state_to_its_receipt_plus_the_skew() -> None:
    ahead = rules.fill_state_time(NOW + timedelta(hours=20), NOW, rules.DEFAULT_FILL_POLICY)
    assert ahead == NOW + rules.DEFAULT_FILL_POLICY.future_skew
    assert rules.fill_state_time(NOW, NOW, rules.DEFAULT_FILL_POLICY) == NOW
    assert rules.fill_state_time(NOW.astimezone(CHINA), NOW, rules.DEFAULT_FILL_POLICY) == NOW
