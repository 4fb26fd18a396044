"""``sereg simulate`` against the test broker, with a consumer storing what it publishes:
the register's own lifts, stations and cylinders, and every fill judged as the
simulator meant it."""

from __future__ import annotations

import asyncio
import re
from collections import Counter

import pytest
from piccolo.engine.postgres import PostgresEngine

from equipment.storage.tables import Fill, LiftEvent, LiftHeartbeat, LiftState
from tests import factories
from tests.conftest import pg_url, run_sereg, sereg_env
from tests.ingest_support import contract_client, cylinder, eventually, station
from tests.mosquitto import Broker

pytestmark = pytest.mark.integration

# The verdict each intent draws in a register of fit cylinders only (docs/rules.md codes).
VERDICT_OF = {
    "good": "00",
    "good_reused": "16",
    "refilled_too_soon": "16",
    "over_filled": "11",
    "pre_check_failed": "13",
    "post_check_failed": "14",
    "wrong_medium": "10",
    "not_on_file": "07",
    "impossible_fill": "19",
}
LINE = re.compile(r"^\s+(fill|status|event)\s+([\d,]+)\s+\((.*)\)$")


def _env(engine, pg_database: str | None) -> dict[str, str]:
    if isinstance(engine, PostgresEngine):
        return sereg_env(DATABASE_URL=pg_url(pg_database))
    return sereg_env(SEREG_SQLITE_PATH=str(engine.path))


def _url(broker: Broker) -> str:
    conn = contract_client(broker, "sim")
    return f"mqtt://{conn.username}:{conn.password}@127.0.0.1:{broker.port}"


def _report(stdout: str) -> tuple[Counter[str], Counter[str]]:
    """(messages by kind, messages by kind/intent) from the simulator's summary."""
    sent: Counter[str] = Counter()
    intents: Counter[str] = Counter()
    for line in stdout.splitlines():
        found = LINE.match(line)
        if found:
            kind = found.group(1)
            sent[kind] = int(found.group(2).replace(",", ""))
            for part in found.group(3).split(", "):
                intent, n = part.rsplit(" ", 1)
                intents[f"{kind}/{intent}"] = int(n.replace(",", ""))
    return sent, intents


async def _register() -> tuple[list[dict], list[dict]]:
    homes = [await station(), await station()]
    for home in homes:
        for _ in range(25):
            await cylinder(home)
    owner = await factories.organisation("user_unit")
    lifts = [await factories.unit(owner["id"]) for _ in range(4)]
    return homes, lifts


async def _count(table, n: int) -> bool:
    return await table.count() >= n


async def test_simulated_fills_and_lifts_reach_the_register(
    engine, pg_database, ingest_broker, consumers
) -> None:
    homes, lifts = await _register()
    await consumers()
    done = await asyncio.to_thread(
        run_sereg,
        "simulate", "--url", _url(ingest_broker), "--count", "200", "--rate", "100",
        "--lifts", "10", "--stations", "5", "--heartbeat-interval", "0.5",
        "--heartbeat-qos", "1", "--fault-share", "0.1", "--bad-share", "0.3", "--seed", "5",
        env=_env(engine, pg_database),
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 lifts, 2 filling stations with 50 own cylinders (50 fit to fill)" in done.stdout
    assert "every QoS 1 message acknowledged" in done.stdout
    sent, intents = _report(done.stdout)
    assert sum(sent.values()) == 200
    assert sent["fill"] and sent["status"] and sent["event"]
    achieved = float(re.search(r": ([\d,.]+) msg/s", done.stdout).group(1).replace(",", ""))
    assert 60 < achieved < 110  # paced to --rate

    await eventually(lambda: _count(Fill, sent["fill"]))
    await eventually(lambda: _count(LiftHeartbeat, sent["status"]))
    await eventually(lambda: _count(LiftEvent, sent["event"]))
    assert await Fill.count() == sent["fill"]
    assert await LiftHeartbeat.count() == sent["status"]
    assert await LiftEvent.count() == sent["event"]

    # Only the register's own codes: every fill from one of our stations, every known
    # cylinder one of that station's own, every lift heard from.
    fills = await Fill.select(Fill.station_code, Fill.cylinder, Fill.verdict)
    assert {f["station_code"] for f in fills} <= {h["station_code"] for h in homes}
    assert len(await LiftState.select()) == len(lifts)
    # Each fill drew the verdict the simulator meant.
    meant = Counter()
    for key, n in intents.items():
        kind, intent = key.split("/", 1)
        if kind == "fill":
            meant[VERDICT_OF[intent]] += n
    assert Counter(f["verdict"] for f in fills) == meant


async def test_default_run_stops_by_itself_and_heartbeats_arrive(
    engine, pg_database, ingest_broker, consumers
) -> None:
    await _register()
    await consumers()
    done = await asyncio.to_thread(
        run_sereg,
        "simulate", "--url", _url(ingest_broker), "--qos0-url", _url(ingest_broker),
        "--seconds", "1.5", "--rate", "40",
        "--heartbeat-interval", "0.5",
        env=_env(engine, pg_database),
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    sent, _ = _report(done.stdout)
    assert 50 <= sum(sent.values()) <= 60  # 1.5 s at 40 messages/s
    # Heartbeats at QoS 0 (the default): at most once, which on loopback is every one.
    await eventually(lambda: _count(LiftHeartbeat, 1))
    await eventually(lambda: _count(Fill, sent["fill"]))


async def test_an_empty_register_is_refused(engine, pg_database, ingest_broker) -> None:
    done = await asyncio.to_thread(
        run_sereg,
        "simulate", "--url", _url(ingest_broker), "--count", "10",
        env=_env(engine, pg_database),
    )  # fmt: skip
    assert done.returncode != 0
    assert "no lifts in use and no filling stations" in done.stderr
