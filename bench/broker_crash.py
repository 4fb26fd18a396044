"""SIGKILL the broker with a backlog queued: what it loses, and what saving costs.

    python -m bench.broker_crash [--backlog 100000] [--settings stock,interval1,changes]

Mosquitto keeps sessions and queued messages in memory and writes all of it to its
persistence file at each save. A crash (SIGKILL, an OOM kill, a power cut) loses what
arrived since the last save, although the broker PUBACKed every one of those messages.
For each persistence setting, on a broker from deploy/mosquitto/mosquitto.conf (only that
setting overridden, the rest as shipped):

1. an ingest worker's persistent session subscribes to the fills and goes offline, as
   during a worker outage or deploy;
2. a publisher sends ``--backlog`` fills (about 450-byte JSON, QoS 1, at most 100
   unacknowledged, like the simulator) as fast as the broker takes them: the publish
   rate, from the first publish to the last PUBACK, is the setting's throughput cost;
3. the moment the last PUBACK is in, the broker gets SIGKILL; it is started again on
   the same persistence file, and the worker's session takes what the broker still holds
   (it reconnects, the stream goes quiet for 3 s): the difference is what was lost.

Settings: ``stock`` (autosave_interval 300, the repo's old setting), ``interval1``
(autosave_interval 1, the shipped one), ``changes`` (autosave_on_changes true with
autosave_interval ``--changes``, a save after every that many changes).
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from bench.harness import machine
from ingest_mqtt import credentials, topics
from tests.mosquitto import Broker, launch_broker

STATION = "XYS001"
WORKER = "sereg-ingest-1"
PASSWORDS = {STATION: "station-secret", WORKER: "worker-secret"}
USERS = credentials.Users(stations=[STATION], workers=[WORKER])
FILLS = topics.shared("sereg/v1/stations/+/fills", "sereg-ingest")
OUTSTANDING = 100


def settings_for(name: str, changes: int) -> dict[str, str]:
    if name == "stock":
        return {"autosave_interval": "300"}
    if name == "interval1":
        return {"autosave_interval": "1"}
    if name == "changes":
        return {"autosave_interval": str(changes), "autosave_on_changes": "true"}
    raise SystemExit(f"unknown setting {name!r}")


def payload(n: int) -> bytes:
    body = {
        "event_id": f"bench-{n:09d}",
        "station_code": STATION,
        "cylinder_code": f"2320{n:016d}",
        "medium": "LPG",
        "filled_at": "2026-12-06T08:00:00+08:00",
        "started_at": "2026-12-06T07:58:00+08:00",
        "filled_mass_kg": 14.5,
        "pre_check_passed": True,
        "post_check_passed": True,
        "operator": "TS2342-0001",
        "padding": "x" * 140,
    }
    return json.dumps(body).encode()


class Client:
    def __init__(self, broker: Broker, user: str, *, persistent: bool) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(user, PASSWORDS[user])
        self.client.max_inflight_messages_set(OUTSTANDING)
        self.client.reconnect_delay_set(60, 60)
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.session_present = False
        self.received: set[bytes] = set()
        self.last_message = time.monotonic()
        self.acked_at: list[float] = []

        def on_connect(_c, _u, flags, _rc, _p) -> None:
            self.session_present = flags.session_present
            self.connected.set()

        def on_message(_c, _u, message) -> None:
            self.received.add(message.payload[:32])
            self.last_message = time.monotonic()

        self.client.on_connect = on_connect
        self.client.on_message = on_message
        self.client.on_publish = lambda *a: self.acked_at.append(time.monotonic())
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 3600 if persistent else 0
        self.client.connect(
            "127.0.0.1", broker.port, clean_start=not persistent, properties=properties
        )
        self.client.loop_start()
        if not self.connected.wait(10):
            raise RuntimeError(f"{user}: no CONNACK")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Result:
    setting: str
    backlog: int
    publish_s: float
    survived: int
    session_present: bool
    stall_s: float  # the longest wait between two PUBACKs: a save blocks the broker
    db_mb: float  # the persistence file the crash left

    @property
    def rate(self) -> float:
        return self.backlog / self.publish_s

    def line(self) -> str:
        lost = self.backlog - self.survived
        return (
            f"| {self.setting} | {self.backlog:,} | {self.publish_s:.2f} | {self.rate:,.0f}"
            f" | {self.stall_s * 1000:,.0f} | {lost:,} ({lost / self.backlog:.1%})"
            f" | {self.session_present} | {self.db_mb:.0f} |"
        )


def run(setting: str, overrides: dict[str, str], backlog: int) -> Result:
    workdir = Path(tempfile.mkdtemp(prefix="sereg-broker-crash-"))
    broker = launch_broker(workdir, USERS, PASSWORDS, overrides)
    try:
        worker = Client(broker, WORKER, persistent=True)
        worker.client.subscribe(FILLS, qos=1)
        if not worker.subscribed.wait(10):
            raise RuntimeError("the worker's SUBSCRIBE was not answered")
        worker.close()

        station = Client(broker, STATION, persistent=False)
        started = time.monotonic()
        sent = 0
        while sent < backlog:
            chunk = [
                station.client.publish("sereg/v1/stations/XYS001/fills", payload(n), qos=1)
                for n in range(sent, min(sent + 1000, backlog))
            ]
            for info in chunk:
                info.wait_for_publish(60)
            sent += len(chunk)
        publish_s = time.monotonic() - started
        broker.crash()  # at once: the last PUBACK is in
        station.client.loop_stop()
        acks = sorted(station.acked_at)
        stall = max((b - a for a, b in itertools.pairwise(acks)), default=0.0)

        db = workdir / "data" / "mosquitto.db"
        db_mb = db.stat().st_size / 2**20 if db.exists() else 0.0  # as the crash left it
        broker.restart()
        back = Client(broker, WORKER, persistent=True)
        # Take what arrives until the stream has been quiet for 3 s.
        while len(back.received) < backlog and time.monotonic() - back.last_message < 3:
            time.sleep(0.1)
        back.close()
        return Result(
            setting, backlog, publish_s, len(back.received), back.session_present, stall, db_mb
        )
    finally:
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--settings", default="stock,interval1,changes")
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args(argv)
    print(f"# Broker crash ({machine()}; run {uuid.uuid4().hex[:6]})\n")
    print(
        "| setting | backlog | publish s | publish msg/s | longest PUBACK gap ms"
        " | lost at SIGKILL | session kept | mosquitto.db MB |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    for _ in range(args.runs):
        for name in args.settings.split(","):
            overrides = settings_for(name, args.changes)
            label = f"{name} ({', '.join(f'{k} {v}' for k, v in overrides.items())})"
            print(run(label, overrides, args.backlog).line(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
