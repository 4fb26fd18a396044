"""Operations: liveness and readiness, metrics scraped from both processes, request ids,
and retention (``sereg prune``)."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta

import httpx
import pytest

from equipment.services import clock, retention
from equipment.storage.tables import (
    Account,
    DeadLetter,
    Equipment,
    Fill,
    LiftHeartbeat,
    LiftState,
    WebSession,
)
from sereg.observability import REQUEST_ID, JsonFormatter
from tests import factories
from tests.conftest import ROOT, pg_url, run_sereg, sereg_env
from tests.ingest_support import (
    cylinder,
    encode,
    eventually,
    fill_payload,
    fills_topic,
    ingest_now,
    ingest_url,
    station,
    status_payload,
    status_topic,
    worker_subscribed,
)
from tests.service_support import free_port

pytestmark = pytest.mark.integration
# These tests read the English message ids (the default answer language is Chinese).
ACCEPT_LANGUAGE = "en"


async def test_ready_reports_missing_migrations(engine, client) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"ready": True, "database": "ok", "migrations": "ok"}
    [latest] = await Equipment.raw(
        "SELECT id, name FROM migration WHERE app_name = 'equipment' ORDER BY name DESC LIMIT 1"
    )
    await Equipment.raw("DELETE FROM migration WHERE id = {}", latest["id"])
    try:
        missing = await client.get("/ready")
        assert missing.status_code == 503
        assert latest["name"] in missing.json()["migrations"]
    finally:
        await Equipment.raw(
            "INSERT INTO migration (id, name, app_name, ran_on) VALUES ({}, {}, 'equipment', {})",
            latest["id"],
            latest["name"],
            datetime.now(),  # Piccolo's migration table keeps naive timestamps
        )


async def test_api_metrics_and_request_ids(engine, client) -> None:
    admin = await factories.token(factories.Role.ADMIN)
    unit = await factories.unit((await factories.organisation("user_unit"))["id"])
    for _ in range(3):
        await client.get(f"/api/v1/equipment/{unit['id']}", headers=admin)
    await client.get("/api/v1/equipment/999999", headers=admin)
    echoed = await client.get("/health", headers={"X-Request-ID": "trace-42"})
    assert echoed.headers["x-request-id"] == "trace-42"
    made = await client.get("/health", headers={"X-Request-ID": "bad id\n"})
    assert made.headers["x-request-id"] != "bad id\n" and len(made.headers["x-request-id"]) == 32
    text = (await client.get("/metrics")).text
    route = 'path="/api/v1/equipment/{equipment_id}"'
    ok = next(line for line in text.splitlines() if line.startswith("sereg_http_requests_total")
              and route in line and 'status_code="200"' in line)  # fmt: skip
    assert float(ok.rsplit(" ", 1)[1]) >= 3
    assert any(
        line.startswith("sereg_http_requests_total") and 'status_code="404"' in line
        for line in text.splitlines()
    )
    assert "sereg_http_request_duration_seconds_bucket" in text


def test_json_log_lines_carry_the_request_id() -> None:
    token = REQUEST_ID.set("req-7")
    try:
        record = logging.LogRecord("sereg", logging.ERROR, __file__, 1, "boom %s", ("x",), None)
        record.request_id = REQUEST_ID.get()
        line = json.loads(JsonFormatter().format(record))
    finally:
        REQUEST_ID.reset(token)
    assert line["message"] == "boom x" and line["request_id"] == "req-7"
    assert line["level"] == "error" and line["ts"].endswith("+00:00")


def test_the_served_app_leaves_its_startup_heap_out_of_garbage_collection(tmp_path) -> None:
    # What a server worker imports; in a process of its own, as freezing is for good.
    probe = "import gc, sereg.asgi; print(gc.get_freeze_count())"
    env = sereg_env(SEREG_SQLITE_PATH=str(tmp_path / "probe.sqlite3"))
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > 50_000  # the modules, routes and schemas; about 130,000 here


STARTUP_PROBE = """
import asyncio, gc, sereg.asgi
async def main():
    given, said = asyncio.Queue(), asyncio.Queue()
    before = gc.get_freeze_count()
    await given.put({"type": "lifespan.startup"})
    life = asyncio.create_task(sereg.asgi.app({"type": "lifespan"}, given.get, said.put))
    started = (await said.get())["type"]
    print(started, before, gc.get_freeze_count(), flush=True)
    await given.put({"type": "lifespan.shutdown"})
    await said.get()
    await life
asyncio.run(main())
"""


def test_the_served_app_freezes_its_compiled_templates_after_startup(tmp_path) -> None:
    # Templates are compiled (every one, in every language) by the startup, not by the
    # first requests, and frozen with what the startup built.
    env = sereg_env(SEREG_SQLITE_PATH=str(tmp_path / "probe.sqlite3"))
    out = subprocess.run(
        [sys.executable, "-c", STARTUP_PROBE], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    started, before, after = out.stdout.split()
    assert started == "lifespan.startup.complete", out.stdout
    assert int(after) - int(before) > 5_000  # the compiled templates: about 16,000 here


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
async def test_ingest_worker_serves_its_metrics(
    engine, pg_database, ingest_broker, publisher
) -> None:
    home = await station()
    unit = await cylinder(home)
    port = free_port()
    env = sereg_env(
        DATABASE_URL=pg_url(pg_database),
        MQTT_URL=ingest_url(ingest_broker, client_id := f"m-{uuid.uuid4().hex[:8]}"),
        SEREG_INGEST_GROUP=f"m{uuid.uuid4().hex[:8]}",
        SEREG_INGEST_CLIENT_ID=client_id,
        SEREG_INGEST_METRICS_PORT=str(port),
        SEREG_INGEST_METRICS_HOST="127.0.0.1",
    )
    worker = subprocess.Popen(  # noqa: ASYNC220 - a child process, not awaited on
        [sys.executable, "-m", "sereg.cli", "ingest"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await worker_subscribed(port)
        topic = fills_topic(home["station_code"])
        publisher.publish(topic, encode(fill_payload(home["station_code"], unit["code"])))
        publisher.publish(topic, b"not json")
        await eventually(lambda: _count(Fill, 1))
        await eventually(lambda: _count(DeadLetter, 1))

        def scrape() -> str:
            return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text

        deadline = time.monotonic() + 10
        while 'sereg_ingest_dead_letters_total{reason="not_json"} 1.0' not in (text := scrape()):
            assert time.monotonic() < deadline, text
            await asyncio.sleep(0.1)
        for series in (
            'sereg_ingest_messages_total{kind="fill"} 1.0',
            'sereg_ingest_messages_total{kind="rejected"} 1.0',
            'sereg_ingest_verdicts_total{code="00"} 1.0',
            'sereg_ingest_stored_total{kind="fill"} 1.0',
            "sereg_ingest_batch_size_count",
            "sereg_ingest_commit_seconds_bucket",
            "sereg_ingest_unacked 0.0",
            "sereg_ingest_reconnects_total 0.0",
            "sereg_ingest_db_retries_total 0.0",
        ):
            assert series in text, series
    finally:
        worker.terminate()
        worker.wait(30)


async def _count(table, n: int) -> bool:
    return await table.count() >= n


async def test_prune_removes_only_what_is_old(engine) -> None:
    unit = await factories.unit((await factories.organisation("user_unit"))["id"])
    home = await station()
    fit = await cylinder(home)
    now = clock.now()
    old, recent = now - timedelta(days=40), now - timedelta(days=2)
    for moment in (old, recent):
        await ingest_now(status_topic(unit["registration_code"]), status_payload(moment), moment)
        # Bytes of their own: the same bytes again would be the same dead letter, counted.
        await ingest_now(fills_topic("X"), f"x{moment}".encode(), moment - timedelta(days=60))
    long_ago = (now - timedelta(days=800)).isoformat()
    body = fill_payload(home["station_code"], fit["code"], filled_at=long_ago, started_at=None)
    await ingest_now(fills_topic(home["station_code"]), body)
    admin = Account(username="old-sessions", password_hash="-", role="admin", created_at=old)
    await admin.save()
    for ended, expires in (
        (old, now + timedelta(days=1)),
        (None, old),
        (None, recent),
        (recent, now),
    ):
        await WebSession.insert(
            WebSession(
                id_hash=f"{ended}{expires}",
                account=admin,
                csrf="x",
                created_at=old - timedelta(days=1),
                expires_at=expires,
                ended_at=ended,
            )
        )
    removed = await retention.prune(
        retention.Retention(heartbeat_days=30, dead_letter_days=90), now=now
    )
    # Sessions ended or expired 40 days ago go; the ones over 2 days ago stay.
    assert removed == {"lift_heartbeat": 1, "dead_letter": 1, "web_session": 2, "alarm_change": 0}
    assert await WebSession.count() == 2
    assert [r["ts"] for r in await LiftHeartbeat.select(LiftHeartbeat.ts)] == [recent]
    assert await DeadLetter.count() == 1
    # The register, the live state and the fills (kept: no fill retention set) stay.
    assert await Equipment.count() == 2 and await LiftState.count() == 1
    assert await Fill.count() == 1
    with pytest.raises(Exception, match="at least 730 days"):
        retention.Retention(heartbeat_days=30, dead_letter_days=90, fill_days=365)
    two_years = retention.Retention(heartbeat_days=30, dead_letter_days=90, fill_days=730)
    assert (await retention.prune(two_years, now=now))["fill"] == 1


def test_calendar_holidays_import_command(tmp_path) -> None:
    """``sereg calendar holidays import FILE``: the days listed, all or nothing."""
    env = sereg_env(SEREG_SQLITE_PATH=str(tmp_path / "c.sqlite3"))
    assert run_sereg("migrate", env=env).returncode == 0
    days = tmp_path / "holidays.csv"
    days.write_text("# 国庆\n2027-10-01,holiday,国庆节\n2027-10-09,workday,调休\n", "utf-8")
    done = run_sereg("calendar", "holidays", "import", str(days), env=env)
    assert done.returncode == 0, done.stderr
    assert "2 days listed" in done.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("2027-10-02,holiday\n2027-10-03,vacation\n", "utf-8")
    refused = run_sereg("calendar", "holidays", "import", str(bad), env=env)
    assert refused.returncode != 0 and "line 2" in refused.stderr
    listed = run_sereg("calendar", "holidays", "list", env=env)
    assert listed.stdout.splitlines() == ["2027-10-01,holiday,国庆节", "2027-10-09,workday,调休"]


def test_prune_command(tmp_path) -> None:
    env = sereg_env(SEREG_SQLITE_PATH=str(tmp_path / "p.sqlite3"), SEREG_RETAIN_HEARTBEAT_DAYS="7")
    assert run_sereg("migrate", env=env).returncode == 0
    done = run_sereg("prune", env=env)
    assert done.returncode == 0, done.stderr
    assert "lift_heartbeat: 0 rows removed" in done.stdout
    assert "fill: kept (no retention set)" in done.stdout
    refused = run_sereg("prune", env={**env, "SEREG_RETAIN_FILL_DAYS": "100"})
    assert refused.returncode != 0 and "at least 730 days" in refused.stderr
