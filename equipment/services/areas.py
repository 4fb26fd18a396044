"""Areas (districts, communities, old residential areas): GeoJSON import and export, reading
them, the units in each, and the per-area summary inspectors rank old residential areas by.

An import is one transaction: areas are upserted by key (the feature's id, else its code,
else a digest of its content, so re-importing the same keyless feature changes nothing),
then, if any area was created or changed, every unit is reassigned
(``membership.reassign_in_transaction``). Geometry arrives in WGS-84, GCJ-02 or BD-09
and is stored as RFC 7946 GeoJSON in WGS-84 with its bounding box.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import multiprocessing
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import msgspec

from equipment.domain.access import Permission, Principal
from equipment.domain.errors import InvalidValue, NotFound
from equipment.domain.lifecycle import Status
from equipment.domain.rules.dates import add_months
from equipment.services import audit, clock, membership, policies, register
from equipment.services.pagination import SortKey, decode_cursor, encode_cursor
from equipment.services.register import EquipmentFilter, Page
from equipment.storage import area_changes, db, reads, unit_of_work
from equipment.storage.areas import (
    GRADE_COUNTS,
    PROPERTY_COLUMNS,
    STORED_COLUMNS,
    SUMMARY_COUNTS,
    AreaRow,
    StoredArea,
    SummaryStatement,
)
from geo.areas import (
    AREA_KINDS,
    AreaImportError,
    ParsedAreas,
    Rejection,
    geometry_to_geojson,
    parse_feature_collection,
)
from geo.areas import Area as GeoArea
from geo.coords import CoordinateError
from geo.crs import check_crs

ID_SORT = SortKey("id", descending=False, unique=True)
OLD_LIFT_YEARS = 15
ALARM_WINDOW_DAYS = 90
SUMMARY_SORTS = frozenset({*SUMMARY_COUNTS, *GRADE_COUNTS, "id", "risk_rank"})
CLOSED = (Status.SCRAPPED.value, Status.CANCELLED.value)
# A summary aggregates every membership of the areas asked for: 0.8 s on a million-unit
# register. So each question's per-area rows are kept (per process) and, after a change,
# only the areas the change log names (``area_change``, written by triggers) are
# aggregated again; the sort and the limit are applied to the kept rows. All of them are
# recomputed once a day (the date-bound counts move), when the log was pruned past the
# kept mark, or when more than SUMMARY_MAX_DIRTY areas changed at once (a reassignment).
SUMMARY_MAX_DIRTY = 500
SUMMARY_CACHE_SIZE = 256


@dataclass(frozen=True)
class ImportReport:
    received: int
    created: int
    updated: int
    unchanged: int
    rejected: list[Rejection]  # feature index (0-based) and reason
    repaired: list[int]  # feature indexes whose invalid rings were repaired
    reassignment: membership.Reassignment | None  # None: no area changed


def _crs(crs: str) -> str:
    try:
        return check_crs(crs)
    except CoordinateError as exc:
        raise InvalidValue(exc.reason, field="crs") from exc


def _stored_values(area: GeoArea) -> dict[str, Any]:
    geometry = json.dumps(geometry_to_geojson(area.geometry), separators=(",", ":"))
    min_lon, min_lat, max_lon, max_lat = area.geometry.bounds
    key = area.key
    if key is None:
        content = "\0".join((area.kind, area.name, geometry))
        key = "auto-" + hashlib.sha256(content.encode()).hexdigest()[:32]
    return {
        "key": key,
        **{c: getattr(area, c) for c in PROPERTY_COLUMNS},
        "geometry": geometry,
        "min_lon": min_lon,
        "min_lat": min_lat,
        "max_lon": max_lon,
        "max_lat": max_lat,
    }


def _audited(values: dict[str, Any]) -> dict[str, Any]:
    """What the audit trail keeps of an area: everything but the (large) geometry."""
    out = {k: v for k, v in values.items() if k != "geometry"}
    out["geometry_sha256"] = hashlib.sha256(values["geometry"].encode()).hexdigest()
    return out


async def import_feature_collection(
    principal: Principal,
    document: object,
    *,
    crs: str,
    now: datetime,
    progress: membership.ProgressFactory | None = None,
) -> ImportReport:
    """Import a GeoJSON FeatureCollection whose coordinates are in ``crs``."""
    principal.require(Permission.AREA_MANAGE)
    crs = _crs(crs)
    try:
        # Seconds of shapely and numpy work for a large file (2.6 s for 400,000 vertices on
        # a loaded 2-core machine): in a worker thread, which gives the GIL back between
        # features, so the event loop keeps serving the other requests meanwhile.
        parsed = await asyncio.to_thread(parse_feature_collection, document, crs)
    except AreaImportError as exc:
        raise InvalidValue(exc.reason, field="body") from exc
    received = len(document["features"])
    return await _import_parsed(principal, parsed, received, now, progress)


# An area import's body is decoded, parsed and validated in a worker process: msgspec
# holds the GIL while it decodes (about 0.5 s for 16 MiB), so a thread would still stall
# every other request (issue 16, item 9). What comes back is picklable: the parsed areas
# (shapely geometries pickle as WKB) and their rejections, or the reason the whole
# document is refused.
TOO_DEEP = "the JSON body is nested too deeply; no request of this API nests more than a few levels"


@dataclass(frozen=True, slots=True)
class ParsedBody:
    parsed: ParsedAreas | None
    received: int = 0
    refused: str = ""  # why the whole document is refused (then parsed is None)


def parse_body(body: bytes, crs: str) -> ParsedBody:
    """Decode, parse and validate an import's body (run in the worker process)."""
    try:
        document = msgspec.json.decode(body)
    except RecursionError:
        return ParsedBody(None, refused=TOO_DEEP)
    except msgspec.DecodeError as exc:
        return ParsedBody(None, refused=f"the body is not JSON: {exc}")
    try:
        parsed = parse_feature_collection(document, crs)
    except AreaImportError as exc:
        return ParsedBody(None, refused=exc.reason)
    return ParsedBody(parsed, received=len(document["features"]))


# The function the worker process runs: a module-level name, so that a test can wrap it
# (the process pickles it by name).
parse_worker: Callable[[bytes, str], ParsedBody] = parse_body

_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _parser_pool() -> ProcessPoolExecutor:
    """One worker process, started on the first import: imports are rare (an
    administrator's), so one process bounds their memory and CPU as the body cap does.
    Spawned, not forked: a fork of a process running an event loop and threads can
    inherit a lock held by another thread."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn")
            )
        return _pool


async def import_geojson(
    principal: Principal,
    body: bytes,
    *,
    crs: str,
    now: datetime,
    progress: membership.ProgressFactory | None = None,
) -> ImportReport:
    """Import a GeoJSON FeatureCollection sent as bytes (the API's route): decoded and
    parsed in a worker process, so the event loop serves other requests meanwhile."""
    principal.require(Permission.AREA_MANAGE)
    crs = _crs(crs)
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(_parser_pool(), parse_worker, body, crs)
    if result.parsed is None:
        raise InvalidValue(result.refused, field="body")
    return await _import_parsed(principal, result.parsed, result.received, now, progress)


async def _import_parsed(
    principal: Principal,
    parsed: ParsedAreas,
    received: int,
    now: datetime,
    progress: membership.ProgressFactory | None,
) -> ImportReport:
    report = await import_areas(principal, parsed, now=now, progress=progress, received=received)
    if received and not (report.created or report.updated or report.unchanged):
        first = report.rejected[0]
        raise InvalidValue(
            f"none of the {received} features could be imported; feature {first.index}: "
            f"{first.reason}",
            field=f"features[{first.index}]",
        )
    return report


async def import_areas(
    principal: Principal,
    parsed: ParsedAreas,
    *,
    now: datetime,
    progress: membership.ProgressFactory | None = None,
    received: int | None = None,
) -> ImportReport:
    """Upsert parsed areas by key and, if any changed, reassign every unit."""
    principal.require(Permission.AREA_MANAGE)
    rejected = list(parsed.rejections)
    incoming: list[dict[str, Any]] = []
    first_index: dict[str, int | None] = {}
    for area in parsed.areas:
        values = _stored_values(area)
        if values["key"] in first_index:
            rejected.append(
                Rejection(
                    area.feature_index or 0,
                    f"same content as feature {first_index[values['key']]}",
                )
            )
            continue
        first_index[values["key"]] = area.feature_index
        incoming.append(values)
    rejected.sort(key=lambda r: r.index)
    created: list[dict[str, Any]] = []
    updated: list[tuple[StoredArea, dict[str, Any]]] = []
    async with unit_of_work() as uow:
        stored = await uow.areas.stored_by_key([v["key"] for v in incoming])
        for values in incoming:
            old = stored.get(values["key"])
            if old is None:
                created.append(values)
            elif _changed(old, values):
                updated.append((old, values))
        entries = []
        ids = await uow.areas.insert_many(created, now=now)
        for area_id, values in zip(ids, created, strict=True):
            entries.append(
                {
                    "entity": "area",
                    "entity_id": area_id,
                    "action": "create",
                    "after": _audited(values),
                }
            )
        for old, values in updated:
            await uow.areas.replace(old.id, values, version=old.version + 1, now=now)
            before, after = audit.diff(_audited(msgspec.structs.asdict(old)), _audited(values))
            entries.append(
                {
                    "entity": "area",
                    "entity_id": old.id,
                    "action": "update",
                    "before": before,
                    "after": after,
                }
            )
        await audit.record_many(principal, entries, at=now)
        reassignment = None
        if created or updated:
            reassignment = await membership.reassign_in_transaction(progress=progress)
    return ImportReport(
        received=received if received is not None else len(parsed.areas) + len(rejected),
        created=len(created),
        updated=len(updated),
        unchanged=len(incoming) - len(created) - len(updated),
        rejected=rejected,
        repaired=sorted(a.feature_index for a in parsed.repaired if a.feature_index is not None),
        reassignment=reassignment,
    )


def _changed(old: StoredArea, values: Mapping[str, Any]) -> bool:
    return any(getattr(old, c) != values[c] for c in STORED_COLUMNS)


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in AREA_KINDS:
        raise InvalidValue(f"kind must be one of {', '.join(AREA_KINDS)}", field="kind")


async def list_areas(
    principal: Principal,
    *,
    kind: str | None,
    cursor: str | None,
    limit: int,
    with_geometry: bool = False,
) -> Page[AreaRow]:
    """Areas by id, a keyset page; the geometry (GeoJSON text) only when asked for."""
    principal.require(Permission.EQUIPMENT_READ)
    _check_kind(kind)
    after_id = None
    if cursor:
        [after_id] = decode_cursor(cursor, ID_SORT)
    rows = await reads().areas.page(
        kind=kind, after_id=after_id, limit=limit + 1, with_geometry=with_geometry
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(ID_SORT, {"id": rows[-1].id}) if more and rows else None)


async def district_outline(principal: Principal, district_code: str) -> Any | None:
    """A district's outline (GeoJSON geometry) from the imported areas, or None: one
    indexed read, for a unit page's offline map base."""
    principal.require(Permission.EQUIPMENT_READ)
    geometry = await reads().areas.outline("district", district_code)
    return json.loads(geometry) if isinstance(geometry, str) else geometry


async def get_area(principal: Principal, area_id: int) -> AreaRow:
    """One area with its geometry (GeoJSON text)."""
    principal.require(Permission.EQUIPMENT_READ)
    row = await reads().areas.get(area_id)
    if row is None:
        raise NotFound(f"area {area_id} not found")
    return row


@dataclass(frozen=True)
class AreaUnitFilter:
    """The register's filters plus the conditions inspectors look for in an area."""

    category: str | None = None
    category_prefix: str | None = None
    status: Status | None = None
    min_age_years: int | None = None  # commissioned at least this many years ago
    overdue_inspection: bool = False  # next_inspection_due before today
    overdue_maintenance: bool = False  # a maintenance due date before today
    open_alarms: bool = False  # an open alarm


async def area_units(
    principal: Principal,
    area_id: int,
    f: AreaUnitFilter,
    *,
    today: date,
    cursor: str | None,
    limit: int,
) -> Page:
    """The caller's units in or on the area, by id, a keyset page."""
    await get_area(principal, area_id)
    return await register.list_equipment(
        principal,
        EquipmentFilter(
            category=f.category,
            category_prefix=f.category_prefix,
            status=f.status,
            area_id=area_id,
            commissioned_on_or_before=(
                add_months(today, -12 * f.min_age_years) if f.min_age_years is not None else None
            ),
            inspection_due_before=today if f.overdue_inspection else None,
            maintenance_due_before=today if f.overdue_maintenance else None,
            open_alarm=f.open_alarms,
        ),
        ID_SORT,
        cursor,
        limit,
    )


def _summary_sort(sort: str) -> tuple[str, bool]:
    descending = sort.startswith("-")
    column = sort.removeprefix("-")
    column = "risk_rank" if column == "grade" else column
    if column not in SUMMARY_SORTS:
        choices = ", ".join(sorted(SUMMARY_SORTS))
        raise InvalidValue(
            f"cannot sort by {sort!r}; choose one of {choices} ('-' descends)", field="sort"
        )
    return column, descending


@dataclass
class _Summary:
    engine: object  # the database it came from (tests switch databases)
    day: date
    last_id: int  # the change log's mark (AreaChangeRepository.since)
    horizon: str  # the change log's snapshot (AreaChangeRepository.since)
    rows: dict[int, dict[str, Any]]  # by area id


_summaries: OrderedDict[tuple[Any, ...], _Summary] = OrderedDict()
# One summary refreshed at a time per event loop: concurrent callers of the same question
# wait for the first one's answer instead of each running the statement.
_computing: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def summary(
    principal: Principal,
    *,
    kind: str | None,
    category_prefix: str | None,
    sort: str,
    limit: int,
    today: date,
    now: datetime,
    grade: int | None = None,
) -> list[dict[str, Any]]:
    """Per area, over the caller's units in it that are not scrapped or cancelled: units,
    lifts, lifts commissioned more than 15 years ago, units overdue for inspection, units
    overdue for maintenance, open alarms, and alarms raised since the start of the day 90
    days ago.

    Two GROUP BYs over area_member joined to equipment (and due_date, alarm) in one
    statement; ``category_prefix`` narrows every count (``3``: lifts only). The per-area
    rows are kept and refreshed area by area from the change log (see SUMMARY_MAX_DIRTY).
    """
    del now  # the alarm window is day-bound (see summary_query), so the kept rows hold
    principal.require(Permission.EQUIPMENT_READ)
    _check_kind(kind)
    column, descending = _summary_sort(sort)
    scope = principal.equipment_scope()
    key = (scope.kind, scope.org_id, scope.jurisdiction, kind, category_prefix)
    lock = _computing.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock:
        table = await _refreshed(principal, key, kind, category_prefix, today)
    rows = sorted(table.rows.values(), key=lambda r: r["id"])
    if grade is not None:
        rows = [r for r in rows if r["risk_rank"] == grade]
    if column != "id" or descending:
        rows.sort(key=lambda r: r[column], reverse=descending)  # stable: ties stay by id
    return rows[:limit]


async def _refreshed(
    principal: Principal,
    key: tuple[Any, ...],
    kind: str | None,
    category_prefix: str | None,
    today: date,
) -> _Summary:
    """The kept rows of ``key``, brought up to date with the change log."""
    changes = reads().area_changes
    table = _summaries.get(key)
    if table is not None and table.engine is db.engine() and table.day == today:
        changed = await changes.since(table.last_id, table.horizon)
        if not changed.gap and len(changed.areas) <= SUMMARY_MAX_DIRTY:
            if changed.areas:
                fresh = await _summary_rows(
                    principal, kind, category_prefix, today, areas=sorted(changed.areas)
                )
                for area_id in changed.areas:
                    table.rows.pop(area_id, None)
                table.rows.update((r["id"], r) for r in fresh)
            table.last_id, table.horizon = changed.last_id, changed.horizon
            _summaries.move_to_end(key)
            return table
    # The mark is taken before the rows are read: a change committed meanwhile is read
    # again next time, never lost.
    mark = await changes.mark()
    rows = await _summary_rows(principal, kind, category_prefix, today, areas=None)
    table = _Summary(db.engine(), today, mark.last_id, mark.horizon, {r["id"]: r for r in rows})
    _summaries[key] = table
    _summaries.move_to_end(key)
    while len(_summaries) > SUMMARY_CACHE_SIZE:
        _summaries.popitem(last=False)
    if mark.last_id > 2 * area_changes.KEEP:
        await changes.prune()
    return table


async def _summary_rows(
    principal: Principal,
    kind: str | None,
    category_prefix: str | None,
    today: date,
    *,
    areas: list[int] | None,
) -> list[dict[str, Any]]:
    query = summary_query(
        principal,
        kind=kind,
        category_prefix=category_prefix,
        sort="id",
        limit=None,
        today=today,
        areas=areas,
    )
    return [
        {
            **r,
            **{c: int(r[c]) for c in (*SUMMARY_COUNTS, *GRADE_COUNTS)},
            "risk_rank": int(r["risk_rank"]),
        }
        for r in await query
    ]


def summary_query(
    principal: Principal,
    *,
    kind: str | None,
    category_prefix: str | None,
    sort: str,
    limit: int | None,
    today: date,
    areas: list[int] | None = None,
    grade: int | None = None,
) -> SummaryStatement:
    """The one statement ``summary`` runs, for every area or for ``areas`` (the benchmark
    runs it bare, as its floor). Its counts are fixed for the day: the alarms of "the
    last 90 days" are those raised since the start of the day 90 days ago (China time).

    The area's risk grade is the worst grade held by at least the risk policy's share of
    its units (equipment.domain.risk.grade_of_group), computed here so it sorts and
    filters in the statement; ``grade`` keeps areas of that rank only."""
    _check_kind(kind)
    column, descending = _summary_sort(sort)
    return reads().areas.summary_statement(
        principal.equipment_scope(),
        kind=kind,
        category_prefix=category_prefix,
        column=column,
        descending=descending,
        limit=limit,
        today=today,
        old_lift_since=add_months(today, -12 * OLD_LIFT_YEARS),
        alarms_since=datetime.combine(
            today - timedelta(days=ALARM_WINDOW_DAYS), datetime.min.time(), tzinfo=clock.CHINA
        ),
        closed=CLOSED,
        share=float(policies.current().risk.group_share),
        areas=areas,
        grade=grade,
    )
