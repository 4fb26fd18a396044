"""At-least-once with nothing lost: the consumer is killed, stopped, cut off from its
database, or shares the stream with a second worker, and every fill is still stored
exactly once. PostgreSQL only: it is the production engine these promises are for."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress

import asyncpg
import pytest
from piccolo.engine.postgres import PostgresEngine

from equipment.settings import DatabaseSettings
from equipment.storage import db
from equipment.storage.tables import Fill
from tests.conftest import ROOT, pg_url, sereg_env
from tests.ingest_support import (
    consumer_settings,
    cylinder,
    encode,
    eventually,
    fill_payload,
    fills_topic,
    ingest_url,
    station,
    worker_subscribed,
)
from tests.mosquitto import Broker
from tests.service_support import free_port

pytestmark = pytest.mark.integration
POSTGRES_ONLY = pytest.mark.parametrize("engine", ["postgres"], indirect=True)


async def _fills(n: int) -> bool:
    return await Fill.count() >= n


async def _cylinders(count: int) -> tuple[dict, list[str]]:
    home = await station()
    return home, [(await cylinder(home))["code"] for _ in range(count)]


def _bodies(home: dict, codes: list[str], n: int) -> list[dict]:
    # Distinct events spread over many cylinders; the verdicts do not matter here.
    return [fill_payload(home["station_code"], codes[i % len(codes)]) for i in range(n)]


def _publish_in_thread(publisher, bodies: list[dict], pace_s: float = 0.0) -> threading.Thread:
    def run() -> None:
        for body in bodies:
            publisher.publish(fills_topic(body["station_code"]), encode(body))
            if pace_s:
                time.sleep(pace_s)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


async def _exactly_once(bodies: list[dict]) -> None:
    rows = await Fill.select(Fill.event_id)
    stored = [r["event_id"] for r in rows]
    assert len(stored) == len(set(stored)), "a fill was stored twice"
    assert set(stored) == {b["event_id"] for b in bodies}, "a fill was lost"


class IngestProcess:
    """``sereg ingest`` as its own process, with a client id that survives restarts."""

    def __init__(self, broker: Broker, database: str, group: str, client_id: str) -> None:
        self.metrics_port = free_port()
        self.env = sereg_env(
            DATABASE_URL=pg_url(database),
            MQTT_URL=ingest_url(broker, client_id),
            SEREG_INGEST_GROUP=group,
            SEREG_INGEST_CLIENT_ID=client_id,
            SEREG_DB_POOL_MIN="2",
            SEREG_DB_POOL_MAX="2",
            SEREG_INGEST_METRICS_PORT=str(self.metrics_port),
            SEREG_INGEST_METRICS_HOST="127.0.0.1",
        )
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sereg.cli", "ingest"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    async def ready(self) -> None:
        """Subscribed: the broker granted its subscriptions (its metrics say so)."""
        await worker_subscribed(self.metrics_port)

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float = 30) -> tuple[int, str]:
        assert self.process is not None
        out, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, out.decode(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def ingest_process(ingest_broker, pg_database) -> Iterator:
    started: list[IngestProcess] = []

    def make(group: str | None = None, client_id: str | None = None) -> IngestProcess:
        started.append(
            IngestProcess(
                ingest_broker,
                pg_database,
                group or f"t{uuid.uuid4().hex[:8]}",
                client_id or f"ingest-{uuid.uuid4().hex[:8]}",
            )
        )
        return started[-1]

    yield make
    for process in started:
        process.stop()


@POSTGRES_ONLY
async def test_sigkill_mid_stream_loses_and_duplicates_nothing(
    engine, publisher, ingest_process
) -> None:
    home, codes = await _cylinders(50)
    bodies = _bodies(home, codes, 5000)
    worker = ingest_process()
    worker.start()
    await worker.ready()
    sender = _publish_in_thread(publisher, bodies, pace_s=0.0002)
    await eventually(lambda: _fills(1000), within=60)
    worker.signal(signal.SIGKILL)  # no flush, no acks: the broker keeps what was unacked
    worker.wait()
    stored_at_kill = await Fill.count()
    assert stored_at_kill < len(bodies), "the kill came too late to test anything"
    sender.join(60)
    assert publisher.wait_all_acked(60)
    again = ingest_process(worker.env["SEREG_INGEST_GROUP"], worker.env["SEREG_INGEST_CLIENT_ID"])
    again.start()
    await eventually(lambda: _fills(len(bodies)), within=120)
    await asyncio.sleep(1)  # nothing more arrives after the last one
    await _exactly_once(bodies)


@POSTGRES_ONLY
async def test_sigterm_drains_acknowledges_and_exits(
    engine, publisher, ingest_process, verdicts
) -> None:
    home, codes = await _cylinders(20)
    bodies = _bodies(home, codes, 3000)
    worker = ingest_process()
    worker.start()
    await worker.ready()
    sender = _publish_in_thread(publisher, bodies, pace_s=0.0002)
    await eventually(lambda: _fills(500), within=60)
    worker.signal(signal.SIGTERM)
    code, output = worker.wait(60)
    assert code == 0, output
    assert "ingest stopped" in output
    sender.join(60)
    assert publisher.wait_all_acked(60)
    # What the stopped worker acknowledged is stored; the rest waited in its session.
    again = ingest_process(worker.env["SEREG_INGEST_GROUP"], worker.env["SEREG_INGEST_CLIENT_ID"])
    again.start()
    await eventually(lambda: _fills(len(bodies)), within=120)
    await asyncio.sleep(1)
    await _exactly_once(bodies)
    # The stopped worker also delivered the verdict of every fill it acknowledged: those
    # fills are never redelivered, so a verdict left in its memory would be gone.
    heard = verdicts.by_event()
    unheard = [b["event_id"] for b in bodies if b["event_id"] not in heard]
    assert not unheard, f"{len(unheard)} verdicts never published"


class Proxy:
    """A TCP proxy to PostgreSQL that the test can cut: a real network outage for the
    consumer's connections only, with the database itself untouched."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self.links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.links.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.links):
            writer.transport.abort()
        self.links.clear()

    async def restore(self) -> None:
        await self.start()  # the same port again


@POSTGRES_ONLY
async def test_database_outage_pauses_and_resumes(
    engine, pg_database, publisher, consumers, ingest_broker
) -> None:
    home, codes = await _cylinders(20)
    bodies = _bodies(home, codes, 2000)
    config = DatabaseSettings(url=pg_url(pg_database)).postgres_config()
    proxy = Proxy(int(config["port"]))
    await proxy.start()
    # Piccolo's engine checks the server version synchronously when built: built in this
    # loop, it would wait on the proxy this very loop serves.
    through_proxy = await asyncio.to_thread(PostgresEngine, config={**config, "port": proxy.port})
    await through_proxy.start_connection_pool(min_size=2, max_size=2)
    direct = await asyncpg.connect(pg_url(pg_database))

    async def stored() -> int:
        return await direct.fetchval("SELECT count(*) FROM fill")

    db.bind(through_proxy)
    try:
        running = await consumers()
        sender = _publish_in_thread(publisher, bodies, pace_s=0.0005)
        deadline = time.monotonic() + 60
        while await stored() < 300:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        await proxy.cut()
        await asyncio.sleep(3)  # the consumer retries; nothing is acknowledged meanwhile
        during = await stored()
        assert during < len(bodies)
        assert running.consumer.stats.retries > 0
        await proxy.restore()
        sender.join(60)
        deadline = time.monotonic() + 120
        while await stored() < len(bodies):
            assert time.monotonic() < deadline, f"stuck at {await stored()}"
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)
        rows = await direct.fetch("SELECT event_id FROM fill")
        stored_ids = [r["event_id"] for r in rows]
        assert len(stored_ids) == len(set(stored_ids)) == len(bodies)
        assert set(stored_ids) == {b["event_id"] for b in bodies}
        await running.stop()
    finally:
        db.bind(engine)
        await direct.close()
        await through_proxy.close_connection_pool()
        with suppress(Exception):
            await proxy.cut()


@POSTGRES_ONLY
async def test_two_workers_share_the_stream(engine, publisher, consumers, ingest_broker) -> None:
    home, codes = await _cylinders(20)
    bodies = _bodies(home, codes, 3000)
    group = f"t{uuid.uuid4().hex[:8]}"
    first = await consumers(consumer_settings(ingest_broker, group=group))
    second = await consumers(consumer_settings(ingest_broker, group=group))
    _publish_in_thread(publisher, bodies).join(60)
    await eventually(lambda: _fills(len(bodies)), within=120)
    await asyncio.sleep(1)
    await _exactly_once(bodies)
    shares = first.consumer.stats.messages, second.consumer.stats.messages
    assert sum(shares) == len(bodies)
    assert min(shares) > 0, f"the broker gave one worker everything: {shares}"
