"""Lift heartbeats and events through the real broker and consumer: live state, bounded
history, one open alarm per lift and kind (alarm storms), raw codes, offline lifts, and
bad payloads of every kind dead-lettered while the good ones around them are stored."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from equipment.domain.access import Role
from equipment.storage.tables import Alarm, DeadLetter, Fill, LiftEvent, LiftHeartbeat, LiftState
from tests import factories
from tests.ingest_support import (
    at,
    consumer_settings,
    cylinder,
    encode,
    event_payload,
    events_topic,
    eventually,
    fill_payload,
    fills_topic,
    station,
    status_payload,
    status_topic,
)

pytestmark = pytest.mark.integration
# These tests read the English message ids (the default answer language is Chinese).
ACCEPT_LANGUAGE = "en"


async def lift(**overrides) -> dict:
    owner = await factories.organisation("user_unit")
    return await factories.unit(owner["id"], **overrides)


async def alarms_of(unit: dict, kind: str | None = None) -> list[dict]:
    query = Alarm.select().where(Alarm.equipment == unit["id"])
    if kind:
        query = query.where(Alarm.kind == kind)
    return await query.order_by(Alarm.id)


async def _count(table, n: int) -> bool:
    # Not table.count(): Alarm has a column of that name.
    return len(await table.select(table._meta.primary_key)) >= n


async def test_heartbeats_update_live_state_once_per_ts(engine, consumers, publisher) -> None:
    unit = await lift()
    code = unit["registration_code"]
    t0 = at()
    await consumers()
    newer = status_payload(t0, floor=9, service_mode=2, total_runs=1500)
    older = status_payload(t0 - timedelta(minutes=1), floor=3)
    for body in (newer, newer, older):
        publisher.publish(status_topic(code), encode(body))
    await eventually(lambda: _count(LiftHeartbeat, 2))
    await eventually(lambda: _count(LiftState, 1))
    state = await LiftState.select().where(LiftState.equipment == unit["id"]).first()
    # The older heartbeat arrived last but does not roll the live state back.
    assert (state["floor"], state["service_mode"], state["total_runs"]) == (9, 2, 1500)
    assert state["offline"] is False
    assert await LiftHeartbeat.count().where(LiftHeartbeat.equipment == unit["id"]) == 2


async def test_alarm_storm_is_one_alarm(engine, consumers, publisher) -> None:
    unit = await lift()
    code = unit["registration_code"]
    await consumers(batch_size=300)
    t0 = at(days_ago=0.01)
    for i in range(1000):
        body = event_payload("door_close_fault", t0 + timedelta(milliseconds=i), floor=3)
        publisher.publish(events_topic(code), encode(body))
    await eventually(lambda: _count(LiftEvent, 1000), within=60)
    [alarm] = await alarms_of(unit)
    assert (alarm["kind"], alarm["state"], alarm["count"]) == ("door_close_fault", "open", 1000)
    assert alarm["severity"] == "minor" and alarm["source"] == "iot"
    # The device clears it: closed. A new fault later opens a new alarm.
    publisher.publish(
        events_topic(code),
        encode(event_payload("door_close_fault", t0 + timedelta(seconds=5), cleared=True)),
    )
    await eventually(lambda: _count(LiftEvent, 1001))
    publisher.publish(
        events_topic(code), encode(event_payload("door_close_fault", t0 + timedelta(seconds=9)))
    )
    await eventually(lambda: _count(LiftEvent, 1002))
    first, second = await alarms_of(unit)
    assert (first["state"], first["count"], first["note"]) == (
        "closed",
        1000,
        "cleared by the device",
    )
    assert (second["state"], second["count"]) == ("open", 1)


async def test_entrapment_starts_the_response_clock(engine, consumers, publisher, client) -> None:
    company = await factories.organisation("maintenance_company")
    rival = await factories.organisation("maintenance_company")
    unit = await lift(maintenance_company_id=company["id"], district_code="420606")
    await consumers()
    publisher.publish(
        events_topic(unit["registration_code"]), encode(event_payload("entrapment", at(), floor=7))
    )
    await eventually(lambda: _count(Alarm, 1))
    [alarm] = await alarms_of(unit)
    assert alarm["severity"] == "critical"
    assert alarm["response_limit_minutes"] == 30  # Fancheng is a city district
    assert alarm["maintenance_company"] == company["id"]
    own = await factories.token(Role.MAINTENANCE, company["id"])
    other = await factories.token(Role.MAINTENANCE, rival["id"])
    listed = (await client.get("/api/v1/alarms?state=open", headers=own)).json()["items"]
    assert [a["id"] for a in listed] == [alarm["id"]]
    assert (await client.get("/api/v1/alarms", headers=other)).json()["items"] == []
    answered = await client.post(f"/api/v1/alarms/{alarm['id']}/acknowledge", json={}, headers=own)
    assert answered.status_code == 200, answered.text
    refused = await client.post(f"/api/v1/alarms/{alarm['id']}/acknowledge", json={}, headers=other)
    assert refused.status_code == 404


async def test_raw_codes_map_through_the_tables(
    engine, consumers, publisher, ingest_broker, tmp_path: Path
) -> None:
    table = tmp_path / "codes.json"
    table.write_text(json.dumps({"platforms": {"xyiot": {"E07": "entrapment"}}}))
    unit = await lift()
    code = unit["registration_code"]
    settings = consumer_settings(ingest_broker, fault_codes_path=table)
    await consumers(settings)
    publisher.publish(events_topic(code), encode(event_payload(None, at(), code=2)))
    publisher.publish(events_topic(code), encode(event_payload(None, at(), code="xyiot:E07")))
    publisher.publish(events_topic(code), encode(event_payload(None, at(), code="xyiot:E99")))
    await eventually(lambda: _count(LiftEvent, 2))
    await eventually(lambda: _count(DeadLetter, 1))
    assert {a["kind"] for a in await alarms_of(unit)} == {"door_close_fault", "entrapment"}
    [dead] = await DeadLetter.select()
    assert dead["reason"] == "unknown_fault_code" and "xyiot:E99" in dead["detail"]


async def test_silent_lift_goes_offline_once(engine, consumers, publisher) -> None:
    unit = await lift()
    code = unit["registration_code"]
    await consumers(offline_after_s=1, sweep_interval_s=1)
    publisher.publish(status_topic(code), encode(status_payload(at())))
    await eventually(lambda: _count(LiftState, 1))

    async def offline() -> bool:
        row = await LiftState.select(LiftState.offline).where(LiftState.equipment == unit["id"])
        return bool(row and row[0]["offline"])

    await eventually(offline, within=15)
    await asyncio.sleep(2.5)  # more sweeps: still one alarm, not one per minute
    [alarm] = await alarms_of(unit, "offline")
    assert (alarm["state"], alarm["count"]) == ("open", 1)
    publisher.publish(status_topic(code), encode(status_payload(at())))

    async def back() -> bool:
        return (await alarms_of(unit, "offline"))[0]["state"] == "closed"

    await eventually(back)
    assert not await offline()


async def test_bad_payloads_are_dead_lettered_and_good_ones_stored(
    engine, consumers, publisher, client
) -> None:
    home = await station()
    unit = await cylinder(home)
    elevator = await lift()
    s, c, lift_code = home["station_code"], unit["code"], elevator["registration_code"]
    good = [fill_payload(s, c, filled_at=(at() - timedelta(hours=h)).isoformat(), started_at=None)
            for h in range(1, 5)]  # fmt: skip
    missing = fill_payload(s, c)
    del missing["operator"]
    bad: dict[str, tuple[str, bytes]] = {
        "not_json": (fills_topic(s), b"{not json"),
        "not_utf8": (fills_topic(s), b'{"event_id": "\xff\xfe"}'),
        "not_an_object": (fills_topic(s), b"[1, 2, 3]"),
        "too_large": (fills_topic(s), encode({**fill_payload(s, c), "pad": "x" * 17000})),
        "missing_field": (fills_topic(s), encode(missing)),
        "wrong_type": (fills_topic(s), encode(fill_payload(s, c, pre_check_passed="yes"))),
        "invalid_value": (fills_topic(s), encode(fill_payload(s, c, filled_at="2026-01-01T08:00"))),
        "topic_mismatch": (fills_topic(s), encode(fill_payload("XYS-OTHER", c))),
        "unknown_unit": (fills_topic("NOSUCHSTATION"), encode(fill_payload("NOSUCHSTATION", c))),
        "unknown_fault_code": (events_topic(lift_code), encode(event_payload(None, at(), code=9))),
    }  # fmt: skip
    unknown_lift = "31104206002099120001"
    await consumers()
    for i, (topic, payload) in enumerate(bad.values()):
        publisher.publish(fills_topic(s), encode(good[i % len(good)]) if i < len(good) else b"{}")
        publisher.publish(topic, payload)
    publisher.publish(status_topic(unknown_lift), encode(status_payload(at())))
    publisher.publish(
        status_topic(unknown_lift), encode(status_payload(at() - timedelta(seconds=1)))
    )
    publisher.publish(status_topic(lift_code), encode(status_payload(at())))
    # Text PostgreSQL cannot store, among good fills in the same batch.
    publisher.publish(fills_topic(s), encode(fill_payload(s, c, operator="op\x00")))
    # The six b"{}" fills are missing fields too: the same bytes on the same topic, so one
    # dead letter delivered six times.
    expected_dead = len(bad) + 2 + 1 + 1
    await eventually(lambda: _count(DeadLetter, expected_dead))
    await eventually(lambda: _count(Fill, len(good)))
    await eventually(lambda: _count(LiftState, 1))
    rows = await DeadLetter.select()
    assert sum(r["deliveries"] for r in rows) == len(bad) + 2 + 6 + 1
    reasons = [r["reason"] for r in rows]
    for reason in bad:
        assert reason in reasons, reason
    assert reasons.count("unknown_unit") == 3
    too_large = next(r for r in rows if r["reason"] == "too_large")
    assert too_large["payload_size"] > 16384 and len(too_large["payload"]) == 4096
    [nul] = [r for r in rows if "U+0000" in r["detail"]]
    assert nul["reason"] == "invalid_value" and b"\\u0000" in bytes(nul["payload"])
    assert {f["event_id"] for f in await Fill.select(Fill.event_id)} == {
        g["event_id"] for g in good
    }

    # The admin's clean-up list: every dead letter with its reason, unknown codes counted.
    admin = await factories.token(Role.ADMIN)
    listed = await client.get("/api/v1/dead-letters?limit=500", headers=admin)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert len(items) == len(rows)
    not_utf8 = next(i for i in items if i["reason"] == "not_utf8")
    assert not_utf8["payload_encoding"] == "hex" and "fffe" in not_utf8["payload"]
    summary = (await client.get("/api/v1/dead-letters/summary", headers=admin)).json()
    assert summary["by_reason"]["unknown_unit"] == 3
    assert {"code": unknown_lift, "count": 2} in summary["unknown_codes"]
    assert {"code": "NOSUCHSTATION", "count": 1} in summary["unknown_codes"]
    only = await client.get("/api/v1/dead-letters?reason=too_large", headers=admin)
    assert [i["reason"] for i in only.json()["items"]] == ["too_large"]
    station_token = await factories.token(Role.STATION, home["id"])
    assert (await client.get("/api/v1/dead-letters", headers=station_token)).status_code == 403
