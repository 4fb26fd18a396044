"""HTTP handlers of the register import: upload a file for a dry run, read its progress
and data-quality report, commit it (equipment.services.imports has the contract).

The file is streamed to a temporary file as it arrives (never held in memory); the dry
run and the commit run as background tasks of the process, their rules and file reading
in worker threads, and report their progress on ``GET /api/v1/imports/{id}``.
"""

from __future__ import annotations

import asyncio
import io
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter

from equipment.api import api_docs
from equipment.api.bodies import read_streamed
from equipment.api.language import request_language
from equipment.domain.access import Permission, Principal
from equipment.domain.errors import DomainError, InvalidValue
from equipment.domain.imports.profile import ProfileProblem, shipped_profile
from equipment.services import clock, imports
from equipment.services.import_labels import detail, label

log = logging.getLogger(__name__)

# A register export of some 75,000 rows (the API's largest body, as an area import); a
# larger one is imported from the command line (sereg import register), or in parts.
IMPORT_MAX_BYTES = 16 * 2**20
# The commit takes no body: anything sent is refused past this.
NO_BODY_MAX_BYTES = 1024
ImportId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="import id")]
_running: set[asyncio.Task[Any]] = set()


class ImportStatus(msgspec.Struct):
    id: int
    kind: str
    status: str
    file_name: str
    file_hash: str
    encoding: str
    total_rows: int
    accepted_rows: int
    rejected_rows: int
    committed_rows: int
    batches_done: int
    inserted: int
    updated: int
    unchanged: int
    counts: dict[str, int]
    rules: dict[str, str]
    error: str


def _status(summary: imports.ImportSummary) -> ImportStatus:
    return ImportStatus(
        id=summary.id,
        kind=summary.kind,
        status=summary.status,
        file_name=summary.file_name,
        file_hash=summary.file_hash,
        encoding=summary.encoding,
        total_rows=summary.total_rows,
        accepted_rows=summary.accepted_rows,
        rejected_rows=summary.rejected_rows,
        committed_rows=summary.committed_rows,
        batches_done=summary.batches_done,
        inserted=summary.inserted,
        updated=summary.updated,
        unchanged=summary.unchanged,
        counts=summary.counts,
        rules=summary.rules,
        error=summary.error,
    )


def _spawn(work: Any) -> None:
    task = asyncio.ensure_future(work)
    _running.add(task)
    task.add_done_callback(_running.discard)


async def _dry_run(
    principal: Principal, job_id: int, path: Path, profile: Any, encoding: str | None
) -> None:
    try:
        await imports.stage_register(
            principal,
            path,
            profile=profile,
            encoding=encoding,
            today=clock.today(),
            now=clock.now(),
            job_id=job_id,
        )
    except DomainError:
        pass  # stage_register marked the import failed, with the reason
    except Exception as exc:  # the import must say it failed, whatever failed
        log.exception("import %s: dry run failed", job_id)
        await imports.fail_job(job_id, f"internal error: {type(exc).__name__}", clock.now())
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


async def _commit(principal: Principal, job_id: int) -> None:
    try:
        await imports.commit_register(principal, job_id, today=clock.today(), now=clock.now())
    except Exception:
        # Batches committed so far stay committed; the import stays "committing" and
        # POST .../commit again resumes after the last one.
        log.exception("import %s: commit stopped", job_id)


def _save(chunks: Iterator[bytes]) -> tuple[Path, int]:
    folder = Path(tempfile.mkdtemp(prefix="sereg-import-"))
    path = folder / "upload"
    size = 0
    try:
        with path.open("wb") as handle:
            for chunk in chunks:
                size += len(chunk)
                handle.write(chunk)
    except BaseException:
        # Past the cap (413) or a client that went away: nothing stays on disk.
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return path, size


class ImportController(Controller):
    path = "/imports"
    tags = ("imports",)

    @post(
        "/",
        status_code=202,
        request_max_body_size=IMPORT_MAX_BYTES,
        responses=api_docs.WRITE,
    )
    async def upload(
        self,
        principal: NamedDependency[Principal],
        request: Request,
        profile: Annotated[
            str, QueryParameter(description="a shipped mapping profile", max_length=64)
        ] = "registration_export",
        encoding: Annotated[
            str | None, QueryParameter(description="utf-8 or gbk, when detection cannot tell")
        ] = None,
        file_name: Annotated[str, QueryParameter(max_length=200)] = "upload",
    ) -> ImportStatus:
        """Upload a register export (CSV in UTF-8 or GBK, or XLSX; up to 16 MiB) as the
        body for a dry run: the rows are staged and checked, nothing is written to the
        register. Answers 202 with the import's id; ``GET /api/v1/imports/{id}`` shows
        the progress and, once ``staged``, the count of rows per data-quality rule."""
        principal.require(Permission.EQUIPMENT_REGISTER)  # before reading a byte of the body
        try:
            mapping = shipped_profile(profile)
        except ProfileProblem as problem:
            raise InvalidValue(str(problem), field="profile") from None
        if encoding is not None and encoding.lower() not in ("utf-8", "utf8", "gbk", "gb18030"):
            raise InvalidValue("encoding must be utf-8 or gbk", field="encoding")
        path, size = await read_streamed(request, _save)
        if size == 0:
            shutil.rmtree(path.parent, ignore_errors=True)
            raise InvalidValue("the body is empty: send the file as the body")
        try:
            await asyncio.to_thread(imports.check_header, path, mapping, encoding)
        except DomainError:
            shutil.rmtree(path.parent, ignore_errors=True)
            raise
        digest = await asyncio.to_thread(imports.file_hash, path)
        job_id = await imports.create_job(
            principal,
            kind="register",
            file_name=file_name,
            digest=digest,
            now=clock.now(),
            today=clock.today(),
        )
        _spawn(_dry_run(principal, job_id, path, mapping, encoding))
        return _status(await imports.job_summary(principal, job_id))

    @get("/{import_id:int}", responses=api_docs.READ_ONE)
    async def status(
        self, principal: NamedDependency[Principal], import_id: ImportId
    ) -> ImportStatus:
        """The import's state (queued, staging, staged, committing, committed, failed),
        its counts per rule and its commit progress (rows and batches committed)."""
        return _status(await imports.job_summary(principal, import_id))

    @post(
        "/{import_id:int}/commit",
        status_code=202,
        responses=api_docs.WRITE,
        request_max_body_size=NO_BODY_MAX_BYTES,
    )
    async def commit(
        self, principal: NamedDependency[Principal], request: Request, import_id: ImportId
    ) -> ImportStatus:
        """Commit the accepted rows of a staged import in batches (or resume one that
        stopped); progress on ``GET /api/v1/imports/{id}``. No body."""
        principal.require(Permission.EQUIPMENT_REGISTER)
        await request.body()  # held to its cap: a body sent here is refused past 1 KiB
        summary = await imports.job_summary(principal, import_id)
        if summary.status not in ("staged", "committing", "committed"):
            raise InvalidValue(f"import {import_id} is {summary.status}: nothing to commit")
        if summary.status != "committed":
            _spawn(_commit(principal, import_id))
        return _status(summary)

    @get("/{import_id:int}/report.xlsx", responses=api_docs.READ_ONE)
    async def report(
        self, principal: NamedDependency[Principal], request: Request, import_id: ImportId
    ) -> Response[bytes]:
        """The data-quality report as XLSX: a summary sheet, then one sheet per rule with
        the rows (as the spreadsheet numbers them) and what was found."""
        lang = request_language(request)
        buffer = io.BytesIO()
        await imports.write_report_xlsx(
            principal,
            import_id,
            buffer,
            labels=lambda text: label(lang, text),
            details=lambda text: detail(lang, text),
        )
        return Response(
            buffer.getvalue(),
            media_type=api_docs.XLSX,
            headers={"Content-Disposition": f'attachment; filename="import-{import_id}.xlsx"'},
        )
