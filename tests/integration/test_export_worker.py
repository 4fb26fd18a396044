"""Large due-list downloads are read and formatted by the export worker process: the same
rows the caller may see, the same files as formatted in the server, the server's loop
free meanwhile, and a download given up frees the worker."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import os
import signal
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from equipment.api import export_worker, exports
from equipment.domain.access import Principal, Role
from equipment.domain.errors import Busy
from equipment.domain.rules.dates import add_months
from equipment.i18n.spoken import speak
from equipment.services import due
from tests import factories as f
from tests.export_probe import GateExport

pytestmark = pytest.mark.integration
ACCEPT_LANGUAGE = "en"
# The worker's reading on SQLite is covered by the content test; the rest is the same.
POSTGRES_ONLY = pytest.mark.parametrize("engine", ["postgres"], indirect=True)


@pytest.fixture
async def city(engine) -> dict[str, Any]:
    """Two user units with two maintenance companies: 3 + 2 lifts, several due kinds each."""
    owner_a = await f.organisation("user_unit", name="汉江小区物业")
    owner_b = await f.organisation("user_unit", name="鱼梁洲物业")
    company_x = await f.organisation("maintenance_company", name="隆中电梯工程有限公司")
    company_y = await f.organisation("maintenance_company", name="古隆中电梯维保")
    body = await f.organisation("inspection_body", name="襄阳市特种设备检验检测所")
    for months, owner, company in [
        (-14, owner_a, company_x),
        (-11, owner_a, company_x),
        (-30, owner_a, company_x),
        (-13, owner_b, company_y),
        (-8, owner_b, company_y),
    ]:
        installed = add_months(f.today(), months)
        await f.unit(
            owner["id"],
            maintenance_company_id=company["id"],
            manufacture_date=str(installed - timedelta(days=200)),
            commissioning_date=str(installed),
            registered_on=str(installed),
            address="襄阳市樊城区人民路=1号",
        )
    return {
        "inspector": await f.token(Role.INSPECTOR, body["id"]),
        "company_x": await f.token(Role.MAINTENANCE, company_x["id"]),
        "owner_b": await f.token(Role.USER_UNIT, owner_b["id"]),
    }


@pytest.fixture(scope="module", autouse=True)
def one_worker_for_the_module() -> Iterator[None]:
    """The worker process is started once (a spawn and its imports take seconds) and
    stopped after the module's tests; each job names its own database."""
    yield
    export_worker.shutdown()


@pytest.fixture
def to_worker(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every export of more than one row goes to the worker; the list counts the jobs."""
    jobs: list[int] = []
    executor = export_worker._executor

    def counted() -> Any:
        jobs.append(1)
        return executor()

    monkeypatch.setattr(export_worker, "INLINE_ROWS", 1)
    monkeypatch.setattr(export_worker, "_executor", counted)
    return jobs


async def json_items(client, headers: dict[str, str]) -> list[dict[str, Any]]:
    page = await client.get("/api/v1/due?limit=200", headers=headers)
    assert page.status_code == 200 and page.json()["next_cursor"] is None
    return page.json()["items"]


def csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def xlsx_rows(content: bytes) -> list[dict[str, Any]]:
    header, *rows = load_workbook(io.BytesIO(content)).active.values
    return [dict(zip(header, row, strict=True)) for row in rows]


def ics_events(text: str) -> list[tuple[str, str]]:
    """(UID, DTSTART) of each event, in order."""
    unfolded = text.replace("\r\n ", "")
    uids = [line[4:] for line in unfolded.split("\r\n") if line.startswith("UID:")]
    starts = [line[19:] for line in unfolded.split("\r\n") if line.startswith("DTSTART;")]
    return list(zip(uids, starts, strict=True))


async def test_a_large_export_has_the_rows_and_the_scope_of_the_list(
    client, city, to_worker: list[int], monkeypatch: pytest.MonkeyPatch
):
    codes: dict[str, set[str]] = {}
    for who in ("inspector", "company_x", "owner_b"):
        headers = city[who]
        items = await json_items(client, headers)
        assert len(items) > 1  # more than INLINE_ROWS: the worker's
        listed = [(i["code"], i["kind"], i["due_on"], i["state"]) for i in items]

        jobs = len(to_worker)
        csv_file = await client.get("/api/v1/due/export.csv?lang=en", headers=headers)
        xlsx_file = await client.get("/api/v1/due/export.xlsx?lang=en", headers=headers)
        ics_file = await client.get("/api/v1/due/calendar.ics", headers=headers)
        assert len(to_worker) == jobs + 3, "each export went to the worker"
        for response in (csv_file, xlsx_file, ics_file):
            assert response.status_code == 200, response.text
            assert response.headers["content-length"] == str(len(response.content))

        in_csv = [
            (r["Code"], r["Kind"], r["Due on"], r["State"]) for r in csv_rows(csv_file.content)
        ]
        assert in_csv == listed
        assert [
            (r["Code"], r["Kind"], r["Due on"].date().isoformat(), r["State"])
            for r in xlsx_rows(xlsx_file.content)
        ] == listed
        assert ics_events(ics_file.text) == [
            (f"{i['equipment_id']}-{i['kind']}@sereg", i["due_on"].replace("-", "")) for i in items
        ]

        # The same files as formatted in the server (what every export was before).
        monkeypatch.setattr(export_worker, "INLINE_ROWS", 10_000)
        inline_csv = await client.get("/api/v1/due/export.csv?lang=en", headers=headers)
        inline_xlsx = await client.get("/api/v1/due/export.xlsx?lang=en", headers=headers)
        monkeypatch.setattr(export_worker, "INLINE_ROWS", 1)
        assert len(to_worker) == jobs + 3
        assert inline_csv.content == csv_file.content
        assert xlsx_rows(inline_xlsx.content) == xlsx_rows(xlsx_file.content)

        codes[who] = {code for code, *_ in listed}
    # The scopes differ: the company's and the other owner's units are apart, the
    # inspector's hold both.
    assert not codes["company_x"] & codes["owner_b"]
    assert codes["company_x"] | codes["owner_b"] == codes["inspector"]


@contextlib.asynccontextmanager
async def under_way(gate: Path) -> AsyncIterator[Callable[[], None]]:
    """Wait until the worker's export is at its first row (it opened ``gate``); yield the
    function that lets it go on. The timeout only keeps a broken build from hanging."""
    os.mkfifo(gate)
    try:
        writer = await asyncio.wait_for(asyncio.to_thread(open, gate, "wb"), 120)
    except TimeoutError:
        # Unblock the thread still waiting in open(): a reader ends its wait.
        os.close(os.open(gate, os.O_RDONLY | os.O_NONBLOCK))
        raise
    try:
        yield writer.close
    finally:
        writer.close()


def admin() -> Principal:
    return Principal(Role.ADMIN)


@dataclass
class Gated:
    download: asyncio.Future[export_worker.Download | None]
    go_on: Callable[[], None]  # lets the export past its first row
    gate: Path

    def worker_pid(self) -> int:
        """The worker process that holds the gate (GateExport wrote it beside the gate)."""
        return int(Path(f"{self.gate}.pid").read_text())


@pytest.fixture
def gated_download(
    client, city, to_worker: list[int], tmp_path: Path
) -> Callable[..., contextlib.AbstractAsyncContextManager[Gated]]:
    """Starts the whole register's download (the admin's, no filter) in the worker, its
    export held at its first row by a gate (GateExport), and enters the block once it is
    under way there; ``options`` go to due_download."""
    gate = tmp_path / "gate"

    @contextlib.asynccontextmanager
    async def start(**options: Any) -> AsyncIterator[Gated]:
        download = asyncio.ensure_future(
            export_worker.due_download(
                admin(),
                due.DueFilter(),
                partial(GateExport, str(gate)),
                today=f.today(),
                max_rows=1_000,
                **options,
            )
        )
        async with under_way(gate) as go_on:
            yield Gated(download, go_on, gate)

    return start


@POSTGRES_ONLY
async def test_the_loop_answers_while_the_worker_reads_and_formats_a_large_export(
    client, city, gated_download, monkeypatch: pytest.MonkeyPatch
):
    read_here: list[dict[str, Any]] = []
    iterate = due.iterate_due

    async def counted(*args: Any, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        async for item in iterate(*args, **kwargs):
            read_here.append(item)
            yield item

    monkeypatch.setattr(due, "iterate_due", counted)
    expected = [f"{i['code']} {i['kind']}" for i in await json_items(client, city["inspector"])]
    read_here.clear()
    async with gated_download() as gated:
        # The export is under way in the worker: the server answers another request.
        answer = await client.get("/api/v1/due?limit=1", headers=city["inspector"])
        assert answer.status_code == 200 and answer.json()["items"]
        assert not gated.download.done()
        gated.go_on()
    result = await gated.download
    assert result is not None and result.file is not None
    pid, *rows = (await asyncio.to_thread(result.file.read)).decode().split("\n")
    result.file.close()
    assert rows == expected and int(pid) != os.getpid()
    # The server read the first page only (to tell a small export from a large one).
    assert len(read_here) == export_worker.INLINE_ROWS + 1 < len(expected)


@POSTGRES_ONLY
async def test_a_download_given_up_ends_its_job_and_frees_the_worker(
    gated_download, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    gone = asyncio.Event()
    async with gated_download(disconnected=gone.wait) as gated:
        gone.set()  # the client went away
        assert await gated.download is None
        assert list((tmp_path / "tmp").iterdir()) == []  # the lease ended
        gated.go_on()
    # The worker gave the job up (it wrote no file back) and takes the next one.
    again = await export_worker.due_download(
        admin(), due.DueFilter(), due_csv(), today=f.today(), max_rows=1_000
    )
    assert again is not None and again.file is not None
    assert len(csv_rows(await asyncio.to_thread(again.file.read))) > 1
    again.file.close()
    assert list((tmp_path / "tmp").iterdir()) == []


def due_csv() -> Callable[[], Any]:
    return partial(exports.CsvExport, "en")


@POSTGRES_ONLY
async def test_a_worker_that_dies_is_a_503_in_the_callers_words_and_is_replaced(
    client, city, gated_download
):
    async with gated_download() as gated:
        os.kill(gated.worker_pid(), signal.SIGKILL)
        with pytest.raises(Busy) as refused:
            await gated.download
    assert refused.value.reason == export_worker.WORKER_FAILED
    # The next download starts a new worker.
    answer = await client.get("/api/v1/due/export.csv", headers=city["inspector"])
    assert answer.status_code == 200 and len(csv_rows(answer.content)) > 1
    # And the document says a download may answer so (the conformance test holds every
    # answer to the document).
    document = (await client.get("/schema/openapi.json")).json()
    for path in ("/api/v1/due/export.csv", "/api/v1/due/export.xlsx", "/api/v1/due/calendar.ics"):
        assert "503" in document["paths"][path]["get"]["responses"], path


def test_the_worker_failure_messages_are_said_in_chinese() -> None:
    for message in (export_worker.WORKER_FAILED, export_worker.READ_FAILED):
        assert speak("zh-CN", message) != message


async def test_the_worker_yields_the_cpu_to_the_server() -> None:
    """Niced, not idle-only: a saturated machine still gives downloads a share."""
    job = export_worker._executor().submit(_policy_and_niceness)
    policy, niceness = await asyncio.wrap_future(job)
    assert policy == os.SCHED_OTHER
    assert niceness == os.getpriority(os.PRIO_PROCESS, 0) + export_worker.WORKER_NICENESS


def _policy_and_niceness() -> tuple[int, int]:
    return os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0)
