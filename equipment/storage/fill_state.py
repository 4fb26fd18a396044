"""A cylinder's fill state, and its fills around a moment: written once, for every reader.

The rule "a cylinder's latest fill wins" (the state moves to a fill whose state time is
at or after the state's; the later stored on a tie) was written four times, in a
PostgreSQL statement, a SQLite loop, the ingest pipeline's overlay and the judge's
overlay, and the clone and refill checks (16, 17) depend on all of them agreeing. It
lives here: :func:`wins` in Python, :data:`_NEWER` in SQL (with its batch form in
:meth:`FillStateRepository.advance_in_insert`), and everything that moves, lays over or
compares a state goes through one of them: the permit and the ingest read the state
(:data:`STATE_COLUMNS_SQL`), the ingest and the consumer's pipeline lay fills over it
(:func:`lay_over`) and move it (:meth:`FillStateRepository.advance`).

The state holds a cylinder's latest fill only. A fill judged against it is judged
against the right neighbour only when no later-dated fill is on file; when one is (a
fill that arrives late, or a fill another worker stored first),
:meth:`FillStateRepository.around` reads the cylinder's stored fills so that the ingest
can judge the fill against the fill just before it by time and correct the fill just
after it (issue 16, item 7).

A fill's state time is its own time but never past its receipt plus the clock skew
allowed (``rules.fill_state_time``): a fill dated ahead would otherwise stand as the
latest fill until that date and hide every real refill meanwhile (issue 16, item 5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from equipment.domain import fills as rules
from equipment.storage.tables import CylinderFillState

if TYPE_CHECKING:  # the connection wrapper is passed in; storage imports no service
    from equipment.storage.bulk import Bulk

__all__ = [
    "STATE_COLUMNS_SQL",
    "STATE_JOIN_SQL",
    "FillStateRepository",
    "NewFill",
    "StoredFill",
    "lay_over",
    "previous_from_row",
    "wins",
]


@dataclass(frozen=True, slots=True)
class NewFill:
    """A fill just stored, as it moves its cylinder's state."""

    cylinder_id: int
    fill_id: int
    state_at: datetime  # rules.fill_state_time of the fill
    station_id: int
    station_code: str


@dataclass(frozen=True, slots=True)
class StoredFill:
    """One stored fill of a cylinder, as the traceability checks see it."""

    fill_id: int
    cylinder_id: int
    key: tuple[str, str]  # (station_code, event_id): its idempotency key
    state_at: datetime  # its time for the checks: rules.fill_state_time
    previous: rules.PreviousFill  # the same fill as the checks' neighbour


def wins(candidate: datetime, current: datetime | None) -> bool:
    """The one rule: a fill becomes its cylinder's latest when its state time is at or
    after the latest's (on a tie the one stored later wins, as the SQL's ``>=`` does)."""
    return current is None or candidate >= current


def lay_over(
    base: MutableMapping[int, rules.PreviousFill],
    overlay: Mapping[int, rules.PreviousFill],
    only: Iterable[int] | None = None,
) -> MutableMapping[int, rules.PreviousFill]:
    """``base`` with the fills of ``overlay`` laid over it (each cylinder's latest wins),
    for the cylinders in ``only`` if given; ``base`` is changed and returned."""
    wanted = None if only is None else set(only)
    for cylinder_id, fill in overlay.items():
        if wanted is not None and cylinder_id not in wanted:
            continue
        known = base.get(cylinder_id)
        if wins(fill.filled_at, None if known is None else known.filled_at):
            base[cylinder_id] = fill
    return base


# ------------------------------------------------------------------------------- reads

# The state and its station's position, for a query over ``equipment e``.
STATE_COLUMNS_SQL = (
    "s.last_filled_at, s.last_station, s.last_station_code,"
    " so.longitude AS last_longitude, so.latitude AS last_latitude"
)
STATE_JOIN_SQL = (
    " LEFT JOIN cylinder_fill_state s ON s.equipment = e.id"
    " LEFT JOIN organisation so ON so.id = s.last_station"
)


def previous_from_row(r: Any) -> rules.PreviousFill | None:
    """The state's fill from a row holding :data:`STATE_COLUMNS_SQL`; None: never filled."""
    if r["last_filled_at"] is None:
        return None
    return rules.PreviousFill(
        station_id=r["last_station"],
        station_code=r["last_station_code"],
        filled_at=_as_datetime(r["last_filled_at"]),
        longitude=r["last_longitude"],
        latitude=r["last_latitude"],
    )


class FillStateRepository:
    """The state's reads and writes, on the connection given (the ingest's reader or its
    transaction): the ingest pays no connection per statement."""

    async def read(self, bulk: Bulk, cylinder_ids: Iterable[int]) -> dict[int, rules.PreviousFill]:
        return await _read(bulk, cylinder_ids)

    async def around(
        self, bulk: Bulk, cylinder_ids: Iterable[int], policy: rules.FillPolicy
    ) -> dict[int, list[StoredFill]]:
        return await _around(bulk, cylinder_ids, policy)

    async def advance(self, bulk: Bulk, new_fills: Iterable[NewFill]) -> None:
        await _advance(bulk, new_fills)

    def advance_in_insert(self, future_skew: timedelta) -> str:
        return _advance_in_insert(future_skew)


async def _read(bulk: Bulk, cylinder_ids: Iterable[int]) -> dict[int, rules.PreviousFill]:
    """Each cylinder's latest fill (its state), for the cylinders that have one."""
    ids = sorted(set(cylinder_ids))
    if not ids:
        return {}
    rows = await bulk.fetch(
        f"SELECT s.equipment AS id, {STATE_COLUMNS_SQL} FROM cylinder_fill_state s"
        " LEFT JOIN organisation so ON so.id = s.last_station"
        f" WHERE {bulk.any_of('s.equipment', 1)}",
        ids,
    )
    out: dict[int, rules.PreviousFill] = {}
    for r in rows:
        fill = previous_from_row(r)
        if fill is not None:
            out[r["id"]] = fill
    return out


async def _around(
    bulk: Bulk, cylinder_ids: Iterable[int], policy: rules.FillPolicy
) -> dict[int, list[StoredFill]]:
    """The cylinders' stored fills, each list in the order the checks see them (state
    time, then the order stored). All of them: a cylinder is filled a few hundred times
    in the two years fills are kept, and this is read only for the few cylinders with a
    later-dated fill on file than the fill being judged."""
    ids = sorted(set(cylinder_ids))
    if not ids:
        return {}
    rows = await bulk.fetch(
        "SELECT f.id, f.cylinder, f.station, f.station_code, f.event_id, f.filled_at,"
        " f.received_at,"
        " o.longitude, o.latitude FROM fill f LEFT JOIN organisation o ON o.id = f.station"
        f" WHERE {bulk.any_of('f.cylinder', 1)}",
        ids,
    )
    out: dict[int, list[StoredFill]] = {}
    for r in rows:
        at = rules.fill_state_time(
            _as_datetime(r["filled_at"]), _as_datetime(r["received_at"]), policy
        )
        out.setdefault(r["cylinder"], []).append(
            StoredFill(
                r["id"],
                r["cylinder"],
                (r["station_code"], r["event_id"]),
                at,
                rules.PreviousFill(
                    r["station"], r["station_code"], at, r["longitude"], r["latitude"]
                ),
            )
        )
    for fills in out.values():
        fills.sort(key=lambda f: (f.state_at, f.fill_id))
    return out


# ------------------------------------------------------------------------------ writes

_COLUMNS = (
    "equipment", "last_fill", "last_filled_at", "last_station", "last_station_code", "fill_count",
)  # fmt: skip
# wins() in SQL: the incoming fill's state time at or after the stored one's.
_NEWER = "excluded.last_filled_at >= cylinder_fill_state.last_filled_at"
_CONFLICT = (
    "ON CONFLICT (equipment) DO UPDATE SET"
    " fill_count = cylinder_fill_state.fill_count + excluded.fill_count, "
    + ", ".join(
        f"{c} = CASE WHEN {_NEWER} THEN excluded.{c} ELSE cylinder_fill_state.{c} END"
        for c in ("last_fill", "last_station", "last_station_code", "last_filled_at")
    )
)


async def _advance(bulk: Bulk, new_fills: Iterable[NewFill]) -> None:
    """Each cylinder's latest fill, station and fill count, after the fills just stored
    (given in the order they were stored)."""
    per_cylinder: dict[int, list[Any]] = {}
    for fill in new_fills:
        current = per_cylinder.get(fill.cylinder_id)
        if current is None:
            per_cylinder[fill.cylinder_id] = [
                fill.cylinder_id, fill.fill_id, fill.state_at, fill.station_id,
                fill.station_code, 1,
            ]  # fmt: skip
            continue
        current[5] += 1
        if wins(fill.state_at, current[2]):
            current[1:5] = [fill.fill_id, fill.state_at, fill.station_id, fill.station_code]
    if per_cylinder:
        await bulk.insert(
            CylinderFillState, _COLUMNS, [tuple(v) for v in per_cylinder.values()], tail=_CONFLICT
        )


def _advance_in_insert(future_skew: timedelta) -> str:
    """:meth:`FillStateRepository.advance` as part of the fills' own INSERT (PostgreSQL,
    ``Bulk.insert``'s ``then=``), over the fills it stored (``inserted``: id, cylinder, station,
    station_code, filled_at, received_at). The latest state time per cylinder wins, the
    last inserted among equal times, as ``advance`` takes them."""
    skew = f"interval '{int(future_skew.total_seconds() * 1_000_000)} microseconds'"
    return (
        f", latest AS (SELECT DISTINCT ON (cylinder) cylinder, id, station, station_code,"
        f" LEAST(filled_at, received_at + {skew}) AS state_at,"
        " count(*) OVER (PARTITION BY cylinder) AS n FROM inserted"
        " WHERE cylinder IS NOT NULL ORDER BY cylinder, state_at DESC, id DESC),"
        f" state AS (INSERT INTO cylinder_fill_state ({', '.join(_COLUMNS)})"
        f" SELECT cylinder, id, state_at, station, station_code, n FROM latest {_CONFLICT})"
    )


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
