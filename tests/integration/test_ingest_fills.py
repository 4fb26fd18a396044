"""Fill events through the real broker and the consumer into the register: every verdict
code, the verdicts published back, duplicates stored once, fill alarms and state."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from equipment.domain.access import SYSTEM, Role
from equipment.domain.lifecycle import Action
from equipment.services import clock, fills, ingest, inspections, register, tokens
from equipment.storage.tables import Alarm, CylinderFillState, DueDate, Fill
from tests import factories
from tests.ingest_support import (
    at,
    cylinder,
    encode,
    eventually,
    fill_payload,
    fills_topic,
    incoming,
    iso,
    station,
)

pytestmark = pytest.mark.integration


async def _fill_count(n: int) -> bool:
    return await Fill.count() >= n


async def _verdict_of(event_id: str) -> str:
    row = await Fill.select(Fill.verdict).where(Fill.event_id == event_id).first()
    return row["verdict"]


async def test_every_verdict_code(engine, consumers, publisher, verdicts) -> None:
    home = await station()
    partner = await station()
    other = await station()
    far = await station(lon=114.30, lat=30.60)  # Wuhan, ~260 km from Xiangyang
    lapsed = await station(licence_valid_until=factories.today() - timedelta(days=1))
    await fills.create_joint_filling(
        SYSTEM,
        owner_station_id=partner["id"],
        filling_station_id=home["id"],
        valid_from=factories.today() - timedelta(days=30),
        valid_until=factories.today() + timedelta(days=30),
        now=clock.now(),
    )

    async def good() -> dict:
        return await cylinder(home)

    scrapped, cancelled = await good(), await good()
    for unit, action in ((scrapped, Action.SCRAP), (cancelled, Action.CANCEL)):
        await register.close(
            SYSTEM, unit["id"], action, on=factories.today(), reason="test", expected_version=None,
            today=factories.today(), now=clock.now(),
        )  # fmt: skip
    failed = await cylinder(home, made=date(2022, 1, 1))
    await inspections.record_inspection(
        SYSTEM,
        failed["id"],
        {
            "kind": "periodic",
            "inspected_on": factories.today() - timedelta(days=20),
            "conclusion": "fail",
        },
        today=factories.today(),
        now=clock.now(),
    )
    unknown_due = await good()
    # A unit imported without its inspection history: the due date is not known.
    await DueDate.delete().where(DueDate.equipment == unknown_due["id"])
    lift = await factories.unit((await factories.organisation("user_unit"))["id"])
    twice = await good()
    # A vehicle cylinder may be filled at any station: only the label's travel is wrong.
    cloned = await cylinder(home, vehicle=True)

    H = home["station_code"]
    cases = {
        "00": (H, (await good())["code"], {}),
        "01": (H, unknown_due["code"], {}),
        "02": (H, failed["code"], {}),
        "03": (H, (await cylinder(home, registered=False))["code"], {}),
        "04": (H, (await cylinder(home, made=date(2020, 1, 1)))["code"], {}),
        "05": (H, scrapped["code"], {}),
        "06": (H, cancelled["code"], {}),
        "07": (H, f"NOT-ON-FILE-{uuid.uuid4().hex[:6]}", {}),
        "08": (H, (await cylinder(other))["code"], {}),
        "09": (H, (await cylinder(partner))["code"], {}),
        "10": (H, (await good())["code"], {"medium": "O2", "filled_mass_kg": None,
                                          "final_pressure_mpa": 15.0}),
        "11": (H, (await good())["code"], {"filled_mass_kg": 16.0}),
        "12": (H, (await cylinder(home, made=date(2012, 1, 1)))["code"], {}),
        "13": (H, (await good())["code"], {"pre_check_passed": False}),
        "14": (H, (await good())["code"], {"post_check_passed": False}),
        "15": (lapsed["station_code"], (await cylinder(lapsed))["code"], {}),
        "18": (H, lift["code"], {}),
        "19": (H, (await good())["code"], {"started_at": iso(at() + timedelta(minutes=2))}),
    }  # fmt: skip
    vehicle = (H, (await cylinder(other, vehicle=True))["code"], {})
    payloads: dict[str, dict] = {}
    for code, (station_code, cylinder_code, overrides) in [*cases.items(), ("00v", vehicle)]:
        payloads[code] = fill_payload(station_code, cylinder_code, **overrides)

    # 16 and 17 need a fill on record first.
    def earlier(station_code: str, code: str, minutes: int) -> dict:
        filled = iso(at() - timedelta(minutes=minutes))
        return fill_payload(station_code, code, filled_at=filled, started_at=None)

    first_twice = earlier(H, twice["code"], 20)
    first_cloned = earlier(H, cloned["code"], 60)
    payloads["16"] = earlier(H, twice["code"], 10)
    # The clone: the same code filled in Wuhan 40 minutes after Xiangyang (~390 km/h).
    payloads["17"] = earlier(far["station_code"], cloned["code"], 20)
    await consumers()
    for body in (first_twice, first_cloned):
        publisher.publish(fills_topic(body["station_code"]), encode(body))
    await eventually(lambda: _fill_count(2))
    for body in payloads.values():
        publisher.publish(fills_topic(body["station_code"]), encode(body))
    await eventually(lambda: _fill_count(2 + len(payloads)))

    got = {label: await _verdict_of(body["event_id"]) for label, body in payloads.items()}
    assert got == {label: label.rstrip("v") for label in got}

    # Every fill's verdict is published back to its station with its event id.
    def published() -> bool:
        return all(body["event_id"] in verdicts.by_event() for body in payloads.values())

    await eventually(lambda: _true(published()))
    seen = verdicts.by_event()
    for label, body in payloads.items():
        message = seen[body["event_id"]][0]
        assert message["code"] == got[label]
        assert message["allowed"] is (label in ("00", "00v", "09"))
        assert message["reasons"] or label in ("00", "00v")

    # Every refused or suspicious fill raised an alarm; the good ones did not.
    refused = [b for label, b in payloads.items() if label not in ("00", "00v", "09")]
    alarms = await Alarm.select().where(Alarm.source == "fill")
    assert len(alarms) == len(refused)
    assert {a["fill"] for a in alarms} == {
        r["id"]
        for r in await Fill.select(Fill.id).where(Fill.allowed == False)  # noqa: E712
    }
    not_on_file = next(a for a in alarms if a["kind"] == "fill_not_on_file")
    assert not_on_file["equipment"] is None and not_on_file["station"] == home["id"]
    wrong = next(a for a in alarms if a["kind"] == "fill_wrong_medium")
    assert wrong["severity"] == "critical"


async def _true(value: bool) -> bool:
    return value


async def test_redelivered_fills_are_stored_once(engine, consumers, publisher, verdicts) -> None:
    home = await station()
    unit = await cylinder(home)
    body = fill_payload(home["station_code"], unit["code"])
    other = fill_payload(
        home["station_code"], unit["code"], filled_at=iso(at() + timedelta(seconds=1))
    )
    await consumers()
    for _ in range(3):
        publisher.publish(fills_topic(home["station_code"]), encode(body))
    await eventually(lambda: _true(len(verdicts.by_event().get(body["event_id"], [])) >= 3))
    publisher.publish(fills_topic(home["station_code"]), encode(other))
    await eventually(lambda: _fill_count(2))
    assert await Fill.count().where(Fill.event_id == body["event_id"]) == 1
    state = (
        await CylinderFillState.select().where(CylinderFillState.equipment == unit["id"]).first()
    )
    assert state["fill_count"] == 2
    # The repeats are answered with the stored verdict: the same code every time.
    answers = verdicts.by_event()[body["event_id"]]
    assert {a["code"] for a in answers} == {"00"}
    # The second fill came 1 s after the first: refilled too soon, once.
    assert await _verdict_of(other["event_id"]) == "16"
    assert len(await Alarm.select().where(Alarm.kind == "fill_refilled_too_soon")) == 1


async def test_fill_state_follows_the_latest_fill(engine, consumers, publisher) -> None:
    home, away = await station(), await station()
    unit = await cylinder(home)
    early = fill_payload(home["station_code"], unit["code"], filled_at=iso(at(days_ago=3)))
    late = fill_payload(away["station_code"], unit["code"], filled_at=iso(at(days_ago=1)))
    await consumers()
    # Out of order: the later fill arrives first.
    publisher.publish(fills_topic(away["station_code"]), encode(late))
    await eventually(lambda: _fill_count(1))
    publisher.publish(fills_topic(home["station_code"]), encode(early))
    await eventually(lambda: _fill_count(2))
    state = (
        await CylinderFillState.select().where(CylinderFillState.equipment == unit["id"]).first()
    )
    assert state["fill_count"] == 2
    assert state["last_station_code"] == away["station_code"]


async def test_a_batch_judged_ahead_sees_the_fills_still_being_written(engine) -> None:
    # The consumer judges the next batch while the last one commits: the register cannot
    # show those fills yet, so they are laid over it. Judged with and without the overlay.
    home = await station()
    unit = await cylinder(home)
    first = fill_payload(home["station_code"], unit["code"], filled_at=iso(at(days_ago=0.01)))
    again = fill_payload(home["station_code"], unit["code"])
    topic = fills_topic(home["station_code"])
    earlier = await ingest.judge_fills([incoming(topic, first)])
    blind = await ingest.judge_fills([incoming(topic, again)])
    ahead = await ingest.judge_fills([incoming(topic, again)], overlay=earlier.latest)
    assert [v.code.value for *_, v in blind.judged] == ["00"]
    assert [v.code.value for *_, v in ahead.judged] == ["16"]
    await ingest.commit_batch([incoming(topic, first)], judged=earlier)
    result = await ingest.commit_batch([incoming(topic, again)], judged=ahead)
    assert result.verdict_codes == {"16": 1}
    state = (
        await CylinderFillState.select().where(CylinderFillState.equipment == unit["id"]).first()
    )
    assert state["fill_count"] == 2
    assert await _verdict_of(again["event_id"]) == "16"


async def test_consecutive_batches_refill_too_soon(engine, consumers, publisher, verdicts) -> None:
    # One fill per batch, published back to back: each is judged while the one before it
    # commits, and still sees it.
    home = await station()
    unit = await cylinder(home)
    bodies = [
        fill_payload(home["station_code"], unit["code"], filled_at=iso(at() + timedelta(minutes=i)))
        for i in range(6)
    ]
    running = await consumers(batch_size=1, batch_wait_ms=0)
    for body in bodies:
        publisher.publish(fills_topic(home["station_code"]), encode(body))
    await eventually(lambda: _fill_count(len(bodies)))
    codes = [await _verdict_of(b["event_id"]) for b in bodies]
    assert codes == ["00"] + ["16"] * (len(bodies) - 1)
    state = (
        await CylinderFillState.select().where(CylinderFillState.equipment == unit["id"]).first()
    )
    assert state["fill_count"] == len(bodies)
    await eventually(lambda: _true(len(verdicts.by_event()) == len(bodies)))
    # Every verdict published was acknowledged by the broker.
    link = running.consumer.link
    # The fills commit before their verdicts go out: wait for every verdict sent and
    # acknowledged, not for an empty window (it is empty before the first one, too).
    await eventually(
        lambda: _true(link.counters.published == len(bodies) and link.outstanding_publishes() == 0),
        what="every verdict published and acknowledged",
    )
    assert link.counters.publish_acked == link.counters.published == len(bodies)


async def test_unheard_verdicts_are_acknowledged_too(engine, consumers, publisher) -> None:
    # With no station subscribed, Mosquitto answers a verdict "No matching subscribers"
    # (0x10): a success, which lets the next verdict into the window like Success itself.
    home = await station()
    unit = await cylinder(home)
    bodies = [
        fill_payload(home["station_code"], unit["code"], filled_at=iso(at(days_ago=i)))
        for i in range(3)
    ]
    running = await consumers()
    for body in bodies:
        publisher.publish(fills_topic(home["station_code"]), encode(body))
    await eventually(lambda: _fill_count(len(bodies)))
    link = running.consumer.link
    # The fills commit before their verdicts go out: wait for every verdict sent and
    # acknowledged, not for an empty window (it is empty before the first one, too).
    await eventually(
        lambda: _true(link.counters.published == len(bodies) and link.outstanding_publishes() == 0),
        what="every verdict published and acknowledged",
    )
    assert link.counters.publish_acked == link.counters.published == len(bodies)


async def test_a_batch_finds_cylinders_by_any_of_their_codes(engine) -> None:
    # Devices may send the register code, the registration code or the equipment code.
    home = await station()
    units = [await cylinder(home) for _ in range(3)]
    topic = fills_topic(home["station_code"])
    named = [units[0]["code"], units[1]["registration_code"], units[2]["equipment_code"]]
    bodies = [fill_payload(home["station_code"], code) for code in [*named, "NO-SUCH-CODE"]]
    result = await ingest.commit_batch([incoming(topic, b) for b in bodies])
    assert result.verdict_codes == {"00": 3, "07": 1}
    stored = {r["cylinder_code"]: r["cylinder"] for r in await Fill.select()}
    assert [stored[code] for code in named] == [u["id"] for u in units]
    assert stored["NO-SUCH-CODE"] is None


_FILL_STATE_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_FILL_STATE_SETTINGS
@given(
    batches=st.lists(
        st.lists(
            st.tuples(st.integers(0, 2), st.integers(0, 1), st.integers(0, 3)),
            min_size=1,
            max_size=8,
        ),
        min_size=1,
        max_size=3,
    )
)
async def test_the_fill_state_is_the_latest_fill_and_the_count(engine, batches) -> None:
    # Fills of three cylinders at two stations, with equal times, over several batches:
    # each cylinder's state names its latest fill (the last stored among equal times) and
    # counts every fill once. PostgreSQL moves it inside the fills' INSERT, SQLite after.
    homes = [await station(), await station()]
    units = [await cylinder(homes[0]) for _ in range(3)]
    base = at(days_ago=10)
    expected: dict[int, tuple[int, str, datetime]] = {}
    for batch in batches:
        items = []
        for unit_no, station_no, hours in batch:
            home, unit = homes[station_no], units[unit_no]
            body = fill_payload(
                home["station_code"], unit["code"], filled_at=iso(base + timedelta(hours=hours))
            )
            items.append(incoming(fills_topic(home["station_code"]), body))
        await ingest.commit_batch(items)
        # The consumer takes a batch's fills in time order, arrival order among equals.
        for unit_no, station_no, hours in sorted(batch, key=lambda f: f[2]):
            unit_id = units[unit_no]["id"]
            count, _, last = expected.get(unit_id, (0, "", base - timedelta(days=1)))
            moment = base + timedelta(hours=hours)
            code = homes[station_no]["station_code"]
            if moment >= last:
                expected[unit_id] = (count + 1, code, moment)
            else:
                expected[unit_id] = (count + 1, expected[unit_id][1], last)
    rows = await CylinderFillState.select().where(
        CylinderFillState.equipment.is_in([u["id"] for u in units])
    )
    got = {r["equipment"]: r for r in rows}
    assert set(got) == set(expected)
    for unit_id, (count, code, last) in expected.items():
        state = got[unit_id]
        assert state["fill_count"] == count
        assert state["last_station_code"] == code
        assert _aware(state["last_filled_at"]) == last
        fill = await Fill.select().where(Fill.id == state["last_fill"]).first()
        assert (fill["cylinder"], fill["station_code"]) == (unit_id, code)
        assert _aware(fill["filled_at"]) == last
    for unit in units:  # the next example starts from no fills
        await CylinderFillState.delete().where(CylinderFillState.equipment == unit["id"])
        await Fill.delete().where(Fill.cylinder == unit["id"])


def _aware(moment: datetime | str) -> datetime:
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def test_a_foreign_cylinders_verdict_tells_the_station_nothing_of_it(
    engine, consumers, publisher, verdicts
) -> None:
    # Station A fills station B's scrapped cylinder that B filled a minute ago: the verdict
    # published to A, and A's own fill list, say 08 alone; the register (an admin) keeps
    # every reason (issue 16, item 12, over MQTT).
    a, b = await station(), await station()
    foreign = await cylinder(b)
    await register.close(
        SYSTEM, foreign["id"], Action.SCRAP, on=factories.today(), reason="test",
        expected_version=None, today=factories.today(), now=clock.now(),
    )  # fmt: skip
    first = fill_payload(
        b["station_code"], foreign["code"], filled_at=iso(at() - timedelta(minutes=2))
    )
    theirs = fill_payload(a["station_code"], foreign["code"])
    await consumers()
    publisher.publish(fills_topic(b["station_code"]), encode(first))
    await eventually(lambda: _fill_count(1))
    publisher.publish(fills_topic(a["station_code"]), encode(theirs))
    await eventually(lambda: _fill_count(2))

    def published() -> bool:
        return theirs["event_id"] in verdicts.by_event()

    await eventually(lambda: _true(published()))
    message = verdicts.by_event()[theirs["event_id"]][0]
    assert message["code"] == "08"
    assert [r["code"] for r in message["reasons"]] == ["08"]
    text = str(message)
    for secret in (b["station_code"], "scrapped", "LPG"):
        assert secret not in text, secret

    token = await factories.token(Role.STATION, a["id"])
    station_view = fills.FillFilter(cylinder_code=foreign["code"])
    principal = await tokens.principal_for(token["Authorization"].split()[1])
    page = await fills.list_fills(principal, station_view, before_id=None, limit=10)
    [row] = page.items
    assert row.verdict == "08" and [r["code"] for r in row.reasons] == ["08"]
    everything = await fills.list_fills(SYSTEM, station_view, before_id=None, limit=10)
    codes = {r["code"] for item in everything.items for r in item.reasons}
    assert {"05", "08"} <= codes
