"""The ingest use case: one batch of broker messages committed in one transaction.

The MQTT adapter decodes each message (``ingest_mqtt.messages``) and hands the batch
here; nothing is acknowledged to the broker until ``commit_batch`` has returned, so a
crash anywhere loses nothing and a redelivery is absorbed by the idempotency keys:
(station_code, event_id) for fills, (lift, ts) for heartbeats, (lift, event_id) for lift
events. Only what the insert actually stored (``RETURNING``) raises alarms or moves a
cylinder's fill count, so a redelivered message changes nothing twice.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from equipment.domain import fills as rules
from equipment.domain import lift_events
from equipment.domain.catalogue import is_lift
from equipment.domain.errors import InvalidValue
from equipment.services import alarms, fill_facts
from equipment.storage import db, fill_state, reads
from equipment.storage.bulk import Bulk
from equipment.storage.fill_facts import Cylinder
from equipment.storage.fills import StoredVerdict
from equipment.storage.lift_signals import IngestUnit

# The repositories, stateless: each statement runs on the connection it is given.
_STORE = reads()

# Dead letters keep the first bytes of the payload: enough to see what a device sent,
# bounded so a flood of junk cannot fill the disk.
DEAD_LETTER_KEPT_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Incoming:
    """One broker message as the adapter decoded it.

    ``kind`` is ``fill``, ``status``, ``event`` or ``rejected``; ``message`` is the
    decoded payload (attributes as in docs/mqtt-contract.md, contract v1), ``code`` the unit code in
    the topic. A rejected message carries ``reason`` and ``detail`` instead.
    """

    kind: str
    topic: str
    payload: bytes
    received_at: datetime
    code: str | None = None
    message: Any = None
    reason: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    station_code: str
    event_id: str
    verdict: dict[str, Any]
    duplicate: bool
    cylinder_code: str = ""

    def for_the_station(self) -> dict[str, Any]:
        """What is published to the station: the stored verdict, but with 08 alone for a
        cylinder that is not its own (rules.for_the_station); the register keeps it all."""
        return rules.for_the_station(self.verdict, self.cylinder_code)


@dataclass
class BatchResult:
    stored: Counter[str] = field(default_factory=Counter)  # new rows by message kind
    duplicates: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)  # by reason
    verdicts: list[Verdict] = field(default_factory=list)  # to publish, new and repeated
    verdict_codes: Counter[str] = field(default_factory=Counter)  # new fills by code
    alarms: int = 0  # alarm changes written


@dataclass(frozen=True)
class IngestContext:
    policy: rules.FillPolicy = rules.DEFAULT_FILL_POLICY


async def commit_batch(
    items: Sequence[Incoming],
    *,
    context: IngestContext = IngestContext(),
    judged: JudgedFills | None = None,
) -> BatchResult:
    """Store one batch: fills judged, heartbeats, lift events and their alarms, dead
    letters. All of it in one transaction, or none of it. ``judged`` is the batch's
    fills as ``judge_fills`` judged them beforehand; without it they are judged here."""
    result = BatchResult()
    dead: list[tuple[Incoming, str, str]] = [
        (i, i.reason, i.detail) for i in items if i.kind == "rejected"
    ]
    async with db.transaction() as transaction:
        bulk = Bulk(transaction)
        fills = [i for i in items if i.kind == "fill"]
        statuses = [i for i in items if i.kind == "status"]
        events = [i for i in items if i.kind == "event"]
        if fills:
            dead.extend(await _store_fills(bulk, fills, context, result, judged))
        if statuses or events:
            lifts, unknown = await _resolve_lifts(bulk, {i.code for i in statuses + events})
            for item in statuses + events:
                if item.code in unknown:
                    dead.append((item, "unknown_unit", unknown[item.code]))
            known = [i for i in statuses if i.code in lifts]
            if known:
                await _store_statuses(bulk, known, lifts, result)
            known = [i for i in events if i.code in lifts]
            if known:
                await _store_events(bulk, known, lifts, result)
        if dead:
            await _store_dead_letters(bulk, dead)
            result.dead_letters.update(reason for _, reason, _ in dead)
    return result


# ------------------------------------------------------------------------------ fills


def _fill_key(item: Incoming) -> tuple[str, str]:
    return item.code or "", item.message.event_id


@dataclass
class JudgedFills:
    """The fills of one batch judged against the register, ready to be written.

    ``latest`` is each cylinder's last fill once these are stored: judging the next
    batch while this one is still being written, the consumer lays it over what the
    register says (which cannot show this batch's fills before it commits).
    """

    dead: list[tuple[Incoming, str, str]] = field(default_factory=list)
    repeats: list[tuple[str, str]] = field(default_factory=list)  # again within the batch
    judged: list[tuple[Incoming, rules.StationFacts, Cylinder | None, Any]] = field(
        default_factory=list
    )
    latest: dict[int, rules.PreviousFill] = field(default_factory=dict)
    # Each cylinder's last fill as the judgement saw it (register and overlay), to tell,
    # once the cylinders are locked for the write, whether another worker moved it since.
    basis: dict[int, tuple[datetime, int] | None] = field(default_factory=dict)
    # The stored fills of the cylinders that had a later-dated fill on file than one of
    # the batch's (read in the writer's transaction): the batch's fills are judged
    # against their neighbours in it, and the fill after each is corrected.
    history: dict[int, list[fill_state.StoredFill]] = field(default_factory=dict)


async def judge_fills(
    items: Sequence[Incoming],
    *,
    context: IngestContext = IngestContext(),
    overlay: Mapping[int, rules.PreviousFill] | None = None,
) -> JudgedFills:
    """Judge the batch's fills on a connection of their own (reads only), so the consumer
    can judge one batch while the previous one commits."""
    async with db.reading() as bulk:
        return await _judge_fills(
            bulk, [i for i in items if i.kind == "fill"], context, overlay or {}
        )


async def _judge_fills(
    bulk: Bulk,
    items: list[Incoming],
    context: IngestContext,
    overlay: Mapping[int, rules.PreviousFill],
    history: Mapping[int, list[fill_state.StoredFill]] | None = None,
) -> JudgedFills:
    """``history``: for these cylinders each fill is judged against the stored fill just
    before it by time (or the batch's own, whichever is later), not the latest on file."""
    history = history or {}
    out = JudgedFills(history=dict(history))
    if not items:
        return out
    stations = await _STORE.fill_facts.stations_by_code(bulk, {i.code for i in items if i.code})
    unique: dict[tuple[str, str], Incoming] = {}
    for item in items:
        if item.code not in stations:
            out.dead.append((item, "unknown_unit", f"no filling station has code {item.code!r}"))
        elif _fill_key(item) in unique:
            out.repeats.append(_fill_key(item))
        else:
            unique[_fill_key(item)] = item
    if not unique:
        return out
    batch = sorted(unique.values(), key=lambda i: i.message.filled_at)
    cylinders = await _STORE.fill_facts.cylinders_by_code(
        bulk, {i.message.cylinder_code for i in batch}
    )
    previous = {c.facts.id: c.previous for c in cylinders.values() if c.previous is not None}
    # The register holds no fill of a batch still being written: lay those over it,
    # the later fill winning as it does when the batch commits.
    on_file = {c.facts.id for c in cylinders.values()}
    fill_state.lay_over(previous, overlay, only=on_file)
    out.basis = {cylinder_id: _mark(previous.get(cylinder_id)) for cylinder_id in on_file}
    for cylinder_id in history:
        # The batch's fills of these find their neighbour in the history (below).
        previous.pop(cylinder_id, None)
    agreed = await fill_facts.agreements(
        bulk, [(stations[i.code], cylinders.get(i.message.cylinder_code)) for i in batch]
    )
    for item in batch:
        m = item.message
        station = stations[item.code]
        cylinder = cylinders.get(m.cylinder_code)
        facts = cylinder.facts if cylinder else None
        neighbour = previous.get(facts.id) if facts else None
        if facts is not None and facts.id in history:
            neighbour = _before(
                history[facts.id],
                rules.fill_state_time(m.filled_at, item.received_at, context.policy),
                neighbour,
            )
        try:
            verdict = fill_facts.judge(
                rules.FillAttempt(
                    medium=m.medium,
                    at=m.filled_at,
                    started_at=m.started_at,
                    filled_mass_kg=m.filled_mass_kg,
                    final_pressure_mpa=m.final_pressure_mpa,
                    pre_check_passed=m.pre_check_passed,
                    post_check_passed=m.post_check_passed,
                    purged_or_evacuated=m.purged_or_evacuated,
                    people_in_vehicle=m.people_in_vehicle,
                    vehicle_registration=m.vehicle_registration,
                ),
                station,
                cylinder,
                agreed,
                previous=neighbour,
                received_at=item.received_at,
                policy=context.policy,
            )
        except (InvalidValue, OverflowError) as exc:
            # What a device sent cannot be judged: its dead letter, not a failed batch
            # stored again one message at a time as an internal error.
            out.dead.append((item, "invalid_value", f"the fill rules cannot judge it: {exc}"))
            continue
        if facts is not None:
            # The next fill of this cylinder in the same batch sees this one as previous;
            # the state moves no further than its receipt (rules.fill_state_time).
            at = rules.fill_state_time(m.filled_at, item.received_at, context.policy)
            fill = rules.PreviousFill(
                station.id, station.code, at, station.longitude, station.latitude
            )
            previous[facts.id] = fill
            # As the write moves it: the latest state time wins, the later fill on a tie.
            fill_state.lay_over(out.latest, {facts.id: fill})
        out.judged.append((item, station, cylinder, verdict))
    return out


def _mark(fill: rules.PreviousFill | None) -> tuple[datetime, int] | None:
    return None if fill is None else (fill.filled_at, fill.station_id)


def _before(
    stored: list[fill_state.StoredFill], at: datetime, in_batch: rules.PreviousFill | None
) -> rules.PreviousFill | None:
    """The fill just before ``at``: the last stored one at or before it, or the batch's
    own fill judged before this one, whichever is later (the batch's on a tie: it is
    stored after)."""
    i = bisect.bisect_right(stored, at, key=lambda f: f.state_at)
    on_file = stored[i - 1].previous if i else None
    if in_batch is not None and fill_state.wins(
        in_batch.filled_at, on_file.filled_at if on_file else None
    ):
        return in_batch
    return on_file


async def _settle(bulk: Bulk, context: IngestContext, prepared: JudgedFills) -> JudgedFills:
    """Make the batch's judgement the one the register supports as it is written (issue
    16, item 7): on PostgreSQL, lock the batch's cylinders for this transaction first.

    Each worker judges against the register, which cannot show another worker's fills
    before they commit: a refill minutes after a fill that another worker is writing
    would pass as 00 instead of 16 (refilled too soon), a label seen at two stations
    at once would not be 17. Holding each cylinder's lock from before the check until the
    commit serialises the judgements of one cylinder across workers: whoever writes
    second sees the first's fill. The locks are taken in key order (no deadlock between
    two workers) and are transaction-scoped advisory locks, so a cylinder never filled
    before (no state row yet) is held too. (SQLite has one writer at a time.)

    Then, per cylinder: when its latest fill on file is not after the batch's fills, that
    fill is their neighbour, and only a cylinder whose latest fill moved since the
    judgement is judged again. When a later-dated fill is on file (a fill that arrived
    late, or one that another worker stored first), the latest fill is not the
    neighbour: the cylinder's stored fills are read and its fills judged again against
    the fill just before each by time; the stored fill just after is corrected when the
    batch is written (_correct_successors).
    """
    locked: set[int] = set()
    while True:
        ids = {cylinder.facts.id for _, _, cylinder, _ in prepared.judged if cylinder}
        wanted = ids - locked
        if not wanted:
            return prepared
        await _STORE.fills.lock_cylinders(bulk, wanted)
        locked |= wanted
        now = await _STORE.fill_state.read(bulk, wanted)
        earliest: dict[int, datetime] = {}
        for item, _, cylinder, _ in prepared.judged:
            if cylinder is not None and cylinder.facts.id in wanted:
                at = rules.fill_state_time(item.message.filled_at, item.received_at, context.policy)
                known = earliest.get(cylinder.facts.id)
                earliest[cylinder.facts.id] = at if known is None else min(known, at)
        # Later-dated on file: the stored latest would win over the batch's earliest fill.
        late = {
            i for i in wanted if i in now and not fill_state.wins(earliest[i], now[i].filled_at)
        }
        moved = {i for i in wanted if _mark(now.get(i)) != prepared.basis.get(i)} - late
        history = {}
        if late:
            keys = {_fill_key(j[0]) for j in prepared.judged}
            history = {
                cylinder_id: [f for f in fills if f.key not in keys]
                for cylinder_id, fills in (
                    await _STORE.fill_state.around(bulk, late, context.policy)
                ).items()
            }
            for cylinder_id in late:
                history.setdefault(cylinder_id, [])
        if moved or late:
            # Only these cylinders' fills: the judgement of the rest stands.
            prepared = await _judge_again(bulk, context, prepared, moved | late, history)


async def _judge_again(
    bulk: Bulk,
    context: IngestContext,
    prepared: JudgedFills,
    moved: set[int],
    history: dict[int, list[fill_state.StoredFill]],
) -> JudgedFills:
    """``prepared`` with the fills of the ``moved`` cylinders judged anew, against the
    register as it is now (which nobody can change until this commits) or, for the
    cylinders in ``history``, against their stored fills around each fill's time."""
    again = [j[0] for j in prepared.judged if j[2] is not None and j[2].facts.id in moved]
    fresh = await _judge_fills(bulk, again, context, {}, history)
    kept = [j for j in prepared.judged if j[2] is None or j[2].facts.id not in moved]
    # In time order, as judged and inserted (the later of two equal times wins the state).
    judged = sorted([*kept, *fresh.judged], key=lambda j: j[0].message.filled_at)
    return JudgedFills(
        dead=[*prepared.dead, *fresh.dead],
        repeats=prepared.repeats,
        judged=judged,
        latest={**prepared.latest, **fresh.latest},
        basis={**prepared.basis, **fresh.basis},
        history={**prepared.history, **fresh.history},
    )


async def _correct_successors(
    bulk: Bulk,
    context: IngestContext,
    history: Mapping[int, list[fill_state.StoredFill]],
    new: list[tuple[tuple[Incoming, rules.StationFacts, Cylinder | None, Any], int]],
) -> list[alarms.Burst]:
    """The stored fills whose neighbour before them is now one of the batch's (a fill
    dated before them that arrived after them) checked again against it: their stored
    verdict becomes the one they would have had, had the fills arrived in time order
    (rules.retrace). A fill that passed and is now flagged gets its alarm, as it would
    have when stored; one that already had an alarm keeps that one (one alarm per
    refused or flagged fill), and an alarm raised before stays (a person closes it)."""
    merged: dict[int, list[tuple[datetime, int, Any]]] = {}
    for (item, station, cylinder, _), _fill_id in new:
        if cylinder is None or cylinder.facts.id not in history:
            continue
        at = rules.fill_state_time(item.message.filled_at, item.received_at, context.policy)
        neighbour = rules.PreviousFill(
            station.id, station.code, at, station.longitude, station.latitude
        )
        merged.setdefault(cylinder.facts.id, []).append((at, 1, (neighbour, cylinder)))
    follows: dict[int, tuple[fill_state.StoredFill, rules.PreviousFill, Any]] = {}
    for cylinder_id, ours in merged.items():
        # Stored fills sort before the batch's on a tie (they were stored first).
        line = sorted(
            [*((f.state_at, 0, f) for f in history[cylinder_id]), *ours], key=lambda e: e[:2]
        )
        for earlier, later in itertools.pairwise(line):
            if earlier[1] == 1 and later[1] == 0:
                follows[later[2].fill_id] = (later[2], *earlier[2])
    if not follows:
        return []
    rows = await _STORE.fills.verdicts_by_id(bulk, follows)
    bursts: list[alarms.Burst] = []
    updates: list[tuple[int, str, bool, bool, list[dict[str, Any]]]] = []
    for row in rows:
        stored, neighbour, cylinder = follows[row.id]
        here = rules.StationFacts(
            stored.previous.station_id,
            stored.previous.station_code,
            None,
            None,
            stored.previous.longitude,
            stored.previous.latitude,
        )
        findings = rules.check_traceability(stored.state_at, here, neighbour, context.policy)
        before = stored_verdict(row)
        amended = rules.retrace(before, findings)
        if amended is None:
            continue
        answer = amended.as_dict()
        updates.append(
            (row.id, amended.code.value, answer["allowed"], answer["suspicious"], answer["reasons"])
        )
        if not before["allowed"] or before["suspicious"]:
            continue  # its alarm was raised when it was stored: one alarm per fill
        added = [f for f in findings if rules.code_row(f.code).refuses]
        if not added:
            continue
        bursts.append(
            alarms.Burst(
                kind=f"fill_{rules.code_row(amended.code).name}",
                equipment=cylinder.facts.id,
                station=row.station,
                district_code=cylinder.district_code,
                fill=row.id,
                count=1,
                first_raised_at=stored.state_at,
                last_raised_at=stored.state_at,
                source="fill",
                detail=f"fill {row.event_id} at {row.station_code}, checked again"
                " against a fill dated before it that arrived later: "
                + "; ".join(f.text for f in added),
            )
        )
    await _STORE.fills.set_verdicts(bulk, updates)
    return bursts


async def _store_fills(
    bulk: Bulk,
    items: list[Incoming],
    context: IngestContext,
    result: BatchResult,
    judged_fills: JudgedFills | None,
) -> list[tuple[Incoming, str, str]]:
    prepared = (
        judged_fills if judged_fills is not None else await _judge_fills(bulk, items, context, {})
    )
    prepared = await _settle(bulk, context, prepared)
    dead, repeats, judged = list(prepared.dead), prepared.repeats, prepared.judged
    if not judged:
        return dead
    keys = [_fill_key(j[0]) for j in judged]
    published = [j[3].as_dict() for j in judged]
    ids = await _STORE.fills.insert_judged(
        bulk,
        [
            _fill_row(item, station, cylinder, verdict, answer)
            for (item, station, cylinder, verdict), answer in zip(judged, published, strict=True)
        ],
        # On PostgreSQL the cylinders' fill state moves in the same statement.
        then=_STORE.fill_state.advance_in_insert(context.policy.future_skew)
        if bulk.postgres
        else "",
    )
    new: list[tuple[tuple[Incoming, rules.StationFacts, Cylinder | None, Any], int]]
    new, repeated = [], []
    answers: dict[tuple[str, str], dict[str, Any]] = {}
    for j, key, answer in zip(judged, keys, published, strict=True):
        fill_id = ids.get(key)
        if fill_id is None:
            repeated.append(key)
            continue
        new.append((j, fill_id))
        answers[key] = answer
        result.verdicts.append(Verdict(key[0], key[1], answer, False, j[0].message.cylinder_code))
        result.verdict_codes[j[3].code.value] += 1
    result.stored["fill"] += len(new)
    # A repeat, of a fill stored by an earlier delivery or earlier in this batch, is
    # answered with the stored verdict again (the station may never have received it)
    # and changes nothing else.
    again = repeated + repeats
    result.duplicates["fill"] += len(again)
    cylinder_of = {_fill_key(j[0]): j[0].message.cylinder_code for j in judged}
    missing = [k for k in again if k not in answers]
    if missing:
        for key, stored in (await _STORE.fills.verdicts_by_key(bulk, missing)).items():
            answers[key], cylinder_of[key] = stored_verdict(stored), stored.cylinder_code
    result.verdicts.extend(
        Verdict(*key, answers[key], True, cylinder_of.get(key, ""))
        for key in again
        if key in answers
    )
    if not bulk.postgres:
        await _STORE.fill_state.advance(
            bulk,
            [
                fill_state.NewFill(
                    cylinder.facts.id,
                    fill_id,
                    rules.fill_state_time(item.message.filled_at, item.received_at, context.policy),
                    station.id,
                    station.code,
                )
                for (item, station, cylinder, _), fill_id in new
                if cylinder is not None
            ],
        )
    corrected = (
        await _correct_successors(bulk, context, prepared.history, new) if prepared.history else []
    )
    bursts = [
        _fill_alarm(item, station, cylinder, verdict, fill_id)
        for (item, station, cylinder, verdict), fill_id in new
        if not verdict.allowed or verdict.suspicious
    ]
    result.alarms += await alarms.record_bursts(bulk, [*bursts, *corrected])
    return dead


def _fill_row(
    item: Incoming,
    station: rules.StationFacts,
    cylinder: Cylinder | None,
    verdict: rules.FillVerdict,
    published: dict[str, Any],
) -> tuple[Any, ...]:
    """The fill's row in equipment.storage.fills.FILL_COLUMNS order."""
    m = item.message
    return (
        station.id,
        station.code,
        m.event_id,
        cylinder.facts.id if cylinder else None,
        m.cylinder_code,
        m.medium,
        m.filled_at,
        m.started_at,
        m.filled_mass_kg,
        m.final_pressure_mpa,
        m.pre_check_passed,
        m.post_check_passed,
        m.operator,
        verdict.code.value,
        published["allowed"],
        published["suspicious"],
        json.dumps(published["reasons"], ensure_ascii=False) if published["reasons"] else "[]",
        item.received_at,
    )


def stored_verdict(row: StoredVerdict) -> dict[str, Any]:
    """A stored fill's verdict in the shape ``FillVerdict.as_dict`` gives."""
    code = rules.VerdictCode(row.verdict)
    return {
        "code": code.value,
        "name": rules.code_row(code).name,
        "allowed": row.allowed,
        "suspicious": row.suspicious,
        "reasons": row.reasons,
    }


def _fill_alarm(
    item: Incoming,
    station: rules.StationFacts,
    cylinder: Cylinder | None,
    verdict: rules.FillVerdict,
    fill_id: int,
) -> alarms.Burst:
    refusing = [r for r in verdict.reasons if rules.code_row(r.code).refuses]
    primary = refusing[0].code if refusing else verdict.code
    return alarms.Burst(
        kind=f"fill_{rules.code_row(primary).name}",
        equipment=cylinder.facts.id if cylinder else None,
        station=station.id,
        district_code=cylinder.district_code if cylinder else "",
        fill=fill_id,
        count=1,
        first_raised_at=item.message.filled_at,
        last_raised_at=item.message.filled_at,
        source="fill",
        detail=f"fill {item.message.event_id} at {station.code}: "
        + "; ".join(r.text for r in verdict.reasons),
    )


# ------------------------------------------------------------------------------ lifts


async def _resolve_lifts(
    bulk: Bulk, codes: set[str | None]
) -> tuple[dict[str, IngestUnit], dict[str, str]]:
    """Lifts by the code in their topic, and why each other code is unknown."""
    wanted = sorted(c for c in codes if c)
    rows = await _STORE.lift_signals.units_by_code(bulk, wanted)
    found: dict[str, IngestUnit] = {}
    unknown: dict[str, str] = {}
    for row in rows:
        for code in (row.registration_code, row.code):
            if code in codes:
                if is_lift(row.category):
                    found[code] = row
                else:
                    unknown[code] = f"{code} is a category {row.category} unit, not a lift"
    for code in wanted:
        if code not in found and code not in unknown:
            unknown[code] = f"no lift is registered under {code!r}"
    return found, unknown


def _heartbeat(lift_id: int, item: Incoming) -> tuple[Any, ...]:
    m = item.message
    return (
        lift_id,
        m.ts,
        m.running,
        m.direction,
        m.door_zone,
        m.floor,
        m.doors_closed,
        m.occupied,
        m.service_mode,
        m.total_runs,
        m.total_hours,
        m.door_cycles,
        item.received_at,
    )


async def _store_statuses(
    bulk: Bulk, items: list[Incoming], lifts: dict[str, IngestUnit], result: BatchResult
) -> None:
    rows: dict[tuple[int, datetime], tuple[Any, ...]] = {}
    for item in items:
        lift_id = lifts[item.code].id
        key = (lift_id, item.message.ts)
        if key in rows:
            result.duplicates["status"] += 1
        else:
            rows[key] = _heartbeat(lift_id, item)
    stored = await _STORE.lift_signals.add_heartbeats(bulk, list(rows.values()))
    result.stored["status"] += stored
    result.duplicates["status"] += len(rows) - stored
    latest: dict[int, tuple[Any, ...]] = {}
    for row in rows.values():
        if row[0] not in latest or row[1] > latest[row[0]][1]:
            latest[row[0]] = row
    back = await _STORE.lift_signals.offline_among(bulk, latest)
    await _STORE.lift_signals.move_states(bulk, latest.values())
    if back:
        # A lift heard from again ends its offline alarm.
        now = max(row[-1] for row in latest.values())
        result.alarms += await alarms.close_open(
            bulk, back, lift_events.OFFLINE, at=now, note="back online"
        )


async def _store_events(
    bulk: Bulk, items: list[Incoming], lifts: dict[str, IngestUnit], result: BatchResult
) -> None:
    rows: dict[tuple[int, str], tuple[Any, ...]] = {}
    for item in items:
        m = item.message
        lift_id = lifts[item.code].id
        key = (lift_id, m.event_id)
        if key in rows:
            result.duplicates["event"] += 1
            continue
        raw = None if m.code is None else str(m.code)
        rows[key] = (lift_id, m.event_id, m.ts, m.kind, raw, m.floor, m.cleared, item.received_at)
    stored = await _STORE.lift_signals.add_events(bulk, list(rows.values()))
    new = [rows[key] for key in stored]
    result.stored["event"] += len(new)
    result.duplicates["event"] += len(rows) - len(new)
    if not new:
        return
    by_lift: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in new:
        by_lift[row[0]].append(row)
    open_kinds = await alarms.open_kinds(bulk, sorted(by_lift))
    units = {lift.id: lift for lift in lifts.values()}
    bursts: list[alarms.Burst] = []
    closes: list[tuple[int, str, datetime]] = []
    for lift_id, lift_rows in by_lift.items():
        changes = lift_events.fold_events(
            open_kinds.get(lift_id, set()),
            [lift_events.LiftEventIn(kind=r[3], ts=r[2], cleared=r[6]) for r in lift_rows],
        )
        unit = units[lift_id]
        for change in changes:
            if change.count:
                bursts.append(
                    alarms.Burst(
                        kind=change.kind,
                        equipment=lift_id,
                        count=change.count,
                        first_raised_at=change.first_raised_at or change.last_raised_at,
                        last_raised_at=change.last_raised_at,
                        source="iot",
                        maintenance_company=unit.maintenance_company,
                        district_code=unit.district_code,
                        closed_at=change.closed_at,
                        existing=change.existing,
                    )
                )
            elif change.closed_at is not None:
                closes.append((lift_id, change.kind, change.closed_at))
    result.alarms += await alarms.record_bursts(bulk, bursts)
    for lift_id, kind, at in closes:
        result.alarms += await alarms.close_open(
            bulk, [lift_id], kind, at=at, note="cleared by the device"
        )


# ------------------------------------------------------------------------ dead letters


def delivery_key(topic: str, payload: bytes) -> str:
    """The dead letter's idempotency key: what the broker delivers again after a crash
    between commit and acknowledgement is the same topic and the same bytes. (A device
    that sends the same bad bytes again is counted on the same row, as it should be.)"""
    digest = hashlib.sha256(topic.encode("utf-8", "surrogatepass"))
    digest.update(b"\x00")
    digest.update(payload)
    return digest.hexdigest()


async def _store_dead_letters(bulk: Bulk, dead: Iterable[tuple[Incoming, str, str]]) -> None:
    rows: dict[str, list[Any]] = {}
    for item, reason, detail in dead:
        key = delivery_key(item.topic, item.payload)
        if key in rows:
            rows[key][-1] += 1  # twice in one batch: one row, counted twice
            continue
        rows[key] = [
            item.received_at,
            item.topic[:1024],
            (item.code or None) and item.code[:64],
            reason,
            detail[:2000],
            bytes(item.payload[:DEAD_LETTER_KEPT_BYTES]),
            len(item.payload),
            key,
            1,
        ]
    # In DEAD_LETTER_COLUMNS order (equipment.storage.dead_letters).
    await _STORE.dead_letters.add_many(bulk, [tuple(row) for row in rows.values()])
