"""The repository's Mosquitto configuration, run by a real broker.

The broker is started from ``deploy/mosquitto/mosquitto.conf`` itself, with the
dynamic-security configuration ``sereg broker-users`` writes (ingest_mqtt/credentials.py);
only what cannot be the same on a test machine is rewritten (the listener port, where the
persistence file, the plugin and its configuration are). So these tests fail when the
shipped configuration regresses:

- nobody connects anonymously;
- a station publishes only under its own code and reads only its own verdicts, a lift
  only its own status and events (docs/mqtt-contract.md: broker ACL), and a device
  is refused at SUBSCRIBE time anything else: the ingest workers' shared subscription,
  the contract tree, another station's verdicts (issue 16, item 1);
- a client that connects with an ingest worker's client id under another username cannot
  take over or wipe the worker's session (item 2);
- the queue trap: an ingest consumer that was offline gets its whole QoS 1 backlog on
  return. Mosquitto's stock ``max_queued_messages 1000`` silently drops the rest, and the
  same scenario is run against that setting to show this test can fail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest_mqtt import credentials, topics
from tests.mosquitto import Broker, start_broker

pytestmark = pytest.mark.integration


# Usernames as `sereg broker-users` issues them: each ingest worker by its name, a
# station and a lift by their bare codes.
INGEST = "sereg-ingest-1"
OTHER_INGEST = "sereg-ingest-2"
STATION = "XYS001"
OTHER_STATION = "XYS002"
LIFT = "31104206002023050001"
PASSWORDS = {
    INGEST: "ingest-secret",
    OTHER_INGEST: "other-ingest-secret",
    STATION: "station-secret",
    OTHER_STATION: "other-station-secret",
    LIFT: "lift-secret",
}
USERS = credentials.Users(
    stations=[STATION, OTHER_STATION], lifts=[LIFT], workers=[INGEST, OTHER_INGEST]
)
GROUP = "sereg-ingest"
# What the ingest workers subscribe to (compose.yaml runs two of them on one group).
INGEST_SUBSCRIPTIONS = [topics.shared(s, GROUP) for s in topics.SUBSCRIPTIONS]
FILLS_SUBSCRIPTION = topics.shared("sereg/v1/stations/+/fills", GROUP)

BACKLOG = 5_000
STOCK_QUEUE_LIMIT = 1_000


def fills_topic(station: str) -> str:
    return f"sereg/v1/stations/{station}/fills"


def verdicts_topic(station: str) -> str:
    return f"sereg/v1/stations/{station}/verdicts"


# ----------------------------------------------------------------------------- broker


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    started = start_broker(tmp_path_factory.mktemp("mosquitto"), USERS, PASSWORDS)
    yield started
    started.stop()


@pytest.fixture
def broker_with(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Broker]]:
    """Start a broker from the shipped config with some settings overridden."""
    started: list[Broker] = []

    def start(overrides: dict[str, str]) -> Broker:
        started.append(
            start_broker(tmp_path / f"broker{len(started)}", USERS, PASSWORDS, overrides)
        )
        return started[-1]

    yield start
    for one in started:
        one.stop()


# ----------------------------------------------------------------------------- clients


@dataclass
class Session:
    """A paho client on its own network thread, with what it received."""

    client: mqtt.Client
    connack: threading.Event = field(default_factory=threading.Event)
    reason: mqtt.ReasonCode | None = None
    session_present: bool = False
    messages: list[mqtt.MQTTMessage] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    subacks: dict[int, list[mqtt.ReasonCode]] = field(default_factory=dict)
    subscribed: threading.Condition = field(default_factory=threading.Condition)
    pubacks: dict[int, mqtt.ReasonCode] = field(default_factory=dict)

    def payloads(self, topic: str | None = None) -> list[bytes]:
        with self.arrived:
            return [m.payload for m in self.messages if topic is None or m.topic == topic]

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        with self.arrived:
            return self.arrived.wait_for(predicate, timeout)

    def subscribe_ingest(self) -> None:
        for subscription in INGEST_SUBSCRIPTIONS:
            reasons = self.subscribe(subscription)
            assert not reasons[0].is_failure, f"{subscription}: {reasons[0]}"

    def subscribe(self, topic: str, qos: int = 1) -> list[mqtt.ReasonCode]:
        _, mid = self.client.subscribe(topic, qos=qos)
        with self.subscribed:
            assert self.subscribed.wait_for(lambda: mid in self.subacks, 5), "no SUBACK"
            return self.subacks[mid]

    def close(self, *, end_session: bool = False) -> None:
        properties = None
        if end_session:  # MQTT v5: a DISCONNECT may cut the session's expiry to zero
            properties = Properties(PacketTypes.DISCONNECT)
            properties.SessionExpiryInterval = 0
        self.client.disconnect(properties=properties)
        self.client.loop_stop()


def connect(
    broker: Broker,
    username: str | None,
    *,
    client_id: str = "",
    clean_start: bool = True,
    session_expiry: int = 0,
    password: str | None = None,
    expect_success: bool = True,
) -> Session:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    # Never let paho reconnect on its own: a refused client must stay refused.
    client.reconnect_delay_set(60, 60)
    # A publisher bounds its unacknowledged QoS 1 messages (paho stalls past 65,535).
    client.max_inflight_messages_set(100)
    if username is not None:
        client.username_pw_set(username, password or PASSWORDS[username])
    session = Session(client)

    def on_connect(_c, _u, flags, reason_code, _p) -> None:
        session.reason = reason_code
        session.session_present = flags.session_present
        session.connack.set()

    def on_message(_c, _u, message) -> None:
        with session.arrived:
            session.messages.append(message)
            session.arrived.notify_all()

    def on_subscribe(_c, _u, mid, reason_codes, _p) -> None:
        with session.subscribed:
            session.subacks[mid] = reason_codes
            session.subscribed.notify_all()

    def on_publish(_c, _u, mid, reason_code, _p) -> None:
        session.pubacks[mid] = reason_code

    client.on_connect = on_connect
    client.on_publish = on_publish
    client.on_message = on_message
    client.on_subscribe = on_subscribe
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = session_expiry
    client.connect(
        "127.0.0.1", broker.port, clean_start=clean_start, properties=properties, keepalive=30
    )
    client.loop_start()
    assert session.connack.wait(5), "no CONNACK from the broker"
    if expect_success:
        assert session.reason is not None
        assert not session.reason.is_failure, f"{username} refused: {session.reason}"
    return session


@pytest.fixture
def sessions() -> Iterator[Callable[..., Session]]:
    opened: list[Session] = []

    def open_session(broker: Broker, username: str | None, **kwargs) -> Session:
        opened.append(connect(broker, username, **kwargs))
        return opened[-1]

    yield open_session
    for session in opened:
        session.close()


def publish_all(session: Session, topic: str, payloads: list[bytes], chunk: int = 500) -> list[str]:
    """QoS 1 publish in chunks, each acknowledged before the next; the PUBACK reasons."""
    reasons = []
    for start in range(0, len(payloads), chunk):
        infos = [session.client.publish(topic, p, qos=1) for p in payloads[start : start + chunk]]
        for info in infos:
            info.wait_for_publish(timeout=10)
            assert info.is_published()
            reasons.append(session.pubacks[info.mid].getName())
    return reasons


# ----------------------------------------------------------------------------- tests


def test_anonymous_client_is_refused(broker: Broker, sessions) -> None:
    anonymous = sessions(broker, None, expect_success=False)
    assert anonymous.reason is not None and anonymous.reason.is_failure, anonymous.reason


def test_wrong_password_is_refused(broker: Broker, sessions) -> None:
    impostor = sessions(broker, STATION, password="not-the-password", expect_success=False)
    assert impostor.reason is not None and impostor.reason.is_failure


def test_station_publishes_only_under_its_own_code(broker: Broker, sessions) -> None:
    ingest = sessions(broker, INGEST)
    ingest.subscribe_ingest()
    station = sessions(broker, STATION)

    # Mosquitto 2.0 answers an MQTT v5 publisher with "Not authorized"; a v3.1.1 one
    # gets a plain PUBACK and its message is dropped all the same.
    assert publish_all(station, fills_topic(OTHER_STATION), [b"forged fill"]) == ["Not authorized"]
    assert publish_all(station, fills_topic(STATION), [b"own fill"]) == ["Success"]
    # Messages from one client reach a subscriber in order: once the later, permitted
    # message is in, the forged one would have been too if the broker had passed it.
    assert ingest.wait_for(lambda: bool(ingest.payloads(fills_topic(STATION))), 5)
    time.sleep(0.2)
    assert ingest.payloads(fills_topic(STATION)) == [b"own fill"]
    assert ingest.payloads(fills_topic(OTHER_STATION)) == []


def test_station_reads_only_its_own_verdicts(broker: Broker, sessions) -> None:
    station = sessions(broker, STATION)
    assert not station.subscribe(verdicts_topic(STATION))[0].is_failure
    # Refused at SUBSCRIBE time (an acl_file would grant it and filter each delivery).
    assert station.subscribe(verdicts_topic(OTHER_STATION))[0].getName() == "Not authorized"
    ingest = sessions(broker, INGEST)

    publish_all(ingest, verdicts_topic(OTHER_STATION), [b"their verdict"])
    publish_all(ingest, verdicts_topic(STATION), [b"your verdict"])
    assert station.wait_for(lambda: bool(station.payloads(verdicts_topic(STATION))), 5)
    time.sleep(0.2)
    assert station.payloads() == [b"your verdict"]


def test_lift_publishes_only_its_own_status_and_events(broker: Broker, sessions) -> None:
    ingest = sessions(broker, INGEST)
    ingest.subscribe_ingest()
    lift = sessions(broker, LIFT)
    other_lift = "31104206002023050002"

    forged = [b"forged"]
    assert publish_all(lift, f"sereg/v1/elevators/{other_lift}/events", forged) == [
        "Not authorized"
    ]
    assert publish_all(lift, fills_topic(STATION), forged) == ["Not authorized"]
    assert publish_all(lift, verdicts_topic(STATION), forged) == ["Not authorized"]
    publish_all(lift, f"sereg/v1/elevators/{LIFT}/status", [b"heartbeat"])
    publish_all(lift, f"sereg/v1/elevators/{LIFT}/events", [b"entrapment"])
    assert ingest.wait_for(lambda: len(ingest.messages) >= 2, 5)
    time.sleep(0.2)
    assert ingest.payloads() == [b"heartbeat", b"entrapment"]


def test_device_cannot_read_the_contract_tree(broker: Broker, sessions) -> None:
    station = sessions(broker, STATION)
    assert station.subscribe("sereg/v1/#")[0].getName() == "Not authorized"
    # Its own verdicts it may read: the control subscription.
    assert not station.subscribe(verdicts_topic(STATION))[0].is_failure
    lift = sessions(broker, LIFT)
    publish_all(lift, f"sereg/v1/elevators/{LIFT}/events", [b"entrapment"])
    # Its own verdict is the control message: delivered, while the lift event is not.
    ingest = sessions(broker, INGEST)
    publish_all(ingest, verdicts_topic(STATION), [b"your verdict"])
    assert station.wait_for(lambda: bool(station.payloads()), 5)
    time.sleep(0.2)
    assert station.payloads() == [b"your verdict"]


def backlog_after_outage(broker: Broker, sessions, client_id: str) -> list[bytes]:
    """What an ingest consumer receives of a backlog published while it was away."""
    ingest = sessions(broker, INGEST, client_id=client_id, clean_start=False, session_expiry=3600)
    ingest.subscribe_ingest()
    ingest.close()  # the consumer goes away; its session and subscription stay

    station = sessions(broker, STATION)
    payloads = [f"fill {n}".encode() for n in range(BACKLOG)]
    publish_all(station, fills_topic(STATION), payloads)

    back = sessions(broker, INGEST, client_id=client_id, clean_start=False, session_expiry=3600)
    assert back.session_present, "the broker forgot the ingest session"
    # Take everything that arrives until the stream has been quiet for a second.
    seen = -1
    deadline = time.monotonic() + 30
    while len(back.messages) != seen and len(back.messages) < BACKLOG:
        seen = len(back.messages)
        back.wait_for(lambda: len(back.messages) >= BACKLOG, 1.0)
        assert time.monotonic() < deadline, "backlog still arriving after 30 s"
    time.sleep(0.2)  # anything beyond the backlog (duplicates) would show up here
    received = back.payloads()
    # Leave no persistent member in the shared group: Mosquitto would hand it a share
    # of every later message on this broker while it is away.
    back.close(end_session=True)
    return received


def test_offline_consumer_gets_its_whole_backlog(broker: Broker, sessions) -> None:
    received = backlog_after_outage(broker, sessions, "sereg-ingest-backlog")
    assert len(received) == BACKLOG
    assert received == [f"fill {n}".encode() for n in range(BACKLOG)]


def test_stock_queue_limit_would_lose_the_backlog(broker_with, sessions) -> None:
    """The same scenario with Mosquitto's default max_queued_messages: messages vanish."""
    stock = broker_with({"max_queued_messages": str(STOCK_QUEUE_LIMIT)})
    received = backlog_after_outage(stock, sessions, "sereg-ingest-stock")
    assert len(received) < BACKLOG
    # The queue limit plus the in-flight window: everything else was dropped silently.
    assert STOCK_QUEUE_LIMIT <= len(received) <= STOCK_QUEUE_LIMIT + 1_000


# ----------------------------------------------------------------------------- attackers

# What a device credential tried in issue 16: the ingest group (whose name and filters are
# public in the repository), the whole contract, another station's verdicts, and more.
FORBIDDEN_TO_DEVICES = [
    *INGEST_SUBSCRIPTIONS,
    "$share/sereg-ingest/sereg/v1/#",
    "$share/attacker/sereg/v1/stations/+/fills",
    "sereg/v1/#",
    "sereg/v1/stations/+/fills",
    "#",
    verdicts_topic(OTHER_STATION),
    "$SYS/#",
    "$CONTROL/dynamic-security/v1/response",
]


@pytest.mark.parametrize("device", [STATION, LIFT])
def test_device_is_refused_every_subscription_outside_its_own(
    broker: Broker, sessions, device: str
) -> None:
    ingest = sessions(broker, INGEST)
    ingest.subscribe_ingest()
    attacker = sessions(broker, device)
    for topic in FORBIDDEN_TO_DEVICES:
        reason = attacker.subscribe(topic)[0]
        assert reason.getName() == "Not authorized", f"{device} may subscribe to {topic}: {reason}"

    # Nothing of the stream reaches the attacker; all of it reaches the worker.
    payloads = [f"fill {n}".encode() for n in range(1_000)]
    station = sessions(broker, OTHER_STATION)
    assert set(publish_all(station, fills_topic(OTHER_STATION), payloads)) == {"Success"}
    assert ingest.wait_for(lambda: len(ingest.messages) >= len(payloads), 10), len(ingest.messages)
    assert ingest.payloads() == payloads
    assert attacker.payloads() == []


def test_ingest_worker_reads_the_queue_metrics_and_nothing_else_of_sys(
    broker: Broker, sessions
) -> None:
    ingest = sessions(broker, INGEST)
    for metric in credentials.BROKER_METRICS:
        assert not ingest.subscribe(metric)[0].is_failure, metric
    # $SYS topics are retained: each granted metric arrives on subscribing.
    assert ingest.wait_for(
        lambda: {m.topic for m in ingest.messages} >= set(credentials.BROKER_METRICS), 15
    ), [m.topic for m in ingest.messages]
    for topic in ("$SYS/#", "$SYS/broker/uptime", "sereg/v1/#", "$share/other/sereg/v1/#"):
        assert ingest.subscribe(topic)[0].getName() == "Not authorized", topic
    station = sessions(broker, STATION)
    for metric in credentials.BROKER_METRICS:
        assert station.subscribe(metric)[0].getName() == "Not authorized", metric


def queued_for_worker_after_takeover_attempt(broker: Broker, sessions, attacker: str) -> int:
    """A worker's persistent session holds 100 queued fills; ``attacker`` connects with
    the worker's client id (clean start, as a takeover or a wipe would); how many of the
    100 the worker then gets back."""
    worker = sessions(broker, INGEST, client_id=INGEST, clean_start=False, session_expiry=3600)
    worker.subscribe(FILLS_SUBSCRIPTION)
    worker.close()
    payloads = [f"fill {n}".encode() for n in range(100)]
    publish_all(sessions(broker, STATION), fills_topic(STATION), payloads)

    hijacker = sessions(broker, attacker, client_id=INGEST, clean_start=True, expect_success=False)
    if hijacker.reason is not None and not hijacker.reason.is_failure:
        hijacker.subscribe(FILLS_SUBSCRIPTION)
        hijacker.close(end_session=True)

    back = sessions(broker, INGEST, client_id=INGEST, clean_start=False, session_expiry=3600)
    if not back.session_present:
        return 0  # the session, its subscription and its queue are gone
    back.wait_for(lambda: len(back.messages) >= len(payloads), 5)
    received = len(back.payloads())
    back.close(end_session=True)
    return received


@pytest.mark.parametrize("attacker", [STATION, LIFT, OTHER_INGEST])
def test_a_client_with_a_workers_client_id_cannot_take_its_session(
    broker: Broker, sessions, attacker: str
) -> None:
    """use_username_as_clientid: the session of client id "sereg-ingest-1" belongs to
    user sereg-ingest-1; anyone else who sends that id gets a session named after its
    own username."""
    assert queued_for_worker_after_takeover_attempt(broker, sessions, attacker) == 100


def test_without_username_as_clientid_a_device_wipes_the_workers_session(
    broker_with, sessions
) -> None:
    """The same attack on a broker that trusts the client id a client sends: the
    session and its 100 fills are gone (what issue 16 found with compose.yaml)."""
    trusting = broker_with({"use_username_as_clientid": "false"})
    assert queued_for_worker_after_takeover_attempt(trusting, sessions, STATION) == 0
