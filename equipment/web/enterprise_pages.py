"""The enterprise client (企业客户端) of a user unit, and the registration office's pages.

User unit: its units (``/ui/units``, whatever the scope shows: a maintenance company or a
station sees its own the same way), the inspections it must apply for now (申报, one month
before the due date), applying for a new unit, a unit's page (``/ui/my/units/{id}``) with
suspend / resume and change of maintainer, its maintenance contracts, the QR label sheet.
Registration office: the queue of pending registrations and the organisations.

Every handler calls the services the API calls; the scope functions decide what is seen
(a unit outside it is a 404 page). Forms that change a unit carry the version the person
saw; a change made meanwhile answers 412 and shows the unit as it is now.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from equipment.api import views
from equipment.api.public_controllers import label_items
from equipment.domain import aliases, catalogue, labels, regions
from equipment.domain.access import OrgKind, Permission, Principal, Role
from equipment.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidValue,
    NotFound,
    StaleVersion,
)
from equipment.domain.lifecycle import Status, registration_is_late
from equipment.domain.reminders import due_state
from equipment.i18n import N_, Translator
from equipment.i18n.spoken import speak
from equipment.services import (
    clock,
    due,
    inspections,
    maintenance,
    organisations,
    public,
    register,
)
from equipment.services.pagination import parse_sort
from equipment.settings import Settings
from equipment.storage.equipment import EquipmentRow
from equipment.web.staff import needs, page, staff_language

PAGE_SIZE = 50
REMINDERS_ON_LIST = 10
# The register's statuses and due states as people read them (the domain's label tables).
STATUS_LABELS = labels.STATUS
DUE_STATE_LABELS = labels.DUE_STATE
ORG_KIND_LABELS: dict[str, str] = {
    OrgKind.USER_UNIT: N_("User unit"),
    OrgKind.MAINTENANCE_COMPANY: N_("Maintenance company"),
    OrgKind.INSPECTION_BODY: N_("Inspection body"),
    OrgKind.FILLING_STATION: N_("Filling station"),
}
# The lift parameters the application form asks for (others come with the register's
# later edits); sent only when filled in, checked by the catalogue's parameter rules.
LIFT_FIELDS = ("floors", "rated_load_kg", "rated_speed_mps")
UNIT_FIELDS = (
    "category",
    "district_code",
    "equipment_code",
    "manufacturer",
    "model",
    "serial_no",
    "manufacture_date",
    "commissioning_date",
    "address",
    "maintenance_company_id",
    *LIFT_FIELDS,
)
ORG_FIELDS = (
    "kind",
    "name",
    "credit_code",
    "contact_name",
    "contact_phone",
    "public_phone",
    "address",
    "licence_no",
    "licence_valid_until",
    "station_code",
    # A checkbox ("1" when ticked): a user unit that is a hazardous-chemicals enterprise.
    "hazardous_chemicals",
)
FIXED = frozenset({"kind", "credit_code"})
STALE = N_(
    "Someone changed this meanwhile; the page now shows it as it is. Check it and submit again."
)


class FieldError(Exception):
    """A form value that cannot even be read (a date that is no date): shown by its field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


N_("not a date: write it as 2026-12-04")
N_("not a whole number")
N_("not a number")


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _date(form: Mapping[str, Any], name: str) -> date | None:
    text = _text(form, name).replace("/", "-")
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FieldError(name, "not a date: write it as 2026-12-04") from None


def _required_date(form: Mapping[str, Any], name: str) -> date:
    day = _date(form, name)
    if day is None:
        raise FieldError(name, "required")
    return day


def _int(form: Mapping[str, Any], name: str) -> int | None:
    text = _text(form, name)
    if not text:
        return None
    if not text.isdigit() or len(text) > 18:
        raise FieldError(name, "not a whole number")
    return int(text)


def _number(form: Mapping[str, Any], name: str) -> float | int | None:
    text = _text(form, name)
    if not text:
        return None
    try:
        return int(text) if text.isdigit() else float(text)
    except ValueError:
        raise FieldError(name, "not a number") from None


N_("required")


def _field_errors(request: Request, exc: Exception, default_field: str) -> dict[str, str]:
    """{field: the reason in the page's language} of a refused form."""
    lang = staff_language(request)
    if isinstance(exc, FieldError):
        return {exc.field: Translator(lang)(exc.message)}
    assert isinstance(exc, DomainError)
    field = (exc.field or default_field).removeprefix("parameters.")
    return {field: speak(lang, exc.reason)}


def _labels(context: dict[str, Any]) -> dict[str, Any]:
    return {
        "status_labels": STATUS_LABELS,
        "due_state_labels": DUE_STATE_LABELS,
        "org_kind_labels": ORG_KIND_LABELS,
        **context,
    }


def _categories(lang: str) -> list[tuple[str, str]]:
    """The catalogue's registrable categories for a picker, in the page's language."""
    rows = (catalogue.category(c) for c in catalogue.REGISTRABLE_CODES)
    return [(r.code, f"{r.code} {r.name_zh if lang != 'en' else r.name_en}") for r in rows]


def _category_name(code: str, lang: str) -> str:
    if not catalogue.is_known_category(code):
        return code
    row = catalogue.category(code)
    return row.name_zh if lang != "en" else row.name_en


def _district_name(code: str) -> str:
    return regions.region(code).name if regions.is_known_region(code) else code


# ---- the units: list and reminders ------------------------------------------------


@get("/ui/units", include_in_schema=False)
async def unit_list(request: Request, principal: NamedDependency[Principal]) -> Template:
    """The units in the caller's scope, filtered, a keyset page at a time; on the first
    page the inspections to apply for now."""
    q = request.query_params
    lang = staff_language(request)
    status_text = q.get("status") or ""
    status = Status(status_text) if status_text in {s.value for s in Status} else None
    prefix = q.get("category_prefix") or ""
    words = (q.get("q") or "")[:100]
    cursor = (q.get("cursor") or "")[:400] or None
    errors: dict[str, str] = {}
    try:
        prefix_code = catalogue.normalise_category_code(prefix) if prefix else None
        if prefix and not any(c.startswith(prefix_code or "-") for c in catalogue.ALL_CODES):
            raise InvalidValue("unknown category", field="category_prefix")
        units = await register.list_equipment(
            principal,
            register.EquipmentFilter(status=status, category_prefix=prefix_code, q=words or None),
            parse_sort("id", register.SORTS),
            cursor,
            PAGE_SIZE,
        )
    except InvalidValue as refused:
        errors = _field_errors(request, refused, "cursor")
        units = register.Page([], None)
    reminders = None
    if cursor is None and principal.can(Permission.DUE_READ):
        reminders = await due.due_list(
            principal,
            due.reminder_filter(clock.today()),
            today=clock.today(),
            cursor=None,
            limit=REMINDERS_ON_LIST,
        )
    filters = {"status": status_text, "category_prefix": prefix, "q": words}
    next_link = None
    if units.next_cursor:
        next_link = "/ui/units?" + urlencode(
            {k: v for k, v in filters.items() if v} | {"cursor": units.next_cursor}
        )
    return page(
        request,
        "enterprise/units.html",
        _labels(
            {
                "units": units.items,
                "reminders": reminders,
                "filters": filters,
                "errors": errors,
                "statuses": [s.value for s in Status],
                "next_link": next_link,
                "category_name": lambda c: _category_name(c, lang),
                "can_apply": principal.role is Role.USER_UNIT,
                "own_pages": principal.role is Role.USER_UNIT,
            }
        ),
        status_code=422 if errors else 200,
    )


@get("/ui/my/reminders", include_in_schema=False)
async def reminder_list(request: Request, principal: NamedDependency[Principal]) -> Template:
    """Every inspection to apply for now or overdue (申报 one month before), keyset pages."""
    cursor = (request.query_params.get("cursor") or "")[:400] or None
    try:
        reminders = await due.due_list(
            principal,
            due.reminder_filter(clock.today()),
            today=clock.today(),
            cursor=cursor,
            limit=PAGE_SIZE,
        )
    except InvalidValue:
        raise NotFound("no such page of reminders") from None
    next_link = (
        "/ui/my/reminders?" + urlencode({"cursor": reminders.next_cursor})
        if reminders.next_cursor
        else None
    )
    return page(
        request,
        "enterprise/reminders.html",
        _labels(
            {
                "reminders": reminders,
                "next_link": next_link,
                "own_pages": principal.role is Role.USER_UNIT,
            }
        ),
    )


# ---- applying for a new unit ---------------------------------------------------------


async def _apply_page(
    request: Request,
    principal: Principal,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Template:
    lang = staff_language(request)
    return page(
        request,
        "enterprise/apply.html",
        {
            "form": form or {},
            "errors": errors or {},
            "categories": _categories(lang),
            "districts": regions.XIANGYANG_DISTRICTS,
            "companies": await organisations.choices(OrgKind.MAINTENANCE_COMPANY),
        },
        status_code=422 if errors else 200,
    )


def _applicant(principal: Principal) -> int:
    principal.require(Permission.EQUIPMENT_CREATE)
    if principal.role is not Role.USER_UNIT or principal.organisation_id is None:
        raise Forbidden("a user unit applies for the registration of its own units")
    return principal.organisation_id


@get("/ui/units/new", include_in_schema=False)
async def apply_form(request: Request, principal: NamedDependency[Principal]) -> Template:
    _applicant(principal)
    return await _apply_page(request, principal)


@post("/ui/units/new", include_in_schema=False, guards=[needs(Permission.EQUIPMENT_CREATE)])
async def apply(request: Request, principal: NamedDependency[Principal]) -> Template | Redirect:
    """A new unit, pending registration (the register's create, as ``POST /equipment``)."""
    user_unit = _applicant(principal)
    fields = await request.form()
    form = {name: _text(fields, name) for name in UNIT_FIELDS}
    try:
        params = {name: _number(fields, name) for name in LIFT_FIELDS}
        values: dict[str, Any] = {
            "category": form["category"],
            "district_code": aliases.district_code(form["district_code"]),
            "user_unit": user_unit,
            "equipment_code": form["equipment_code"] or None,
            "manufacturer": form["manufacturer"],
            "model": form["model"],
            "serial_no": form["serial_no"],
            "manufacture_date": _date(fields, "manufacture_date"),
            "commissioning_date": _date(fields, "commissioning_date"),
            "address": form["address"],
            "maintenance_company": _int(fields, "maintenance_company_id"),
            "parameters": {k: v for k, v in params.items() if v is not None},
        }
        if not form["category"]:
            raise FieldError("category", "required")
        if not form["district_code"]:
            raise FieldError("district_code", "required")
        unit = await register.create_equipment(
            principal, values, today=clock.today(), now=clock.now()
        )
    except (FieldError, InvalidValue, DomainError) as refused:
        if isinstance(refused, NotFound | Forbidden):
            raise
        errors = _field_errors(request, refused, "equipment_code")
        # A field the form does not show (a parameter it does not ask for) is said above it.
        errors = {
            (name if (name := _form_name(k)) in UNIT_FIELDS else "other"): v
            for k, v in errors.items()
        }
        return await _apply_page(request, principal, form=form, errors=errors)
    return Redirect(path=f"/ui/my/units/{unit.id}?applied=1", status_code=303)


def _form_name(field: str) -> str:
    """The form's field for a service's field name."""
    return {"user_unit_id": "equipment_code", "parameters": "category"}.get(field, field)


# ---- one unit of the user unit ---------------------------------------------------------


async def _unit_page(
    request: Request,
    principal: Principal,
    equipment_id: int,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    problem: str = "",
) -> Template:
    unit = await register.get_equipment(principal, equipment_id)
    lang = staff_language(request)
    _ = Translator(lang)
    names = await register.organisation_names({unit.user_unit, unit.maintenance_company} - {None})
    today = clock.today()
    schedule = views.schedule(await inspections.schedule_of(principal, equipment_id, today), lang)
    due_items = [{"item": d, "state": due_state(d.due_on, today).value} for d in schedule.due]
    notice = _("The application was sent: the registration office will register the unit.")
    refusal = (
        await register.last_refusal(principal, equipment_id)
        if unit.status == Status.REFUSED
        else None
    )
    return page(
        request,
        "enterprise/unit.html",
        _labels(
            {
                "unit": unit,
                "names": names,
                "category": _category_name(unit.category, lang),
                "district": _district_name(unit.district_code),
                "companies": await organisations.choices(OrgKind.MAINTENANCE_COMPANY),
                "errors": errors or {},
                "form": form or {},
                "problem": problem,
                "notice": notice if request.query_params.get("applied") else "",
                "today": clock.today().isoformat(),
                "can_suspend": principal.can(Permission.EQUIPMENT_SUSPEND_RESUME),
                "can_reapply": principal.can(Permission.EQUIPMENT_CREATE),
                "refusal": refusal,
                "can_change_maintainer": principal.can(Permission.EQUIPMENT_CHANGE_MAINTAINER),
                "due_items": due_items,
            }
        ),
        status_code=status,
    )


@get("/ui/my/units/{equipment_id:int}", include_in_schema=False)
async def unit_detail(
    request: Request, principal: NamedDependency[Principal], equipment_id: FromPath[int]
) -> Template:
    return await _unit_page(request, principal, equipment_id)


async def _unit_action(
    request: Request, principal: Principal, equipment_id: int, action: str
) -> Template | Redirect:
    fields = await request.form()
    form = {name: _text(fields, name) for name in fields}
    today, now = clock.today(), clock.now()
    try:
        version = _int(fields, "version")
        if version is None:
            raise FieldError("version", "required")
        if action == "suspend":
            await register.suspend(
                principal,
                equipment_id,
                suspended_from=_required_date(fields, "suspended_from"),
                planned_until=_date(fields, "planned_until"),
                notified_on=_date(fields, "notified_on") or today,
                reason=form.get("reason", "")[:500],
                expected_version=version,
                today=today,
                now=now,
            )
        elif action == "reapply":
            await register.reapply(
                principal, equipment_id, expected_version=version, today=today, now=now
            )
        elif action == "resume":
            await register.resume(
                principal,
                equipment_id,
                resumed_on=_required_date(fields, "resumed_on"),
                expected_version=version,
                today=today,
                now=now,
            )
        else:
            await register.change_maintainer(
                principal,
                equipment_id,
                maintenance_company_id=_int(fields, "maintenance_company_id"),
                changed_on=_required_date(fields, "changed_on"),
                expected_version=version,
                today=today,
                now=now,
            )
    except StaleVersion:
        lang = staff_language(request)
        return await _unit_page(
            request, principal, equipment_id, status=412, problem=Translator(lang)(STALE)
        )
    except (FieldError, DomainError) as refused:
        if isinstance(refused, NotFound | Forbidden):
            raise
        if action == "reapply":
            # The form has no field: the reason (a transition refused) is the page's problem.
            problem = next(iter(_field_errors(request, refused, "version").values()))
            status = 409 if isinstance(refused, Conflict) else 422
            return await _unit_page(
                request, principal, equipment_id, status=status, problem=problem
            )
        default = {"suspend": "suspended_from", "resume": "resumed_on"}.get(
            action, "maintenance_company_id"
        )
        errors = _field_errors(request, refused, default)
        # "on" is the service's name of the effective day; the form names it per action.
        errors = {(default if k in ("on", "version") else k): v for k, v in errors.items()}
        status = 409 if isinstance(refused, Conflict) else 422
        return await _unit_page(
            request, principal, equipment_id, status=status, errors=errors, form=form
        )
    return Redirect(path=f"/ui/my/units/{equipment_id}", status_code=303)


@post(
    "/ui/my/units/{equipment_id:int}/suspend",
    include_in_schema=False,
    guards=[needs(Permission.EQUIPMENT_SUSPEND_RESUME)],
)
async def unit_suspend(
    request: Request, principal: NamedDependency[Principal], equipment_id: FromPath[int]
) -> Template | Redirect:
    return await _unit_action(request, principal, equipment_id, "suspend")


@post(
    "/ui/my/units/{equipment_id:int}/resume",
    include_in_schema=False,
    guards=[needs(Permission.EQUIPMENT_SUSPEND_RESUME)],
)
async def unit_resume(
    request: Request, principal: NamedDependency[Principal], equipment_id: FromPath[int]
) -> Template | Redirect:
    return await _unit_action(request, principal, equipment_id, "resume")


@post(
    "/ui/my/units/{equipment_id:int}/maintainer",
    include_in_schema=False,
    guards=[needs(Permission.EQUIPMENT_CHANGE_MAINTAINER)],
)
async def unit_change_maintainer(
    request: Request, principal: NamedDependency[Principal], equipment_id: FromPath[int]
) -> Template | Redirect:
    return await _unit_action(request, principal, equipment_id, "maintainer")


@post(
    "/ui/my/units/{equipment_id:int}/reapply",
    include_in_schema=False,
    guards=[needs(Permission.EQUIPMENT_CREATE)],
)
async def unit_reapply(
    request: Request, principal: NamedDependency[Principal], equipment_id: FromPath[int]
) -> Template | Redirect:
    return await _unit_action(request, principal, equipment_id, "reapply")


# ---- contracts and labels ----------------------------------------------------------------


CONTRACT_FIELDS = ("maintenance_company_id", "starts_on", "ends_on", "cycle_days")
# The units a contract form offers: one service page of the user unit's live units.
CONTRACT_UNIT_CHOICES = 500


async def _contracts_page(
    request: Request,
    principal: Principal,
    *,
    status: int = 200,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    problem: str = "",
) -> Template:
    after = request.query_params.get("after") or ""
    after_id = int(after) if after.isdigit() and len(after) < 19 else None
    rows = await maintenance.list_contracts(principal, after_id=after_id, limit=PAGE_SIZE)
    next_link = f"/ui/contracts?after={rows[-1].id}" if len(rows) == PAGE_SIZE else None
    signs = principal.role is Role.USER_UNIT and principal.can(Permission.CONTRACT_MANAGE)
    units: list[EquipmentRow] = []
    if signs:
        live = await register.list_equipment(
            principal,
            register.EquipmentFilter(),
            parse_sort("code", register.SORTS),
            None,
            CONTRACT_UNIT_CHOICES,
        )
        units = [u for u in live.items if u.status not in register.CLOSED]
    return page(
        request,
        "enterprise/contracts.html",
        {
            "contracts": rows,
            "next_link": next_link,
            "today": clock.today(),
            "signs": signs,
            "units": units,
            "companies": await organisations.choices(OrgKind.MAINTENANCE_COMPANY),
            "form": form or {"cycle_days": "15", "unit_ids": []},
            "errors": errors or {},
            "problem": problem,
        },
        status_code=status,
    )


@get("/ui/contracts", include_in_schema=False)
async def contract_list(request: Request, principal: NamedDependency[Principal]) -> Template:
    """The maintenance contracts in scope, newest first; a user unit signs new ones here."""
    return await _contracts_page(request, principal)


@post("/ui/contracts", include_in_schema=False, guards=[needs(Permission.CONTRACT_MANAGE)])
async def contract_create(
    request: Request, principal: NamedDependency[Principal]
) -> Template | Redirect:
    """A new contract for some of the user unit's units (the API's ``POST /contracts``)."""
    principal.require(Permission.CONTRACT_MANAGE)
    if principal.role is not Role.USER_UNIT or principal.organisation_id is None:
        raise Forbidden("a user unit signs contracts only for itself")
    fields = await request.form()
    form: dict[str, Any] = {n: _text(fields, n) for n in CONTRACT_FIELDS}
    chosen = [v for v in fields.getall("unit_ids", []) if isinstance(v, str)]
    form |= {"unit_ids": chosen, "on_demand": bool(_text(fields, "on_demand"))}
    form["liability_insured"] = bool(_text(fields, "liability_insured"))
    try:
        company = _int(fields, "maintenance_company_id")
        if company is None:
            raise FieldError("maintenance_company_id", "required")
        if not chosen:
            raise FieldError("equipment_ids", "required")
        if not all(v.isdigit() and len(v) < 19 for v in chosen):
            raise FieldError("equipment_ids", "not a whole number")
        await maintenance.create_contract(
            principal,
            {
                "user_unit_id": principal.organisation_id,
                "maintenance_company_id": company,
                "starts_on": _required_date(fields, "starts_on"),
                "ends_on": _required_date(fields, "ends_on"),
                "equipment_ids": [int(v) for v in chosen],
                "cycle_days": _int(fields, "cycle_days") or 15,
                "on_demand": form["on_demand"],
                "liability_insured": form["liability_insured"],
            },
            today=clock.today(),
            now=clock.now(),
        )
    except (FieldError, DomainError) as refused:
        if isinstance(refused, NotFound | Forbidden):
            raise
        errors = _field_errors(request, refused, "equipment_ids")
        return await _contracts_page(request, principal, status=422, form=form, errors=errors)
    return Redirect(path="/ui/contracts", status_code=303)


@post(
    "/ui/contracts/{contract_id:int}/terminate",
    include_in_schema=False,
    guards=[needs(Permission.CONTRACT_MANAGE)],
)
async def contract_terminate(
    request: Request, principal: NamedDependency[Principal], contract_id: FromPath[int]
) -> Template | Redirect:
    """End a contract early (the API's terminate); its units' maintainer follows."""
    fields = await request.form()
    try:
        await maintenance.terminate_contract(
            principal,
            contract_id,
            on=_date(fields, "on") or clock.today(),
            today=clock.today(),
            now=clock.now(),
        )
    except (FieldError, DomainError) as refused:
        if isinstance(refused, NotFound | Forbidden):
            raise
        message = next(iter(_field_errors(request, refused, "on").values()))
        status = 409 if isinstance(refused, Conflict) else 422
        return await _contracts_page(request, principal, status=status, problem=message)
    return Redirect(path="/ui/contracts", status_code=303)


@get("/ui/labels", include_in_schema=False)
async def label_sheet(
    request: Request, principal: NamedDependency[Principal], settings: NamedDependency[Settings]
) -> Template:
    """The printable sheet of 使用标志 with QR codes (the API's sheet, for a session): a
    user unit's own; the registration office names the user unit with ``?org=``."""
    q = request.query_params
    org = q.get("org") or ""
    org_id = principal.organisation_id
    if principal.role is Role.ADMIN:
        if not org.isdigit() or len(org) > 9:
            raise NotFound("name the user unit whose labels to print")
        org_id = int(org)
    if org_id is None:
        raise NotFound("this account has no user unit")
    after = q.get("after_id") or "0"
    after_id = int(after) if after.isdigit() and len(after) < 19 else 0
    lang = staff_language(request)
    name, sheet = await public.label_sheet(
        principal,
        org_id,
        clock.today(),
        after_id=after_id,
        limit=60,
        base_url=settings.public_base_url(),
        emergency_number=settings.public.emergency_number,
    )
    return Template(
        template_name="label_sheet.html",
        context={
            "_": Translator(lang),
            "lang": lang,
            "user_unit": name,
            "items": label_items(sheet),
            "next_after": sheet[-1].id if len(sheet) == 60 else None,
            "org_id": org_id,
        },
        media_type="text/html",
        headers={"Content-Language": lang, "Cache-Control": "no-store"},
    )


# ---- the registration office: the queue --------------------------------------------------


async def _queue_page(
    request: Request,
    principal: Principal,
    *,
    status: int = 200,
    errors: dict[int, dict[str, str]] | None = None,
    forms: dict[int, dict[str, str]] | None = None,
    problem: str = "",
) -> Template:
    principal.require(Permission.EQUIPMENT_REGISTER)
    cursor = (request.query_params.get("cursor") or "")[:400] or None
    words = (request.query_params.get("q") or "")[:100]
    lang = staff_language(request)
    try:
        pending = await register.list_equipment(
            principal,
            register.EquipmentFilter(status=Status.PENDING, q=words or None),
            parse_sort("id", register.SORTS),
            cursor,
            PAGE_SIZE,
        )
    except InvalidValue:
        raise NotFound("no such page of the queue") from None
    today = clock.today()
    names = await register.organisation_names({u.user_unit for u in pending.items})
    rows = [
        {
            **msgspec.structs.asdict(u),
            # Registering today would be late: more than 30 days in service (TSG 08-2017).
            "late": registration_is_late(u.commissioning_date, today),
            "user_unit_name": names.get(u.user_unit, ""),
            "category_name": _category_name(u.category, lang),
            "district_name": _district_name(u.district_code),
        }
        for u in pending.items
    ]
    next_link = (
        "/ui/registrations?"
        + urlencode({k: v for k, v in (("q", words),) if v} | {"cursor": pending.next_cursor})
        if pending.next_cursor
        else None
    )
    done = request.query_params.get("registered") or ""
    refused = request.query_params.get("refused") or ""
    return page(
        request,
        "enterprise/registrations.html",
        {
            "rows": rows,
            "next_link": next_link,
            "errors": errors or {},
            "forms": forms or {},
            "problem": problem,
            "registered": done[:20],
            "refused": refused[:20],
            "q": words,
            "today": today.isoformat(),
        },
        status_code=status,
    )


@get("/ui/registrations", include_in_schema=False)
async def registration_queue(request: Request, principal: NamedDependency[Principal]) -> Template:
    return await _queue_page(request, principal)


@post(
    "/ui/registrations/{equipment_id:int}/register",
    include_in_schema=False,
    guards=[needs(Permission.EQUIPMENT_REGISTER)],
)
async def registration_register(
    request: Request, principal: NamedDependency[Principal], equipment_id: FromPath[int]
) -> Template | Redirect:
    """Register a pending unit (the workflow's register, as the API's)."""
    principal.require(Permission.EQUIPMENT_REGISTER)
    fields = await request.form()
    form = {n: _text(fields, n) for n in ("registration_code", "certificate_no", "registered_on")}
    try:
        version = _int(fields, "version")
        if not form["registration_code"]:
            raise FieldError("registration_code", "required")
        unit = await register.register(
            principal,
            equipment_id,
            registration_code=form["registration_code"],
            certificate_no=form["certificate_no"] or None,
            registered_on=_required_date(fields, "registered_on"),
            expected_version=version,
            today=clock.today(),
            now=clock.now(),
        )
    except StaleVersion:
        lang = staff_language(request)
        return await _queue_page(request, principal, status=412, problem=Translator(lang)(STALE))
    except (FieldError, DomainError) as refused:
        if isinstance(refused, NotFound | Forbidden):
            raise
        errors = _field_errors(request, refused, "registration_code")
        errors = {("registered_on" if k == "on" else k): v for k, v in errors.items()}
        return await _queue_page(
            request,
            principal,
            status=422,
            errors={equipment_id: errors},
            forms={equipment_id: form},
        )
    return Redirect(
        path="/ui/registrations?" + urlencode({"registered": unit.code}), status_code=303
    )


@post(
    "/ui/registrations/{equipment_id:int}/refuse",
    include_in_schema=False,
    guards=[needs(Permission.EQUIPMENT_REGISTER)],
)
async def registration_refuse(
    request: Request, principal: NamedDependency[Principal], equipment_id: FromPath[int]
) -> Template | Redirect:
    """Refuse a pending unit (不予登记) with the reason the applicant is told."""
    fields = await request.form()
    form = {n: _text(fields, n) for n in ("refused_on", "reason")}
    try:
        unit = await register.refuse(
            principal,
            equipment_id,
            refused_on=_required_date(fields, "refused_on"),
            reason=form["reason"],
            expected_version=_int(fields, "version"),
            today=clock.today(),
            now=clock.now(),
        )
    except StaleVersion:
        lang = staff_language(request)
        return await _queue_page(request, principal, status=412, problem=Translator(lang)(STALE))
    except (FieldError, DomainError) as refused:
        if isinstance(refused, NotFound | Forbidden):
            raise
        errors = _field_errors(request, refused, "reason")
        errors = {("refused_on" if k == "on" else k): v for k, v in errors.items()}
        return await _queue_page(
            request,
            principal,
            status=409 if isinstance(refused, Conflict) else 422,
            errors={equipment_id: errors},
            forms={equipment_id: form},
        )
    return Redirect(path="/ui/registrations?" + urlencode({"refused": unit.code}), status_code=303)


# ---- the registration office: organisations -------------------------------------------


def _org_values(fields: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    # Kind and credit code identify the organisation: set once, never edited.
    names = ORG_FIELDS if creating else tuple(f for f in ORG_FIELDS if f not in FIXED)
    for name in names:
        text = _text(fields, name)
        if name == "licence_valid_until":
            values[name] = _date(fields, name)
        elif name == "hazardous_chemicals":
            values[name] = text == "1"
        elif name in ("licence_no", "station_code"):
            values[name] = text or None
        else:
            values[name] = text
    if creating and values["kind"] not in {k.value for k in OrgKind}:
        raise FieldError("kind", "required")
    if not values["name"]:
        raise FieldError("name", "required")
    return values


async def _orgs_page(
    request: Request,
    principal: Principal,
    *,
    status: int = 200,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Template:
    principal.require(Permission.ORG_CREATE)
    q = request.query_params
    kind_text = q.get("kind") or ""
    kind = OrgKind(kind_text) if kind_text in {k.value for k in OrgKind} else None
    words = (q.get("q") or "")[:100]
    after = q.get("after") or ""
    after_id = int(after) if after.isdigit() and len(after) < 10 else None
    rows = await organisations.list_organisations(
        principal, kind=kind, q=words or None, after_id=after_id, limit=PAGE_SIZE
    )
    next_link = None
    if len(rows) == PAGE_SIZE:
        filters = {"kind": kind_text, "q": words}
        next_link = "/ui/organisations?" + urlencode(
            {k: v for k, v in filters.items() if v} | {"after": rows[-1].id}
        )
    return page(
        request,
        "enterprise/organisations.html",
        _labels(
            {
                "rows": rows,
                "next_link": next_link,
                "filters": {"kind": kind_text, "q": words},
                "kinds": [k.value for k in OrgKind],
                "form": form or {},
                "errors": errors or {},
            }
        ),
        status_code=status,
    )


@get("/ui/organisations", include_in_schema=False)
async def organisation_list(request: Request, principal: NamedDependency[Principal]) -> Template:
    return await _orgs_page(request, principal)


@post("/ui/organisations", include_in_schema=False, guards=[needs(Permission.ORG_CREATE)])
async def organisation_create(
    request: Request, principal: NamedDependency[Principal]
) -> Template | Redirect:
    principal.require(Permission.ORG_CREATE)
    fields = await request.form()
    form = {n: _text(fields, n) for n in ORG_FIELDS}
    try:
        row = await organisations.create_organisation(
            principal, _org_values(fields, creating=True), now=clock.now()
        )
    except (FieldError, DomainError) as refused:
        if isinstance(refused, NotFound | Forbidden):
            raise
        errors = _field_errors(request, refused, "name")
        return await _orgs_page(request, principal, status=422, form=form, errors=errors)
    return Redirect(path=f"/ui/organisations/{row.id}?saved=1", status_code=303)


async def _org_page(
    request: Request,
    principal: Principal,
    org_id: int,
    *,
    status: int = 200,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    problem: str = "",
) -> Template:
    # Another organisation is not found (as in the API); its own is not a user's to edit here.
    row = await organisations.get_organisation(principal, org_id)
    principal.require(Permission.ORG_UPDATE_ANY)
    fields: dict[str, Any] = msgspec.structs.asdict(row)
    shown = {n: ("" if fields.get(n) is None else str(fields[n])) for n in ORG_FIELDS}
    shown["hazardous_chemicals"] = "1" if fields.get("hazardous_chemicals") else ""
    _ = Translator(staff_language(request))
    return page(
        request,
        "enterprise/organisation.html",
        _labels(
            {
                "org": row,
                "form": {**shown, **(form or {})},
                "version": row.version,
                "errors": errors or {},
                "problem": problem,
                "notice": _("Saved.") if request.query_params.get("saved") else "",
            }
        ),
        status_code=status,
    )


@get("/ui/organisations/{org_id:int}", include_in_schema=False)
async def organisation_detail(
    request: Request, principal: NamedDependency[Principal], org_id: FromPath[int]
) -> Template:
    return await _org_page(request, principal, org_id)


@post(
    "/ui/organisations/{org_id:int}",
    include_in_schema=False,
    guards=[needs(Permission.ORG_UPDATE_ANY)],
)
async def organisation_update(
    request: Request, principal: NamedDependency[Principal], org_id: FromPath[int]
) -> Template | Redirect:
    await organisations.get_organisation(principal, org_id)
    principal.require(Permission.ORG_UPDATE_ANY)
    fields = await request.form()
    # Kind and credit code are not on the edit form: the page keeps showing the stored ones.
    form = {n: _text(fields, n) for n in ORG_FIELDS if n not in FIXED}
    try:
        version = _int(fields, "version")
        if version is None:
            raise FieldError("name", "required")
        current = await organisations.get_organisation(principal, org_id)
        values = _org_values(fields, creating=False)
        changes = {k: v for k, v in values.items() if getattr(current, k, None) != v}
        if changes:
            await organisations.update_organisation(
                principal, org_id, version, changes, now=clock.now()
            )
    except StaleVersion:
        _ = Translator(staff_language(request))
        return await _org_page(request, principal, org_id, status=412, problem=_(STALE))
    except (FieldError, DomainError) as refused:
        if isinstance(refused, NotFound | Forbidden):
            raise
        errors = _field_errors(request, refused, "name")
        return await _org_page(request, principal, org_id, status=422, form=form, errors=errors)
    return Redirect(path=f"/ui/organisations/{org_id}?saved=1", status_code=303)


N_("Saved.")

ENTERPRISE_PAGES: list = [
    unit_list,
    reminder_list,
    apply_form,
    apply,
    unit_detail,
    unit_suspend,
    unit_resume,
    unit_change_maintainer,
    unit_reapply,
    contract_list,
    contract_create,
    contract_terminate,
    label_sheet,
    registration_queue,
    registration_register,
    registration_refuse,
    organisation_list,
    organisation_create,
    organisation_detail,
    organisation_update,
]
