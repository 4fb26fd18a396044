"""Maintenance records uploaded as files, as a company's browser page and its ERP send them:
a GBK CSV with Chinese headers, an XLSX with Excel's serial dates, the templates."""

from __future__ import annotations

import csv
import io
import time
from datetime import date, timedelta

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.utils.datetime import to_excel

from equipment.domain import record_sheets
from equipment.domain.access import Role
from equipment.services import maintenance
from tests import factories as f
from tests.loop_support import other_work

pytestmark = pytest.mark.integration
DAY = timedelta(days=1)
UPLOAD = "/api/v1/maintenance/records"
XLSX = record_sheets.XLSX_MEDIA_TYPE
ZH_HEADERS = [record_sheets.HEADERS_ZH[name] for name in record_sheets.FIELDS]


@pytest.fixture
async def ctx(client, engine):
    owner = await f.organisation("user_unit")
    company = await f.organisation("maintenance_company")
    lifts = [await f.unit(owner["id"]) for _ in range(2)]
    owner_token = await f.token(Role.USER_UNIT, owner["id"])
    made = await client.post(
        "/api/v1/contracts",
        json={
            "user_unit_id": owner["id"],
            "maintenance_company_id": company["id"],
            "starts_on": str(f.today() - 200 * DAY),
            "ends_on": str(f.today() + 165 * DAY),
            "equipment_ids": [u["id"] for u in lifts],
        },
        headers=owner_token,
    )
    assert made.status_code == 201, made.text
    return {
        "lifts": lifts,
        "company": await f.token(Role.MAINTENANCE, company["id"]),
        "owner": owner_token,
        "admin": await f.token(Role.ADMIN),
    }


def gbk_csv(rows: list[list[str]]) -> bytes:
    """What Excel's "CSV (逗号分隔)" writes on a Chinese Windows: GBK, CRLF, no BOM."""
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("gbk")


def chinese_rows(ctx) -> list[list[str]]:
    a, b = (u["code"] for u in ctx["lifts"])
    day = f.today() - 3 * DAY
    slash = f"{day.year}/{day.month}/{day.day}"
    return [
        ZH_HEADERS,
        ["WB-1", a, slash, "半月", "曳引机润滑；门锁检查", "李强：T1-4206-0001", "正常"],
        ["WB-2", a, "2026年2月30日", "半月", "门锁检查", "李强:T1-4206-0001"],  # no such day
        ["WB-3", b, f"{day.year}年{day.month}月{day.day}日", "季度", "门锁检查", "王伟:T1-2"],
        ["WB-4", b, slash, "半月", "门锁检查", ""],  # no technician
    ]


async def records_of(client, ctx, lift) -> list[dict]:
    response = await client.get(f"/api/v1/equipment/{lift['id']}/maintenance", headers=ctx["admin"])
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_gbk_csv_from_the_browser_names_both_bad_rows_in_chinese(client, ctx):
    data = gbk_csv(chinese_rows(ctx))
    response = await client.post(
        UPLOAD,
        files={"file": ("维保记录.csv", data, "text/csv")},
        headers=ctx["company"],
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["received"] == 4 and report["stored"] == 2
    rejected = {r["row"]: r for r in report["rejected"]}
    assert set(rejected) == {3, 5}  # the rows Excel shows: the header is row 1
    assert rejected[3]["field"] == "maintained_on" and "2026年2月30日" in rejected[3]["reason"]
    assert rejected[5]["field"] == "technicians"
    for r in report["rejected"]:  # said in Chinese, the default
        assert "维保" in r["reason"] or "作业" in r["reason"] or "证" in r["reason"], r
        assert " is " not in r["reason"], r
    stored = await records_of(client, ctx, ctx["lifts"][0])
    assert [r["record_id"] for r in stored] == ["WB-1"]
    assert stored[0]["items"] == ["曳引机润滑", "门锁检查"]
    assert stored[0]["technicians"] == [{"name": "李强", "certificate_no": "T1-4206-0001"}]
    assert stored[0]["maintained_on"] == str(f.today() - 3 * DAY)

    # The same file as a CSV body (an ERP's upload), reasons in English on request.
    again = await client.post(
        UPLOAD + "?lang=en",
        content=data,
        headers={**ctx["company"], "Content-Type": "text/csv"},
    )
    assert again.status_code == 200, again.text
    assert again.json()["duplicates"] == 2 and again.json()["stored"] == 0
    english = {r["row"]: r["reason"] for r in again.json()["rejected"]}
    assert set(english) == {3, 5} and "is not a date" in english[3]


async def test_an_xlsx_with_excel_serial_dates_is_stored(client, ctx):
    a, b = (u["code"] for u in ctx["lifts"])
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["registration_code", "date", "record_id", "level", "technicians"])
    serial = int(to_excel(f.today() - 5 * DAY))  # a number cell: what a pasted column holds
    sheet.append([a, serial, "X-1", "半月", "李强:T1"])
    sheet.append([b, f.today() - 6 * DAY, "X-2", "quarterly", "李强:T1"])  # a date cell
    sheet.append([b, serial + 10, "X-3", "半月", "李强:T1"])  # in the future
    out = io.BytesIO()
    workbook.save(out)

    response = await client.post(
        UPLOAD,
        files={"file": ("records.xlsx", out.getvalue(), XLSX)},
        headers=ctx["company"],
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["stored"] == 2 and [r["row"] for r in report["rejected"]] == [4]
    assert report["rejected"][0]["field"] == "maintained_on"
    first = await records_of(client, ctx, ctx["lifts"][0])
    assert [(r["record_id"], r["maintained_on"]) for r in first] == [
        ("X-1", str(f.today() - 5 * DAY))
    ]
    second = await records_of(client, ctx, ctx["lifts"][1])
    assert [(r["record_id"], r["maintained_on"]) for r in second] == [
        ("X-2", str(f.today() - 6 * DAY))
    ]

    # The workbook as the body itself, as a script sends it.
    raw = await client.post(
        UPLOAD, content=out.getvalue(), headers={**ctx["company"], "Content-Type": XLSX}
    )
    assert raw.status_code == 200 and raw.json()["duplicates"] == 2, raw.text


async def test_a_workbook_is_read_off_the_event_loop(client, ctx, monkeypatch):
    # While the workbook is read, the loop serves others: the reader waits (on a real
    # signal, not a clock) until another task has had a turn, which on the loop could
    # never happen.
    events: list[str] = []
    real = maintenance.read_sheet

    def watched(*args, **kwargs):
        events.append("read starts")
        mark = len(events)
        give_up = time.monotonic() + 30
        while "other" not in events[mark:] and time.monotonic() < give_up:
            time.sleep(0.001)
        rows = real(*args, **kwargs)
        events.append("read ends")
        return rows

    monkeypatch.setattr(maintenance, "read_sheet", watched)
    workbook = Workbook()
    workbook.active.append(ZH_HEADERS)
    out = io.BytesIO()
    workbook.save(out)
    async with other_work(events):
        response = await client.post(
            UPLOAD,
            files={"file": ("r.xlsx", out.getvalue(), XLSX)},
            headers=ctx["company"],
        )
    assert response.status_code == 200, response.text
    start, end = events.index("read starts"), events.index("read ends")
    assert "other" in events[start:end]


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({"file": ("a.xlsx", b"PK\x03\x04 broken", XLSX)}, "XLSX"),
        ({"file": ("a.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "")}, ".xls"),
        ({"file": ("a.csv", b"a,b\r\n1,2\r\n", "text/csv")}, "维保记录编号"),
        ({"other": ("a.csv", b"record_id\r\n", "text/csv"), "x": ("b.csv", b"", "text/csv")},
         "file"),
    ],
)  # fmt: skip
async def test_files_that_are_no_upload_are_refused_in_chinese(client, ctx, files, reason):
    response = await client.post(UPLOAD, files=files, headers=ctx["company"])
    assert response.status_code == 422, response.text
    assert reason in response.json()["detail"]
    assert response.headers["content-language"] == "zh-CN"


async def test_a_form_without_a_file_and_an_unreadable_form_are_4xx(client, ctx):
    no_file = await client.post(UPLOAD, data={"note": "x"}, files={}, headers=ctx["company"])
    assert no_file.status_code in (400, 422), no_file.text
    broken = await client.post(
        UPLOAD,
        content=b'--b\r\nContent-Disposition: form-data; name="f"\r\n\r\n\xff\xfe\r\n--b--\r\n',
        headers={**ctx["company"], "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert broken.status_code in (400, 422), broken.text
    owner = await client.post(
        UPLOAD, files={"file": ("a.csv", b"record_id\r\n", "text/csv")}, headers=ctx["owner"]
    )
    assert owner.status_code == 403


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
async def test_the_templates_are_chinese_unless_english_is_asked(client, ctx, kind):
    path = f"{UPLOAD}/template.{kind}"
    chinese = await client.get(path, headers=ctx["company"])
    english = await client.get(path + "?lang=en", headers=ctx["company"])
    for response in (chinese, english):
        assert response.status_code == 200, response.text
        assert "attachment" in response.headers["content-disposition"]
    if kind == "xlsx":
        assert chinese.headers["content-type"] == XLSX

        def header(content: bytes) -> list[str]:
            return [c.value for c in load_workbook(io.BytesIO(content)).worksheets[0][1]]
    else:
        assert chinese.headers["content-type"].startswith("text/csv")

        def header(content: bytes) -> list[str]:
            return content.decode("utf-8-sig").strip().split(",")

    assert header(chinese.content) == ZH_HEADERS
    assert header(english.content) == list(record_sheets.FIELDS)
    assert (await client.get(path, headers=ctx["owner"])).status_code == 403
    assert (await client.get(path)).status_code == 401


async def test_the_downloaded_template_filled_in_is_stored(client, ctx):
    template = await client.get(f"{UPLOAD}/template.xlsx", headers=ctx["company"])
    workbook = load_workbook(io.BytesIO(template.content))
    workbook.worksheets[0].append(
        ["T-1", ctx["lifts"][0]["code"], date.fromordinal((f.today() - DAY).toordinal()), "半月",
         "门锁检查", "李强:T1-4206-0001"]
    )  # fmt: skip
    out = io.BytesIO()
    workbook.save(out)
    response = await client.post(
        UPLOAD, files={"file": ("维保记录模板.xlsx", out.getvalue(), XLSX)}, headers=ctx["company"]
    )
    assert response.status_code == 200 and response.json()["stored"] == 1, response.text
