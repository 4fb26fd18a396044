"""The register import end to end, on SQLite and PostgreSQL: the demo city's messy legacy
export (equipment/demo/legacy_export.py) dry-run with a report whose counts are exactly
the defects planted, committed, imported again (nothing changes), corrected (what changed
is updated and audited), and killed with SIGKILL in the middle of a commit and rerun
(exactly the planted good rows, once)."""

from __future__ import annotations

import asyncio
import csv
import io
import signal
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from openpyxl import load_workbook

from equipment.demo import city
from equipment.demo.legacy_export import USER_UNITS, write_legacy_export
from equipment.domain.access import SYSTEM, Role
from equipment.domain.imports.profile import shipped_profile
from equipment.services import audit, clock, import_inspections, imports, organisations
from equipment.storage import db
from equipment.storage.imports import RegisteredUnit
from tests import factories as f
from tests.conftest import ROOT, pg_url, sereg_env

pytestmark = pytest.mark.integration

SEED = 420600
ROWS = 300
PLANTED = (
    "duplicate_in_file",
    "invalid_registration_code",
    "invalid_credit_code",
    "unknown_category",
    "invalid_date",
    "commissioned_before_made",
    "inspected_before_commissioned",
    "date_in_future",
    "missing_coordinates",
    "out_of_city",
    "past_due_no_inspection",
    "due_date_disagrees",
    "user_unit_unmatched",
)


async def _rows(sql: str, *args: Any) -> list[dict[str, Any]]:
    async with db.reading() as bulk:
        return await bulk.fetch(sql, *args)


@pytest.fixture
async def world(engine, tmp_path: Path) -> dict[str, Any]:
    """The demo city's first user units (what the export names), and the export."""
    if db.is_postgres():
        await engine.run_ddl("TRUNCATE import_job CASCADE")
    today, now = clock.today(), clock.now()
    demo = [o for o in city.organisations(SEED, USER_UNITS * 25, today) if o.kind == "user_unit"]
    for org in demo[:USER_UNITS]:
        await organisations.create_organisation(
            SYSTEM,
            {"kind": "user_unit", "credit_code": org.credit_code, "name": org.name},
            now=now,
        )
    path = tmp_path / "legacy.csv"
    manifest = write_legacy_export(path, rows=ROWS, seed=SEED, units=5000, today=today)
    return {"path": path, "manifest": manifest, "today": today}


async def _codes() -> list[str]:
    rows = await _rows("SELECT code FROM equipment ORDER BY code")
    return [r["code"] for r in rows]


async def test_the_legacy_export_is_reported_committed_and_imported_again(world) -> None:
    manifest, path, today = world["manifest"], world["path"], world["today"]
    profile = shipped_profile("registration_export")
    now = clock.now()
    assert path.read_bytes()[:12] == "设备注册代码".encode("gbk")

    dry = await imports.stage_register(SYSTEM, path, profile=profile, today=today, now=now)
    assert dry.encoding == "gb18030"  # detected, not named
    assert dry.total_rows == manifest["rows"] == ROWS
    assert {rule: dry.counts.get(rule, 0) for rule in PLANTED} == manifest["counts"]
    assert dry.accepted_rows == manifest["accepted_rows"]
    assert await _codes() == []  # a dry run writes nothing to the register

    # The report: one sheet per rule found, holding the rows the manifest planted.
    buffer = io.BytesIO()
    await imports.write_report_xlsx(SYSTEM, dry.id, buffer, labels=lambda text: text)
    book = load_workbook(io.BytesIO(buffer.getvalue()), read_only=True)
    for rule in PLANTED:
        sheet_rows = [r[0] for r in book[rule].iter_rows(min_row=2, values_only=True)]
        assert sheet_rows == manifest["planted"][rule], rule

    done = await imports.commit_register(
        SYSTEM, dry.id, today=today, now=clock.now(), batch_size=100
    )
    assert done.status == "committed"
    assert (done.inserted, done.updated) == (manifest["accepted_rows"], 0)
    assert await _codes() == manifest["accepted_codes"]
    batches = -(-manifest["accepted_rows"] // 100)
    assert done.batches_done == batches
    trail = await audit.trail("import", dry.id)
    assert len(trail) == batches  # once per batch, with the file's hash
    assert {e.after["file_hash"] for e in trail} == {dry.file_hash}
    # Due dates and area-free memberships were set for the new units, set-at-a-time.
    [due] = await _rows(
        "SELECT COUNT(DISTINCT equipment) AS n FROM due_date WHERE equipment IN"
        " (SELECT id FROM equipment)"
    )
    assert due["n"] >= manifest["accepted_rows"] * 0.9
    stored = await _rows(
        "SELECT next_inspection_due, longitude FROM equipment WHERE code = $1",
        manifest["accepted_codes"][0],
    )
    assert stored[0]["next_inspection_due"] is not None

    # The same file again: every accepted row is in the register, nothing changes.
    again = await imports.stage_register(SYSTEM, path, profile=profile, today=today, now=now)
    assert again.counts["in_register"] == manifest["accepted_rows"]
    redone = await imports.commit_register(SYSTEM, again.id, today=today, now=clock.now())
    assert (redone.inserted, redone.updated, redone.unchanged) == (0, 0, manifest["accepted_rows"])
    assert await _codes() == manifest["accepted_codes"]

    # A corrected file: one address and one status changed; the commit says which.
    text = path.read_bytes().decode("gb18030").splitlines()
    rows = list(csv.reader(text))
    target = next(i for i, r in enumerate(rows) if r[0] == manifest["accepted_codes"][0])
    rows[target][10] = "湖北省襄阳市新地址1号"
    rows[target][16] = "停用"
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    corrected = path.with_name("corrected.csv")
    corrected.write_bytes(out.getvalue().encode("gbk"))
    fixed = await imports.stage_register(
        SYSTEM, corrected, profile=profile, today=today, now=clock.now()
    )
    result = await imports.commit_register(SYSTEM, fixed.id, today=today, now=clock.now())
    assert (result.inserted, result.updated) == (0, 1)
    [entry] = await audit.trail("import", fixed.id)
    assert entry.after["updated"] == {manifest["accepted_codes"][0]: ["address", "status"]}
    [unit] = await _rows(
        "SELECT address, status FROM equipment WHERE code = $1", manifest["accepted_codes"][0]
    )
    assert (unit["address"], unit["status"]) == ("湖北省襄阳市新地址1号", "suspended")


async def _staged(job_id: int) -> tuple[list[Any], list[Any]]:
    rows = await _rows(
        "SELECT row_no, code, accepted, payload FROM import_row WHERE import_job = $1"
        " ORDER BY row_no",
        job_id,
    )
    found = await _rows(
        "SELECT row_no, rule, severity, detail FROM import_finding WHERE import_job = $1"
        " ORDER BY row_no, rule, detail",
        job_id,
    )
    return [tuple(r.values()) for r in rows], [tuple(r.values()) for r in found]


async def test_a_dry_run_checked_by_worker_processes_stages_what_one_process_does(
    world, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of 40 rows over two spawned workers: every staged row, payload and finding
    (row numbers included) equals the one-process dry run's, whatever order the workers
    finish in."""
    profile = shipped_profile("registration_export")
    today, now = world["today"], clock.now()
    monkeypatch.setattr(imports, "STAGE_CHUNK", 40)
    one = await imports.stage_register(
        SYSTEM, world["path"], profile=profile, today=today, now=now, workers=1
    )
    pooled = await imports.stage_register(
        SYSTEM, world["path"], profile=profile, today=today, now=now, workers=2
    )
    assert pooled.counts == one.counts
    assert pooled.counts["duplicate_in_file"] == len(
        world["manifest"]["planted"]["duplicate_in_file"]
    )
    single_rows, single_found = await _staged(one.id)
    pooled_rows, pooled_found = await _staged(pooled.id)
    assert len(pooled_rows) == ROWS
    assert pooled_rows == single_rows
    assert pooled_found == single_found


async def test_a_code_another_writer_registers_during_the_commit_is_skipped(
    world, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit looks its batch's codes up, then writes the new ones (COPY straight into
    the register on PostgreSQL): a unit registered between the two, by another writer,
    fails that COPY; the batch falls back to skipping the taken code, the rest goes in."""
    manifest, today = world["manifest"], world["today"]
    profile = shipped_profile("registration_export")
    dry = await imports.stage_register(
        SYSTEM, world["path"], profile=profile, today=today, now=clock.now()
    )
    # A lift's (the factory's unit is a lift).
    taken = next(c for c in manifest["accepted_codes"] if c.startswith("31"))
    owner = await f.organisation("user_unit")
    # A registration code names its category (4 characters) and district (6).
    other = await f.unit(
        owner["id"], registration_code=taken, category=taken[:4], district_code=taken[4:10]
    )
    assert other["code"] == taken
    looked_up = imports._repository.units_by_code

    async def before_the_other_writer(codes: list[str]) -> list[RegisteredUnit]:
        return [u for u in await looked_up(codes) if u.code != taken]

    monkeypatch.setattr(imports._repository, "units_by_code", before_the_other_writer)
    done = await imports.commit_register(SYSTEM, dry.id, today=today, now=clock.now())
    assert done.status == "committed"
    assert done.inserted == manifest["accepted_rows"] - 1
    assert await _codes() == manifest["accepted_codes"]
    [unit] = await _rows("SELECT id FROM equipment WHERE code = $1", taken)
    assert unit["id"] == other["id"]  # the other writer's unit, untouched


async def test_an_ambiguous_file_is_refused_and_says_why(engine, tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_bytes("代码\n北京\n".encode())
    profile = shipped_profile("registration_export")
    with pytest.raises(imports.InvalidValue, match="name the encoding"):
        await imports.stage_register(
            SYSTEM, path, profile=profile, today=clock.today(), now=clock.now()
        )


def _env(engine) -> dict[str, str]:
    if db.is_postgres():
        return sereg_env(DATABASE_URL=_pg_url(engine))
    return sereg_env(SEREG_SQLITE_PATH=str(engine.path))


def _pg_url(engine) -> str:
    return pg_url(engine.config["database"])


async def _sereg(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sereg.cli",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _until(check, what: str, child: asyncio.subprocess.Process | None = None) -> None:
    """Poll the database for a state the child process reaches (a real signal). The
    limit only ends a hung run: a loaded two-core machine took over a minute to start
    the child and finish its dry run."""
    give_up = time.monotonic() + 300
    while time.monotonic() < give_up:
        if await check():
            return
        if child is not None and child.returncode is not None:
            out, err = await child.communicate()
            pytest.fail(f"the import ended before {what}: {out.decode()} {err.decode()}")
        await asyncio.sleep(0.01)
    pytest.fail(f"never saw {what}")


async def test_a_commit_killed_midway_and_rerun_writes_the_good_rows_once(world, engine) -> None:
    manifest, path = world["manifest"], world["path"]
    env = _env(engine)
    command = ("import", "register", str(path), "--commit", "--batch", "10")
    child = await _sereg(*command, env=env)

    async def a_batch_committed() -> bool:
        rows = await _rows("SELECT COUNT(*) AS n FROM import_batch")
        return rows[0]["n"] >= 1

    if db.is_postgres():
        # Hold the third batch's marker (its key, in an open transaction) as soon as the
        # import exists, while its dry run still runs: the child commits batches 1 and 2,
        # then its third batch, its units already inserted in its open transaction, waits
        # at that marker (and the fourth, written beside it, waits for the third). Then
        # kill it there. Waiting for a committed batch first and locking after raced a
        # commit that finished in between.
        async def a_job() -> bool:
            return bool(await _rows("SELECT id FROM import_job"))

        await _until(a_job, "the import", child)
        holder = await asyncpg.connect(_pg_url(engine))
        lock = holder.transaction()
        await lock.start()
        [job] = await holder.fetch("SELECT id FROM import_job ORDER BY id DESC LIMIT 1")
        await holder.execute(
            "INSERT INTO import_batch (import_job, batch_no, first_row, last_row, inserted,"
            " updated, unchanged, committed_at) VALUES ($1, 3, 0, 0, 0, 0, 0, now())",
            job["id"],
        )

        async def child_waits() -> bool:
            rows = await holder.fetch(
                "SELECT 1 FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid()"
            )
            return bool(rows)

        await _until(child_waits, "the child waiting inside a batch", child)
        child.send_signal(signal.SIGKILL)
        await child.wait()
        await lock.rollback()
        await holder.close()
    else:
        await _until(a_batch_committed, "a committed batch", child)
        # Kill it at once, wherever it is (between batches or inside one: SQLite's journal
        # undoes an open batch when the file is next opened). Taking SQLite's write lock
        # first, to stop it between batches, lost the race: the child's batches followed
        # each other faster than the lock's busy handler retried, and the lock came only
        # after the last one (seen in CI: the import 'committed').
        child.send_signal(signal.SIGKILL)
        await child.wait()
    assert child.returncode == -signal.SIGKILL
    [state] = await _rows("SELECT status, batches_done FROM import_job ORDER BY id DESC LIMIT 1")
    assert state["status"] == "committing"
    assert 1 <= state["batches_done"] < -(-manifest["accepted_rows"] // 10)

    rerun = await _sereg(*command, env=env)
    out, err = await rerun.communicate()
    assert rerun.returncode == 0, out.decode() + err.decode()
    assert "resuming import" in err.decode()
    codes = await _codes()
    assert codes == manifest["accepted_codes"]  # each once (the code is unique besides)
    [job] = await _rows(
        "SELECT id, status, committed_rows FROM import_job ORDER BY id DESC LIMIT 1"
    )
    assert (job["status"], job["committed_rows"]) == ("committed", manifest["accepted_rows"])
    markers = await _rows(
        "SELECT batch_no FROM import_batch WHERE import_job = $1 ORDER BY batch_no", job["id"]
    )
    assert [m["batch_no"] for m in markers] == list(range(1, len(markers) + 1))
    assert len(await audit.trail("import", job["id"])) == len(markers)


async def test_the_api_dry_runs_reports_and_commits(world, client) -> None:
    admin = await f.token(Role.ADMIN)
    inspector = await f.token(Role.INSPECTOR)
    body = world["path"].read_bytes()
    refused = await client.post("/api/v1/imports", content=body, headers=inspector)
    assert refused.status_code == 403
    answer = await client.post("/api/v1/imports?file_name=legacy.csv", content=body, headers=admin)
    assert answer.status_code == 202, answer.text
    job = answer.json()["id"]

    async def status() -> dict[str, Any]:
        got = await client.get(f"/api/v1/imports/{job}", headers=admin)
        assert got.status_code == 200, got.text
        return got.json()

    async def staged() -> bool:
        return (await status())["status"] in ("staged", "failed")

    await _until(staged, "the dry run's end")
    report = await status()
    assert report["status"] == "staged", report["error"]
    assert {rule: report["counts"].get(rule, 0) for rule in PLANTED} == world["manifest"]["counts"]

    sheet = await client.get(f"/api/v1/imports/{job}/report.xlsx", headers=admin)
    assert sheet.status_code == 200
    book = load_workbook(io.BytesIO(sheet.content), read_only=True)
    assert "invalid_registration_code" in book.sheetnames
    assert book.worksheets[0].cell(1, 1).value == "规则"  # Chinese unless asked otherwise

    started = await client.post(f"/api/v1/imports/{job}/commit", headers=admin)
    assert started.status_code == 202

    async def committed() -> bool:
        return (await status())["status"] == "committed"

    await _until(committed, "the commit's end")
    final = await status()
    assert final["committed_rows"] == final["inserted"] == world["manifest"]["accepted_rows"]

    bad = await client.post(
        "/api/v1/imports", content="名称,地址\n甲,乙\n".encode("gbk"), headers=admin
    )
    assert bad.status_code == 422
    assert "registration_code" in bad.text


async def test_an_institute_export_is_imported_once_and_moves_due_dates(world) -> None:
    manifest, today = world["manifest"], world["today"]
    dry = await imports.stage_register(
        SYSTEM,
        world["path"],
        profile=shipped_profile("registration_export"),
        today=today,
        now=clock.now(),
    )
    await imports.commit_register(SYSTEM, dry.id, today=today, now=clock.now())
    first, second = manifest["accepted_codes"][:2]
    before = {
        r["code"]: r["next_inspection_due"]
        for r in await _rows(
            "SELECT code, next_inspection_due FROM equipment WHERE code = $1 OR code = $2",
            first,
            second,
        )
    }
    inspected = today.replace(day=1)
    text = (
        "报告编号,设备注册代码,检验类别,检验日期,检验结论,下次检验日期\n"
        f"R-1,{first},定期检验,{inspected:%Y/%m/%d},合格,\n"
        f"R-2,{second},定期检验,{inspected:%Y年%m月%d日},合格,\n"
        f"R-3,NOPE,定期检验,{inspected},合格,\n"
        f"R-1,{first},定期检验,{inspected},合格,\n"
        f"R-4,{first},定期检验,2099-01-01,合格,\n"
        # Passes the row checks, refused when filed (before the unit was made): its own
        # transaction, so the reports filed before it stay.
        f"R-5,{second},定期检验,1951-01-01,合格,\n"
    )
    path = world["path"].with_name("reports.csv")
    path.write_bytes(text.encode("gbk"))
    profile = shipped_profile("inspection_reports")

    async def run(commit: bool) -> import_inspections.InspectionImport:
        return await import_inspections.import_inspections(
            SYSTEM, path, profile=profile, today=today, now=clock.now(), commit=commit
        )

    dry_run = await run(False)
    assert (dry_run.accepted, dry_run.recorded) == (3, 0)
    assert sorted((n, rule) for n, rule, _ in dry_run.rejected) == [
        (4, "unknown_unit"),
        (5, "duplicate_in_file"),
        (6, "date_in_future"),
    ]
    done = await run(True)
    assert (done.recorded, len(done.units)) == (2, 2)
    assert [(n, rule) for n, rule, _ in done.rejected if n == 7] == [(7, "invalid_report")]
    after = {
        r["code"]: r["next_inspection_due"]
        for r in await _rows(
            "SELECT code, next_inspection_due FROM equipment WHERE code = $1 OR code = $2",
            first,
            second,
        )
    }
    assert all(after[c] is not None and after[c] > today for c in (first, second)), after
    assert after != before
    again = await run(True)  # the report number is the key: nothing is recorded twice
    assert (again.recorded, again.already_recorded) == (0, 2)
    [count] = await _rows("SELECT COUNT(*) AS n FROM inspection WHERE report_no = 'R-1'")
    assert count["n"] == 1
