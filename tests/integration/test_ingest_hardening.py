"""What a broken device, a crash and a second worker did to the ingest (issue 16, items 4-8),
through the real broker and both engines (two workers: PostgreSQL, the engine they run on).
"""

from __future__ import annotations

import asyncio
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta

import asyncpg
import pytest

from equipment.services import ingest
from equipment.storage.tables import Alarm, CylinderFillState, DeadLetter, Fill
from tests.conftest import ROOT, drop_pg_database, pg_url, run_sereg, sereg_env
from tests.ingest_support import (
    at,
    cylinder,
    encode,
    eventually,
    fill_payload,
    fills_topic,
    incoming,
    ingest_url,
    station,
)

pytestmark = pytest.mark.integration


async def _verdicts() -> dict[str, str]:
    return {r["event_id"]: r["verdict"] for r in await Fill.select(Fill.event_id, Fill.verdict)}


async def _rows(table, n: int) -> bool:
    return len(await table.select(table._meta.primary_key)) >= n


# ------------------------------------------------------------------ 4: impossible dates


async def test_impossible_dates_are_refused_at_the_door_and_the_batch_is_stored_whole(
    engine, consumers, publisher
) -> None:
    home = await station()
    unit = await cylinder(home)
    s = home["station_code"]
    good = [
        fill_payload(s, unit["code"], filled_at=(at() - timedelta(hours=h)).isoformat())
        for h in range(1, 6)
    ]
    bad = [
        fill_payload(s, unit["code"], filled_at="9999-12-31T23:59:59Z", started_at=None),
        fill_payload(s, unit["code"], filled_at="9999-12-31T23:59:59+08:00", started_at=None),
        fill_payload(s, unit["code"], filled_at="0001-01-01T00:00:00+08:00", started_at=None),
        fill_payload(s, unit["code"], started_at="0001-01-01T00:00:00Z"),
    ]
    # One batch (a long wait): before the fix, the 9999 fill raised OverflowError in the
    # rules, the batch was refused and stored again one message at a time.
    running = await consumers(batch_wait_ms=500)
    for body in [*good[:3], *bad, *good[3:]]:
        publisher.publish(fills_topic(s), encode(body))
    await eventually(lambda: _rows(DeadLetter, len(bad)))
    await eventually(lambda: _rows(Fill, len(good)))
    dead = await DeadLetter.select(DeadLetter.reason, DeadLetter.detail)
    assert [r["reason"] for r in dead] == ["invalid_value"] * len(bad), dead
    assert all("check the device clock" in r["detail"] for r in dead)
    assert set((await _verdicts()).keys()) == {b["event_id"] for b in good}
    stats = running.consumer.stats

    async def counted() -> bool:  # the worker counts after its acknowledgement
        return stats.dead_letters == {"invalid_value": len(bad)}

    await eventually(counted)
    assert stats.stored["fill"] == len(good)


# ------------------------------------------------ 5: a fill dated ahead blinds nothing


async def test_a_fill_dated_ahead_does_not_blind_the_refill_check(engine) -> None:
    home = await station()
    unit = await cylinder(home)
    s, c = home["station_code"], unit["code"]
    real = fill_payload(s, c, filled_at=(at() - timedelta(minutes=20)).isoformat())
    # 20 hours ahead: inside the door's window (a device in a wrong time zone), flagged 19.
    ahead = fill_payload(s, c, filled_at=(at() + timedelta(hours=20)).isoformat(), started_at=None)
    again = fill_payload(
        s, c, filled_at=(at() - timedelta(minutes=15)).isoformat(), started_at=None
    )
    for body in (real, ahead):
        await ingest.commit_batch([incoming(fills_topic(s), body)])
    state = await CylinderFillState.select().where(CylinderFillState.equipment == unit["id"])
    # The state moved no further than the receipt plus the skew allowed (5 minutes).
    assert state[0]["last_filled_at"] <= at() + timedelta(minutes=5)
    await ingest.commit_batch([incoming(fills_topic(s), again)])
    verdicts = await _verdicts()
    assert verdicts[ahead["event_id"]] == "19"
    # Five minutes after the real previous fill: refilled too soon. Before the fix the
    # far-ahead fill stood as the last one and this got 00.
    assert verdicts[again["event_id"]] == "16"


# --------------------------------------------------- 6: dead letters on redelivery


async def test_a_dead_letter_redelivered_after_a_crash_is_stored_once(
    engine, consumers, publisher
) -> None:
    """Committed and not acknowledged (a crash in between), then the same session
    reconnects and the broker delivers the message again."""
    client_id = f"ingest-{uuid.uuid4().hex[:8]}"
    group = f"t{uuid.uuid4().hex[:8]}"
    first = await consumers(client_id=client_id, group=group)
    never_acked: list[int] = []
    first.consumer.link.ack = lambda deliveries: never_acked.append(len(deliveries)) or 0
    publisher.publish(fills_topic("XYS-NOPE"), b"{not json")
    await eventually(lambda: _rows(DeadLetter, 1))
    await first.stop()
    assert never_acked, "the consumer committed without trying to acknowledge"

    await consumers(client_id=client_id, group=group)

    async def delivered_twice() -> bool:
        rows = await DeadLetter.select(DeadLetter.deliveries)
        return sum(r["deliveries"] for r in rows) >= 2

    await eventually(delivered_twice)
    [row] = await DeadLetter.select()
    assert (row["reason"], row["deliveries"]) == ("not_json", 2)
    assert len(row["delivery_key"]) == 64


async def test_a_dead_letter_twice_in_one_batch_is_one_row(engine) -> None:
    bad = incoming(fills_topic("XYS-NOPE"), b"[1]")
    await ingest.commit_batch([bad, bad])
    await ingest.commit_batch([bad])
    [row] = await DeadLetter.select()
    assert (row["reason"], row["deliveries"]) == ("not_an_object", 3)


# --------------------------------------------------------------- 7: two workers


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
async def test_two_workers_flag_every_refill_and_cloned_label_split_between_them(
    engine, consumers, publisher
):
    """Pairs of fills of one cylinder 5 minutes apart, published back to back: the broker
    hands the two of a pair to different workers (round robin), which judge them at the
    same time. Half the cylinders have a later-dated fill on file already, which the fill
    state holds as their latest; in half the pairs the second fill is 190 km away (a
    vehicle cylinder: a cloned label, 17). Exactly as meant: the second fill of each pair
    is 16 (17 when cloned), the first and the later fill on file 00, however the two
    workers split and order them. Before the fix most pairs passed as 00 twice (locks
    alone: every pair flagged, but the later-on-file pairs missed, and a 16 on the
    earlier fill when the later one committed first)."""
    home = await station()
    far = await station(lon=114.14)  # 2 degrees east: about 190 km
    group = f"t{uuid.uuid4().hex[:8]}"
    workers = [await consumers(group=group, batch_wait_ms=100) for _ in range(2)]
    meant: dict[str, str] = {}
    # The broker chooses who gets what; a round in which one worker was handed nothing
    # tests nothing across workers, so another round follows (three at most).
    for _ in range(3):
        units = [await cylinder(home, vehicle=True) for _ in range(60)]
        on_file, pairs = [], []
        now = at()
        for i, unit in enumerate(units):
            cloned, later = i % 4 >= 2, i % 2 == 1
            second_at = far if cloned else home
            first, second = (
                fill_payload(
                    where["station_code"],
                    unit["code"],
                    filled_at=(now - m).isoformat(),
                    started_at=None,
                )
                for where, m in ((home, timedelta(minutes=40)), (second_at, timedelta(minutes=35)))
            )
            meant[first["event_id"]] = "00"
            meant[second["event_id"]] = "17" if cloned else "16"
            pairs.append((first, second))
            if later:  # 30 minutes after the second, at its station: no finding of its own
                last = fill_payload(
                    second_at["station_code"],
                    unit["code"],
                    filled_at=(now - timedelta(minutes=5)).isoformat(),
                    started_at=None,
                )
                meant[last["event_id"]] = "00"
                on_file.append(incoming(fills_topic(second_at["station_code"]), last))
        await ingest.commit_batch(on_file)
        for pair in pairs:
            for body in pair:
                publisher.publish(fills_topic(body["station_code"]), encode(body))
        await eventually(lambda: _rows(Fill, len(meant)), what=f"{len(meant)} fills")
        if all(w.consumer.stats.stored["fill"] for w in workers):
            break
    assert all(w.consumer.stats.stored["fill"] for w in workers), "one worker got nothing"
    verdicts = await _verdicts()
    wrong = {e: (verdicts[e], code) for e, code in meant.items() if verdicts[e] != code}
    assert not wrong, f"{len(wrong)} of {len(meant)} verdicts not as meant (got, meant): {wrong}"
    cloned = [e for e, code in meant.items() if code == "17"]
    reasons = {
        r["event_id"]: {x["code"] for x in r["reasons"]}
        for r in await Fill.select(Fill.event_id, Fill.reasons).output(load_json=True)
    }
    # A cloned label 5 minutes after the first fill is also refilled too soon.
    assert all(reasons[e] == {"17", "16"} for e in cloned)


async def test_a_fill_dated_before_one_on_file_is_judged_against_its_neighbours(engine) -> None:
    """One worker, fills arriving out of time order: a later-dated fill is on file when
    two earlier ones arrive in batches of their own. Each is judged against the fill
    just before it by time, and the fill just after it is corrected (16 added, an alarm
    raised). Before, both earlier fills were compared with the later one on file (30
    and 35 minutes: 00, 00) and the refill pair between them went unflagged."""
    home = await station()
    unit = await cylinder(home)
    s, c = home["station_code"], unit["code"]
    now = at()
    later, first, second, between = (
        fill_payload(s, c, filled_at=(now - timedelta(minutes=m)).isoformat(), started_at=None)
        for m in (5, 40, 35, 38)
    )
    for body in (later, first, second):
        await ingest.commit_batch([incoming(fills_topic(s), body)])
    verdicts = await _verdicts()
    assert [verdicts[b["event_id"]] for b in (first, second, later)] == ["00", "16", "00"]
    state = await CylinderFillState.select().where(CylinderFillState.equipment == unit["id"])
    assert (state[0]["fill_count"], state[0]["last_filled_at"]) == (
        3,
        datetime.fromisoformat(later["filled_at"]),
    )
    # A fill 3 minutes before the one on file 35 minutes back, arriving last: its own
    # neighbour before it is 40 minutes back (3 minutes: 16), and the stored fill after it
    # gets a 16 too, on top of the one it had, and an alarm; nothing else changes.
    await ingest.commit_batch([incoming(fills_topic(s), between)])
    verdicts = await _verdicts()
    assert [verdicts[b["event_id"]] for b in (first, between, second, later)] == [
        "00", "16", "16", "00",
    ]  # fmt: skip
    [row] = (
        await Fill.select(Fill.reasons)
        .where(Fill.event_id == second["event_id"])
        .output(load_json=True)
    )
    assert [r["code"] for r in row["reasons"]] == ["16"]  # amended, not doubled
    # One alarm raise per flagged fill: the corrected one already had its own.
    raises = await Alarm.select(Alarm.count).where(
        (Alarm.source == "fill") & (Alarm.equipment == unit["id"])
    )
    assert sum(a["count"] for a in raises) == 2


async def test_a_late_fill_far_away_marks_the_stored_fill_after_it_cloned(engine) -> None:
    """The fill on file came first; a fill of the same (vehicle) cylinder 190 km away, 10
    minutes before it, arrives after it. The stored fill, whose neighbour before it is
    now that one, gets 17 (and 16) added, with its alarm."""
    home, far = await station(), await station(lon=114.14)
    unit = await cylinder(home, vehicle=True)
    now = at()
    stored = fill_payload(home["station_code"], unit["code"], filled_at=now.isoformat())
    late = fill_payload(
        far["station_code"],
        unit["code"],
        filled_at=(now - timedelta(minutes=10)).isoformat(),
        started_at=None,
    )
    await ingest.commit_batch([incoming(fills_topic(home["station_code"]), stored)])
    assert (await _verdicts())[stored["event_id"]] == "00"
    result = await ingest.commit_batch([incoming(fills_topic(far["station_code"]), late)])
    verdicts = await _verdicts()
    assert (verdicts[late["event_id"]], verdicts[stored["event_id"]]) == ("00", "17")
    [row] = (
        await Fill.select(Fill.id, Fill.allowed, Fill.suspicious, Fill.reasons)
        .where(Fill.event_id == stored["event_id"])
        .output(load_json=True)
    )
    assert (row["allowed"], row["suspicious"]) == (False, True)
    assert [r["code"] for r in row["reasons"]] == ["17", "16"]
    alarm = await Alarm.select(Alarm.kind).where(Alarm.fill == row["id"])
    assert [a["kind"] for a in alarm] == ["fill_cloned_identification"]
    assert result.alarms >= 1


# ------------------------------------------------- 8: started before the database


def _start_ingest(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sereg.cli", "ingest"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _reader(process: subprocess.Popen) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _wait_for_line(lines: queue.Queue[str], text: str, seen: list[str], within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        seen.append(line)
        if text in line:
            return
    pytest.fail(f"no log line with {text!r} within {within} s; it logged:\n{''.join(seen)}")


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
async def test_ingest_started_before_its_database_waits_and_then_consumes(
    engine, ingest_broker, publisher
) -> None:
    """`sereg ingest` pointed at a database nobody has created yet: it says what it waits
    for, and once the database is created and migrated it consumes. Before the fix it
    exited with a traceback (InvalidCatalogNameError)."""
    name = f"sereg_late_{uuid.uuid4().hex[:10]}"
    env = sereg_env(
        DATABASE_URL=pg_url(name),
        MQTT_URL=ingest_url(ingest_broker),
        SEREG_INGEST_GROUP=f"t{uuid.uuid4().hex[:8]}",
        SEREG_INGEST_CLIENT_ID=f"ingest-{uuid.uuid4().hex[:8]}",
        SEREG_DB_POOL_MIN="1",
        SEREG_DB_POOL_MAX="2",
    )
    process = _start_ingest(env)
    seen: list[str] = []
    lines = _reader(process)
    created = False
    try:
        await asyncio.to_thread(_wait_for_line, lines, "waiting for the database", seen)
        assert process.poll() is None, "".join(seen)
        admin = await asyncpg.connect(pg_url("postgres"))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
            created = True
        finally:
            await admin.close()
        # Created, still empty: it waits for the migrations, then for nothing.
        migrated = await asyncio.to_thread(run_sereg, "migrate", env=env)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        await asyncio.to_thread(_wait_for_line, lines, "ready", seen)
        await asyncio.to_thread(_wait_for_line, lines, "connected to", seen)
        connection = await asyncpg.connect(pg_url(name))
        try:
            # Published again until stored: the worker's SUBSCRIBE may still be on its
            # way, and a dead letter is stored once however often it comes.
            deadline = time.monotonic() + 30
            while not await connection.fetchval("SELECT count(*) FROM dead_letter"):
                assert time.monotonic() < deadline, "nothing consumed:\n" + "".join(seen)
                publisher.publish(fills_topic("XYS-LATE"), b"{late")
                for _ in range(20):
                    if await connection.fetchval("SELECT count(*) FROM dead_letter"):
                        break
                    await asyncio.sleep(0.05)
        finally:
            await connection.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        if created:
            await drop_pg_database(name)


async def test_ingest_waits_for_a_database_that_does_not_answer(ingest_broker) -> None:
    """A closed port: it keeps waiting (with backoff, saying so) until told to stop."""
    env = sereg_env(
        DATABASE_URL="postgresql://postgres@127.0.0.1:9/sereg",
        MQTT_URL=ingest_url(ingest_broker),
        SEREG_INGEST_CLIENT_ID=f"ingest-{uuid.uuid4().hex[:8]}",
    )
    process = _start_ingest(env)
    seen: list[str] = []
    lines = _reader(process)
    try:
        await asyncio.to_thread(_wait_for_line, lines, "waiting for the database", seen)
        await asyncio.to_thread(
            _wait_for_line, lines, "waiting for the database", seen
        )  # tried again, still alive
        assert process.poll() is None
        assert "127.0.0.1:9" in "".join(seen)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert "Traceback" not in "".join(seen)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
