"""Fills: the ingest's writes of judged fills and their verdicts, the fill lists and a
cylinder's trace, and the agreements (joint operation, entrustment) a station fills
another owner's cylinders under. Every statement of equipment.services.fills and of the
fill half of equipment.services.ingest.

The ingest's statements run on the connection it is given (its transaction's): one
statement per table per batch, as ``Bulk`` writes them on either engine.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import msgspec

from equipment.storage.bulk import Bulk
from equipment.storage.equipment import Clause
from equipment.storage.tables import CylinderEntrustment, CylinderFillState, Fill, JointFilling

# (station_code, event_id): a fill's idempotency key.
FillKey = tuple[str, str]


class FillRow(msgspec.Struct, frozen=True):
    """A stored fill, as the lists and the trace show it."""

    id: int
    station: int
    station_code: str
    event_id: str
    cylinder: int | None
    cylinder_code: str
    medium: str
    filled_at: datetime
    started_at: datetime | None
    filled_mass_kg: float | None
    final_pressure_mpa: float | None
    pre_check_passed: bool
    post_check_passed: bool
    operator: str
    verdict: str
    allowed: bool
    suspicious: bool
    reasons: list[dict[str, Any]]
    received_at: datetime


class FillStateRow(msgspec.Struct, frozen=True):
    """A cylinder's fill count and latest fill (equipment.storage.fill_state moves it)."""

    equipment: int
    last_fill: int
    last_filled_at: datetime
    last_station: int
    last_station_code: str
    fill_count: int


class StoredVerdict(msgspec.Struct, frozen=True):
    """A stored fill's verdict and what the ingest needs to tell or check it again."""

    id: int
    station: int
    station_code: str
    event_id: str
    cylinder_code: str
    verdict: str
    allowed: bool
    suspicious: bool
    reasons: list[dict[str, Any]]


class JointFillingRow(msgspec.Struct, frozen=True):
    """A joint-operation (联营) agreement: ``filling_station`` fills ``owner_station``'s."""

    id: int
    owner_station: int
    filling_station: int
    valid_from: date
    valid_until: date
    actor: str
    created_at: datetime


class EntrustmentRow(msgspec.Struct, frozen=True):
    """An entrustment (托管): ``owner`` entrusts its cylinders to ``filling_station``."""

    id: int
    owner: int
    filling_station: int
    valid_from: date
    valid_until: date
    actor: str
    created_at: datetime


class FillFilter(msgspec.Struct, frozen=True):
    station_id: int | None = None
    cylinder_code: str | None = None
    allowed: bool | None = None
    verdict: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    flagged: bool = False  # refused, or allowed but suspicious


# The columns of a judged fill as the ingest inserts it (a tuple per fill, in this order:
# a Struct per row would cost the hot path its conversion back to a tuple).
FILL_COLUMNS = (
    "station", "station_code", "event_id", "cylinder", "cylinder_code", "medium", "filled_at",
    "started_at", "filled_mass_kg", "final_pressure_mpa", "pre_check_passed",
    "post_check_passed", "operator", "verdict", "allowed", "suspicious", "reasons",
    "received_at",
)  # fmt: skip

# pg_advisory_xact_lock(key1, key2): key1 names what sereg locks, key2 the cylinder.
_CYLINDER_LOCK = 0x5346  # "SF": sereg fills
_LOCK_CYLINDERS = f"SELECT pg_advisory_xact_lock({_CYLINDER_LOCK}, k) FROM unnest($1::int[]) AS k"
_VERDICT_COLUMNS = (
    "id, station, station_code, event_id, cylinder_code, verdict, allowed, suspicious, reasons"
)
_DECODE_REASONS = msgspec.json.Decoder(list[dict[str, Any]])


def _verdict(r: Any) -> StoredVerdict:
    reasons = r["reasons"]
    return StoredVerdict(
        r["id"],
        r["station"],
        r["station_code"],
        r["event_id"],
        r["cylinder_code"],
        r["verdict"],
        bool(r["allowed"]),
        bool(r["suspicious"]),
        _DECODE_REASONS.decode(reasons) if isinstance(reasons, str | bytes) else reasons or [],
    )


class FillRepository:
    # ---------------------------------------------------------------- the ingest's writes

    async def lock_cylinders(self, bulk: Bulk, cylinder_ids: Iterable[int]) -> None:
        """Hold each cylinder until the transaction ends (PostgreSQL; SQLite has one
        writer at a time): transaction-scoped advisory locks, taken in key order so two
        workers cannot deadlock, and held for a cylinder with no state row yet too. A key
        per cylinder; ids past 2^31 share a key with another, which only serialises two
        cylinders that need not be."""
        if bulk.postgres:
            await bulk.execute(_LOCK_CYLINDERS, sorted({i % 2**31 for i in cylinder_ids}))

    async def insert_judged(
        self, bulk: Bulk, rows: Sequence[Sequence[Any]], *, then: str = ""
    ) -> dict[FillKey, int]:
        """Store the judged fills (tuples in FILL_COLUMNS order); a fill already on file
        (its key) is left as it is. The ids of those stored now, by key. ``then``
        (PostgreSQL) moves the fill state in the same statement
        (FillStateRepository.advance_in_insert)."""
        extra = (
            {
                "returning": "id, station_code, event_id, cylinder, station, filled_at,"
                " received_at",
                "then": then,
            }
            if then
            else {"returning": "id, station_code, event_id"}
        )
        stored = await bulk.insert(
            Fill,
            FILL_COLUMNS,
            rows,
            tail="ON CONFLICT (station_code, event_id) DO NOTHING",
            **extra,
        )
        return {(r["station_code"], r["event_id"]): r["id"] for r in stored}

    async def verdicts_by_key(
        self, bulk: Bulk, keys: Iterable[FillKey]
    ) -> dict[FillKey, StoredVerdict]:
        """The stored verdicts of fills already on file."""
        wanted = set(keys)
        rows = await bulk.fetch(
            f"SELECT {_VERDICT_COLUMNS} FROM fill"
            f" WHERE {bulk.any_of('station_code', 1)} AND {bulk.any_of('event_id', 2)}",
            sorted({k[0] for k in wanted}),
            sorted({k[1] for k in wanted}),
        )
        return {
            (r["station_code"], r["event_id"]): _verdict(r)
            for r in rows
            if (r["station_code"], r["event_id"]) in wanted
        }

    async def verdicts_by_id(self, bulk: Bulk, ids: Iterable[int]) -> list[StoredVerdict]:
        rows = await bulk.fetch(
            f"SELECT {_VERDICT_COLUMNS} FROM fill WHERE {bulk.any_of('id', 1)}", sorted(set(ids))
        )
        return [_verdict(r) for r in rows]

    async def set_verdicts(
        self, bulk: Bulk, changes: Iterable[tuple[int, str, bool, bool, list[dict[str, Any]]]]
    ) -> None:
        """(fill id, verdict code, allowed, suspicious, reasons) for fills checked again."""
        await bulk.executemany(
            "UPDATE fill SET verdict = $2, allowed = $3, suspicious = $4, reasons = $5"
            " WHERE id = $1",
            [
                (fill_id, code, allowed, suspicious, json.dumps(reasons, ensure_ascii=False))
                for fill_id, code, allowed, suspicious, reasons in changes
            ],
        )

    # ------------------------------------------------------------------ lists and trace

    async def newest_first(
        self, f: FillFilter, *, station: int | None, before_id: int | None, limit: int
    ) -> list[FillRow]:
        """Fills newest first (keyset on id, which grows with arrival); ``station``: that
        station's only."""
        clauses: list[Clause] = []
        if station is not None:
            clauses.append(Fill.station == station)
        if f.station_id is not None:
            clauses.append(Fill.station == f.station_id)
        if f.cylinder_code:
            clauses.append(Fill.cylinder_code == f.cylinder_code)
        if f.allowed is not None:
            clauses.append(Fill.allowed == f.allowed)
        if f.verdict:
            clauses.append(Fill.verdict == f.verdict)
        if f.flagged:
            clauses.append((Fill.allowed == False) | (Fill.suspicious == True))  # noqa: E712
        if f.since:
            clauses.append(Fill.filled_at >= f.since)
        if f.until:
            clauses.append(Fill.filled_at < f.until)
        if before_id is not None:
            clauses.append(Fill.id < before_id)
        query = Fill.select().order_by(Fill.id, ascending=False).limit(limit)
        if clauses:
            query = query.where(*clauses)
        return [_fill(r) for r in await query.output(load_json=True)]

    async def latest_of(self, cylinder_id: int, limit: int) -> list[FillRow]:
        """A cylinder's fills, the latest (by their time) first."""
        rows = await (
            Fill.select()
            .where(Fill.cylinder == cylinder_id)
            .order_by(Fill.filled_at, ascending=False)
            .limit(limit)
            .output(load_json=True)
        )
        return [_fill(r) for r in rows]

    async def state_of(self, cylinder_id: int) -> FillStateRow | None:
        row = await (
            CylinderFillState.select(
                CylinderFillState.equipment,
                CylinderFillState.last_fill,
                CylinderFillState.last_filled_at,
                CylinderFillState.last_station,
                CylinderFillState.last_station_code,
                CylinderFillState.fill_count,
            )
            .where(CylinderFillState.equipment == cylinder_id)
            .first()
        )
        return None if row is None else msgspec.convert(row, FillStateRow, strict=False)

    # ------------------------------------------------------------------------ agreements

    async def add_joint_filling(
        self,
        *,
        owner_station: int,
        filling_station: int,
        valid_from: date,
        valid_until: date,
        actor: str,
        created_at: datetime,
    ) -> JointFillingRow:
        [row] = await JointFilling.insert(
            JointFilling(
                owner_station=owner_station,
                filling_station=filling_station,
                valid_from=valid_from,
                valid_until=valid_until,
                actor=actor,
                created_at=created_at,
            )
        ).returning(*JointFilling.all_columns())
        return msgspec.convert(row, JointFillingRow, strict=False)

    async def joint_fillings(self, *, station: int | None) -> list[JointFillingRow]:
        """By id; ``station``: those it owns or fills under."""
        query = JointFilling.select().order_by(JointFilling.id)
        if station is not None:
            query = query.where(
                (JointFilling.owner_station == station) | (JointFilling.filling_station == station)
            )
        return [msgspec.convert(r, JointFillingRow, strict=False) for r in await query]

    async def add_entrustment(
        self,
        *,
        owner: int,
        filling_station: int,
        valid_from: date,
        valid_until: date,
        actor: str,
        created_at: datetime,
    ) -> EntrustmentRow:
        [row] = await CylinderEntrustment.insert(
            CylinderEntrustment(
                owner=owner,
                filling_station=filling_station,
                valid_from=valid_from,
                valid_until=valid_until,
                actor=actor,
                created_at=created_at,
            )
        ).returning(*CylinderEntrustment.all_columns())
        return msgspec.convert(row, EntrustmentRow, strict=False)

    async def entrustments(self, *, filling_station: int | None) -> list[EntrustmentRow]:
        """By id; ``filling_station``: those it fills under."""
        query = CylinderEntrustment.select().order_by(CylinderEntrustment.id)
        if filling_station is not None:
            query = query.where(CylinderEntrustment.filling_station == filling_station)
        return [msgspec.convert(r, EntrustmentRow, strict=False) for r in await query]


def _fill(r: dict[str, Any]) -> FillRow:
    return msgspec.convert(r, FillRow, strict=False)
