"""Fixtures and helpers for the ingest tests: a broker from the repository's config, the
consumer running in the test's event loop (or as a ``sereg ingest`` process), a
publisher, and register data for stations, cylinders and lifts."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from equipment.broker import MqttConnection
from equipment.domain.access import SYSTEM
from equipment.services import clock, organisations
from equipment.settings import IngestSettings, MqttSettings, Settings
from ingest_mqtt import credentials
from ingest_mqtt.client import Publisher
from ingest_mqtt.consumer import Consumer
from sereg.bootstrap import bootstrap
from tests import factories
from tests.mosquitto import Broker, start_broker

# Test-only roles beyond the shipped ones (whose own rules test_broker_config.py tests):
# a device stand-in that may publish and read anywhere in the contract (the tests publish
# as many stations and lifts), and, for the ingest consumers, any shared-subscription
# group: each test's consumers get a group of their own, so that sessions left by earlier
# tests never take a share of this test's messages.
TEST_CLIENT_ROLE = "sereg-test-client"
ANY_GROUP_ROLE = "sereg-test-any-group"
TEST_ROLES = {
    TEST_CLIENT_ROLE: {
        "rolename": TEST_CLIENT_ROLE,
        "acls": [
            {"acltype": kind, "topic": "sereg/v1/#", "allow": True}
            for kind in ("publishClientSend", "subscribePattern", "publishClientReceive")
        ],
    },
    ANY_GROUP_ROLE: {
        "rolename": ANY_GROUP_ROLE,
        "acls": [{"acltype": "subscribePattern", "topic": "$share/+/sereg/v1/#", "allow": True}],
    },
}
INGEST_ROLES = [credentials.INGEST_ROLE, ANY_GROUP_ROLE]


# Device credentials as `sereg broker-users` issues them, for the attacker tests: a
# station's and a lift's, with the shipped roles.
ATTACKER_STATION, ATTACKER_LIFT = "XYS666", "31104206002023056666"
DEVICE_PASSWORDS = {ATTACKER_STATION: "station-secret", ATTACKER_LIFT: "lift-secret"}


@pytest.fixture(scope="session")
def ingest_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    broker = start_broker(
        tmp_path_factory.mktemp("ingest-broker"),
        credentials.Users(
            stations=[ATTACKER_STATION], lifts=[ATTACKER_LIFT], extra_roles=TEST_ROLES
        ),
        DEVICE_PASSWORDS,
    )
    yield broker
    broker.stop()


def ingest_url(broker: Broker, client_id: str | None = None) -> str:
    """An ingest worker's MQTT_URL: a broker user of its own, named as its client id
    (the broker uses the username as the client id)."""
    username = client_id or f"ingest-{uuid.uuid4().hex[:8]}"
    password = broker.ensure_client(username, INGEST_ROLES)
    return f"mqtt://{username}:{password}@127.0.0.1:{broker.port}"


def contract_client(broker: Broker, prefix: str = "t") -> MqttConnection:
    """A connection of its own for a test publisher or listener, allowed anywhere in
    the contract."""
    username, password = broker.user(prefix, [TEST_CLIENT_ROLE])
    return MqttConnection("127.0.0.1", broker.port, username=username, password=password)


def consumer_settings(broker: Broker, **ingest: Any) -> Settings:
    """Settings for one test's consumer: its own shared-subscription group, so sessions
    left by earlier tests never take a share of this test's messages."""
    defaults = {
        "group": f"t{uuid.uuid4().hex[:8]}",
        "client_id": f"ingest-{uuid.uuid4().hex[:8]}",
        "batch_wait_ms": 20,
    }
    client_id = ingest.get("client_id", defaults["client_id"])
    return Settings(
        mqtt=MqttSettings(url=ingest_url(broker, client_id)),
        ingest=IngestSettings(**{**defaults, **ingest}),
    )


class Running:
    """A consumer running as a task in the test's event loop."""

    def __init__(self, settings: Settings) -> None:
        # Built as the process builds it: by the bootstrap, from these settings.
        self.consumer: Consumer = bootstrap(settings).consumer()
        self.task: asyncio.Task | None = None

    async def start(self) -> Running:
        self.task = asyncio.create_task(self.consumer.run())
        # Ready when the broker granted its subscriptions (the SUBACK), not after a delay
        # that a busy machine may outlast.
        deadline = time.monotonic() + 30
        while not self.consumer.link.counters.subscribed:
            if self.task.done():
                self.task.result()
            assert time.monotonic() < deadline, (
                "the consumer's SUBACK did not come within 30 s "
                f"(connected: {self.consumer.link.connected.is_set()})"
            )
            await asyncio.sleep(0.02)
        return self

    async def stop(self) -> None:
        self.consumer.stop()
        if self.task is not None:
            await asyncio.wait_for(self.task, 30)


@pytest.fixture
async def consumers(ingest_broker: Broker) -> AsyncIterator[Callable[..., Awaitable[Running]]]:
    started: list[Running] = []

    async def start(settings: Settings | None = None, **ingest: Any) -> Running:
        running = Running(settings or consumer_settings(ingest_broker, **ingest))
        started.append(await running.start())
        return running

    yield start
    for running in started:
        if running.task is not None and not running.task.done():
            await running.stop()


@pytest.fixture
def publisher(ingest_broker: Broker) -> Iterator[Publisher]:
    conn = contract_client(ingest_broker, "pub")
    pub = Publisher(conn, client_id=conn.username or "")
    pub.connect()
    yield pub
    pub.close()


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float = 30, what: str | None = None
) -> None:
    deadline = time.monotonic() + within
    while not await check():
        awaited = what or getattr(check, "__name__", "the condition")
        assert time.monotonic() < deadline, f"{awaited} not met within {within} s"
        await asyncio.sleep(0.05)


async def worker_subscribed(metrics_port: int, within: float = 60) -> None:
    """Wait until a ``sereg ingest`` process reports the broker's SUBACK on its metrics
    (``sereg_ingest_subscribed 1``): a real readiness signal, where a fixed sleep once
    let fills go out before anything had subscribed on a busy machine."""
    import httpx

    deadline = time.monotonic() + within
    last = "no answer yet"
    while True:
        try:
            async with httpx.AsyncClient() as http:
                last = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)).text
        except httpx.TransportError as exc:
            last = f"metrics not served yet ({exc!r})"
        if "sereg_ingest_subscribed 1.0" in last:
            return
        assert time.monotonic() < deadline, (
            f"the worker's SUBACK (sereg_ingest_subscribed 1 on :{metrics_port}) did not come "
            f"within {within} s; last scrape: {last[-500:]}"
        )
        await asyncio.sleep(0.1)


# ----------------------------------------------------------------------------- payloads


def iso(moment: datetime) -> str:
    return moment.isoformat()


def fill_payload(station: str, cylinder: str, **overrides: Any) -> dict[str, Any]:
    now = clock.now()
    body = {
        "event_id": uuid.uuid4().hex,
        "station_code": station,
        "cylinder_code": cylinder,
        "medium": "LPG",
        "filled_at": iso(now - timedelta(minutes=1)),
        "started_at": iso(now - timedelta(minutes=3)),
        "filled_mass_kg": 14.5,
        "pre_check_passed": True,
        "post_check_passed": True,
        "operator": "TS2342-0001",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def fills_topic(station: str) -> str:
    return f"sereg/v1/stations/{station}/fills"


def status_topic(lift: str) -> str:
    return f"sereg/v1/elevators/{lift}/status"


def events_topic(lift: str) -> str:
    return f"sereg/v1/elevators/{lift}/events"


def status_payload(ts: datetime, **overrides: Any) -> dict[str, Any]:
    body = {
        "ts": iso(ts),
        "running": True,
        "direction": 1,
        "door_zone": False,
        "floor": 5,
        "doors_closed": True,
        "occupied": True,
        "service_mode": 1,
        "total_runs": 1000,
        "total_hours": 321.5,
        "door_cycles": 2000,
    }
    body.update(overrides)
    return body


def event_payload(kind: str | None, ts: datetime, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"event_id": uuid.uuid4().hex, "ts": iso(ts)}
    if kind is not None:
        body["kind"] = kind
    body.update(overrides)
    return body


# ------------------------------------------------------------------------ register data

_station_serial = iter(range(1, 10**6))


async def station(
    *, licence_valid_until: date | None = None, lon: float = 112.14, lat: float = 32.04
) -> dict[str, Any]:
    """A licensed filling station with a station code and a place."""
    serial = next(_station_serial)
    made = await organisations.create_organisation(
        SYSTEM,
        {
            "kind": "filling_station",
            "credit_code": factories.credit_code(),
            "name": f"测试充装站{serial}",
            "licence_no": "TS9242001",
            "licence_valid_until": licence_valid_until or factories.today() + timedelta(days=365),
            "station_code": f"XYS{uuid.uuid4().hex[:6].upper()}",
            "longitude": lon,
            "latitude": lat,
        },
        now=clock.now(),
    )
    return msgspec.structs.asdict(made)


LPG_PARAMETERS = {"medium": "LPG", "water_capacity_l": 35.5, "nominal_working_pressure_mpa": 2.1}


async def cylinder(
    owner: dict[str, Any],
    *,
    made: date = date(2024, 6, 1),
    registered: bool = True,
    **parameters: Any,
) -> dict[str, Any]:
    """An LPG cylinder (YSP35.5) owned by the station ``owner``."""
    return await factories.unit(
        owner["id"],
        registered=registered,
        category="2320",
        equipment_code=factories.equipment_code("2320", made.year),
        manufacture_date=made,
        commissioning_date=made + timedelta(days=30),
        registered_on=made + timedelta(days=35),
        owning_station_id=owner["id"],
        parameters={**LPG_PARAMETERS, **parameters},
    )


def at(days_ago: float = 0) -> datetime:
    """``days_ago`` before now on the service's clock (pinned in a test that pins it)."""
    return clock.now() - timedelta(days=days_ago)


ROOT = Path(__file__).resolve().parent.parent


class Listener:
    """A test subscriber that collects what sereg publishes (the verdicts)."""

    def __init__(self, broker: Broker, topic: str) -> None:
        import threading

        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        conn = contract_client(broker, "listener")
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=conn.username or "")
        self.client.username_pw_set(conn.username, conn.password)

        def on_message(_c, _u, message) -> None:
            with self._lock:
                self.messages.append((message.topic, json.loads(message.payload)))

        self.client.on_message = on_message
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        self.client.subscribe(topic, qos=1)
        assert subscribed.wait(5), "no SUBACK"

    def by_event(self) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        with self._lock:
            for _, body in self.messages:
                found.setdefault(body["event_id"], []).append(body)
        return found

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def verdicts(ingest_broker: Broker) -> Iterator[Listener]:
    listener = Listener(ingest_broker, "sereg/v1/stations/+/verdicts")
    yield listener
    listener.close()


def incoming(topic: str, body: dict[str, Any] | bytes, received_at: datetime | None = None):
    """One message as the consumer's own decode makes it, without the broker."""
    from equipment.services import ingest
    from ingest_mqtt import messages

    payload = body if isinstance(body, bytes) else encode(body)
    received_at = received_at or clock.now()
    decoded = messages.decode(topic, payload)
    if isinstance(decoded, messages.Rejected):
        return ingest.Incoming(
            "rejected", topic, payload, received_at, reason=decoded.reason.value,
            detail=decoded.detail,
        )  # fmt: skip
    kind = {"fills": "fill", "status": "status", "events": "event"}[topic.rsplit("/", 1)[1]]
    return ingest.Incoming(
        kind, topic, payload, received_at, decoded.topic.code, message=decoded.message
    )


async def ingest_now(topic: str, body: dict[str, Any] | bytes, received_at: datetime | None = None):
    """One message through the consumer's own decode and commit path, without the broker."""
    from equipment.services import ingest

    return await ingest.commit_batch([incoming(topic, body, received_at)])
