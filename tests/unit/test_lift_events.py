"""Lift event kinds, severities, GB/T 24476 fault codes and alarm folding.

Sources: docs/mqtt-contract.md (the kinds), docs/rules.md "Lift IoT" (the national
base codes, per-platform tables).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.domain.lift_events import (
    DEFAULT_FAULT_CODES,
    KINDS,
    NATIONAL_FAULT_CODES,
    OFFLINE,
    SEVERITY,
    AlarmChange,
    FaultCodeTable,
    LiftEventIn,
    fold_events,
    load_fault_codes,
    severity,
)

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
CHINA = timezone(timedelta(hours=8))


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def raised(kind: str, seconds: int) -> LiftEventIn:
    return LiftEventIn(kind, at(seconds))


def cleared(kind: str, seconds: int) -> LiftEventIn:
    return LiftEventIn(kind, at(seconds), cleared=True)


def normal(seconds: int, *, cleared: bool = False) -> LiftEventIn:
    return LiftEventIn("back_to_normal", at(seconds), cleared=cleared)


# --- kinds and severities -------------------------------------------------------------


def test_kinds_are_exactly_the_contracts():
    assert {
        "entrapment",
        "safety_circuit_open",
        "door_close_fault",
        "door_open_fault",
        "stopped_outside_door_zone",
        "unintended_movement",
        "motor_runtime_limiter",
        "floor_position_lost",
        "restart_prevented",
        "power_loss",
        "over_travel_top",
        "over_travel_bottom",
        "overspeed",
        "alarm_button",
        "back_to_normal",
    } == KINDS
    assert OFFLINE == "offline"
    assert OFFLINE not in KINDS  # devices may not send it: sereg raises it


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("entrapment", "critical"),
        ("unintended_movement", "critical"),
        ("overspeed", "critical"),
        ("safety_circuit_open", "major"),
        ("stopped_outside_door_zone", "major"),
        ("over_travel_top", "major"),
        ("over_travel_bottom", "major"),
        ("alarm_button", "major"),
        ("offline", "major"),
        ("door_close_fault", "minor"),
        ("door_open_fault", "minor"),
        ("motor_runtime_limiter", "minor"),
        ("floor_position_lost", "minor"),
        ("restart_prevented", "minor"),
        ("power_loss", "minor"),
        ("back_to_normal", "minor"),
    ],
)
def test_severity(kind, expected):
    assert severity(kind) == expected
    assert SEVERITY[kind] == expected


def test_severity_table_covers_every_kind_and_offline():
    assert set(SEVERITY) == KINDS | {OFFLINE}
    assert set(SEVERITY.values()) == {"critical", "major", "minor"}


def test_unknown_kind_is_minor():
    assert severity("something_new") == "minor"


# --- fault codes ----------------------------------------------------------------------


def test_national_table_is_gb_t_24476_base():
    assert dict(NATIONAL_FAULT_CODES) == {
        "1": "safety_circuit_open",
        "2": "door_close_fault",
        "3": "door_open_fault",
        "4": "stopped_outside_door_zone",
        "5": "unintended_movement",
        "6": "motor_runtime_limiter",
        "7": "floor_position_lost",
        "8": "restart_prevented",
        "41": "power_loss",
        "90": "alarm_button",
    }
    assert set(NATIONAL_FAULT_CODES.values()) <= KINDS


def test_default_table_is_national_only():
    assert DEFAULT_FAULT_CODES.national == NATIONAL_FAULT_CODES
    assert dict(DEFAULT_FAULT_CODES.platforms) == {}


PLATFORMS = {
    "platforms": {
        "xyiot": {
            "E07": "entrapment",
            "E21": "over_travel_top",
            "E22": "over_travel_bottom",
            "E30": "overspeed",
        },
        "hbdt": {"101": "entrapment", "1": "overspeed"},
    }
}


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("1", "safety_circuit_open"),
        ("8", "restart_prevented"),
        ("41", "power_loss"),
        ("90", "alarm_button"),
        ("01", "safety_circuit_open"),
        ("041", "power_loss"),
        ("0090", "alarm_button"),
        ("xyiot:E07", "entrapment"),
        ("xyiot:E30", "overspeed"),
        ("hbdt:101", "entrapment"),
        ("hbdt:1", "overspeed"),  # a platform's own code, not the national "1"
        # unknown
        ("40", None),
        ("42", None),
        ("9", None),
        ("0", None),
        ("000", None),
        ("", None),
        ("E07", None),  # a platform code without its platform
        ("xyiot:41", None),  # prefixed codes stay in their platform's table
        ("xyiot:e07", None),
        ("xyiot:", None),
        (":E07", None),
        ("other:E07", None),
        (" 41", None),
        ("-41", None),
    ],
)
def test_kind_for(code, kind):
    assert load_fault_codes(PLATFORMS).kind_for(code) == kind


@pytest.mark.parametrize("code", ["E07", "xyiot:E07", "hbdt:101"])
def test_default_table_knows_no_platform_code(code):
    assert DEFAULT_FAULT_CODES.kind_for(code) is None


@pytest.mark.parametrize(("code", "kind"), sorted(NATIONAL_FAULT_CODES.items()))
def test_default_table_knows_every_national_code(code, kind):
    assert DEFAULT_FAULT_CODES.kind_for(code) == kind
    assert DEFAULT_FAULT_CODES.kind_for("00" + code) == kind


def test_loaded_table_always_has_the_national_codes():
    for mapping in ({}, {"platforms": {}}, PLATFORMS):
        assert load_fault_codes(mapping).national == NATIONAL_FAULT_CODES


def test_loaded_table_does_not_follow_later_changes_to_its_source():
    source = {"platforms": {"xyiot": {"E07": "entrapment"}}}
    table = load_fault_codes(source)
    source["platforms"]["xyiot"]["E07"] = "overspeed"
    source["platforms"]["new"] = {"X": "overspeed"}
    assert table.kind_for("xyiot:E07") == "entrapment"
    assert table.kind_for("new:X") is None
    with pytest.raises(TypeError):
        table.platforms["xyiot"]["E08"] = "entrapment"  # type: ignore[index]


@pytest.mark.parametrize(
    ("mapping", "names"),
    [
        ({"platforms": {"xyiot": {"E07": "stuck"}}}, r"platforms\.xyiot\.E07.*'stuck'"),
        ({"platforms": {"xyiot": {"E07": "offline"}}}, r"platforms\.xyiot\.E07.*'offline'"),
        ({"platforms": {"xyiot": {"E07": "Entrapment"}}}, r"platforms\.xyiot\.E07"),
        ({"platforms": {"xyiot": {"E07": ["entrapment"]}}}, r"platforms\.xyiot\.E07"),
        ({"platforms": {"xyiot": {"E07": None}}}, r"platforms\.xyiot\.E07"),
        ({"platforms": {"xyiot": {7: "entrapment"}}}, r"platforms\.xyiot: code 7"),
        ({"platforms": {"xyiot": {"": "entrapment"}}}, r"platforms\.xyiot: code ''"),
        ({"platforms": {"xyiot": ["E07"]}}, r"platforms\.xyiot must be a mapping"),
        ({"platforms": ["xyiot"]}, r"`platforms` must be a mapping"),
        ({"platforms": {"xy:iot": {}}}, r"'xy:iot'"),
        ({"platforms": {"": {}}}, r"platform name ''"),
        ({"platforms": {1: {}}}, r"platform name 1"),
        ({"platform": {}}, r"unknown key.*platform"),
    ],
)
def test_load_fault_codes_names_the_bad_entry(mapping, names):
    with pytest.raises(ValueError, match=names):
        load_fault_codes(mapping)


def test_fault_code_table_can_be_built_directly():
    table = FaultCodeTable(NATIONAL_FAULT_CODES, {"p": {"A": "entrapment"}})
    assert table.kind_for("p:A") == "entrapment"
    assert table.kind_for("41") == "power_loss"


# --- folding --------------------------------------------------------------------------


def test_no_events_no_changes():
    assert fold_events({"entrapment"}, []) == []


def test_open_alarms_not_touched_make_no_change():
    assert fold_events({"entrapment", "power_loss"}, [raised("overspeed", 0)]) == [
        AlarmChange("overspeed", False, 1, at(0), at(0), None)
    ]


def test_storm_on_a_closed_kind_is_one_alarm():
    events = [raised("door_open_fault", s) for s in range(1000)]
    assert fold_events((), events) == [
        AlarmChange("door_open_fault", False, 1000, at(0), at(999), None)
    ]


def test_storm_on_an_open_kind_counts_on_it():
    events = [raised("door_open_fault", s) for s in range(1000)]
    assert fold_events({"door_open_fault"}, events) == [
        AlarmChange("door_open_fault", True, 1000, None, at(999), None)
    ]


def test_existing_raised_cleared_then_raised_again():
    events = [
        raised("entrapment", 1),
        raised("entrapment", 2),
        raised("entrapment", 3),
        cleared("entrapment", 4),
        raised("entrapment", 5),
    ]
    assert fold_events({"entrapment"}, events) == [
        AlarmChange("entrapment", True, 3, None, at(3), at(4)),
        AlarmChange("entrapment", False, 1, at(5), at(5), None),
    ]


def test_new_alarm_raised_cleared_raised_cleared():
    events = [
        raised("power_loss", 1),
        cleared("power_loss", 2),
        raised("power_loss", 3),
        raised("power_loss", 4),
        cleared("power_loss", 5),
    ]
    assert fold_events((), events) == [
        AlarmChange("power_loss", False, 1, at(1), at(1), at(2)),
        AlarmChange("power_loss", False, 2, at(3), at(4), at(5)),
    ]


def test_existing_alarm_only_cleared_has_count_zero():
    assert fold_events({"power_loss"}, [cleared("power_loss", 7)]) == [
        AlarmChange("power_loss", True, 0, None, None, at(7))
    ]


def test_clear_of_a_closed_kind_is_ignored():
    assert fold_events({"entrapment"}, [cleared("power_loss", 1)]) == []
    assert fold_events((), [cleared("power_loss", 1), cleared("power_loss", 2)]) == []


def test_second_clear_is_ignored():
    events = [raised("overspeed", 1), cleared("overspeed", 2), cleared("overspeed", 3)]
    assert fold_events((), events) == [AlarmChange("overspeed", False, 1, at(1), at(1), at(2))]


@pytest.mark.parametrize("flag", [False, True])
def test_back_to_normal_closes_everything_but_offline(flag):
    events = [
        raised("entrapment", 1),
        raised("offline", 2),
        normal(3, cleared=flag),
    ]
    assert fold_events({"power_loss", "overspeed", "offline"}, events) == [
        AlarmChange("entrapment", False, 1, at(1), at(1), at(3)),
        AlarmChange("offline", True, 1, None, at(2), None),
        AlarmChange("overspeed", True, 0, None, None, at(3)),
        AlarmChange("power_loss", True, 0, None, None, at(3)),
    ]


def test_back_to_normal_leaves_an_untouched_offline_alone():
    assert fold_events({"offline"}, [normal(1)]) == []
    assert fold_events((), [raised("offline", 1), normal(2)]) == [
        AlarmChange("offline", False, 1, at(1), at(1), None)
    ]


def test_back_to_normal_with_nothing_open():
    assert fold_events((), [normal(1), normal(2)]) == []


def test_offline_is_closed_by_its_own_clear():
    assert fold_events({"offline"}, [cleared("offline", 5)]) == [
        AlarmChange("offline", True, 0, None, None, at(5))
    ]


def test_raises_after_back_to_normal_open_new_alarms():
    events = [raised("alarm_button", 1), normal(2), raised("alarm_button", 3)]
    assert fold_events({"alarm_button"}, events) == [
        AlarmChange("alarm_button", True, 1, None, at(1), at(2)),
        AlarmChange("alarm_button", False, 1, at(3), at(3), None),
    ]


def test_events_are_taken_in_time_order():
    # Delivered clear first, raise second, but the clear happened later.
    events = [cleared("entrapment", 5), raised("entrapment", 1)]
    assert fold_events((), events) == [AlarmChange("entrapment", False, 1, at(1), at(1), at(5))]
    # Delivered raise first, but it happened after the clear: the alarm stays open.
    events = [raised("entrapment", 5), cleared("entrapment", 1)]
    assert fold_events((), events) == [AlarmChange("entrapment", False, 1, at(5), at(5), None)]


def test_back_to_normal_out_of_order():
    events = [raised("overspeed", 10), normal(5), raised("entrapment", 1)]
    assert fold_events((), events) == [
        AlarmChange("entrapment", False, 1, at(1), at(1), at(5)),
        AlarmChange("overspeed", False, 1, at(10), at(10), None),
    ]


def test_ties_keep_arrival_order():
    assert fold_events((), [raised("overspeed", 1), cleared("overspeed", 1)]) == [
        AlarmChange("overspeed", False, 1, at(1), at(1), at(1))
    ]
    assert fold_events((), [cleared("overspeed", 1), raised("overspeed", 1)]) == [
        AlarmChange("overspeed", False, 1, at(1), at(1), None)
    ]


def test_mixed_offsets_are_ordered_as_instants():
    # 16:00:01+08:00 reads later than 08:00:05Z on the wall clock but is 4 s earlier.
    beijing_clear = LiftEventIn("entrapment", at(1).astimezone(CHINA), cleared=True)
    assert beijing_clear.ts.hour == 16
    assert fold_events((), [raised("entrapment", 5), beijing_clear]) == [
        AlarmChange("entrapment", False, 1, at(5), at(5), None)
    ]
    assert fold_events((), [beijing_clear, raised("entrapment", 0)]) == [
        AlarmChange("entrapment", False, 1, at(0), at(0), at(1))
    ]


def test_changes_come_by_kind_then_time():
    events = [
        raised("power_loss", 1),
        raised("entrapment", 2),
        cleared("power_loss", 3),
        raised("power_loss", 4),
        raised("door_close_fault", 5),
    ]
    kinds = [(c.kind, c.first_raised_at) for c in fold_events((), events)]
    assert kinds == [
        ("door_close_fault", at(5)),
        ("entrapment", at(2)),
        ("power_loss", at(1)),
        ("power_loss", at(4)),
    ]


def test_iterator_input_is_accepted():
    assert fold_events(iter(()), (raised("overspeed", s) for s in range(3)))[0].count == 3


def test_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="'fire'"):
        fold_events((), [raised("fire", 1)])


FOLD_KINDS = ["entrapment", "power_loss", "overspeed", OFFLINE, "back_to_normal"]
events_strategy = st.lists(
    st.builds(
        LiftEventIn,
        kind=st.sampled_from(FOLD_KINDS),
        ts=st.integers(0, 20).map(at),
        cleared=st.booleans(),
    ),
    max_size=40,
)
open_strategy = st.sets(st.sampled_from(FOLD_KINDS[:4]))


@given(open_strategy, events_strategy)
def test_fold_properties(open_kinds, events):
    changes = fold_events(open_kinds, events)
    raises = sum(1 for e in events if e.kind != "back_to_normal" and not e.cleared)
    assert sum(c.count for c in changes) == raises

    still_open = Counter(c.kind for c in changes if c.closed_at is None)
    assert all(n == 1 for n in still_open.values())
    # An untouched alarm stays open too, but then no change of its kind opens another.
    for kind in open_kinds:
        if not any(c.kind == kind for c in changes):
            assert still_open[kind] == 0

    assert [c.kind for c in changes] == sorted(c.kind for c in changes)
    for change in changes:
        assert change.kind != "back_to_normal"
        if change.existing:
            assert change.kind in open_kinds
            assert change.first_raised_at is None
        else:
            assert change.count >= 1
            assert change.first_raised_at is not None
            assert change.last_raised_at is not None
            assert change.last_raised_at >= change.first_raised_at
        assert (change.count == 0) == (change.last_raised_at is None)
        if change.count == 0:
            assert change.existing and change.closed_at is not None
        if change.closed_at is not None and change.last_raised_at is not None:
            assert change.closed_at >= change.last_raised_at
    for kind in {c.kind for c in changes}:
        of_kind = [c for c in changes if c.kind == kind]
        # Only the first change of a kind may be the alarm open before the batch, and
        # each alarm but the last was closed before the next one opened.
        assert not any(c.existing for c in of_kind[1:])
        for earlier, later in pairwise(of_kind):
            assert earlier.closed_at is not None
            assert later.first_raised_at is not None
            assert earlier.closed_at <= later.first_raised_at
        if kind == OFFLINE:
            assert all(
                c.closed_at is None or any(e.kind == OFFLINE and e.cleared for e in events)
                for c in of_kind
            )


@given(open_strategy, events_strategy)
def test_fold_does_not_depend_on_delivery_order_of_distinct_times(open_kinds, events):
    by_time: dict[datetime, LiftEventIn] = {}
    for event in events:
        by_time.setdefault(event.ts, event)  # one event per instant: order is total
    distinct = list(by_time.values())
    assert fold_events(open_kinds, distinct) == fold_events(open_kinds, distinct[::-1])
