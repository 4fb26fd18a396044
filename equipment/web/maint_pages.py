"""The enterprise client of a maintenance company (企业客户端, 维保单位): its units, the
ones whose 15-day maintenance is overdue, its score, the upload of maintenance records
from the browser, and its alarms with the response buttons and the running clock.

Every page calls the services the API calls (equipment/services); the scope of the
logged-in company decides what is visible: another company's unit or alarm is a 404.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Any
from urllib.parse import quote

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import PathParameter, QueryParameter
from litestar.response import Redirect, Template

from equipment.api import bodies, views
from equipment.domain import catalogue, record_sheets
from equipment.domain.access import Permission, Principal
from equipment.domain.errors import Conflict, InvalidValue, NotFound
from equipment.domain.maintenance import DEFAULT_CYCLE_DAYS
from equipment.i18n import N_, Translator
from equipment.i18n.spoken import speak
from equipment.services import alarms, clock, due, maintenance, register
from equipment.services.pagination import SortKey
from equipment.storage.alarms import AlarmRecord
from equipment.storage.equipment import EquipmentRow
from equipment.web import company_labels as labels
from equipment.web.staff import error_page, needs, page, staff_language

PAGE_SIZE = 50
UNIT_SORT = SortKey("code", descending=False, unique=True)
Cursor = Annotated[str | None, QueryParameter(name="cursor", max_length=400, required=False)]
Query = Annotated[str | None, QueryParameter(name="q", max_length=100, required=False)]
RowId = Annotated[int, PathParameter(ge=1, le=2**63 - 1)]
AlarmState = Annotated[str, QueryParameter(name="state", pattern=r"^(open|closed)$")]


def _category(code: str) -> str:
    try:
        return catalogue.category(code).name_zh
    except (KeyError, ValueError):
        return code


def _unit_row(row: EquipmentRow, _: Translator) -> dict[str, Any]:
    return {
        "id": row.id,
        "code": row.code,
        "address": row.address,
        "category": _category(row.category),
        "status": labels.label(labels.STATUS, row.status, _),
        "last_maintenance_on": row.last_maintenance_on,
    }


# ---- units ------------------------------------------------------------------------


@get("/ui/maint/units", include_in_schema=False)
async def units(
    request: Request, principal: NamedDependency[Principal], cursor: Cursor = None, q: Query = None
) -> Template:
    """The units the company maintains (the register's scope: its own, nothing else)."""
    _ = Translator(staff_language(request))
    found = await register.list_equipment(
        principal,
        register.EquipmentFilter(q=q or None),
        UNIT_SORT,
        cursor,
        PAGE_SIZE,
    )
    return page(
        request,
        "maint/units.html",
        {
            "units": [_unit_row(r, _) for r in found.items],
            "next_cursor": found.next_cursor,
            "q": q or "",
        },
    )


@get("/ui/maint/units/{equipment_id:int}", include_in_schema=False)
async def unit(
    request: Request, principal: NamedDependency[Principal], equipment_id: RowId
) -> Template:
    """One unit: its register data and its maintenance records, newest first."""
    _ = Translator(staff_language(request))
    row = await register.get_equipment(principal, equipment_id)  # 404 outside the scope
    records = await maintenance.list_records(principal, equipment_id)
    return page(
        request,
        "maint/unit.html",
        {
            "unit": _unit_row(row, _) | {"registration_code": row.registration_code},
            "records": list(reversed(records)),
        },
    )


# ---- overdue maintenance ----------------------------------------------------------


@get("/ui/maint/overdue", include_in_schema=False)
async def overdue(
    request: Request, principal: NamedDependency[Principal], cursor: Cursor = None
) -> Template:
    """Units whose maintenance is past due: at least every 15 days (TSG T5002-2017), or
    the cycle of an on-demand contract."""
    lang = staff_language(request)
    found = await due.due_list(
        principal,
        due.DueFilter(window="overdue", kind="maintenance"),
        today=clock.today(),
        cursor=cursor,
        limit=PAGE_SIZE,
    )
    return page(
        request,
        "maint/overdue.html",
        {
            "items": [
                {**item, "explanation": speak(lang, item["explanation"] or "")}
                for item in found.items
            ],
            "next_cursor": found.next_cursor,
            "cycle_days": DEFAULT_CYCLE_DAYS,
        },
    )


# ---- score -------------------------------------------------------------------------


@get("/ui/maint/score", include_in_schema=False)
async def score(request: Request, principal: NamedDependency[Principal]) -> Template:
    """The company's score: the share of its lifts maintained within their cycle over the
    last 90 days, and the lifts that were not."""
    figures = await maintenance.company_score(
        principal, principal.organisation_id or 0, today=clock.today()
    )
    late = figures["late_equipment_ids"]
    late_units = []
    if late:
        # The late lifts' codes and addresses, read through the register's own scope.
        for unit_id in late[:PAGE_SIZE]:
            row = await register.get_equipment(principal, unit_id)
            late_units.append({"id": unit_id, "code": row.code, "address": row.address})
    share = figures["share_on_time"]
    return page(
        request,
        "maint/score.html",
        {
            "score": figures,
            "percent": None if share is None else round(share * 100, 1),
            "late_units": late_units,
        },
    )


# ---- upload ------------------------------------------------------------------------


# The upload's permission is checked before a byte of the body is read (the CSRF check
# reads the form, so it must not run for one who may not upload).
may_upload = needs(Permission.MAINTENANCE_UPLOAD)


def _too_large(request: Request, _: RequestEntityTooLarge) -> Template:
    t = Translator(staff_language(request))
    limit = bodies.MAINTENANCE_UPLOAD_MAX_BYTES // 2**20
    return error_page(
        request,
        413,
        N_("The file is too large"),
        t("An upload is at most {limit} MiB; split the records into several files.", limit=limit),
    )


def _upload_page(
    request: Request,
    *,
    status: int = 200,
    report: Any = None,
    filename: str = "",
    errors: dict[str, str] | None = None,
) -> Template:
    return page(
        request,
        "maint/upload.html",
        {
            "report": report,
            "filename": filename,
            "errors": errors or {},
            "max_rows": maintenance.MAX_UPLOAD_ROWS,
            "max_mib": bodies.MAINTENANCE_UPLOAD_MAX_BYTES // 2**20,
            # A rejected row's column by the header the template gives it in this language.
            "columns": record_sheets.HEADERS_ZH if staff_language(request) == "zh-CN" else {},
        },
        status_code=status,
    )


@get("/ui/maint/upload", include_in_schema=False, guards=[may_upload])
async def upload_form(request: Request, principal: NamedDependency[Principal]) -> Template:
    """The upload form, with the templates to fill in."""
    return _upload_page(request)


@post(
    "/ui/maint/upload",
    include_in_schema=False,
    guards=[may_upload],
    request_max_body_size=bodies.MAINTENANCE_UPLOAD_MAX_BYTES,
    exception_handlers={RequestEntityTooLarge: _too_large},
)
async def upload(request: Request, principal: NamedDependency[Principal]) -> Template:
    """Store the records of the chosen CSV or XLSX file; the page lists every rejected row
    by the row number the spreadsheet shows, with its reason.

    The report is answered to the POST itself rather than after a redirect: it is the
    result of this one file, held nowhere else, and sending the file again is harmless
    (a record id already stored is counted as a duplicate, not stored twice)."""
    lang = staff_language(request)
    _ = Translator(lang)
    form = await request.form()  # read (and its CSRF token checked) by the staff router
    files = [v for v in form.getall("file", []) if isinstance(v, UploadFile)]
    chosen = files[0] if files else None
    if chosen is None or not chosen.filename:
        return _upload_page(request, status=422, errors={"file": _("Choose a CSV or XLSX file.")})
    try:
        data = await chosen.read()
    finally:
        for f in files:
            await f.close()
    if not data:
        return _upload_page(
            request,
            status=422,
            filename=chosen.filename,
            errors={"file": _("The file is empty.")},
        )
    try:
        result = await maintenance.upload_file(
            principal,
            data,
            media_type=chosen.content_type,
            filename=chosen.filename,
            today=clock.today(),
            now=clock.now(),
        )
    except InvalidValue as refused:
        return _upload_page(
            request,
            status=422,
            filename=chosen.filename,
            errors={"file": speak(lang, refused.reason)},
        )
    return _upload_page(request, report=views.upload_report(result, lang), filename=chosen.filename)


@cache
def _template_bytes(kind: record_sheets.SheetKind, lang: record_sheets.Lang) -> bytes:
    return record_sheets.template(kind, lang)


def _template(request: Request, sheet: record_sheets.SheetKind) -> Response[bytes]:
    """The empty sheet to fill in (the API's templates, reachable with the page's session):
    Chinese headers, English ones when the page is in English."""
    language = staff_language(request)
    lang: record_sheets.Lang = "en" if language == "en" else "zh"
    name = "维保记录模板" if lang == "zh" else "maintenance-records"
    media = record_sheets.XLSX_MEDIA_TYPE if sheet is record_sheets.SheetKind.XLSX else "text/csv"
    return Response(
        _template_bytes(sheet, lang),
        media_type=media,
        headers={
            # An ASCII name for old clients, the Chinese one for the rest (RFC 6266).
            "Content-Disposition": f'attachment; filename="maintenance-records.{sheet}"; '
            f"filename*=UTF-8''{quote(name)}.{sheet}",
            "Content-Language": language,
        },
    )


@get("/ui/maint/template.xlsx", include_in_schema=False, guards=[may_upload])
async def template_xlsx(request: Request, principal: NamedDependency[Principal]) -> Response[bytes]:
    return _template(request, record_sheets.SheetKind.XLSX)


@get("/ui/maint/template.csv", include_in_schema=False, guards=[may_upload])
async def template_csv(request: Request, principal: NamedDependency[Principal]) -> Response[bytes]:
    return _template(request, record_sheets.SheetKind.CSV)


# ---- alarms ------------------------------------------------------------------------

STEPS = ("acknowledge", "arrive", "finish")
STEP_DONE = {"acknowledge": "acknowledged_at", "arrive": "arrived_at", "finish": "finished_at"}
STEP_NAMES = {
    "acknowledge": N_("Acknowledge"),
    "arrive": N_("On site"),
    "finish": N_("Rescue finished"),
}


def _alarm_row(a: AlarmRecord, _: Translator, now: datetime) -> dict[str, Any]:
    # The next step is the first not yet marked: the buttons follow the service's order.
    next_step = next((s for s in STEPS if getattr(a, STEP_DONE[s]) is None), None)
    ended = a.finished_at or a.closed_at or now
    return {
        **msgspec.structs.asdict(a),
        "kind_label": labels.label(labels.ALARM_KINDS, a.kind, _),
        "state_label": labels.label(labels.ALARM_STATES, a.state, _),
        "severity_label": labels.label(labels.SEVERITIES, a.severity, _),
        "next_step": next_step if a.state == "open" else None,
        "next_step_label": _(STEP_NAMES[next_step]) if next_step else "",
        # The clock: minutes since raised, to the end of the rescue (or now while it runs).
        "minutes": int((ended - a.raised_at).total_seconds() // 60),
        "running": a.state == "open" and a.finished_at is None,
    }


async def _alarm_page(
    request: Request,
    principal: Principal,
    *,
    state: str,
    cursor: str | None,
    status: int = 200,
    problem: str = "",
) -> Template:
    _ = Translator(staff_language(request))
    found = await alarms.list_alarms(
        principal, alarms.AlarmFilter(state=state), cursor=cursor, limit=PAGE_SIZE
    )
    codes = await _unit_codes(principal, {a.equipment for a in found.items})
    now = clock.now()
    rows = [
        _alarm_row(a, _, now)
        | {"code": codes.get(a.equipment, "") if a.equipment is not None else ""}
        for a in found.items
    ]
    return page(
        request,
        "maint/alarms.html",
        {
            "alarms": rows,
            "state": state,
            "next_cursor": found.next_cursor,
            "problem": problem,
            "china": clock.CHINA,
            # Other roles that read alarms (a station, a user unit) see them without buttons.
            "can_respond": principal.can(Permission.ALARM_RESPOND),
        },
        status_code=status,
    )


async def _unit_codes(principal: Principal, ids: set[int | None]) -> dict[int, str]:
    codes = {}
    for unit_id in ids:
        if unit_id is None:  # a refused fill of a code not on file has no unit
            continue
        try:
            codes[unit_id] = (await register.get_equipment(principal, unit_id)).code
        except NotFound:
            continue  # an alarm visible through a station's fill, of another's cylinder
    return codes


@get("/ui/maint/alarms", include_in_schema=False)
async def alarm_list(
    request: Request,
    principal: NamedDependency[Principal],
    alarm_state: AlarmState = "open",
    cursor: Cursor = None,
) -> Template:
    """The company's alarms (the units it maintains now), newest first, open ones by
    default, each with its next response step and the clock since it was raised."""
    return await _alarm_page(request, principal, state=alarm_state, cursor=cursor)


@post("/ui/maint/alarms/{alarm_id:int}/{step:str}", include_in_schema=False)
async def alarm_step(
    request: Request,
    principal: NamedDependency[Principal],
    alarm_id: RowId,
    step: Annotated[str, PathParameter(max_length=16)],
) -> Template | Redirect:
    """Acknowledge, arrive on site, finish: the service's respond, timed now."""
    if step not in STEPS:
        raise _no_such_step(step)
    now = clock.now()
    try:
        await alarms.respond(principal, alarm_id, step, at=now, now=now)
    except Conflict as refused:
        # Someone else marked it meanwhile (another dispatcher, the API): say so on the list.
        return await _alarm_page(
            request,
            principal,
            state="open",
            cursor=None,
            status=409,
            problem=speak(staff_language(request), refused.reason),
        )
    return Redirect(path=f"/ui/maint/alarms#alarm-{alarm_id}", status_code=303)


def _no_such_step(step: str) -> NotFound:
    return NotFound(f"no response step {step!r}")


PAGES: list = [
    units,
    unit,
    overdue,
    score,
    upload_form,
    upload,
    template_xlsx,
    template_csv,
    alarm_list,
    alarm_step,
]
