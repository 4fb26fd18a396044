"""The live alarm stream end to end, on each engine: an entrapment published over MQTT to
an ingest worker (this test's process) appears on the server-sent-event stream of an API
process of its own (``sereg serve``): through LISTEN/NOTIFY on PostgreSQL, by polling on
SQLite. Each caller sees only its own units' alarms; a reconnect with Last-Event-ID gets
what changed while it was away; an idle stream carries keep-alive comments."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import msgspec
import pytest
from piccolo.engine.sqlite import SQLiteEngine

from equipment.domain.access import Role
from tests import factories
from tests.conftest import ROOT, pg_url, sereg_env
from tests.ingest_support import at, encode, event_payload, events_topic
from tests.service_support import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def api_process(engine, pg_database) -> Iterator[str]:
    """``sereg serve`` on the test's database: another process than the ingest worker.
    Its keep-alive comes every second; on PostgreSQL its feed looks for missed changes
    only once a minute, so what it streams sooner came by NOTIFY."""
    database = (
        {"SEREG_SQLITE_PATH": engine.path}
        if isinstance(engine, SQLiteEngine)
        else {"DATABASE_URL": pg_url(pg_database)}
    )
    env = sereg_env(**database, SEREG_STREAM_POLL_MS="50", SEREG_STREAM_KEEPALIVE_S="1")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sereg.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the API process did not come up"
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


class Events:
    """The messages of one open event stream, parsed as the EventSource spec reads them."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()
        self.last_id: str | None = None

    async def next(self) -> dict[str, Any]:
        message: dict[str, Any] = {}
        async for line in self.lines:
            if line == "":
                if message:
                    if "id" in message:
                        self.last_id = message["id"]
                    return message
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "":
                message["comment"] = value
            elif field == "data":
                message["data"] = msgspec.json.decode(value)
            else:
                message[field] = value
        raise AssertionError("the stream ended")

    async def until(
        self, wanted: Callable[[dict[str, Any]], bool], within: float = 30
    ) -> list[dict[str, Any]]:
        """Every message up to and including the first ``wanted`` one."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + within
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"not seen within {within} s; saw {seen}"
            message = await asyncio.wait_for(self.next(), remaining)
            seen.append(message)
            if wanted(message):
                return seen


@asynccontextmanager
async def stream(
    base: str, headers: dict[str, str], last_event_id: str | None = None
) -> AsyncIterator[Events]:
    headers = {**headers, **({"Last-Event-ID": last_event_id} if last_event_id else {})}
    async with (
        httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(60)) as http,
        http.stream("GET", "/api/v1/alarms/stream", headers=headers) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        events = Events(response)
        # Subscribed once the first comment came: nothing after it is missed.
        await events.until(lambda m: m.get("comment") == "connected")
        yield events


def alarm_of(unit: dict[str, Any], event: str) -> Callable[[dict[str, Any]], bool]:
    def wanted(message: dict[str, Any]) -> bool:
        data = message.get("data")
        return (
            message.get("event") == "alarm"
            and data["alarm"]["equipment_id"] == unit["id"]
            and data["event"] == event
        )

    return wanted


async def test_entrapment_over_mqtt_reaches_the_callers_stream(
    engine, api_process, consumers, publisher
) -> None:
    base = api_process
    owner = await factories.organisation("user_unit")
    company_a = await factories.organisation("maintenance_company")
    company_b = await factories.organisation("maintenance_company")
    lift_a = await factories.unit(owner["id"], maintenance_company_id=company_a["id"])
    lift_b = await factories.unit(owner["id"], maintenance_company_id=company_b["id"])
    token_a = await factories.token(Role.MAINTENANCE, company_a["id"])
    token_b = await factories.token(Role.MAINTENANCE, company_b["id"])
    admin = await factories.token(Role.ADMIN)
    await consumers()

    async with httpx.AsyncClient(base_url=base) as http:
        anonymous = await http.get("/api/v1/alarms/stream")
        assert anonymous.status_code == 401

    async with stream(base, token_a) as a, stream(base, token_b) as b:
        # The ingest worker writes the entrapment; the API process streams it to A.
        topic = events_topic(lift_a["registration_code"])
        publisher.publish(topic, encode(event_payload("entrapment", at(), floor=3)))
        raised = (await a.until(alarm_of(lift_a, "raised")))[-1]
        assert raised["data"]["alarm"]["kind"] == "entrapment"
        assert raised["id"] == str(raised["data"]["seq"])
        # B's own alarm comes after A's in the feed; B never saw A's.
        async with httpx.AsyncClient(base_url=base, headers=admin) as http:
            made = await http.post(
                f"/api/v1/equipment/{lift_b['id']}/alarms", json={"kind": "door_close_fault"}
            )
            assert made.status_code == 201, made.text
        seen_by_b = await b.until(alarm_of(lift_b, "raised"))
        alarms_b = [m["data"]["alarm"]["equipment_id"] for m in seen_by_b if "data" in m]
        assert alarms_b == [lift_b["id"]]
        assert int(seen_by_b[-1]["id"]) > int(raised["id"])
        # An idle stream carries keep-alive comments (every second here).
        await a.until(lambda m: m.get("comment") == "keep-alive")
        last_seen = a.last_id

    # While A is away its alarm is acknowledged; back with Last-Event-ID it gets that.
    alarm_id = raised["data"]["alarm"]["id"]
    async with httpx.AsyncClient(base_url=base, headers=token_a) as http:
        done = await http.post(f"/api/v1/alarms/{alarm_id}/acknowledge", json={})
        assert done.status_code == 200, done.text
    async with stream(base, token_a, last_event_id=last_seen) as again:
        resumed = await again.until(alarm_of(lift_a, "acknowledged"))
        assert [m["data"]["alarm"]["id"] for m in resumed if "data" in m] == [alarm_id]
        assert resumed[-1]["data"]["alarm"]["acknowledged_at"] is not None

    # A new stream without Last-Event-ID starts from now: the acknowledgement is not
    # replayed, the next change is the first it gets.
    async with stream(base, token_a) as fresh:
        publisher.publish(
            events_topic(lift_a["registration_code"]),
            encode(event_payload("door_open_fault", at(), floor=3)),
        )
        first = await fresh.until(lambda m: m.get("event") == "alarm")
        assert first[-1]["data"]["alarm"]["kind"] == "door_open_fault"

    # A revoked token's open stream ends within a keep-alive (then it cannot reconnect).
    async with stream(base, token_a) as revoked, httpx.AsyncClient(base_url=base) as http:
        listing = (await http.get("/api/v1/tokens", headers=admin)).json()
        prefix = token_a["Authorization"].split()[1][:12]
        [mine] = [t for t in listing if t["prefix"] == prefix]
        assert (await http.delete(f"/api/v1/tokens/{mine['id']}", headers=admin)).status_code == 204
        with pytest.raises(AssertionError, match="the stream ended"):
            await revoked.until(lambda m: False)
        assert (await http.get("/api/v1/alarms/stream", headers=token_a)).status_code == 401

    # A Last-Event-ID no change ever had (a restored database): told to reload, from now.
    async with stream(base, token_b, last_event_id="9" * 15) as lost:
        [reset] = await lost.until(lambda m: "event" in m)
        assert reset["event"] == "reset" and int(reset["id"]) < 9 * 10**14
