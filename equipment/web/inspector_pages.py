"""The inspector side (移动安全监察端, issue 20): the home of what needs the inspector
today, the due list with the API's filters and downloads, and a unit's page with the
forms to record an inspection and to enter a phoned-in alarm.

Every figure comes from the services the API calls (due, alarms, fills, register,
inspections, maintenance, areas); their scope functions decide what is visible, so an
inspector bound to a jurisdiction sees only the units inside it and a unit outside is a
404 page. Nothing here decides a due date, a status or a verdict.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from functools import cache, partial
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlencode

from litestar import Request, Response, Router, get, post
from litestar.datastructures import MultiDict
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from equipment.api import controllers, export_worker, exports, views
from equipment.domain import catalogue, lift_events, regions
from equipment.domain import risk as risk_rules
from equipment.domain.access import Permission, Principal, Role
from equipment.domain.errors import DomainError, Forbidden, InvalidValue, NotFound
from equipment.domain.lifecycle import Status
from equipment.i18n import N_, Translator
from equipment.i18n.spoken import speak
from equipment.services import (
    alarms,
    calendar_feeds,
    clock,
    due,
    fills,
    inspections,
    register,
    risk,
    unit_file,
)
from equipment.web.staff import ROLE_HOMES, needs, page, staff_language

T = TypeVar("T")

PAGE_SIZE = 50
# The due list's filters, named as the API's query parameters (GET /api/v1/due).
DUE_FIELDS = (
    "window",
    "within_days",
    "from",
    "to",
    "kind",
    "category",
    "category_prefix",
    "district",
    "user_unit_id",
    "maintenance_company_id",
    "area_id",
)
WINDOWS = (("all", N_("All")), ("overdue", N_("Overdue")), ("upcoming", N_("Upcoming")))
DUE_KINDS = {
    "periodic": N_("periodic inspection"),
    "self_test": N_("Self-test"),
    "external": N_("External inspection"),
    "internal": N_("Internal inspection"),
    "hydrostatic": N_("Hydrostatic test"),
    "annual_check": N_("Annual check"),
    "supervisory": N_("Supervisory inspection"),
    "maintenance": N_("Maintenance"),
    "end_of_service_life": N_("End of design service life"),
    "change_registration": N_("Change registration"),
}
INSPECTION_KINDS = (
    "periodic",
    "supervisory",
    "self_test",
    "external",
    "internal",
    "hydrostatic",
    "annual_check",
)
CONCLUSIONS = {
    "pass": N_("Pass"),
    "conditional_pass": N_("Conditional pass"),
    "fail": N_("Failed"),
}
DUE_STATES = {"upcoming": N_("Upcoming"), "reminder": N_("Apply now"), "overdue": N_("Overdue")}
STATUSES = {
    Status.PENDING: N_("Pending registration"),
    Status.REFUSED: N_("Registration refused"),
    Status.IN_USE: N_("In use"),
    Status.SUSPENDED: N_("Suspended"),
    Status.SCRAPPED: N_("Scrapped"),
    Status.CANCELLED: N_("Cancelled"),
}
ALARM_KINDS = {
    "entrapment": N_("Entrapment"),
    "safety_circuit_open": N_("Safety circuit open"),
    "door_close_fault": N_("Door fails to close"),
    "door_open_fault": N_("Door fails to open"),
    "stopped_outside_door_zone": N_("Stopped outside the door zone"),
    "unintended_movement": N_("Unintended car movement"),
    "motor_runtime_limiter": N_("Motor run-time limiter tripped"),
    "floor_position_lost": N_("Floor position lost"),
    "restart_prevented": N_("Restart prevented"),
    "power_loss": N_("Power loss"),
    "over_travel_top": N_("Over-travel at the top"),
    "over_travel_bottom": N_("Over-travel at the bottom"),
    "overspeed": N_("Overspeed"),
    "alarm_button": N_("Alarm button pressed"),
}
# What a person may enter by hand: the API's AlarmKind (every lift event but the all-clear).
MANUAL_ALARM_KINDS = tuple(k for k in ALARM_KINDS if k in lift_events.KINDS)
ALARM_STATES = {"open": N_("Open"), "closed": N_("Closed")}
SEVERITIES = {"critical": N_("Critical"), "major": N_("Major"), "minor": N_("Minor")}


class Labels(dict[str, str]):
    """Code to label; a code without a label shows as itself."""

    def __missing__(self, code: str) -> str:
        return code


def local(moment: datetime, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A stored instant (UTC) as the bureau's wall clock shows it."""
    return moment.astimezone(clock.CHINA).strftime(pattern)


def labels() -> dict[str, Any]:
    """The code-to-label tables the templates translate with ``_``, and the time format."""
    return {
        "local": local,
        "due_kinds": DUE_KINDS,
        "due_states": DUE_STATES,
        "conclusions": CONCLUSIONS,
        "statuses": STATUSES,
        "alarm_kinds": ALARM_KINDS,
        "alarm_states": ALARM_STATES,
        "severities": SEVERITIES,
    }


async def _or_none(call: Awaitable[T]) -> T | None:
    """A section the role may not read (403) or that does not apply (404) is left out;
    the unit itself was already found in scope."""
    try:
        return await call
    except (Forbidden, NotFound):
        return None


# ---- the inspector's home -------------------------------------------------------------


async def inspector_home(request: Request, principal: Principal) -> Template:
    """What needs the inspector today within the jurisdiction: counts of overdue and
    soon-due units, open alarms, entrapments in progress (with running clocks), and the
    refused fills where the role may read fills."""
    today = clock.today()
    summary = await due.summary(principal, today=today)
    overdue = sum(row["overdue"] for row in summary)
    due_30 = sum(row["due_30_days"] for row in summary)
    open_alarms = await alarms.list_alarms(
        principal, alarms.AlarmFilter(state="open"), cursor=None, limit=20
    )
    entrapments = await alarms.list_alarms(
        principal, alarms.AlarmFilter(state="open", kind="entrapment"), cursor=None, limit=50
    )
    units = await register.unit_labels(
        principal,
        {a.equipment for a in (*open_alarms.items, *entrapments.items)} - {None},
    )
    refused = await _or_none(
        fills.list_fills(principal, fills.FillFilter(allowed=False), before_id=None, limit=10)
    )
    return page(
        request,
        "inspector/home.html",
        {
            "jurisdiction": str(principal.jurisdiction) if principal.jurisdiction else "",
            "overdue": overdue,
            "due_30": due_30,
            "open_alarms": open_alarms.items,
            "more_alarms": open_alarms.next_cursor is not None,
            "entrapments": entrapments.items,
            "units": units,
            "refused_fills": refused.items if refused is not None else None,
            "now": clock.now(),
            "elapsed": elapsed,
            **labels(),
        },
    )


ROLE_HOMES[Role.INSPECTOR] = inspector_home


# ---- the due list ---------------------------------------------------------------------


def _int(value: str, field: str) -> int | None:
    if not value:
        return None
    if not value.isdigit() or len(value) > 10:
        raise InvalidValue("must be a whole number", field=field)
    return int(value)


def _date(value: str, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidValue("must be a date like 2026-12-31", field=field) from None


N_("must be a whole number")
N_("must be a date like 2026-12-31")
N_("choose one of the offered values")


# The page's filters in the order it checks them, the first bad one shown beside its field
# with this reason: the choices, then the numbers and dates; the codes (category,
# category_prefix, district) last, in due_filter's order, their own checks saying why.
_CHECKED = {
    "window": "choose one of the offered values",
    "kind": "choose one of the offered values",
    "within_days": "must be a whole number",
    "from": "must be a date like 2026-12-31",
    "to": "must be a date like 2026-12-31",
    "user_unit_id": "must be a whole number",
    "maintenance_company_id": "must be a whole number",
    "area_id": "must be a whole number",
}


def due_filter_of(values: Mapping[str, str]) -> due.DueFilter:
    """The API's due filter from the page's query, read by the API's own reader
    (controllers.due_query, the checks of GET /api/v1/due) and built by its
    controllers.due_filter; an empty field is no filter (the form sends every field),
    and ``kind`` is one the form offers. A bad value raises InvalidValue naming its
    field."""
    given = [(name, value) for name, value in values.items() if value]
    read = controllers.due_query(MultiDict(given))
    kind = values.get("kind")
    if read is None or (kind and kind not in DUE_KINDS):
        _refuse(values)
    return controllers.due_filter(**read[0])


def _refuse(values: Mapping[str, str]) -> NoReturn:
    """Raise InvalidValue for the first of the page's values the API's reader refuses
    (kind: one the form does not offer); the page shows it beside its field."""
    for name, reason in _CHECKED.items():
        value = values.get(name)
        if not value:
            continue
        if name == "kind":
            refused = value not in DUE_KINDS
        else:
            refused = controllers.due_query(MultiDict([(name, value)])) is None
        if refused:
            raise InvalidValue(reason, field=name)
    # Only a code is left (too long, or holding NUL): its own check refuses it too, saying
    # why, the first of them in due_filter's order.
    controllers.due_filter(
        category=values.get("category") or None,
        category_prefix=values.get("category_prefix") or None,
        district=values.get("district") or None,
    )
    # Not reached from a request: the page's values are stripped, and a stripped code the
    # reader refuses is one no catalogue or region table holds.
    raise RuntimeError(f"the due list's reader refused {dict(values)!r} and no check says why")


def _query_values(request: Request) -> dict[str, str]:
    query: MultiDict = request.query_params
    return {name: str(query.get(name, "")).strip()[:40] for name in DUE_FIELDS}


@get("/ui/due", include_in_schema=False)
async def due_page(request: Request, principal: NamedDependency[Principal]) -> Template:
    """The due list with every filter of the API, a keyset page at a time."""
    lang = staff_language(request)
    values = _query_values(request)
    errors: dict[str, str] = {}
    items: list[dict[str, Any]] = []
    next_link = ""
    try:
        filters = due_filter_of(values)
    except InvalidValue as bad:
        errors[bad.field or "window"] = speak(lang, bad.reason)
    else:
        cursor = request.query_params.get("cursor") or None
        if cursor is not None and len(cursor) > 400:
            cursor = None
        found = await due.due_list(
            principal, filters, today=clock.today(), cursor=cursor, limit=_page_size(request)
        )
        items = found.items  # the list shows no explanation: the unit's page does
        if found.next_cursor:
            paging = {"limit": str(_page_size(request))} if "limit" in request.query_params else {}
            next_link = "/ui/due?" + urlencode(
                {**_set(values), **paging, "cursor": found.next_cursor}
            )
    query = urlencode(_set(values))
    feed = await calendar_feeds.feed_of(principal)
    return page(
        request,
        "inspector/due.html",
        {
            "values": values,
            "errors": errors,
            "items": items,
            "next_link": next_link,
            "first_page": bool(request.query_params.get("cursor")),
            "query": query,
            "windows": WINDOWS,
            # Translated once a language, not once a row; read by subscript in the row
            # loop (a Jinja call or attribute lookup per cell was most of the page's render).
            **_due_labels(lang),
            "feed": feed,
            **labels(),
        },
    )


@cache
def _due_labels(lang: str) -> dict[str, Any]:
    _ = Translator(lang)
    return {
        "kind_label": Labels({code: _(label) for code, label in DUE_KINDS.items()}),
        "state_label": Labels({code: _(label) for code, label in DUE_STATES.items()}),
        "days_label": _("{days} days"),
    }


def _page_size(request: Request) -> int:
    """``?limit=`` (1-200) when given, else PAGE_SIZE."""
    asked = str(request.query_params.get("limit", ""))
    return min(int(asked), 200) if asked.isdigit() and int(asked) >= 1 else PAGE_SIZE


def _set(values: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in values.items() if v}


async def _export(
    request: Request,
    principal: Principal,
    export: Callable[[], exports.Export],
    media_type: str,
    filename: str,
) -> Response[Any]:
    """The due list as a file: the same as the API's (a large one read and formatted in
    the export worker)."""
    return await export_worker.due_response(
        request,
        principal,
        due_filter_of(_query_values(request)),
        export,
        today=clock.today(),
        max_rows=controllers.EXPORT_LIMIT,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@get("/ui/due/export.csv", include_in_schema=False, media_type=exports.CSV_MEDIA_TYPE)
async def due_csv(request: Request, principal: NamedDependency[Principal]) -> Response[Any]:
    """The due list as CSV: the same export as GET /api/v1/due/export.csv."""
    lang = exports.export_lang(staff_language(request))
    make = partial(exports.CsvExport, lang)
    return await _export(request, principal, make, exports.CSV_MEDIA_TYPE, "due.csv")


@get("/ui/due/export.xlsx", include_in_schema=False, media_type=exports.XLSX_MEDIA_TYPE)
async def due_xlsx(request: Request, principal: NamedDependency[Principal]) -> Response[Any]:
    """The due list as Excel: the same export as GET /api/v1/due/export.xlsx."""
    lang = exports.export_lang(staff_language(request))
    make = partial(exports.XlsxExport, lang)
    return await _export(request, principal, make, exports.XLSX_MEDIA_TYPE, "due.xlsx")


# ---- a unit's page --------------------------------------------------------------------


async def _unit_page(
    request: Request,
    principal: Principal,
    equipment_id: int,
    *,
    status: int = 200,
    forms: dict[str, dict[str, str]] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
) -> Template:
    lang = staff_language(request)
    today = clock.today()
    # The unit in scope (404 outside it), then its sections on one connection, each
    # statement prepared once per connection: one unit of work instead of ten services
    # each loading the unit again (equipment.services.unit_file).
    found = await unit_file.unit_file(principal, equipment_id, today=today)
    unit = found.unit
    located = unit.longitude is not None and unit.latitude is not None
    cylinder = (
        await _or_none(fills.cylinder_trace(principal, unit.code, limit=20))
        if unit.category.startswith("2")
        else None
    )
    schedule = views.schedule(found.schedule, lang)
    can_record = principal.role in (Role.INSPECTOR, Role.ADMIN)
    graded = await risk.explain_unit(equipment_id, now=clock.now())
    if graded is not None:
        # The factor's name in the page's language (the table holds both).
        english = {f.key: f.name_en for f in risk_rules.FACTORS}
        for factor in graded["factors"]:
            if lang != "zh-CN":
                factor["name"] = english[factor["factor"]]
    return page(
        request,
        "inspector/unit.html",
        {
            "unit": unit,
            "category_name": catalogue.category(unit.category).name_zh,
            "district_name": (
                regions.region(unit.district_code).name
                if regions.is_known_region(unit.district_code)
                else None
            ),
            "names": found.names,
            "history": found.history,
            "inspections": found.inspections,
            "schedule": schedule,
            "records": found.maintenance,
            "alarms": found.alarms,
            "cylinder": cylinder,
            "audit": found.audit,
            "point": (
                {"lon": unit.longitude, "lat": unit.latitude, "outline": found.outline}
                if located
                else None
            ),
            "can_record": can_record,
            "risk": graded,
            "risk_grades": RISK_GRADE_LABELS,
            "inspection_kinds": INSPECTION_KINDS,
            "manual_alarm_kinds": MANUAL_ALARM_KINDS,
            "forms": forms or {},
            "errors": errors or {},
            "done": request.query_params.get("done", ""),
            "today": today.isoformat(),
            **labels(),
        },
        status_code=status,
    )


# The risk grade's words on the unit page, translated by the catalogue.
RISK_GRADE_LABELS = {
    "red": N_("Red (major risk)"),
    "orange": N_("Orange (high risk)"),
    "yellow": N_("Yellow (moderate risk)"),
    "blue": N_("Blue (low risk)"),
}


@get("/ui/units/{equipment_id:int}", include_in_schema=False)
async def unit_page(
    request: Request, principal: NamedDependency[Principal], equipment_id: FromPath[int]
) -> Template:
    """A unit: register data, status history, inspections, due dates with their clauses,
    maintenance, alarms, fills (cylinders), its position, QR link and audit trail."""
    return await _unit_page(request, principal, equipment_id)


def _form_values(form: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    return {n: v.strip() if isinstance(v := form.get(n), str) else "" for n in names}


INSPECTION_FIELDS = (
    "kind",
    "inspected_on",
    "conclusion",
    "report_no",
    "findings",
    "next_due_stated",
    "safety_grade",
)


def inspection_data(values: Mapping[str, str]) -> dict[str, Any]:
    """The form's fields as the inspections service takes them (the API's
    InspectionCreate); a bad value raises InvalidValue naming its field."""
    if values["kind"] not in INSPECTION_KINDS:
        raise InvalidValue("choose one of the offered values", field="kind")
    if values["conclusion"] not in CONCLUSIONS:
        raise InvalidValue("choose one of the offered values", field="conclusion")
    inspected_on = _date(values["inspected_on"], "inspected_on")
    if inspected_on is None:
        raise InvalidValue("must be a date like 2026-12-31", field="inspected_on")
    if len(values["report_no"]) > 64:
        raise InvalidValue("at most 64 characters", field="report_no")
    if len(values["findings"]) > 4000:
        raise InvalidValue("at most 4000 characters", field="findings")
    grade = _int(values["safety_grade"], "safety_grade")
    if grade is not None and not 1 <= grade <= 5:
        raise InvalidValue("a safety grade is 1 to 5", field="safety_grade")
    data: dict[str, Any] = {
        "kind": values["kind"],
        "inspected_on": inspected_on,
        "conclusion": values["conclusion"],
        "report_no": values["report_no"],
        "findings": values["findings"],
    }
    if (stated := _date(values["next_due_stated"], "next_due_stated")) is not None:
        data["next_due_stated"] = stated
    if grade is not None:
        data["safety_grade"] = grade
    return data


N_("at most 64 characters")
N_("at most 4000 characters")
N_("at most 1000 characters")
N_("a safety grade is 1 to 5")


@post(
    "/ui/units/{equipment_id:int}/inspections",
    include_in_schema=False,
    guards=[needs(Permission.INSPECTION_RECORD)],
)
async def record_inspection(
    request: Request, principal: NamedDependency[Principal], equipment_id: FromPath[int]
) -> Template | Redirect:
    """Record an inspection result (the inspector files in its own body's name)."""
    values = _form_values(await request.form(), INSPECTION_FIELDS)
    try:
        await inspections.record_inspection(
            principal,
            equipment_id,
            inspection_data(values),
            today=clock.today(),
            now=clock.now(),
        )
    except DomainError as refused:
        if isinstance(refused, NotFound):
            raise
        return await _refused(request, principal, equipment_id, "inspection", values, refused)
    return Redirect(path=f"/ui/units/{equipment_id}?done=inspection", status_code=303)


@post(
    "/ui/units/{equipment_id:int}/alarms",
    include_in_schema=False,
    guards=[needs(Permission.ALARM_RAISE)],
)
async def raise_alarm(
    request: Request, principal: NamedDependency[Principal], equipment_id: FromPath[int]
) -> Template | Redirect:
    """Enter a phoned-in alarm: it starts the response clock, as POST /api/v1/.../alarms."""
    values = _form_values(await request.form(), ("kind", "note"))
    try:
        if values["kind"] not in MANUAL_ALARM_KINDS:
            raise InvalidValue("choose one of the offered values", field="kind")
        if len(values["note"]) > 1000:
            raise InvalidValue("at most 1000 characters", field="note")
        now = clock.now()
        await alarms.raise_alarm(
            principal,
            equipment_id,
            kind=values["kind"],
            raised_at=now,
            source="manual",
            now=now,
            note=values["note"],
        )
    except DomainError as refused:
        if isinstance(refused, NotFound):
            raise
        return await _refused(request, principal, equipment_id, "alarm", values, refused)
    return Redirect(path=f"/ui/units/{equipment_id}?done=alarm", status_code=303)


async def _refused(
    request: Request,
    principal: Principal,
    equipment_id: int,
    form: str,
    values: dict[str, str],
    refused: DomainError,
) -> Template:
    """The unit page again with the form as sent and the reason next to its field."""
    message = speak(staff_language(request), refused.reason)
    field = refused.field if refused.field in values else "_form"
    return await _unit_page(
        request,
        principal,
        equipment_id,
        status=403 if isinstance(refused, Forbidden) else 422,
        forms={form: values},
        errors={form: {field: message}},
    )


# ---- the calendar subscription ---------------------------------------------------------


@post("/ui/due/calendar", include_in_schema=False)
async def calendar_regenerate(request: Request, principal: NamedDependency[Principal]) -> Template:
    """A new secret feed URL for this account (the old one stops). Shown once: only its
    hash is kept."""
    secret = await calendar_feeds.regenerate(principal, now=clock.now())
    base = str(request.base_url).rstrip("/")
    return page(
        request,
        "inspector/calendar.html",
        {"feed_url": f"{base}{calendar_feeds.PATH}/{secret}.ics"},
    )


@post("/ui/due/calendar/revoke", include_in_schema=False)
async def calendar_revoke(request: Request, principal: NamedDependency[Principal]) -> Redirect:
    await calendar_feeds.revoke(principal, now=clock.now())
    return Redirect(path="/ui/due", status_code=303)


INSPECTOR_PAGES: list = [
    due_page,
    due_csv,
    due_xlsx,
    unit_page,
    record_inspection,
    raise_alarm,
    calendar_regenerate,
    calendar_revoke,
]


def elapsed(since: datetime, now: datetime) -> str:
    """``H:MM:SS`` from ``since`` to ``now``: the clock's first value, before the script
    ticks it on."""
    seconds = max(0, int((now - since).total_seconds()))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


@get(f"{calendar_feeds.PATH}/{{name:str}}", include_in_schema=False)
async def calendar_feed(request: Request, name: FromPath[str]) -> Response[Any]:
    """The account's due dates (statutory, overdue and the coming year) as iCalendar, for
    a calendar app that subscribes to the URL: the secret in the path is the credential."""
    secret = name.removesuffix(".ics") if name.endswith(".ics") else ""
    principal = await calendar_feeds.principal_of(secret)
    if principal is None:
        return Response(b"not found\n", status_code=404, media_type="text/plain")
    calendar = partial(exports.IcsExport, calendar_name="sereg 应检设备", generated_at=clock.now())
    return await export_worker.due_response(
        request,
        principal,
        due.DueFilter(within_days=FEED_DAYS),
        calendar,
        today=clock.today(),
        max_rows=controllers.EXPORT_LIMIT,
        media_type=exports.ICS_MEDIA_TYPE,
        headers={"Cache-Control": "private, no-store"},
    )


# The feed's horizon: overdue dates and those of the coming year (a calendar app fetches
# the whole feed on every poll, so it stays bounded).
FEED_DAYS = 366

feed_pages = Router(path="/", route_handlers=[calendar_feed], include_in_schema=False)
