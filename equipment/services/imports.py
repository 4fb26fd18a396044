"""The register import: parse → stage → check → commit, with a data-quality report.

The contract (the inspection bodies' bulk upload and the CLI and API call the same):

1. **parse**: ``import_files.open_table(path, encoding=...)`` streams a CSV (UTF-8 or
   GBK/GB18030, detected or named) or XLSX file as (row number, cells); an uploader
   holding rows already (a JSON array) passes its own iterator of (row number, cells)
   with the headers to ``stage_rows``. Row numbers are the spreadsheet's (header = 1).
2. **stage + check** (the dry run): ``stage_register(...)`` / ``stage_rows(...)`` makes an
   ``import_job``, runs every row rule of ``equipment.domain.imports.checks`` on chunks
   of rows, writes each row (``import_row``: import id + row number, accepted or not, the
   normalised values and the unit's schedule) and its findings (``import_finding``),
   then the cross-row rules in SQL (duplicates in the file, units already registered).
   Nothing in the register changes. It answers an ``ImportSummary`` (counts per rule);
   ``report_sheets`` / ``write_report_xlsx`` give every finding by rule and row.
3. **commit**: ``commit_register(principal, job_id, ...)`` writes only the accepted rows,
   in batches, each in one transaction with its marker (``import_batch``): a batch is
   committed exactly when its marker is, so a rerun after a crash (SIGKILL, a cut
   connection) resumes after the last marker, and duplicates are impossible (the
   register's code is unique, and a unit already there is compared and updated only if
   it changed). The same file again changes nothing; a corrected one updates what
   changed and the batch's audit entry says which fields of which units.

Progress: ``import_job`` counts committed rows and batches (``GET /api/v1/imports/{id}``);
the CLI passes a progress bar. Only the registration office (admin) imports the register.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import multiprocessing
import os
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from operator import attrgetter
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO

import msgspec
import numpy as np

from equipment.domain import rules as inspection_rules
from equipment.domain.access import Permission, Principal
from equipment.domain.errors import Conflict, DomainError, InvalidValue, NotFound
from equipment.domain.imports import checks
from equipment.domain.imports.checks import RULES, City, Organisations, normalise_name
from equipment.domain.imports.profile import MappingProfile, ProfileProblem
from equipment.domain.lifecycle import registration_is_late
from equipment.domain.rules.model import STATUTORY_KINDS
from equipment.services import audit, schedules
from equipment.services.import_files import file_hash, open_table
from equipment.services.membership import stored_area
from equipment.storage import reads, unit_of_work
from equipment.storage.imports import (
    COMPARED,
    NEW_UNIT_COLUMNS,
    ImportJobRow,
    ImportRepository,
    RegisteredUnit,
)
from geo.assign import assign_points

__all__ = [
    "ImportSummary",
    "commit_register",
    "create_job",
    "job_summary",
    "report_sheets",
    "stage_register",
    "stage_rows",
    "write_report_xlsx",
]

STAGE_CHUNK = 2_000
COMMIT_BATCH = 2_000
_DATE_KEYS = (
    "manufacture_date",
    "commissioning_date",
    "registered_on",
    "last_inspected_on",
    "next_due_stated",
    "computed_due",
)
_repository = ImportRepository()
_ENCODE = msgspec.json.Encoder()

ProgressFn = Callable[[int, int], None]  # (rows done, rows in all)


@dataclass
class ImportSummary:
    id: int
    kind: str
    status: str
    file_name: str
    file_hash: str
    encoding: str
    total_rows: int
    accepted_rows: int
    rejected_rows: int
    counts: dict[str, int]
    committed_rows: int = 0
    batches_done: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    error: str = ""
    rules: dict[str, str] = field(default_factory=lambda: dict(RULES))


def _summary(job: ImportJobRow) -> ImportSummary:
    return ImportSummary(
        id=job["id"],
        kind=job["kind"],
        status=job["status"],
        file_name=job["file_name"],
        file_hash=job["file_hash"],
        encoding=job["encoding"],
        total_rows=job["total_rows"],
        accepted_rows=job["accepted_rows"],
        rejected_rows=job["total_rows"] - job["accepted_rows"],
        counts=json.loads(job["counts"] or "{}"),
        committed_rows=job["committed_rows"],
        batches_done=job["batches_done"],
        inserted=job["inserted"],
        updated=job["updated"],
        unchanged=job["unchanged"],
        error=job["error"],
    )


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


async def organisations() -> Organisations:
    """The register's possible user units, by credit code and by name (a name two
    organisations share matches neither: it would be a guess)."""
    keys = await _repository.organisation_keys(["user_unit", "filling_station"])
    by_name: dict[str, int] = {}
    shared: set[str] = set()
    for key in keys:
        name = normalise_name(key["name"])
        if name in by_name:
            shared.add(name)
        by_name[name] = key["id"]
    for name in shared:
        del by_name[name]
    return Organisations({k["credit_code"]: k["id"] for k in keys}, by_name)


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items()}


def _payload(row: checks.CheckedRow) -> str:
    # msgspec writes a date as ISO 8601 (YYYY-MM-DD), as date.isoformat does.
    values = row.values
    if row.schedule is not None:
        values["due"] = [
            (
                d.kind,
                d.due_on,
                d.rule_key,
                d.source[:200],
                d.base_date,
                d.explanation,
                d.from_report,
            )
            for d in row.schedule.due
        ]
        values["not_fit_for_use"] = row.schedule.not_fit_for_use
        values["needs_before_resume"] = row.schedule.needs_inspection_before_resume
    return _ENCODE.encode(values).decode()


def _values(payload: str) -> dict[str, Any]:
    values: dict[str, Any] = msgspec.json.decode(payload)
    for key in _DATE_KEYS:
        if values.get(key):
            values[key] = date.fromisoformat(values[key])
    return values


async def create_job(
    principal: Principal, *, kind: str, file_name: str, digest: str, now: datetime, today: date
) -> int:
    """An import waiting for its rows (the API answers its id before the dry run ends)."""
    principal.require(Permission.EQUIPMENT_REGISTER)
    async with unit_of_work():
        return await _repository.create_job(
            {
                "kind": kind,
                "file_name": file_name[:200],
                "file_hash": digest,
                "profile": "{}",
                "status": "queued",
                "counts": "{}",
                "actor": principal.actor,
                "staged_on": today,
                "created_at": now,
                "updated_at": now,
            }
        )


async def fail_job(job_id: int, reason: str, now: datetime) -> None:
    async with unit_of_work():
        await _repository.update_job(
            job_id, {"status": "failed", "error": reason[:2000], "updated_at": now}
        )


async def stage_register(
    principal: Principal,
    path: Path,
    *,
    profile: MappingProfile,
    today: date,
    now: datetime,
    encoding: str | None = None,
    file_name: str | None = None,
    progress: ProgressFn | None = None,
    job_id: int | None = None,
    workers: int = 0,
) -> ImportSummary:
    """The dry run of a file: parse, stage, check; the register is not touched.
    ``workers``: processes checking rows (0: one per core)."""
    principal.require(Permission.EQUIPMENT_REGISTER)
    digest = await asyncio.to_thread(file_hash, path)
    if job_id is None:
        job_id = await create_job(
            principal,
            kind="register",
            file_name=file_name or path.name,
            digest=digest,
            now=now,
            today=today,
        )
    try:
        with open_table(path, encoding=encoding or profile.encoding) as table:
            return await stage_rows(
                principal,
                job_id,
                table.headers,
                table.rows,
                profile=profile,
                encoding=table.encoding or table.kind,
                today=today,
                now=now,
                progress=progress,
                workers=workers,
            )
    except DomainError as problem:
        await fail_job(job_id, problem.reason, now)
        raise


def check_header(path: Path, profile: MappingProfile, encoding: str | None = None) -> str:
    """Refuse at once a file the profile cannot read (its encoding, its header row):
    before a dry run is queued for it. Answers the encoding it will be read with."""
    with open_table(path, encoding=encoding or profile.encoding) as table:
        try:
            profile.header_index(table.headers)
        except ProfileProblem as problem:
            raise InvalidValue(str(problem), field="profile") from None
        return table.encoding or table.kind


@dataclass(frozen=True)
class _CheckContext:
    """What the row rules need besides the rows: picklable, so a worker process gets it
    once (the policy travels as its parts: its mappings are read-only proxies)."""

    index: dict[str, int]
    profile: MappingProfile
    city: City
    orgs: Organisations
    today: date
    policy_parts: dict[str, Any]

    @classmethod
    def of(
        cls,
        index: dict[str, int],
        profile: MappingProfile,
        city: City,
        orgs: Organisations,
        today: date,
        policy: inspection_rules.Policy,
    ) -> _CheckContext:
        parts = {
            f.name: getattr(policy, f.name) if f.name == "name" else dict(getattr(policy, f.name))
            for f in dataclasses.fields(policy)
        }
        return cls(index, profile, city, orgs, today, parts)

    def policy(self) -> inspection_rules.Policy:
        parts = self.policy_parts
        mappings = {k: MappingProxyType(dict(v)) for k, v in parts.items() if k != "name"}
        return inspection_rules.Policy(parts["name"], **mappings)


Chunk = list[tuple[int, Sequence[Any]]]
Checked = tuple[list[tuple[int, str | None, bool, str]], list[tuple[int, str, str, str]]]


def _check_chunk(chunk: Chunk, context: _CheckContext, policy: inspection_rules.Policy) -> Checked:
    """Check a chunk of rows: (staged rows, findings), in the chunk's row order."""
    index = context.index
    raws = [
        {f: (cells[i] if i < len(cells) else None) for f, i in index.items()} for _, cells in chunk
    ]
    checked = checks.check_register_rows(
        raws,
        profile=context.profile,
        city=context.city,
        organisations=context.orgs,
        today=context.today,
        policy=policy,
    )
    staged: list[tuple[int, str | None, bool, str]] = []
    found: list[tuple[int, str, str, str]] = []
    for (row_no, _), result in zip(chunk, checked, strict=True):
        staged.append((row_no, result.code, result.accepted, _payload(result)))
        found.extend((row_no, f.rule, f.severity, f.detail) for f in result.findings)
    return staged, found


# A worker process's context, set once when it starts (``_start_worker``).
_worker: tuple[_CheckContext, inspection_rules.Policy] | None = None


def _start_worker(context: _CheckContext) -> None:
    global _worker
    _worker = (context, context.policy())


def _check_in_worker(chunk: Chunk) -> Checked:
    assert _worker is not None, "the pool's initializer sets the context"
    return _check_chunk(chunk, *_worker)


def check_workers() -> int:
    """Worker processes for a dry run's checks: one per core. The rows are independent
    and the rules are Python, so processes, not threads, use the cores."""
    return os.cpu_count() or 1


def _next_chunk(rows: Iterator[tuple[int, Sequence[Any]]]) -> Chunk:
    # In a worker thread: reading the file (decoding, csv, openpyxl) is CPU too.
    return list(islice(rows, STAGE_CHUNK))


async def _checked_chunks(
    rows: Iterator[tuple[int, Sequence[Any]]],
    context: _CheckContext,
    policy: inspection_rules.Policy,
    workers: int,
) -> AsyncGenerator[Checked, None]:
    """The checked chunks of ``rows``, in the file's order whatever the workers' finishing
    order. A file of one chunk, or ``workers`` 1, is checked in a thread of this process;
    otherwise chunks go to a spawned pool with at most two per worker in flight, so
    memory holds a few chunks, never the file."""
    first = await asyncio.to_thread(_next_chunk, rows)
    if not first:
        return
    if workers <= 1 or len(first) < STAGE_CHUNK:
        chunk = first
        while chunk:
            yield await asyncio.to_thread(_check_chunk, chunk, context, policy)
            chunk = await asyncio.to_thread(_next_chunk, rows)
        return
    loop = asyncio.get_running_loop()
    # Spawned, not forked: a fork of a process running an event loop and threads can
    # inherit a lock another thread holds.
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(context,),
    )
    pending: deque[asyncio.Future[Checked]] = deque()
    chunk = first
    try:
        while chunk or pending:
            while chunk and len(pending) < 2 * workers:
                pending.append(loop.run_in_executor(pool, _check_in_worker, chunk))
                chunk = await asyncio.to_thread(_next_chunk, rows)
            yield await pending.popleft()
    finally:
        # Not waiting here: an import given up must not hold the event loop while its
        # workers finish chunks nobody reads (they end after their current one).
        pool.shutdown(wait=False, cancel_futures=True)


async def stage_rows(
    principal: Principal,
    job_id: int,
    headers: Sequence[object],
    rows: Iterable[tuple[int, Sequence[Any]]],
    *,
    profile: MappingProfile,
    encoding: str,
    today: date,
    now: datetime,
    progress: ProgressFn | None = None,
    workers: int = 0,
) -> ImportSummary:
    """Stage and check rows into import ``job_id`` (made by ``create_job``): the dry run
    of rows an uploader already holds (see the module's contract). ``workers``: processes
    checking rows (0: one per core; a file of one chunk is checked in this process)."""
    principal.require(Permission.EQUIPMENT_REGISTER)
    if profile.kind != "register":
        raise InvalidValue("the profile is not a register profile", field="profile")
    try:
        index = profile.header_index(headers)
    except ProfileProblem as problem:
        raise InvalidValue(str(problem), field="profile") from None
    city = City.xiangyang()
    orgs = await organisations()
    policy = schedules.policy()
    async with unit_of_work():
        await _repository.update_job(
            job_id,
            {
                "status": "staging",
                "encoding": encoding,
                "profile": msgspec.json.encode(profile).decode(),
                "updated_at": now,
            },
        )
    total = 0
    context = _CheckContext.of(index, profile, city, orgs, today, policy)
    chunks = _checked_chunks(iter(rows), context, policy, workers or check_workers())
    async with aclosing(chunks):
        async for staged, found in chunks:
            total += len(staged)
            async with unit_of_work():
                await _repository.stage(job_id, staged, found)
                await _repository.update_job(job_id, {"total_rows": total})
            if progress is not None:
                progress(total, 0)
    async with unit_of_work():
        await _repository.cross_row_rules(job_id, in_register_rule="in_register")
    counts = await _repository.rule_counts(job_id)
    accepted = await _repository.accepted_count(job_id)
    async with unit_of_work():
        await _repository.update_job(
            job_id,
            {
                "status": "staged",
                "total_rows": total,
                "accepted_rows": accepted,
                "counts": json.dumps(counts, sort_keys=True),
                "updated_at": now,
            },
        )
    return await job_summary(principal, job_id)


async def job_summary(principal: Principal, job_id: int) -> ImportSummary:
    principal.require(Permission.EQUIPMENT_REGISTER)
    job = await _repository.job(job_id)
    if job is None:
        raise NotFound(f"import {job_id} does not exist")
    return _summary(job)


async def unfinished_job(kind: str, digest: str) -> int | None:
    """An earlier import of the same file that was staged and not fully committed."""
    return await _repository.unfinished(kind, digest)


# --- the report ---------------------------------------------------------------------------

REPORT_PAGE = 5_000


async def report_sheets(
    principal: Principal, job_id: int
) -> list[tuple[str, str, list[tuple[int, str]]]]:
    """(rule, severity, [(row number, detail)]) per rule with findings, in RULES order,
    each rule's rows read in pages."""
    summary = await job_summary(principal, job_id)
    out = []
    for rule, severity in RULES.items():
        if not summary.counts.get(rule):
            continue
        rows: list[tuple[int, str]] = []
        after = 0
        while page := await _repository.findings(job_id, rule, after_row=after, limit=REPORT_PAGE):
            rows.extend(page)
            after = page[-1][0]
        out.append((rule, severity, rows))
    return out


async def write_report_xlsx(
    principal: Principal,
    job_id: int,
    target: BinaryIO,
    *,
    labels: Callable[[str], str],
    details: Callable[[str], str] = str,
) -> None:
    """The data-quality report as XLSX: a summary sheet, then one sheet per rule with the
    spreadsheet's row numbers (openpyxl's write-only mode: rows stream to the file).
    ``labels`` turns a rule code or a heading into the caller's language, ``details`` a
    finding's detail (written in English where it is found)."""
    from openpyxl import Workbook

    summary = await job_summary(principal, job_id)
    book = Workbook(write_only=True)
    first = book.create_sheet(labels("summary")[:31])
    first.append([labels("rule"), labels("code"), labels("severity"), labels("rows")])
    for rule, severity in RULES.items():
        first.append([labels(rule), rule, labels(severity), summary.counts.get(rule, 0)])
    first.append([])
    first.append([labels("rows in the file"), "", "", summary.total_rows])
    first.append([labels("accepted rows"), "", "", summary.accepted_rows])
    for rule, _severity, rows in await report_sheets(principal, job_id):
        sheet = book.create_sheet(rule[:31])
        sheet.append([labels("row"), labels("detail")])
        for row_no, detail in rows:
            sheet.append([row_no, details(detail)])
    book.save(target)


# --- commit -------------------------------------------------------------------------------


def _new_unit(values: dict[str, Any], code: str, now: datetime, today: date) -> dict[str, Any]:
    commissioned = values.get("commissioning_date")
    registered = values.get("registered_on")
    return {
        "code": code,
        **{c: values.get(c) for c in COMPARED},
        "status_since": registered or commissioned or today,
        "late_registration": bool(
            commissioned and registered and registration_is_late(commissioned, registered)
        ),
        "late_suspension_notice": False,
        "needs_inspection_before_resume": bool(
            values["status"] == "suspended" and values.get("needs_before_resume")
        ),
        "parameters": "{}",
        "next_inspection_due": values.get("computed_due"),
        "not_fit_for_use": bool(values.get("not_fit_for_use")),
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


_compared_of = attrgetter(*COMPARED)


def _changed(existing: RegisteredUnit, values: dict[str, Any]) -> dict[str, Any]:
    """The COMPARED columns whose value in the file differs from the register's."""
    new_values, old_values = tuple(map(values.get, COMPARED)), _compared_of(existing)
    # A re-import's rows are mostly unchanged: one tuple comparison in C, then the column
    # walk (with its float tolerance) only for the rows that differ somewhere.
    if new_values == old_values:
        return {}
    out = {}
    for column, new, old in zip(COMPARED, new_values, old_values, strict=True):
        if isinstance(new, float) and isinstance(old, float) and abs(new - old) < 1e-7:
            continue
        if new != old:
            out[column] = new
    return out


def _recomputed(values: dict[str, Any], today: date) -> dict[str, Any]:
    """The row's schedule again, when the commit runs on another day than the dry run."""
    try:
        schedule = inspection_rules.schedule(
            checks.register_history(values), today, schedules.policy()
        )
    except InvalidValue:
        return values
    values["due"] = [
        [
            d.kind,
            d.due_on.isoformat(),
            d.rule_key,
            d.source[:200],
            d.base_date.isoformat(),
            d.explanation,
            d.from_report,
        ]
        for d in schedule.due
    ]
    statutory = [d for d in (*schedule.due, *schedule.dormant) if d.kind in STATUTORY_KINDS]
    values["computed_due"] = min((d.due_on for d in statutory), default=None)
    values["not_fit_for_use"] = schedule.not_fit_for_use
    values["needs_before_resume"] = schedule.needs_inspection_before_resume
    return values


async def _memberships(
    areas: list[Any], located: list[tuple[int, float | None, float | None]]
) -> None:
    """Set-at-a-time: the batch's units leave their areas, then join the ones they lie in."""
    ids = [u for u, _, _ in located]
    await reads().membership.clear_units(ids)
    points = [(u, lon, lat) for u, lon, lat in located if lon is not None and lat is not None]
    if not points or not areas:
        return
    lons = np.array([p[1] for p in points], dtype=np.float64)
    lats = np.array([p[2] for p in points], dtype=np.float64)
    point_index, area_index = assign_points(lons, lats, [a for _, a in areas])
    pairs = [
        (areas[int(a)][0], points[int(p)][0]) for p, a in zip(point_index, area_index, strict=True)
    ]
    await reads().membership.add_pairs(pairs)


async def commit_register(
    principal: Principal,
    job_id: int,
    *,
    today: date,
    now: datetime,
    batch_size: int = COMMIT_BATCH,
    progress: ProgressFn | None = None,
    writers: int = 0,
) -> ImportSummary:
    """Write the accepted rows of a staged import (see the module's contract).
    ``writers``: batches written at once (0: ``commit_writers()``)."""
    principal.require(Permission.EQUIPMENT_REGISTER)
    job = await _repository.job(job_id)
    if job is None:
        raise NotFound(f"import {job_id} does not exist")
    if job["kind"] != "register":
        raise Conflict(f"import {job_id} is not a register import")
    if job["status"] == "committed":
        return _summary(job)
    if job["status"] not in ("staged", "committing"):
        raise Conflict(f"import {job_id} is {job['status']}: it cannot be committed")
    recompute = job["staged_on"] != today
    async with unit_of_work() as uow:
        area_rows = await uow.membership.all_areas()
    areas = [(r.id, stored_area(r)) for r in area_rows]
    last = await _repository.last_batch(job_id)
    batch_no, after = last if last is not None else (0, 0)
    async with unit_of_work():
        await _repository.update_job(job_id, {"status": "committing", "updated_at": now})
    done = job["committed_rows"]
    total = job["accepted_rows"]
    if progress is not None:
        progress(done, total)

    async def page_after(row: int) -> list[tuple[int, str, dict[str, Any]]]:
        staged = await _repository.accepted_rows(job_id, after_row=row, limit=batch_size)
        return await asyncio.to_thread(_decoded, staged, today, recompute)

    lanes = writers or commit_writers()

    async def write(
        batch_no: int, rows: list[tuple[int, str, dict[str, Any]]], before: asyncio.Task[int] | None
    ) -> int:
        async with unit_of_work():
            await _commit_batch(
                principal, job, batch_no, rows, areas, today=today, now=now, after=before
            )
        return len(rows)

    # The next page is read and decoded (JSON, dates, a schedule recomputed) while the
    # database writes this one: reads only. Up to ``lanes`` batches write at once, each
    # in its own transaction on its own connection, but each commits only after the one
    # before it has (``after``): the committed batches are always a prefix of the file,
    # so a crash still leaves whole batches and a rerun resumes after the last marker.
    upcoming = asyncio.ensure_future(page_after(after))
    writing: deque[asyncio.Task[int]] = deque()
    try:
        while rows := await upcoming:
            upcoming = asyncio.ensure_future(page_after(rows[-1][0]))
            batch_no += 1
            while len(writing) >= lanes:
                done += await writing.popleft()
                if progress is not None:
                    progress(done, total)
            before = writing[-1] if writing else None
            writing.append(asyncio.ensure_future(write(batch_no, rows, before)))
        while writing:
            done += await writing.popleft()
            if progress is not None:
                progress(done, total)
    finally:
        upcoming.cancel()
        for task in writing:
            task.cancel()
        if writing:
            await asyncio.gather(*writing, return_exceptions=True)
    async with unit_of_work():
        await _repository.update_job(job_id, {"status": "committed", "updated_at": now})
    return await job_summary(principal, job_id)


def commit_writers() -> int:
    """Batches a commit writes at once: on PostgreSQL one per core, at least two (each
    batch's COPYs and index upkeep are the server's CPU, one backend per connection, so
    two use two cores while this process prepares the next page); one on SQLite (one
    writer at a time)."""
    return max(2, os.cpu_count() or 1) if _repository.concurrent_writers() else 1


def _decoded(
    staged: list[tuple[int, str]], today: date, recompute: bool
) -> list[tuple[int, str, dict[str, Any]]]:
    """(row number, code, values) of staged rows (in a worker thread: it is CPU)."""
    rows: list[tuple[int, str, dict[str, Any]]] = []
    for row_no, payload in staged:
        values = _values(payload)
        if recompute:
            values = _recomputed(values, today)
        values["due"] = [
            (kind, date.fromisoformat(due_on), key, source, date.fromisoformat(base), why, report)
            for kind, due_on, key, source, base, why, report in values.get("due", [])
        ]
        # An accepted row has one of the two codes (the staged code is the same).
        code: str = values.get("registration_code") or values["equipment_code"]
        rows.append((row_no, code, values))
    return rows


async def _commit_batch(
    principal: Principal,
    job: ImportJobRow,
    batch_no: int,
    rows: list[tuple[int, str, dict[str, Any]]],
    areas: list[Any],
    *,
    today: date,
    now: datetime,
    after: asyncio.Future[Any] | None = None,
) -> tuple[int, int, int]:
    """One batch in the caller's transaction. ``after``: the batch before it, still being
    written: the audit entry and the marker (the import's row, which both batches update)
    wait until it has committed, and its failure fails this one."""
    existing = {u.code: u for u in await _repository.units_by_code([c for _, c, _ in rows])}
    new = [(code, values) for _, code, values in rows if code not in existing]
    changed: list[tuple[int, str, dict[str, Any], dict[str, Any]]] = []
    for _, code, values in rows:
        if code in existing:
            diff = _changed(existing[code], values)
            if diff:
                changed.append((existing[code].id, code, diff, values))
    new_units = [_new_unit(values, code, now, today) for code, values in new]
    ids = await _repository.insert_units([tuple(u[c] for c in NEW_UNIT_COLUMNS) for u in new_units])
    due_rows = []
    inspections = []
    for code, values in new:
        unit_id = ids.get(code)
        if unit_id is None:
            continue
        for kind, due_on, rule_key, source, base, explanation, from_report in values["due"]:
            due_rows.append(
                (
                    unit_id,
                    kind,
                    due_on,
                    kind in STATUTORY_KINDS,
                    rule_key,
                    source,
                    base,
                    explanation,
                    from_report,
                    values["category"],
                    values["district_code"],
                    values["user_unit"],
                    None,
                    None,
                )
            )
        if values.get("last_inspected_on"):
            inspections.append(_inspection(unit_id, values, principal, now))
    await _repository.add_due_rows(due_rows)
    await _repository.update_units([(unit_id, diff) for unit_id, _, diff, _ in changed], now)
    wanted = [(u, v["last_inspected_on"]) for u, _, _, v in changed if v.get("last_inspected_on")]
    have = await _repository.has_inspection_on(wanted)
    for unit_id, _, _, values in changed:
        if values.get("last_inspected_on") and (unit_id, values["last_inspected_on"]) not in have:
            inspections.append(_inspection(unit_id, values, principal, now))
    await _repository.add_inspections(inspections)
    for unit_id, _, _, _ in changed:
        # A changed unit may have more history than the file states: the full recompute.
        await schedules.recompute(unit_id, today)
    located = [(ids[c], v.get("longitude"), v.get("latitude")) for c, v in new if c in ids]
    located += [
        (u, v.get("longitude"), v.get("latitude"))
        for u, _, d, v in changed
        if "longitude" in d or "latitude" in d
    ]
    await _memberships(areas, located)
    inserted, updated = len(ids), len(changed)
    unchanged = len(rows) - inserted - updated
    if after is not None:
        await asyncio.shield(after)
    # One audit entry per batch: the import is one act of the registration office.
    await audit.record(
        principal,
        entity="import",
        entity_id=job["id"],
        action="import_batch",
        at=now,
        before=None,
        after={
            "file_hash": job["file_hash"],
            "file_name": job["file_name"],
            "batch": batch_no,
            "first_row": rows[0][0],
            "last_row": rows[-1][0],
            "inserted": inserted,
            "updated": {code: sorted(diff) for _, code, diff, _ in changed},
            "unchanged": unchanged,
        },
    )
    await _repository.mark_batch(
        job["id"],
        batch_no,
        first_row=rows[0][0],
        last_row=rows[-1][0],
        rows=len(rows),
        inserted=inserted,
        updated=updated,
        unchanged=unchanged,
        at=now,
    )
    return inserted, updated, unchanged


def _inspection(
    unit_id: int, values: dict[str, Any], principal: Principal, now: datetime
) -> tuple[Any, ...]:
    # The register export states the last inspection's day only: a passed periodic one.
    return (
        unit_id,
        "periodic",
        values["last_inspected_on"],
        "pass",
        "",
        None,
        "",
        "imported from the register export",
        values.get("next_due_stated"),
        principal.actor,
        now,
    )
