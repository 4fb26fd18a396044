"""Lift fault and alarm events: their kinds, severities, fault codes and alarm folding.

Sources:

- the kinds are those of the ``sereg/v1/elevators/{registration_code}/events`` topic of
  docs/mqtt-contract.md (the contract is exact: devices are built against it);
- the national base fault codes are GB/T 24476-2017 as quoted in docs/rules.md, "Lift IoT"
  (1-8 faults, 41 mains power lost, 90 passenger alarm button). Entrapment, over-travel
  and overspeed have no national code: local platforms send their own, so each
  platform gets a mapping table of its own, loaded from configuration;
- ``offline`` is not a device kind: sereg raises it itself for a lift gone silent.

Folding turns a batch of events into changes of open alarms, so that an alarm storm
(a device repeating the same fault every second) is one alarm with a count, not a
thousand rows. Pure: no clock, no I/O; every time comes from the events.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from types import MappingProxyType
from typing import Final

__all__ = [
    "BACK_TO_NORMAL",
    "DEFAULT_FAULT_CODES",
    "KINDS",
    "NATIONAL_FAULT_CODES",
    "OFFLINE",
    "SEVERITY",
    "AlarmChange",
    "FaultCodeTable",
    "LiftEventIn",
    "fold_events",
    "load_fault_codes",
    "severity",
]

BACK_TO_NORMAL: Final = "back_to_normal"

KINDS: Final = frozenset(
    {
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
        BACK_TO_NORMAL,
    }
)

OFFLINE: Final = "offline"

_CRITICAL = ("entrapment", "unintended_movement", "overspeed")
_MAJOR = (
    "safety_circuit_open",
    "stopped_outside_door_zone",
    "over_travel_top",
    "over_travel_bottom",
    "alarm_button",
    OFFLINE,
)

SEVERITY: Final[Mapping[str, str]] = MappingProxyType(
    {kind: "minor" for kind in sorted(KINDS)}
    | {kind: "major" for kind in _MAJOR}
    | {kind: "critical" for kind in _CRITICAL}
)


def severity(kind: str) -> str:
    """``critical``, ``major`` or ``minor``; a kind the table lacks is ``minor``."""
    return SEVERITY.get(kind, "minor")


# GB/T 24476-2017 base codes (docs/rules.md "Lift IoT", tagged [S]). Events 40-47 other than
# 41 have no kind of the contract, so they stay unmapped and are dead-lettered as unknown.
NATIONAL_FAULT_CODES: Final[Mapping[str, str]] = MappingProxyType(
    {
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
)

_PLATFORM_SEPARATOR: Final = ":"


@dataclass(frozen=True)
class FaultCodeTable:
    """Raw device codes to kinds: the national table plus one table per platform.

    A platform code is written ``platform:code`` (``xyiot:E07``); a bare code is a
    national one.
    """

    national: Mapping[str, str]
    platforms: Mapping[str, Mapping[str, str]]

    def kind_for(self, code: str) -> str | None:
        platform, separator, raw = code.partition(_PLATFORM_SEPARATOR)
        if separator:
            table = self.platforms.get(platform)
            return None if table is None else table.get(raw)
        kind = self.national.get(code)
        if kind is None:
            # Devices pad the numeric codes to a fixed width ("041").
            kind = self.national.get(code.lstrip("0"))
        return kind


DEFAULT_FAULT_CODES: Final = FaultCodeTable(NATIONAL_FAULT_CODES, MappingProxyType({}))


def load_fault_codes(mapping: Mapping[str, object]) -> FaultCodeTable:
    """The table from configuration: ``{"platforms": {"xyiot": {"E07": "entrapment"}}}``.

    A bad entry is refused with its path, so the bureau can fix its file; a kind outside
    the contract would otherwise be stored as an alarm nothing knows how to show.
    """
    unknown_keys = sorted(str(key) for key in mapping if key != "platforms")
    if unknown_keys:
        raise ValueError(f"fault codes: unknown key(s) {', '.join(unknown_keys)}")
    platforms = mapping.get("platforms", {})
    if not isinstance(platforms, Mapping):
        raise ValueError("fault codes: `platforms` must be a mapping of platform name to table")
    tables: dict[str, Mapping[str, str]] = {}
    for name, table in platforms.items():
        if not isinstance(name, str) or not name or _PLATFORM_SEPARATOR in name:
            raise ValueError(
                f"fault codes: platform name {name!r} must be a non-empty string "
                f"without {_PLATFORM_SEPARATOR!r}"
            )
        if not isinstance(table, Mapping):
            raise ValueError(f"fault codes: platforms.{name} must be a mapping of code to kind")
        codes: dict[str, str] = {}
        for code, kind in table.items():
            if not isinstance(code, str) or not code:
                raise ValueError(
                    f"fault codes: platforms.{name}: code {code!r} must be a non-empty string"
                )
            # The isinstance check comes first: an unhashable kind would break `in`.
            if not isinstance(kind, str) or kind not in KINDS:
                raise ValueError(
                    f"fault codes: platforms.{name}.{code}: {kind!r} is not a kind of the "
                    f"contract ({', '.join(sorted(KINDS))})"
                )
            codes[code] = kind
        tables[name] = MappingProxyType(codes)
    return FaultCodeTable(NATIONAL_FAULT_CODES, MappingProxyType(tables))


@dataclass(frozen=True, slots=True)
class LiftEventIn:
    """One event of a lift, as folding needs it."""

    kind: str
    ts: datetime
    cleared: bool = False


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """What to write for one alarm a batch touched.

    ``existing`` changes apply to the alarm open before the batch: add ``count`` raises
    (0 when it is only closed) and keep its first raise. New alarms carry their own.
    """

    kind: str
    existing: bool
    count: int
    first_raised_at: datetime | None
    last_raised_at: datetime | None
    closed_at: datetime | None


@dataclass(slots=True)
class _Touched:
    """An alarm being folded; becomes an AlarmChange at the end."""

    kind: str
    existing: bool
    count: int = 0
    first_raised_at: datetime | None = None
    last_raised_at: datetime | None = None
    closed_at: datetime | None = None

    def change(self) -> AlarmChange:
        return AlarmChange(
            self.kind,
            self.existing,
            self.count,
            self.first_raised_at,
            self.last_raised_at,
            self.closed_at,
        )


def fold_events(open_kinds: Collection[str], events: Iterable[LiftEventIn]) -> list[AlarmChange]:
    """The alarm changes a batch of events makes, given the kinds open before it.

    Events are taken in time order (devices and brokers reorder them; ties keep their
    arrival order). A raise of an open kind counts on that alarm, of a closed kind opens
    a new one; ``cleared`` closes the open alarm of its kind; ``back_to_normal`` closes
    every open alarm but ``offline``, which only a sign of life from the lift may end.
    The changes come by kind, then in time order; their counts add up to the raises.
    """
    # Open before the batch and not yet touched: a change is made only on first touch.
    untouched = set(open_kinds)
    open_now: dict[str, _Touched] = {}
    touched: list[_Touched] = []

    def current(kind: str) -> _Touched | None:
        alarm = open_now.get(kind)
        if alarm is None and kind in untouched:
            untouched.discard(kind)
            alarm = open_now[kind] = _Touched(kind, existing=True)
            touched.append(alarm)
        return alarm

    def close(kind: str, at: datetime) -> None:
        alarm = current(kind)
        if alarm is not None:
            alarm.closed_at = at
            del open_now[kind]

    for event in sorted(events, key=attrgetter("ts")):
        kind = event.kind
        if kind == BACK_TO_NORMAL:
            for open_kind in [*open_now, *untouched]:
                if open_kind != OFFLINE:
                    close(open_kind, event.ts)
        elif kind not in KINDS and kind != OFFLINE:
            raise ValueError(f"{kind!r} is not a lift event kind")
        elif event.cleared:
            close(kind, event.ts)
        else:
            alarm = current(kind)
            if alarm is None:
                alarm = open_now[kind] = _Touched(kind, existing=False, first_raised_at=event.ts)
                touched.append(alarm)
            alarm.count += 1
            alarm.last_raised_at = event.ts

    # sorted() is stable, so within a kind the changes stay in the order they opened.
    return [alarm.change() for alarm in sorted(touched, key=attrgetter("kind"))]
