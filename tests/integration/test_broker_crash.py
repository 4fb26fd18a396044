"""Issue 16, item 3: SIGKILL the broker with a backlog queued for an offline ingest worker.

Mosquitto holds sessions and queued messages in memory and writes all of it to its
persistence file at each save; a crash loses what arrived since the last save, although
each of those messages was PUBACKed. The shipped config saves every second (the loop
saves once more than ``autosave_interval`` whole seconds have passed, so at most about
two seconds apart), so what was acknowledged before the latest save must survive. The
old setting (every 300 s) is run too, to show the test can fail: the session and its
whole backlog are gone. What a SIGKILL loses with a 100,000-fill backlog, and what the
saving costs, is measured by bench/broker_crash.py (docs/benchmarks.md).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ingest_mqtt import credentials, topics
from tests.mosquitto import Broker, start_broker

from .test_broker_config import Session, connect, fills_topic, publish_all

pytestmark = pytest.mark.integration

WORKER, STATION = "sereg-ingest-1", "XYS001"
PASSWORDS = {WORKER: "worker-secret", STATION: "station-secret"}
USERS = credentials.Users(stations=[STATION], workers=[WORKER])
FILLS = topics.shared("sereg/v1/stations/+/fills", "sereg-ingest")
BACKLOG = 2_000


def offline_worker_with_backlog(broker: Broker) -> tuple[list[bytes], Session]:
    """The worker's persistent session subscribes and goes away; a station's backlog
    queues for it. Returns the payloads (all PUBACKed) and the station's session."""
    worker = connect(broker, WORKER, client_id=WORKER, clean_start=False, session_expiry=3600,
                     password=PASSWORDS[WORKER])  # fmt: skip
    assert not worker.subscribe(FILLS)[0].is_failure
    worker.close()
    station = connect(broker, STATION, password=PASSWORDS[STATION])
    payloads = [f"fill {n}".encode() for n in range(BACKLOG)]
    assert set(publish_all(station, fills_topic(STATION), payloads)) == {"Success"}
    return payloads, station


def saved_state(broker: Broker) -> tuple[int, int] | None:
    """Which persistence file is in place: a save writes mosquitto.db.new, fsyncs it and
    renames it over mosquitto.db, so a new inode means a save finished."""
    try:
        found = (broker.config.parent / "data" / "mosquitto.db").stat()
    except FileNotFoundError:
        return None
    return found.st_ino, found.st_mtime_ns


def wait_for_a_save(broker: Broker, before: tuple[int, int] | None) -> None:
    deadline = time.monotonic() + 10
    while saved_state(broker) == before:
        assert time.monotonic() < deadline, (
            "the broker finished no save within 10 s of the last PUBACK"
            " (is autosave_interval still 300?)"
        )
        time.sleep(0.05)


def received_after_restart(broker: Broker) -> tuple[bool, list[bytes]]:
    broker.restart()
    back = connect(broker, WORKER, client_id=WORKER, clean_start=False, session_expiry=3600,
                   password=PASSWORDS[WORKER])  # fmt: skip
    try:
        if back.session_present:
            assert back.wait_for(lambda: len(back.messages) >= BACKLOG, 15), (
                f"{len(back.messages)} of {BACKLOG} redelivered after the restart"
            )
        return back.session_present, back.payloads()
    finally:
        back.close(end_session=True)


def test_sigkill_loses_nothing_acknowledged_before_the_last_save(tmp_path: Path) -> None:
    broker = start_broker(tmp_path, USERS, PASSWORDS)
    try:
        payloads, station = offline_worker_with_backlog(broker)
        wait_for_a_save(broker, saved_state(broker))
        station.close()
        broker.crash()
        session_present, received = received_after_restart(broker)
        assert session_present, "the worker's session did not survive the crash"
        assert received == payloads
    finally:
        broker.stop()


def test_with_saves_every_300_s_sigkill_loses_the_session_and_backlog(tmp_path: Path) -> None:
    """What issue 16 found with the old setting: every acknowledged fill gone."""
    broker = start_broker(tmp_path, USERS, PASSWORDS, {"autosave_interval": "300"})
    try:
        _, station = offline_worker_with_backlog(broker)
        station.close()
        broker.crash()
        assert received_after_restart(broker) == (False, [])
    finally:
        broker.stop()
