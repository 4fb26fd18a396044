"""The simulator's stream, without a broker or a database: every payload keeps MQTT
contract v1 (docs/mqtt-contract.md), every fill draws the verdict it was meant to draw from the
real fill rules, the same seed makes the same stream, and the publishing loop stops by
itself."""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import msgspec
import pytest

from bench.simulator import (
    FAULT_WEIGHTS,
    PublishReport,
    SimConfig,
    SimCylinder,
    SimLift,
    SimMessage,
    SimRegister,
    SimStation,
    Stream,
    expected_verdict,
    publish,
    refill_warning,
)
from equipment.domain import fills as rules
from equipment.domain.lift_events import DEFAULT_FAULT_CODES, KINDS
from ingest_mqtt import messages

START = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
TODAY = date(2026, 12, 2)
LIFTS = tuple(SimLift(f"311042060620240{i:05d}", floors=6 + i % 20) for i in range(20))
STATION = rules.StationFacts(1, "XYS0001", "TS9242001", TODAY + timedelta(days=365), 112.1, 32.0)
LAPSED = rules.StationFacts(2, "XYS0002", "TS9242002", TODAY - timedelta(days=3), 112.2, 32.1)

# Cylinders as the register would hold them, with the facts the fill rules read.
_LPG = {"medium": "LPG", "water_capacity_l": 35.5, "nominal_working_pressure_mpa": 2.1}
_O2 = {"medium": "O2", "water_capacity_l": 40.0, "nominal_working_pressure_mpa": 15.0}
_C2H2 = {"medium": "C2H2", "water_capacity_l": 40.0, "nominal_working_pressure_mpa": 1.6}


def _facts(
    serial: int, station: rules.StationFacts, params: dict, **overrides
) -> rules.CylinderFacts:
    values = {
        "id": serial,
        "code": f"2320420606202401{serial:04d}",
        "category": "2320",
        "status": "in_use",
        "owning_station_id": station.id,
        "medium": params["medium"],
        "water_capacity_l": params["water_capacity_l"],
        "nominal_working_pressure_mpa": params["nominal_working_pressure_mpa"],
        "vehicle": False,
        "next_periodic_due": TODAY + timedelta(days=400),
        "end_of_service_life": TODAY + timedelta(days=3000),
        "last_periodic_failed": False,
    }
    values.update(overrides)
    return rules.CylinderFacts(**values)


def _register_facts() -> dict[str, tuple[rules.StationFacts, rules.CylinderFacts]]:
    """code -> (station, cylinder facts): many fit cylinders of three media and the
    unfit ones a real register has."""
    serial = itertools.count(1)
    found = {}
    for params, n in ((_LPG, 300), (_O2, 100), (_C2H2, 40)):
        for _ in range(n):
            facts = _facts(next(serial), STATION, params)
            found[facts.code] = (STATION, facts)
    for overrides in (
        {"next_periodic_due": TODAY - timedelta(days=10)},  # 04 overdue
        {"status": "scrapped"},  # 05
        {"status": "pending"},  # 03
        {"last_periodic_failed": True},  # 02
        {"end_of_service_life": TODAY - timedelta(days=1)},  # 12
        {"next_periodic_due": None},  # 01
    ):
        facts = _facts(next(serial), STATION, _LPG, **overrides)
        found[facts.code] = (STATION, facts)
    for _ in range(20):  # a station whose licence lapsed: everything it fills is refused
        facts = _facts(next(serial), LAPSED, _LPG)
        found[facts.code] = (LAPSED, facts)
    return found


FACTS = _register_facts()


def _sim_register(lifts: tuple[SimLift, ...] = LIFTS, stations: bool = True) -> SimRegister:
    by_station: dict[str, list[SimCylinder]] = defaultdict(list)
    for station, facts in FACTS.values():
        by_station[station.code].append(
            SimCylinder(
                facts.code,
                facts.medium,
                facts.water_capacity_l,
                facts.nominal_working_pressure_mpa,
                verdict=expected_verdict(station, facts, START),
            )
        )
    sim_stations = tuple(SimStation(code, tuple(c)) for code, c in sorted(by_station.items()))
    return SimRegister(lifts, sim_stations if stations else ())


REGISTER = _sim_register()
FILLS_ONLY = _sim_register(lifts=())
LICENSED = SimRegister((), FILLS_ONLY.stations[:1])
# Fills at ~0.2/s over two stations, one with 440 fit cylinders: each comes round about
# once an hour, past the 30-minute refill interval, so the "good" fills are good.
SPREAD = SimConfig(rate=0.25, heartbeat_interval_s=600, bad_share=0.2, fault_share=0.1)


def _stream(config: SimConfig = SPREAD, seed: int = 7, register: SimRegister = REGISTER):
    return Stream(register, config, seed=seed, start=START)


def _body(message: SimMessage) -> dict:
    return msgspec.json.decode(message.payload)


# ------------------------------------------------------------------------- the contract


@pytest.mark.parametrize(
    "register",
    [REGISTER, _sim_register(stations=False), _sim_register(lifts=())],
    ids=["lifts and stations", "lifts only", "stations only"],
)
def test_every_payload_decodes_or_is_refused_as_meant(register: SimRegister) -> None:
    config = SimConfig(rate=50, heartbeat_interval_s=5, fault_share=0.1, malformed_share=0.1)
    stream = _stream(config, register=register).take(3000)
    kinds = Counter(m.kind for m in stream)
    assert set(kinds) <= {"fill", "status", "event"}
    for message in stream:
        decoded = messages.decode(message.topic, message.payload, DEFAULT_FAULT_CODES)
        if message.intent == "malformed":
            assert isinstance(decoded, messages.Rejected), message
            assert decoded.reason.value == message.expected, (message, decoded)
        else:
            assert isinstance(decoded, messages.Decoded), (message, decoded)
            topic_kind = {"fill": "fills", "status": "status", "event": "events"}[message.kind]
            assert decoded.topic.kind.value == topic_kind
    malformed = sum(m.intent == "malformed" for m in stream) / len(stream)
    assert 0.07 < malformed < 0.13
    assert len({messages.decode(m.topic, m.payload).reason for m in stream
                if m.intent == "malformed"}) == 5  # fmt: skip


def test_timestamps_are_rfc3339_with_an_offset_and_follow_the_stream() -> None:
    stream = _stream(SimConfig(rate=10, heartbeat_interval_s=2)).take(500)
    for message in stream:
        body = _body(message)
        stamp = body.get("filled_at") or body["ts"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00", stamp)
        assert datetime.fromisoformat(stamp) == message.at
    times = [m.at for m in stream]
    assert times == sorted(times)
    assert times[0] >= START
    # 10 messages a second of stream time, all kinds together.
    assert (times[-1] - times[0]).total_seconds() == pytest.approx(49.9, abs=0.01)


def test_qos_per_topic() -> None:
    for heartbeat_qos in (0, 1):
        config = SimConfig(rate=20, heartbeat_interval_s=1, heartbeat_qos=heartbeat_qos)
        for message in _stream(config).take(400):
            assert message.qos == (heartbeat_qos if message.kind == "status" else 1)


# ------------------------------------------------------------------------------ fills


def _judge_all(stream: list[SimMessage]) -> list[tuple[SimMessage, str]]:
    """Each decoded fill judged by the real rules against the facts above, in order,
    each seeing the cylinder's previous fill as the ingest does."""
    previous: dict[int, rules.PreviousFill] = {}
    out = []
    for message in stream:
        if message.kind != "fill" or message.intent == "malformed":
            continue
        decoded = messages.decode(message.topic, message.payload)
        assert isinstance(decoded, messages.Decoded)
        fill = decoded.message
        station, facts = FACTS.get(fill.cylinder_code, (STATION, None))
        verdict = rules.judge_fill(
            rules.FillAttempt(
                medium=fill.medium,
                at=fill.filled_at,
                started_at=fill.started_at,
                filled_mass_kg=fill.filled_mass_kg,
                final_pressure_mpa=fill.final_pressure_mpa,
                pre_check_passed=fill.pre_check_passed,
                post_check_passed=fill.post_check_passed,
            ),
            station,
            facts,
            previous=previous.get(facts.id) if facts else None,
            received_at=message.at,
        )
        if facts is not None:
            previous[facts.id] = rules.PreviousFill(
                station.id, station.code, fill.filled_at, station.longitude, station.latitude
            )
        out.append((message, verdict.code.value))
    return out


def test_every_fill_draws_the_verdict_it_means() -> None:
    judged = _judge_all(_stream().take(4000))
    wrong = [(m.intent, m.expected, got) for m, got in judged if got != m.expected]
    assert not wrong, wrong[:10]
    intents = Counter(m.intent for m, _ in judged)
    for intent in (
        "good",
        "over_filled",
        "pre_check_failed",
        "post_check_failed",
        "wrong_medium",
        "not_on_file",
        "refilled_too_soon",
        "unfit_cylinder",
        "impossible_fill",
    ):
        assert intents[intent], intent
    assert "good_reused" not in intents  # the register is big enough for this rate
    # A fit register's unfit cylinders answer with the register's own codes.
    unfit = {got for m, got in judged if m.intent == "unfit_cylinder"}
    assert unfit <= {"01", "02", "03", "04", "05", "12", "15"} and len(unfit) >= 4


def test_a_register_too_small_for_the_rate_shows_as_reused_cylinders() -> None:
    small = SimRegister((), (SimStation("XYS0001", LICENSED.stations[0].cylinders[:10]),))
    config = SimConfig(rate=1, bad_share=0)
    judged = _judge_all(Stream(small, config, seed=1, start=START).take(200))
    assert all(got == m.expected for m, got in judged)
    intents = Counter(m.intent for m, _ in judged)
    # The first round of ten is good; every later fill comes round within 30 minutes.
    assert intents == {"good": 10, "good_reused": 190}
    assert refill_warning(small, config) is not None
    assert refill_warning(REGISTER, SPREAD) is None


def test_measured_quantities_follow_the_medium() -> None:
    capacity = {facts.code: facts.water_capacity_l for _, facts in FACTS.values()}
    for message in _stream(SimConfig(rate=0.25, bad_share=0), register=FILLS_ONLY).take(1500):
        if message.kind != "fill":
            continue
        body = _body(message)
        measure = rules.measure_for(body["medium"])
        if measure is rules.Measure.MASS:
            assert "filled_mass_kg" in body and "final_pressure_mpa" not in body
            assert 0 < body["filled_mass_kg"] <= capacity[body["cylinder_code"]]
            if body["medium"] == "LPG":
                # Within 0.42 kg per litre of water capacity (docs/rules.md, LPG).
                limit = rules.max_lpg_fill_kg(capacity[body["cylinder_code"]])
                assert body["filled_mass_kg"] <= limit
        else:
            assert measure is rules.Measure.PRESSURE
            assert 0 < body["final_pressure_mpa"] <= 15.0
        assert body["started_at"] < body["filled_at"]


def test_the_bad_share_is_respected_roughly() -> None:
    for share in (0.0, 0.05, 0.3):
        # One licensed station: every fill it means to be good can be (a lapsed station's
        # cannot, and would count as bad).
        config = SimConfig(rate=0.2, bad_share=share)
        fills = _stream(config, seed=3, register=LICENSED).take(4000)
        bad = sum(m.intent != "good" for m in fills) / len(fills)
        assert bad == pytest.approx(share, abs=0.025), share


def test_event_ids_are_unique_and_differ_between_runs() -> None:
    stream = _stream(SimConfig(rate=20, heartbeat_interval_s=1, fault_share=0.2)).take(3000)
    ids = [(m.topic, _body(m).get("event_id")) for m in stream if m.kind != "status"]
    assert len(ids) == len(set(ids))
    # The same seed a second later: a second run of `sereg simulate` repeats no id.
    later = Stream(REGISTER, SPREAD, seed=7, start=START + timedelta(seconds=1)).take(200)
    later_ids = {_body(m)["event_id"] for m in later if m.kind != "status"}
    assert later_ids and later_ids.isdisjoint(i for _, i in ids)


# ------------------------------------------------------------------------------ lifts


def test_lift_heartbeats_come_per_lift_at_the_interval() -> None:
    config = SimConfig(rate=100, heartbeat_interval_s=10, fault_share=0)
    register = _sim_register(stations=False)
    stream = _stream(config, register=register).take(20 * 30)
    per_lift: dict[str, list[datetime]] = defaultdict(list)
    for message in stream:
        assert message.kind == "status"
        per_lift[message.topic].append(message.at)
    assert len(per_lift) == len(LIFTS)
    for times in per_lift.values():
        # Two lifts due in the same slot go one slot (10 ms) apart.
        for a, b in itertools.pairwise(times):
            assert (b - a).total_seconds() == pytest.approx(10, abs=0.021)


def test_lift_state_is_plausible() -> None:
    config = SimConfig(rate=100, heartbeat_interval_s=30, fault_share=0.05)
    stream = _stream(config, register=_sim_register(stations=False)).take(20_000)
    floors = {lift.code: lift.floors for lift in LIFTS}
    last: dict[str, dict] = {}
    modes: Counter[int] = Counter()
    for message in stream:
        if message.kind != "status":
            continue
        code = message.topic.split("/")[3]
        body = _body(message)
        assert 1 <= body["floor"] <= floors[code]
        assert body["running"] == (body["direction"] != 0)
        if body["running"]:
            assert body["doors_closed"]
        modes[body["service_mode"]] += 1
        if "total_runs" in body and code in last:
            for counter in ("total_runs", "total_hours", "door_cycles"):
                assert body[counter] >= last[code][counter]
        last[code] = body
    assert set(modes) == {1, 2} and modes[1] > 10 * modes[2]
    moved = [b for b in last.values() if "total_runs" in b]
    assert moved, "some devices report counters"


def test_faults_are_weighted_and_cleared_later() -> None:
    config = SimConfig(rate=200, heartbeat_interval_s=1, fault_share=0.2)
    stream = _stream(config, register=_sim_register(stations=False)).take(40_000)
    raised: Counter[str] = Counter()
    open_per_lift: dict[str, set[str]] = defaultdict(set)
    raw_only = cleared = 0
    for message in stream:
        if message.kind != "event":
            continue
        body = _body(message)
        decoded = messages.decode(message.topic, message.payload)
        assert isinstance(decoded, messages.Decoded)
        kind = decoded.message.kind
        assert kind in KINDS
        raw_only += "kind" not in body
        if body.get("cleared"):
            cleared += 1
            assert message.intent == "cleared"
            # A clear ends a condition the same lift raised before.
            assert kind in open_per_lift[message.topic]
            open_per_lift[message.topic].discard(kind)
        else:
            raised[kind] += 1
            open_per_lift[message.topic].add(kind)
    assert raised["door_close_fault"] > raised["entrapment"] > 0
    assert raised.most_common(1)[0][0] == "door_close_fault"
    assert set(raised) <= set(FAULT_WEIGHTS)
    assert raw_only and cleared


# ------------------------------------------------------------------------ determinism


def test_the_same_seed_makes_the_same_stream() -> None:
    config = SimConfig(rate=20, heartbeat_interval_s=2, malformed_share=0.05, bad_share=0.2)
    first = [(m.at, m.topic, m.payload, m.intent) for m in _stream(config, seed=11).take(2000)]
    again = [(m.at, m.topic, m.payload, m.intent) for m in _stream(config, seed=11).take(2000)]
    other = [(m.at, m.topic, m.payload, m.intent) for m in _stream(config, seed=12).take(2000)]
    assert first == again
    assert first != other


@pytest.mark.parametrize(
    "overrides",
    [
        {"rate": 0},
        {"rate": float("inf")},
        {"heartbeat_interval_s": 0},
        {"heartbeat_qos": 2},
        {"bad_share": 1.5},
        {"fault_share": -0.1},
        {"malformed_share": 2},
    ],
)
def test_a_config_that_cannot_run_is_refused(overrides: dict) -> None:
    with pytest.raises(ValueError):
        SimConfig(**overrides)


def test_an_empty_register_is_refused() -> None:
    with pytest.raises(ValueError, match="nothing to simulate"):
        Stream(SimRegister(), SimConfig(), seed=1, start=START)
    with pytest.raises(ValueError, match="time zone"):
        Stream(REGISTER, SimConfig(), seed=1, start=datetime(2026, 1, 1))


# ------------------------------------------------------------------------- publishing


class _Sink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, int]] = []

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.sent.append((topic, payload, qos))


def test_publish_stops_after_a_count() -> None:
    sink = _Sink()
    report = publish(_stream(SimConfig(rate=1000)), qos1=sink, count=250, pace=False)
    assert len(sink.sent) == report.total == 250
    assert isinstance(report, PublishReport)
    assert sum(report.intents.values()) == 250


def test_publish_stops_after_a_duration_of_stream_time() -> None:
    sink = _Sink()
    report = publish(_stream(SimConfig(rate=200)), qos1=sink, seconds=2.5, pace=False)
    assert report.total == 500


def test_publish_sends_qos0_on_its_own_connection() -> None:
    qos1, qos0 = _Sink(), _Sink()
    config = SimConfig(rate=50, heartbeat_interval_s=1, heartbeat_qos=0)
    publish(_stream(config), qos1=qos1, qos0=qos0, count=500, pace=False)
    assert qos0.sent and all(q == 0 and "/status" in t for t, _, q in qos0.sent)
    assert all(q == 1 for _, _, q in qos1.sent)


def test_publish_paces_to_the_due_times() -> None:
    sink = _Sink()
    report = publish(_stream(SimConfig(rate=200)), qos1=sink, count=100)
    # 100 messages at 200/s: the last is due 0.495 s after the first.
    assert 0.45 < report.seconds < 1.5
    assert report.rate == pytest.approx(100 / report.seconds)


def test_publish_needs_a_way_to_stop() -> None:
    with pytest.raises(ValueError, match="stops by itself"):
        publish(_stream(), qos1=_Sink())


def test_an_unfit_fill_is_meant_as_the_register_answers_at_its_own_time() -> None:
    # The register is read at the end of a stream stamped over the day before (as the
    # benchmarks do): a cylinder due for inspection that day is overdue when read, but
    # not for the fills stamped before local midnight. Each fill means what the rules
    # answer at its own time.
    load_time = START + timedelta(days=1)
    crossing = _facts(900, STATION, _LPG, next_periodic_due=TODAY)
    fit = [_facts(901 + i, STATION, _LPG) for i in range(40)]

    def sim(facts: rules.CylinderFacts) -> SimCylinder:
        return SimCylinder(
            facts.code, facts.medium, facts.water_capacity_l,
            facts.nominal_working_pressure_mpa,
            verdict=expected_verdict(STATION, facts, load_time),
            facts=facts, station=STATION,
        )  # fmt: skip

    register = SimRegister((), (SimStation(STATION.code, tuple(sim(f) for f in [crossing, *fit])),))
    assert sim(crossing).verdict == "04"
    config = SimConfig(rate=0.005, heartbeat_interval_s=600, bad_share=0.6)
    stream = Stream(register, config, seed=3, start=START).take(400)
    meant = {}
    for m in stream:
        if m.kind == "fill" and m.intent == "unfit_cylinder":
            body = _body(m)
            meant[datetime.fromisoformat(body["filled_at"])] = m.expected
    by_day: dict[date, set[str]] = defaultdict(set)
    for at, code in meant.items():
        by_day[at.astimezone(rules.DEFAULT_FILL_POLICY.local_tz).date()].add(code)
    assert by_day == {TODAY: {"00"}, TODAY + timedelta(days=1): {"04"}}, meant
