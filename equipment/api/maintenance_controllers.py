"""HTTP handlers for maintenance contracts, maintenance records and alarms."""

from __future__ import annotations

from functools import cache, partial
from typing import Annotated, Any
from urllib.parse import quote

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from equipment.api import api_docs, bodies, schemas, views
from equipment.api.controllers import (
    District,
    EquipmentId,
    Limit,
    district_filter,
    page_limit,
    query_text,
)
from equipment.domain import record_sheets
from equipment.domain.access import Permission, Principal
from equipment.domain.errors import InvalidValue
from equipment.services import alarms, clock, maintenance
from equipment.services.maintenance import MAX_UPLOAD_ROWS

# Bodies that are a file: a CSV (browsers send a .csv as application/vnd.ms-excel on
# Windows) or a workbook, told apart by their first bytes.
FILE_BODIES = record_sheets.CSV_MEDIA_TYPES | {
    record_sheets.XLSX_MEDIA_TYPE,
    "application/octet-stream",
}
ContractId = Annotated[int, PathParameter(ge=1, le=2**63 - 1)]
AlarmId = Annotated[int, PathParameter(ge=1, le=2**63 - 1)]


@cache
def _template_bytes(kind: record_sheets.SheetKind, lang: record_sheets.Lang) -> bytes:
    return record_sheets.template(kind, lang)


def _template(kind: record_sheets.SheetKind, language: str) -> Response[bytes]:
    lang: record_sheets.Lang = "en" if language == "en" else "zh"
    name = "维保记录模板" if lang == "zh" else "maintenance-records"
    media = record_sheets.XLSX_MEDIA_TYPE if kind is record_sheets.SheetKind.XLSX else "text/csv"
    return Response(
        _template_bytes(kind, lang),
        media_type=media,
        headers={
            # An ASCII name for old clients, the Chinese one for the rest (RFC 6266).
            "Content-Disposition": f'attachment; filename="maintenance-records.{kind}"; '
            f"filename*=UTF-8''{quote(name)}.{kind}",
            "Content-Language": language,
        },
    )


class ContractController(Controller):
    path = "/contracts"
    tags = ("maintenance",)

    @post("/", responses=api_docs.WRITE)
    async def create(
        self, principal: NamedDependency[Principal], data: JSONBody[schemas.ContractCreate]
    ) -> Response[schemas.Contract]:
        row = await maintenance.create_contract(
            principal, msgspec.structs.asdict(data), today=clock.today(), now=clock.now()
        )
        return Response(views.contract(row), status_code=201)

    @get("/{contract_id:int}", responses=api_docs.READ_ONE)
    async def read(
        self, principal: NamedDependency[Principal], contract_id: ContractId
    ) -> schemas.Contract:
        return views.contract(await maintenance.get_contract(principal, contract_id))

    @post("/{contract_id:int}/terminate", status_code=200, responses=api_docs.WRITE)
    async def terminate(
        self,
        principal: NamedDependency[Principal],
        contract_id: ContractId,
        data: JSONBody[schemas.TerminateRequest],
    ) -> schemas.Contract:
        await maintenance.terminate_contract(
            principal, contract_id, on=data.on, today=clock.today(), now=clock.now()
        )
        return views.contract(await maintenance.get_contract(principal, contract_id))


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _upload(principal: Principal, request: Request) -> tuple[maintenance.UploadResult, bool]:
    """(the upload's result, whether one JSON object was sent) for any body the route takes:
    a JSON object or array, a CSV body (read as it arrives), an XLSX body, or a
    multipart/form-data form whose file is a CSV or an XLSX workbook."""
    media = _media_type(request)
    today, now = clock.today(), clock.now()
    if media in FILE_BODIES:
        rows = await bodies.read_streamed(
            request,
            partial(record_sheets.read_stream, media_type=media, max_rows=MAX_UPLOAD_ROWS),
        )
        return await maintenance.upload_records(principal, rows, today=today, now=now), False
    if media == "multipart/form-data":
        file = await _form_file(request)
        try:
            data = await file.read()
        finally:
            await file.close()
        result = await maintenance.upload_file(
            principal,
            data,
            media_type=file.content_type,
            filename=file.filename,
            today=today,
            now=now,
        )
        return result, False
    records, single = _json_rows(await request.body())
    return await maintenance.upload_records(principal, records, today=today, now=now), single


async def _form_file(request: Request) -> UploadFile:
    """The one file of a multipart form (its field is ``file``; a form naming it otherwise
    but sending one file is taken too)."""
    try:
        form = await request.form()
    except UnicodeDecodeError:
        raise InvalidValue("a text field of the form is not UTF-8") from None
    files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
    named = [v for v in form.getall("file", []) if isinstance(v, UploadFile)]
    chosen = named or files
    if len(chosen) != 1:
        for f in files:
            await f.close()
        raise InvalidValue("send one CSV or XLSX file in the form field 'file'", field="file")
    for f in files:
        if f is not chosen[0]:
            await f.close()
    return chosen[0]


def _json_rows(body: bytes) -> tuple[list[dict[str, Any]], bool]:
    """(rows, single) from a JSON object or a JSON array of objects."""
    # A JSON array cannot be decoded in part: bound what decoding it may build. Every
    # record is an object, so more objects than this is more records than an upload holds
    # (counting braces in strings too only makes the bound looser).
    if body.count(b"{") > MAX_UPLOAD_ROWS * 8:
        raise InvalidValue(
            f"an upload holds at most {MAX_UPLOAD_ROWS:,} records; send the rest in another upload"
        )
    payload = bodies.decode_json(body)
    if isinstance(payload, dict):
        return [payload], True
    if isinstance(payload, list) and all(isinstance(p, dict) for p in payload):
        return payload, False
    raise InvalidValue("send one record (an object), a JSON array of records, or a CSV file")


class MaintenanceController(Controller):
    path = "/maintenance"
    tags = ("maintenance",)

    @post(
        "/records",
        status_code=200,
        request_max_body_size=bodies.MAINTENANCE_UPLOAD_MAX_BYTES,
        responses=api_docs.WRITE,
        operation_class=api_docs.RecordUpload,
    )
    async def upload(
        self,
        principal: NamedDependency[Principal],
        request: Request,
        language: NamedDependency[str],
    ) -> Response[schemas.UploadReport]:
        """Upload maintenance records: one JSON object, a JSON array, a CSV body
        (``Content-Type: text/csv``), an XLSX body, or a form (multipart/form-data) whose
        field ``file`` is a CSV or XLSX file; up to 10,000 rows and 8 MiB. Columns: record_id,
        code (or registration_code), maintained_on (or date), level, items, technicians as
        ``name:certificate;...``, findings, hazards, signed_off_by, or their Chinese headers
        (维保记录编号, 设备注册代码, 维保日期, 维保类别, ...; see the templates). Every valid
        row is stored; each rejected one is named with its reason in the caller's language,
        a spreadsheet's by the row number the sheet shows (the header is row 1)."""
        principal.require(Permission.MAINTENANCE_UPLOAD)  # before reading a byte of the body
        result, single = await _upload(principal, request)
        if single and result.rejected:
            _, reason, field = result.rejected[0]
            raise InvalidValue(reason, field=field)
        status = 201 if single and result.stored else 200
        return Response(views.upload_report(result, language), status_code=status)

    @get(
        "/records/template.xlsx",
        media_type=record_sheets.XLSX_MEDIA_TYPE,
        responses=api_docs.READ,
    )
    async def template_xlsx(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
    ) -> Response[bytes]:
        """The workbook to fill in and upload: Chinese headers (English with ``lang=en``),
        codes and record numbers kept as text, the levels offered as a list, and a second
        sheet explaining each column."""
        principal.require(Permission.MAINTENANCE_UPLOAD)
        return _template(record_sheets.SheetKind.XLSX, language)

    @get("/records/template.csv", media_type="text/csv", responses=api_docs.READ)
    async def template_csv(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
    ) -> Response[bytes]:
        """The header row to fill in and upload, as CSV in UTF-8 with a BOM (which Excel
        opens correctly): Chinese headers, English with ``lang=en``."""
        principal.require(Permission.MAINTENANCE_UPLOAD)
        return _template(record_sheets.SheetKind.CSV, language)

    @get("/suspicious", responses=api_docs.READ)
    async def suspicious(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        limit: Limit = None,
    ) -> list[schemas.MaintenanceRecordView]:
        """Records lift telemetry contradicts (normal service all day, never inspection
        mode): flagged for the inspector."""
        rows = await maintenance.suspicious_records(principal, limit=page_limit(limit))
        return [views.maintenance_record(r, language) for r in rows]

    @get("/score/{company_id:int}", responses=api_docs.READ_ONE)
    async def score(
        self,
        principal: NamedDependency[Principal],
        company_id: Annotated[int, PathParameter(ge=1, le=2**31 - 1)],
    ) -> schemas.CompanyScore:
        """Share of the company's lifts maintained within their cycle in the last 90 days."""
        return schemas.CompanyScore(
            **await maintenance.company_score(principal, company_id, today=clock.today())
        )


@get(
    "/equipment/{equipment_id:int}/maintenance", tags=("maintenance",), responses=api_docs.READ_ONE
)
async def maintenance_records(
    principal: NamedDependency[Principal], language: NamedDependency[str], equipment_id: EquipmentId
) -> list[schemas.MaintenanceRecordView]:
    rows = await maintenance.list_records(principal, equipment_id)
    return [views.maintenance_record(r, language) for r in rows]


@post("/equipment/{equipment_id:int}/alarms", tags=("alarms",), responses=api_docs.WRITE)
async def raise_alarm(
    principal: NamedDependency[Principal],
    equipment_id: EquipmentId,
    data: JSONBody[schemas.AlarmCreate],
) -> Response[schemas.AlarmView]:
    """Enter an alarm by hand (an entrapment phoned in); it starts the response clock."""
    now = clock.now()
    row = await alarms.raise_alarm(
        principal,
        equipment_id,
        kind=data.kind,
        raised_at=data.raised_at or now,
        source="manual",
        now=now,
        note=data.note,
    )
    return Response(views.alarm(row), status_code=201)


class AlarmController(Controller):
    path = "/alarms"
    tags = ("alarms",)

    @get("/", responses=api_docs.READ)
    async def list_(
        self,
        principal: NamedDependency[Principal],
        alarm_state: Annotated[
            str | None, QueryParameter(name="state", max_length=12, pattern=r"^(open|closed)$")
        ] = None,
        kind: Annotated[str | None, query_text(32)] = None,
        district: District = None,
        maintenance_company_id: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
        late: Annotated[bool, QueryParameter(description="only late arrivals")] = False,
        cursor: Annotated[str | None, query_text(400)] = None,
        limit: Limit = None,
    ) -> schemas.AlarmPage:
        page = await alarms.list_alarms(
            principal,
            alarms.AlarmFilter(
                state=alarm_state,
                kind=kind,
                district_code=district_filter(district),
                maintenance_company_id=maintenance_company_id,
                late_only=late,
            ),
            cursor=cursor,
            limit=page_limit(limit),
        )
        return schemas.AlarmPage([views.alarm(r) for r in page.items], page.next_cursor)

    @post("/{alarm_id:int}/acknowledge", status_code=200, responses=api_docs.WRITE)
    async def acknowledge(
        self,
        principal: NamedDependency[Principal],
        alarm_id: AlarmId,
        data: JSONBody[schemas.AlarmStep],
    ) -> schemas.AlarmView:
        return await _step(principal, alarm_id, "acknowledge", data)

    @post("/{alarm_id:int}/arrive", status_code=200, responses=api_docs.WRITE)
    async def arrive(
        self,
        principal: NamedDependency[Principal],
        alarm_id: AlarmId,
        data: JSONBody[schemas.AlarmStep],
    ) -> schemas.AlarmView:
        """The technician is on site: checked against 30 minutes in a city district, 1 hour
        elsewhere (docs/rules.md)."""
        return await _step(principal, alarm_id, "arrive", data)

    @post("/{alarm_id:int}/finish", status_code=200, responses=api_docs.WRITE)
    async def finish(
        self,
        principal: NamedDependency[Principal],
        alarm_id: AlarmId,
        data: JSONBody[schemas.AlarmStep],
    ) -> schemas.AlarmView:
        return await _step(principal, alarm_id, "finish", data)

    @post("/{alarm_id:int}/close", status_code=200, responses=api_docs.WRITE)
    async def close(
        self,
        principal: NamedDependency[Principal],
        alarm_id: AlarmId,
        data: JSONBody[schemas.AlarmClose],
    ) -> schemas.AlarmView:
        return views.alarm(await alarms.close(principal, alarm_id, note=data.note, now=clock.now()))


async def _step(
    principal: Principal, alarm_id: int, step: str, data: schemas.AlarmStep
) -> schemas.AlarmView:
    now = clock.now()
    row = await alarms.respond(principal, alarm_id, step, at=data.at or now, now=now)
    return views.alarm(row)
