"""Simulated lifts and filling stations speaking MQTT contract v1 (docs/mqtt-contract.md), for demos
and benchmarks against any broker. A tool beside the benchmarks, not part of the product:
``sereg simulate`` runs it from a checkout.

Three parts, kept apart so the payloads can be tested without a broker or a database:

- :class:`Stream` is pure. From a register snapshot (:class:`SimRegister`), a
  configuration, a seed and a start time it yields the same messages every time, each
  stamped with the stream time it is due at and with what it was meant to be (a good
  fill, an over-fill, a malformed payload...) and the verdict or dead-letter reason that
  should follow. Nothing in it reads the clock.
- :func:`load_register` reads the codes a stream uses through the register's service
  (equipment.services.simulation, never the tables): real lifts,
  filling stations by their station codes, and each station's own cylinders, each judged
  by the fill rules as they stand (so the stream knows which cylinders a good fill may
  use and what an unfit one will be answered).
- :func:`publish` paces a stream onto publishers and stops after a count or a duration;
  :func:`simulate` (``sereg simulate``) connects :class:`ingest_mqtt.client.Publisher`
  instances for it, which bound the unacknowledged QoS 1 messages below paho's 65,535.

Stream time: message *i* is due at ``start + i / rate`` while fills fill every free slot;
heartbeats come per lift every ``heartbeat_interval_s`` and take the slot when due. With
lifts only, the stream waits for the next heartbeat, so ``rate`` is a ceiling.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

import msgspec

from equipment.broker import MqttConnection
from equipment.domain import fills as rules
from equipment.domain.lift_events import NATIONAL_FAULT_CODES
from equipment.services.clock import CHINA
from ingest_mqtt import topics
from ingest_mqtt.messages import DeadLetterReason

__all__ = [
    "BAD_FILL_WEIGHTS",
    "FAULT_WEIGHTS",
    "MAX_OUTSTANDING",
    "PublishReport",
    "SimConfig",
    "SimCylinder",
    "SimLift",
    "SimMessage",
    "SimRegister",
    "SimStation",
    "Stream",
    "expected_verdict",
    "load_register",
    "publish",
    "refill_warning",
    "simulate",
]

# What a bad fill gets wrong, and how often among bad fills. Each name is the verdict
# it should draw (equipment.domain.fills.CODE_TABLE), except unfit_cylinder: a cylinder
# the register already refuses (overdue, scrapped, not activated...), answered with
# whatever the register says.
BAD_FILL_WEIGHTS: Final[dict[str, float]] = {
    "over_filled": 22,
    "pre_check_failed": 15,
    "post_check_failed": 12,
    "wrong_medium": 12,
    "not_on_file": 12,
    "refilled_too_soon": 12,
    "unfit_cylinder": 10,
    "impossible_fill": 5,
}
_EXPECTED: Final[dict[str, str]] = {
    "good": rules.VerdictCode.OK.value,
    "over_filled": rules.VerdictCode.OVER_FILLED.value,
    "pre_check_failed": rules.VerdictCode.PRE_CHECK_FAILED.value,
    "post_check_failed": rules.VerdictCode.POST_CHECK_FAILED.value,
    "wrong_medium": rules.VerdictCode.WRONG_MEDIUM.value,
    "not_on_file": rules.VerdictCode.NOT_ON_FILE.value,
    "refilled_too_soon": rules.VerdictCode.REFILLED_TOO_SOON.value,
    "impossible_fill": rules.VerdictCode.IMPOSSIBLE_FILL.value,
}

# Lift faults as a city's lifts report them: door faults dominate, entrapment is rare,
# overspeed and unintended movement rarer still.
FAULT_WEIGHTS: Final[dict[str, float]] = {
    "door_close_fault": 30,
    "door_open_fault": 22,
    "restart_prevented": 8,
    "safety_circuit_open": 7,
    "floor_position_lost": 6,
    "alarm_button": 6,
    "stopped_outside_door_zone": 5,
    "power_loss": 5,
    "motor_runtime_limiter": 3,
    "entrapment": 1.5,
    "over_travel_top": 0.5,
    "over_travel_bottom": 0.5,
    "unintended_movement": 0.3,
    "overspeed": 0.2,
}
# GB/T 24476-2017 codes by kind: a device that has one sometimes sends only the code.
_RAW_CODES: Final = {kind: code for code, kind in NATIONAL_FAULT_CODES.items()}
RAW_CODE_SHARE: Final = 0.3
CLEAR_SHARE: Final = 0.6  # an event of a lift with a fault open mostly clears it
INSPECTION_CHANCE: Final = 0.003  # per heartbeat: a technician switches to inspection mode
COUNTER_SHARE: Final = 0.8  # lifts whose device reports run/hour/door counters
# Unacknowledged QoS 1 messages at most: far below paho's 65,535 message ids, and small
# enough that a broker that stops answering stops the simulator within a second.
MAX_OUTSTANDING: Final = 1000

# How full a correct fill is, by weight per litre of water capacity, for liquefied and
# dissolved gases other than LPG (whose limit is the rules' own 0.42 kg/L).
_KG_PER_LITRE: Final = {"CO2": 0.6, "C2H2": 0.16, "LNG": 0.42, "NH3": 0.52, "N2O": 0.6}
_OTHER_MEDIA: Final = ("O2", "N2", "Ar", "CO2", "C2H2", "LPG")

_ENCODE: Final = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class SimCylinder:
    code: str
    medium: str | None
    water_capacity_l: float | None = None
    nominal_pressure_mpa: float | None = None
    # The verdict a correct fill gets from the register alone ("00": it may be filled);
    # refill timing is the stream's business.
    verdict: str = "00"
    last_filled_at: datetime | None = None
    # What the verdict was judged from, to judge it again at a fill's own time: a stream
    # stamped over the past hours crosses dates (a due date, a licence's last day).
    facts: rules.CylinderFacts | None = None
    station: rules.StationFacts | None = None


@dataclass(frozen=True, slots=True)
class SimStation:
    code: str
    cylinders: tuple[SimCylinder, ...] = ()


@dataclass(frozen=True, slots=True)
class SimLift:
    code: str  # the registration code its topic carries
    floors: int = 12


@dataclass(frozen=True, slots=True)
class SimRegister:
    lifts: tuple[SimLift, ...] = ()
    stations: tuple[SimStation, ...] = ()

    def summary(self) -> str:
        cylinders = sum(len(s.cylinders) for s in self.stations)
        fit = sum(1 for s in self.stations for c in s.cylinders if c.verdict == "00")
        return (
            f"{len(self.lifts):,} lifts, {len(self.stations):,} filling stations with"
            f" {cylinders:,} own cylinders ({fit:,} fit to fill)"
        )


@dataclass(frozen=True)
class SimConfig:
    rate: float = 100.0  # messages per second of stream time, all kinds together
    heartbeat_interval_s: float = 60.0  # per lift
    heartbeat_qos: int = 0
    fault_share: float = 0.02  # of lift messages: fault events instead of a heartbeat
    bad_share: float = 0.05  # of fills: meant to be refused (or flagged)
    malformed_share: float = 0.0  # of all messages: payloads the contract refuses
    # The server's refill interval (SEREG_FILL_MIN_REFILL_MINUTES): a good fill takes a
    # cylinder not filled within it.
    min_refill_interval: timedelta = timedelta(minutes=30)
    policy: rules.FillPolicy = rules.DEFAULT_FILL_POLICY

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"rate must be a positive number of messages/s, not {self.rate}")
        if not (math.isfinite(self.heartbeat_interval_s) and self.heartbeat_interval_s > 0):
            raise ValueError("the heartbeat interval must be a positive number of seconds")
        if self.heartbeat_qos not in (0, 1):
            raise ValueError("heartbeats go at QoS 0 or 1")
        for name in ("fault_share", "bad_share", "malformed_share"):
            share = getattr(self, name)
            if not 0 <= share <= 1:
                raise ValueError(f"{name} must be between 0 and 1, not {share}")


@dataclass(frozen=True, slots=True)
class SimMessage:
    at: datetime  # the stream time it is due at
    topic: str
    payload: bytes
    qos: int
    kind: str  # fill, status or event
    intent: str  # good, over_filled, ..., heartbeat, fault, cleared, malformed
    # A fill's expected verdict code, a malformed message's dead-letter reason, else "".
    expected: str = ""


def expected_verdict(
    station: rules.StationFacts,
    cylinder: rules.CylinderFacts,
    at: datetime,
    policy: rules.FillPolicy = rules.DEFAULT_FILL_POLICY,
) -> str:
    """The verdict a correct fill of ``cylinder`` with its own medium gets at ``at``,
    refill timing aside: what the interlock would answer before filling."""
    attempt = rules.FillAttempt(medium=cylinder.medium or "", at=at)
    return rules.judge_fill(attempt, station, cylinder, policy=policy).code.value


def refill_warning(register: SimRegister, config: SimConfig) -> str | None:
    """Why most good fills will come back refilled too soon (16), if they will.

    Fills spread evenly over the stations, so a station with few fit cylinders comes
    round to the same cylinder soonest; within the refill interval the fill is suspect.
    """
    stations = [s for s in register.stations if any(c.verdict == "00" for c in s.cylinders)]
    if not stations:
        return None
    heartbeats = len(register.lifts) / config.heartbeat_interval_s
    fills = config.rate - heartbeats if register.lifts else config.rate
    if fills <= 0:
        return None
    per_station = fills / len(register.stations)
    cycle = min(sum(c.verdict == "00" for c in s.cylinders) for s in stations) / per_station
    gap = config.min_refill_interval.total_seconds()
    if cycle >= gap:
        return None
    return (
        f"at ~{fills:,.1f} fills/s a station's fit cylinders come round every {cycle:,.0f} s,"
        f" within the {gap / 60:g}-minute refill interval: most fills will be judged 16"
        " (refilled too soon). Lower the rate, add stations or load a larger register."
    )


def _stamp(moment: datetime) -> str:
    # Local time with its offset, as a device in Xiangyang writes it.
    return moment.astimezone(CHINA).isoformat(timespec="milliseconds")


def _tenth_down(value: float) -> float:
    return math.floor(value * 10 + 1e-9) / 10


def _tenth_up(value: float) -> float:
    return math.ceil(value * 10 - 1e-9) / 10


# ------------------------------------------------------------------------------- lifts


@dataclass(slots=True)
class _Lift:
    """One lift's device state between heartbeats."""

    code: str
    floors: int
    seconds_per_trip: float
    floor: int
    counters: bool
    total_runs: int
    total_hours: float
    door_cycles: int
    service_mode: int = 1
    inspection_left: int = 0
    last_t: float | None = None
    # Open faults: kind -> the raw code it was raised with (None: sent as a kind).
    open_faults: dict[str, str | int | None] = field(default_factory=dict)

    def advance(self, rng: random.Random, t: float) -> None:
        """What happened since the last heartbeat: trips made, counters moved."""
        dt = 0.0 if self.last_t is None else t - self.last_t
        self.last_t = t
        if self.inspection_left:
            self.inspection_left -= 1
            if not self.inspection_left:
                self.service_mode = 1
        elif rng.random() < INSPECTION_CHANCE:
            self.service_mode = 2
            self.inspection_left = rng.randint(3, 20)
        if dt <= 0 or "entrapment" in self.open_faults:
            return
        expected = dt / self.seconds_per_trip
        if self.service_mode == 2:
            expected /= 5  # a technician moves the car now and then
        trips = int(expected) + (rng.random() < expected - int(expected))
        if trips:
            self.floor = rng.randint(1, self.floors)
            self.total_runs += trips
            self.door_cycles += trips + (rng.random() < 0.1 * trips)  # doors reopened
            self.total_hours += trips * rng.uniform(8, 25) / 3600

    def status(self, rng: random.Random, ts: datetime) -> dict[str, Any]:
        busy = min(0.7, 15 / self.seconds_per_trip)
        if "entrapment" in self.open_faults:
            # Stuck between floors with the doors shut and someone inside.
            running, direction, zone, closed, occupied = False, 0, False, True, True
        elif self.service_mode == 2:
            running = rng.random() < 0.3
            direction = rng.choice((1, 2)) if running else 0
            zone, closed, occupied = not running, True, False
        elif rng.random() < busy:
            target = rng.randint(1, self.floors)
            direction = 1 if target > self.floor else 2 if target < self.floor else 0
            running = direction != 0
            if running:
                self.floor += 1 if direction == 1 else -1
            zone, closed, occupied = not running, True, rng.random() < 0.85
        else:
            running, direction, zone = False, 0, True
            closed = rng.random() < 0.75
            occupied = not closed and rng.random() < 0.4
        body: dict[str, Any] = {
            "ts": _stamp(ts),
            "running": running,
            "direction": direction,
            "door_zone": zone,
            "floor": self.floor,
            "doors_closed": closed,
            "occupied": occupied,
            "service_mode": self.service_mode,
        }
        if self.counters:
            body["total_runs"] = self.total_runs
            body["total_hours"] = round(self.total_hours, 2)
            body["door_cycles"] = self.door_cycles
        return body


def _new_lift(rng: random.Random, lift: SimLift) -> _Lift:
    runs = rng.randint(20_000, 2_000_000)
    floors = max(2, min(lift.floors, 300))
    return _Lift(
        code=lift.code,
        floors=floors,
        # A busy office lift makes a trip a minute, a small residential one every few.
        seconds_per_trip=rng.uniform(40, 240),
        floor=rng.randint(1, floors),
        counters=rng.random() < COUNTER_SHARE,
        total_runs=runs,
        total_hours=round(runs * rng.uniform(12, 20) / 3600, 2),
        door_cycles=int(runs * rng.uniform(1.0, 1.2)),
    )


# ------------------------------------------------------------------------------ stations


@dataclass(slots=True)
class _Station:
    code: str
    cylinders: tuple[SimCylinder, ...]
    operators: tuple[str, ...]
    # Fit cylinders least recently filled first: a good fill takes the head.
    fit: deque[int]
    unfit: list[int]
    last: list[float | None]  # stream seconds of each cylinder's last fill


def _new_station(rng: random.Random, index: int, station: SimStation, start: datetime) -> _Station:
    last = [
        None if c.last_filled_at is None else (c.last_filled_at - start).total_seconds()
        for c in station.cylinders
    ]
    fit = [i for i, c in enumerate(station.cylinders) if c.verdict == "00"]
    fit.sort(key=lambda i: -math.inf if last[i] is None else last[i])
    unfit = [i for i, c in enumerate(station.cylinders) if c.verdict != "00"]
    operators = tuple(f"TS23-{index + 1:04d}-{k:02d}" for k in range(1, rng.randint(2, 6)))
    return _Station(station.code, station.cylinders, operators, deque(fit), unfit, last)


def _quantities(
    rng: random.Random,
    medium: str,
    cylinder: SimCylinder | None,
    *,
    over: bool,
    policy: rules.FillPolicy,
) -> dict[str, float] | None:
    """filled_mass_kg or final_pressure_mpa as the medium is measured; an over-fill when
    ``over`` (None when the register gives the rules nothing to over-fill against)."""
    measure = rules.measure_for(medium)
    capacity = (cylinder.water_capacity_l if cylinder else None) or 35.5
    if measure is rules.Measure.MASS:
        if medium.upper() == "LPG":
            limit = rules.max_lpg_fill_kg(capacity, policy)
            if over:
                # Past the limit, not past the litres (that would be an impossible fill).
                mass = min(_tenth_up(limit + rng.uniform(0.3, 1.5)), _tenth_down(capacity))
                return {"filled_mass_kg": mass} if mass > limit else None
            return {"filled_mass_kg": _tenth_down(limit * rng.uniform(0.9, 1.0))}
        if over:
            return None  # the rules know no mass limit for other liquefied gases
        per_litre = _KG_PER_LITRE.get(medium.upper(), 0.3)
        return {"filled_mass_kg": _tenth_down(capacity * per_litre * rng.uniform(0.85, 0.98))}
    if measure is rules.Measure.PRESSURE:
        nominal = cylinder.nominal_pressure_mpa if cylinder else None
        if over:
            if nominal is None:
                return None
            return {"final_pressure_mpa": _tenth_up(nominal * rng.uniform(1.05, 1.2))}
        return {"final_pressure_mpa": _tenth_down((nominal or 15.0) * rng.uniform(0.9, 1.0))}
    return {} if not over else None


# -------------------------------------------------------------------------------- stream


class Stream(Iterator[SimMessage]):
    """An endless, deterministic stream of contract v1 messages (see the module doc)."""

    def __init__(
        self, register: SimRegister, config: SimConfig, *, seed: int, start: datetime
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must carry a time zone")
        if not register.lifts and not register.stations:
            raise ValueError("nothing to simulate: no lifts and no filling stations")
        self.config = config
        self.start = start
        self._rng = random.Random(seed)
        rng = self._rng
        self._step = 1 / config.rate
        self._t = 0.0
        # Event ids must not repeat between runs (a repeat is stored once), so they carry
        # the start time; the seed alone would make every run's ids the same.
        self._tag = f"{int(start.timestamp() * 1000):x}"
        self._seq = 0
        self._lifts = [_new_lift(rng, lift) for lift in register.lifts]
        interval = config.heartbeat_interval_s
        # Each lift's first heartbeat at a random phase, so they do not come in bursts.
        self._due = [(rng.uniform(0, interval), i) for i in range(len(self._lifts))]
        heapq.heapify(self._due)
        self._stations = [_new_station(rng, i, s, start) for i, s in enumerate(register.stations)]
        self._gap = config.min_refill_interval.total_seconds()
        self._fault_kinds = list(FAULT_WEIGHTS)
        self._fault_cum = _cumulative(FAULT_WEIGHTS.values())
        self._bad_kinds = list(BAD_FILL_WEIGHTS)
        self._bad_cum = _cumulative(BAD_FILL_WEIGHTS.values())

    def __next__(self) -> SimMessage:
        rng = self._rng
        t = self._t
        share = self.config.malformed_share
        # No draw at all when there are none, so a stream without them stays the same.
        malformed = share > 0 and rng.random() < share
        if self._lifts and (not self._stations or self._due[0][0] <= t):
            t = max(t, self._due[0][0])
            topic, body, qos, kind, intent, expected = self._lift_message(t)
        else:
            topic, body, qos, kind, intent, expected = self._fill(t, peek=malformed)
        self._t = t + self._step
        if malformed:
            body, expected = self._malform(topic, kind, body)
            intent = "malformed"
        at = self.start + timedelta(seconds=t)
        payload = body if isinstance(body, bytes) else _ENCODE(body)
        return SimMessage(at, topic, payload, qos, kind, intent, expected)

    def take(self, n: int) -> list[SimMessage]:
        return [next(self) for _ in range(n)]

    def _next_id(self) -> str:
        self._seq += 1
        return f"{self._tag}-{self._seq:07d}"

    # ---------------------------------------------------------------------- lifts

    def _lift_message(self, t: float) -> tuple[str, Any, int, str, str, str]:
        rng = self._rng
        due, index = self._due[0]
        lift = self._lifts[index]
        at = self.start + timedelta(seconds=t)
        if rng.random() < self.config.fault_share:
            # The heartbeat stays due: it follows in the next slot.
            return self._event(lift, at)
        heapq.heapreplace(self._due, (due + self.config.heartbeat_interval_s, index))
        lift.advance(rng, t)
        topic = topics.topic_for(topics.TopicKind.STATUS, lift.code)
        body = lift.status(rng, at)
        return topic, body, self.config.heartbeat_qos, "status", "heartbeat", ""

    def _event(self, lift: _Lift, at: datetime) -> tuple[str, Any, int, str, str, str]:
        rng = self._rng
        body: dict[str, Any] = {"event_id": self._next_id(), "ts": _stamp(at)}
        if lift.open_faults and rng.random() < CLEAR_SHARE:
            kind = rng.choice(sorted(lift.open_faults))
            raw = lift.open_faults.pop(kind)
            intent = "cleared"
        else:
            kind = self._fault_kinds[_pick(rng, self._fault_cum)]
            raw = None
            if kind in _RAW_CODES and rng.random() < RAW_CODE_SHARE:
                # Some devices send only the number, as a string or as a JSON number.
                code = _RAW_CODES[kind]
                raw = int(code) if rng.random() < 0.3 else code
            lift.open_faults[kind] = raw
            intent = "fault"
        if raw is None:
            body["kind"] = kind
        else:
            body["code"] = raw
        body["floor"] = lift.floor
        if intent == "cleared":
            body["cleared"] = True
        topic = topics.topic_for(topics.TopicKind.EVENTS, lift.code)
        return topic, body, 1, "event", intent, ""

    # ---------------------------------------------------------------------- fills

    def _fill(self, t: float, *, peek: bool) -> tuple[str, Any, int, str, str, str]:
        rng = self._rng
        station = self._stations[rng.randrange(len(self._stations))]
        at = self.start + timedelta(seconds=t)
        intent = "good"
        if not peek and rng.random() < self.config.bad_share:
            intent = self._bad_kinds[_pick(rng, self._bad_cum)]
        if peek:
            # A malformed report is never stored: it must not move any cylinder's timeline.
            pool = station.fit or station.unfit
            index = rng.choice(list(pool)) if pool else None
        else:
            index, intent = self._choose(station, intent, t)
        cylinder = None if index is None else station.cylinders[index]
        if cylinder is None and intent != "not_on_file":
            intent = "not_on_file"
        expected = _EXPECTED.get(intent, "")
        if intent == "unfit_cylinder" and cylinder is not None:
            expected = cylinder.verdict
            if cylinder.facts is not None and cylinder.station is not None:
                expected = expected_verdict(
                    cylinder.station, cylinder.facts, at, self.config.policy
                )
        body = self._fill_body(station, cylinder, intent, at)
        if body is None:
            # Nothing on file to over-fill against: the same cylinder fails its post-check.
            intent, expected = "post_check_failed", _EXPECTED["post_check_failed"]
            body = self._fill_body(station, cylinder, intent, at)
            assert body is not None
        if intent == "good" and index is not None:
            last = station.last[index]
            if last is not None and t - last < self._gap and cylinder.verdict == "00":
                # Every fit cylinder was filled within the refill interval: the register is
                # too small for this rate, and the fill is judged refilled too soon.
                intent, expected = "good_reused", rules.VerdictCode.REFILLED_TOO_SOON.value
        if index is not None and not peek:
            station.last[index] = t
        topic = topics.topic_for(topics.TopicKind.FILLS, station.code)
        return topic, body, 1, "fill", intent, expected

    def _choose(self, station: _Station, intent: str, t: float) -> tuple[int | None, str]:
        """The cylinder a fill of ``intent`` uses (and the intent, when it cannot be met)."""
        if intent == "not_on_file":
            return None, intent
        if intent == "refilled_too_soon":
            if station.fit:
                recent = station.fit[-1]
                last = station.last[recent]
                if last is not None and t - last < self._gap:
                    return recent, intent
            intent = "good"
        if intent == "unfit_cylinder":
            if station.unfit:
                return self._rng.choice(station.unfit), intent
            intent = "pre_check_failed"
        if station.fit:
            index = station.fit.popleft()
            station.fit.append(index)
            return index, intent
        if station.unfit:
            # A station with no fit cylinder at all (its licence expired, say): every fill
            # it reports is refused, whatever was meant.
            return self._rng.choice(station.unfit), "unfit_cylinder"
        return None, "not_on_file"

    def _fill_body(
        self, station: _Station, cylinder: SimCylinder | None, intent: str, at: datetime
    ) -> dict[str, Any] | None:
        rng = self._rng
        policy = self.config.policy
        medium = (cylinder.medium if cylinder else None) or "LPG"
        code = cylinder.code if cylinder else f"2320429{rng.randrange(10**13):013d}"
        if intent == "wrong_medium":
            medium = rng.choice([m for m in _OTHER_MEDIA if m.upper() != medium.upper()])
        quantities = _quantities(rng, medium, cylinder, over=intent == "over_filled", policy=policy)
        if quantities is None:
            return None
        started = at - timedelta(seconds=rng.uniform(60, 420))
        if intent == "impossible_fill":
            started = at + timedelta(seconds=rng.uniform(60, 300))  # ends before it starts
        body: dict[str, Any] = {
            "event_id": f"{station.code}-{self._next_id()}",
            "station_code": station.code,
            "cylinder_code": code,
            "medium": medium,
            "filled_at": _stamp(at),
            "started_at": _stamp(started),
            **quantities,
            "pre_check_passed": intent != "pre_check_failed",
            "post_check_passed": intent != "post_check_failed",
            "operator": rng.choice(station.operators),
        }
        return body

    # ------------------------------------------------------------------ malformed

    def _malform(
        self, topic: str, kind: str, body: dict[str, Any]
    ) -> tuple[bytes | dict[str, Any], str]:
        """A payload the contract refuses, and the dead-letter reason it should get."""
        rng = self._rng
        flaw = rng.choice(("not_json", "missing_field", "wrong_type", "no_offset", "mismatch"))
        body = dict(body)
        stamp = "filled_at" if kind == "fill" else "ts"
        if flaw == "not_json":
            encoded = _ENCODE(body)
            return encoded[: len(encoded) // 2], DeadLetterReason.NOT_JSON.value
        if flaw == "missing_field":
            body.pop(rng.choice(["event_id", "operator", "medium"] if kind == "fill" else ["ts"]))
            return body, DeadLetterReason.MISSING_FIELD.value
        if flaw == "wrong_type":
            if kind == "fill":
                body["pre_check_passed"] = "yes"
            elif kind == "status":
                body["floor"] = str(body["floor"])
            else:
                body["ts"] = 1767196800  # epoch seconds where RFC 3339 text is due
            return body, DeadLetterReason.WRONG_TYPE.value
        if flaw == "no_offset":
            body[stamp] = body[stamp][:23]  # local time without its +08:00
            return body, DeadLetterReason.INVALID_VALUE.value
        if kind == "fill":
            body["station_code"] = body["station_code"] + "X"
        else:
            # Another lift's code, as a device with a mixed-up configuration sends it.
            code = topics.parse_topic(topic).code
            body["registration_code"] = code[:-1] + ("1" if code[-1] != "1" else "2")
        return body, DeadLetterReason.TOPIC_MISMATCH.value


def _cumulative(weights: Iterable[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def _pick(rng: random.Random, cumulative: Sequence[float]) -> int:
    return min(bisect.bisect_right(cumulative, rng.random() * cumulative[-1]), len(cumulative) - 1)


# ---------------------------------------------------------------------------- register


async def load_register(
    *,
    lifts: int,
    stations: int,
    now: datetime,
    policy: rules.FillPolicy = rules.DEFAULT_FILL_POLICY,
) -> SimRegister:
    """Up to ``lifts`` lifts in use (by id) and ``stations`` filling stations with their
    own cylinders, read through the register's service (equipment.services.simulation)
    from the database its engine is bound to.

    Licensed stations come first, so the good fills a demo means are good. Each cylinder
    is judged as the interlock would judge it at ``now`` (refill timing aside); its last
    recorded fill seeds the stream's refill timeline.
    """
    # The service is imported here only: the stream, and its tests, need no database.
    from equipment.services import simulation

    found_lifts = await simulation.lifts_in_use(lifts)
    sim_lifts = tuple(SimLift(r.registration_code, _floors(r.floors)) for r in found_lifts)
    today = now.astimezone(policy.local_tz).date()
    sim_stations = tuple(
        SimStation(
            roster.code,
            tuple(
                SimCylinder(
                    code=c.code,
                    medium=c.facts.medium,
                    water_capacity_l=c.facts.water_capacity_l,
                    nominal_pressure_mpa=c.facts.nominal_working_pressure_mpa,
                    verdict=expected_verdict(roster.station, c.facts, now, policy),
                    last_filled_at=c.last_filled_at,
                    facts=c.facts,
                    station=roster.station,
                )
                for c in roster.cylinders
            ),
        )
        for roster in await simulation.station_rosters(stations, today)
    )
    return SimRegister(sim_lifts, sim_stations)


def _floors(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 1 else 12


# ---------------------------------------------------------------------------- publishing


class Sink(Protocol):
    """What :func:`publish` needs of :class:`ingest_mqtt.client.Publisher`."""

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None: ...


@dataclass
class PublishReport:
    sent: Counter[str] = field(default_factory=Counter)  # by kind
    intents: Counter[str] = field(default_factory=Counter)  # by kind/intent
    seconds: float = 0.0  # from the start of publishing to the last message sent
    behind_s: float = 0.0  # the most any message went out after its due time
    acked: bool | None = None  # every QoS 1 message acknowledged (None: not waited for)
    ack_wait_s: float = 0.0
    target_rate: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.sent.values())

    @property
    def rate(self) -> float:
        return self.total / self.seconds if self.seconds > 0 else float("nan")

    def lines(self) -> list[str]:
        out = [
            f"published {self.total:,} messages in {self.seconds:.2f} s:"
            f" {self.rate:,.1f} msg/s (target {self.target_rate:,.1f})"
        ]
        for kind in sorted(self.sent):
            detail = ", ".join(
                f"{intent.split('/', 1)[1]} {n:,}"
                for intent, n in sorted(self.intents.items())
                if intent.startswith(f"{kind}/")
            )
            out.append(f"  {kind:<7}{self.sent[kind]:>9,}  ({detail})")
        if self.behind_s > 0.5:
            out.append(f"  at most {self.behind_s:.1f} s behind schedule (broker or CPU bound)")
        if self.acked is True:
            out.append(
                f"  every QoS 1 message acknowledged by the broker ({self.ack_wait_s:.2f} s)"
            )
        elif self.acked is False:
            out.append("  NOT every QoS 1 message was acknowledged before the timeout")
        return out


def publish(
    stream: Iterable[SimMessage],
    *,
    qos1: Sink,
    qos0: Sink | None = None,
    count: int | None = None,
    seconds: float | None = None,
    pace: bool = True,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
    target_rate: float = 0.0,
) -> PublishReport:
    """Publish ``stream`` until ``count`` messages or ``seconds`` of stream time, paced
    to each message's due time (``pace=False``: as fast as the publisher takes them).

    ``qos1`` takes the QoS 1 messages; ``qos0`` (defaults to ``qos1``) the QoS 0 ones,
    on a connection of its own: paho reports a QoS 0 publish as "published" too, which
    :class:`~ingest_mqtt.client.Publisher` counts as an acknowledgement, so QoS 0 traffic
    on the same publisher would loosen its bound on unacknowledged QoS 1 messages.
    """
    if count is None and seconds is None:
        raise ValueError("give a count or a duration: a simulation stops by itself")
    report = PublishReport(target_rate=target_rate)
    qos0 = qos0 or qos1
    started = clock()
    first: datetime | None = None
    for sent, message in enumerate(stream, 1):
        if stop is not None and stop.is_set():
            break
        if first is None:
            first = message.at
        offset = (message.at - first).total_seconds()
        if seconds is not None and offset >= seconds:
            break
        if pace:
            delay = started + offset - clock()
            if delay > 0.001:
                if stop is not None:
                    if stop.wait(delay):
                        break
                else:
                    time.sleep(delay)
            elif delay < 0:
                report.behind_s = max(report.behind_s, -delay)
        (qos1 if message.qos else qos0).publish(message.topic, message.payload, message.qos)
        report.sent[message.kind] += 1
        report.intents[f"{message.kind}/{message.intent}"] += 1
        if count is not None and sent >= count:
            break
    report.seconds = clock() - started
    return report


def simulate(
    register: SimRegister,
    config: SimConfig,
    conn: MqttConnection,
    *,
    seed: int,
    count: int | None,
    seconds: float | None,
    client_id: str,
    max_outstanding: int = MAX_OUTSTANDING,
    ack_timeout_s: float = 60.0,
    qos0_conn: MqttConnection | None = None,
) -> PublishReport:
    """Connect, publish a paced stream starting now, wait for the broker's acks.

    QoS 0 heartbeats go over a second connection, as ``qos0_conn``'s user when given: a
    broker that names sessions by username (the repo's, use_username_as_clientid) would
    otherwise have the two connections take each other's session.
    SIGINT and SIGTERM end the run early; the report covers what was sent.
    """
    from equipment.services import clock
    from ingest_mqtt.client import Publisher

    stream = Stream(register, config, seed=seed, start=clock.now())
    qos1 = Publisher(conn, client_id=client_id, max_outstanding=max_outstanding)
    qos0 = None
    if config.heartbeat_qos == 0 and register.lifts:
        qos0 = Publisher(qos0_conn or conn, client_id=f"{client_id}-qos0")
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    connected: list[Any] = []
    try:
        for publisher in (qos1, qos0):
            if publisher is not None:
                publisher.connect()
                connected.append(publisher)
        report = publish(
            stream,
            qos1=qos1,
            qos0=qos0,
            count=count,
            seconds=seconds,
            stop=stop,
            target_rate=config.rate,
        )
        waited = time.monotonic()
        report.acked = qos1.wait_all_acked(timeout=ack_timeout_s)
        report.ack_wait_s = time.monotonic() - waited
        return report
    finally:
        for publisher in connected:
            publisher.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
