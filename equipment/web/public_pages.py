"""``/p/{code}``: the page a phone shows when someone scans a unit's QR code, and the
citizen report form on it. No login, no JavaScript; Chinese first, ``?lang=en`` for English.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from equipment.api.language import request_language
from equipment.domain import citizen_reports as report_rules
from equipment.domain.errors import NotFound
from equipment.domain.public_safety import PublicView
from equipment.i18n import N_, Translator
from equipment.services import citizen_reports, clock, draws, public
from equipment.settings import PublicSettings

# What a code printed on a sign can look like (registration or equipment code).
_CODE = re.compile(r"^[0-9A-Za-z]{1,40}$")
# A report form is four short fields: anything larger is not from our form.
MAX_FORM_BYTES = 8 * 1024

OTHER = {"zh-CN": ("en", "English"), "en": ("zh-CN", "中文")}


def _headers(lang: str) -> dict[str, str]:
    return {"Content-Language": lang, "Vary": "Accept-Language"}


def _base(lang: str) -> dict[str, Any]:
    other, name = OTHER[lang]
    return {"_": Translator(lang), "lang": lang, "other_lang": other, "other_lang_name": name}


def error_page(
    lang: str,
    status: int,
    heading: str,
    message: str,
    hint: str = "",
    back: str = "",
    headers: dict[str, str] | None = None,
    *,
    emergency_number: str,
) -> Template:
    _ = Translator(lang)
    return Template(
        template_name="public_error.html",
        context={
            **_base(lang),
            "heading": _(heading),
            "message": message,
            "hint": hint,
            "back": back,
            "emergency_number": emergency_number,
        },
        status_code=status,
        headers={**_headers(lang), **(headers or {})},
        media_type="text/html",
    )


def _not_found(lang: str, code: str, settings: PublicSettings) -> Template:
    _ = Translator(lang)
    shown = code if _CODE.match(code) else ""
    message = (
        _("No unit with code {code} is on the register.", code=shown.upper())
        if shown
        else _("This is not a code of a unit on the register.")
    )
    return error_page(
        lang,
        404,
        N_("Unit not found"),
        message,
        _(
            "Check the code on the unit's use sign (a 20-character registration code or an "
            "18-character equipment code) or scan its QR code again. A unit with no valid "
            "sign should not be used: report it to the market supervision bureau."
        ),
        emergency_number=settings.emergency_number,
    )


async def _unit_page(
    view: PublicView,
    lang: str,
    *,
    status: int = 200,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    problem: str = "",
    reported: bool = False,
    settings: PublicSettings,
) -> Template:
    key = await citizen_reports.form_key(settings.form_secret)
    return Template(
        template_name="public_unit.html",
        context={
            **_base(lang),
            "view": view,
            "token": report_rules.form_token(key, view.code, clock.now()),
            "categories": list(report_rules.CATEGORIES.items()),
            "max_text": report_rules.MAX_TEXT,
            "form": form or {"category": "", "text": "", "phone": ""},
            "errors": errors or {},
            "problem": problem,
            "reported": reported,
        },
        status_code=status,
        headers=_headers(lang),
        media_type="text/html",
    )


@get("/p/{code:str}", include_in_schema=False)
async def unit_page(
    code: FromPath[str],
    language: NamedDependency[str],
    public_settings: NamedDependency[PublicSettings],
    reported: FromQuery[str | None] = None,
) -> Template:
    """The unit's public page: its safety state first, in colour and words."""
    lang = language
    if not _CODE.match(code):
        return _not_found(lang, code, public_settings)
    try:
        view = await public.lookup(code, clock.today(), public_settings.emergency_number)
    except NotFound:
        return _not_found(lang, code, public_settings)
    return await _unit_page(view, lang, reported=reported == "1", settings=public_settings)


@post("/p/{code:str}/report", include_in_schema=False, request_max_body_size=MAX_FORM_BYTES)
async def report(
    request: Request,
    code: FromPath[str],
    language: NamedDependency[str],
    public_settings: NamedDependency[PublicSettings],
) -> Template | Redirect:
    """A citizen's report from the page's form: stored for inspectors, never shown."""
    lang = language
    _ = Translator(lang)
    if not _CODE.match(code):
        return _not_found(lang, code, public_settings)
    try:
        view = await public.lookup(code, clock.today(), public_settings.emergency_number)
    except NotFound:
        return _not_found(lang, code, public_settings)
    fields = await request.form()
    # A multipart post could put a file where text belongs: only text fields count.
    form = {
        name: value if isinstance(value := fields.get(name), str) else ""
        for name in ("category", "text", "phone", "token")
    }
    back = f"/p/{view.code}?lang={lang}"
    key = await citizen_reports.form_key(public_settings.form_secret)
    now = clock.now()
    if not report_rules.token_is_valid(key, view.code, form["token"], now):
        # A post without the token of a page we served (another site's form, or a page
        # left open for hours): nothing is stored.
        return error_page(
            lang,
            403,
            N_("Report not sent"),
            _("The form has expired or did not come from this page."),
            _("Open the unit's page again and send the report from there."),
            back,
            emergency_number=public_settings.emergency_number,
        )
    checked = report_rules.validate(form["category"], form["text"], form["phone"])
    if isinstance(checked, list):
        errors = {e.field: _(e.message, **dict(e.params)) for e in checked}
        return await _unit_page(
            view,
            lang,
            status=422,
            form=form,
            errors=errors,
            problem=_("The report was not sent: correct the fields marked below."),
            settings=public_settings,
        )
    unit_id = await citizen_reports.equipment_id_of(view.code)
    if unit_id is None:  # units are never deleted; kept for the type checker's sake
        return _not_found(lang, code, public_settings)
    address = request.client.host if request.client else "unknown"
    try:
        await citizen_reports.submit(
            unit_id, checked, client_address=address, lang=lang, now=now, limits=public_settings
        )
    except citizen_reports.RateLimited as refused:
        message = (
            _("You have sent several reports within the hour; please try again later.")
            if refused.scope == "client"
            else _("This unit has received many reports within the hour; inspectors are informed.")
        )
        return error_page(
            lang,
            429,
            N_("Report not sent"),
            message,
            _("If someone is in danger, call {number} now.", number=view.emergency_number),
            back,
            headers={"Retry-After": str(refused.retry_after_s)},
            emergency_number=public_settings.emergency_number,
        )
    return Redirect(path=f"/p/{view.code}?lang={lang}&reported=1", status_code=303)


CONCLUSIONS = {
    "compliant": N_("Compliant"),
    "rectify": N_("Ordered to rectify"),
    "non_compliant": N_("Not compliant"),
    "not_found": N_("Not found at its address"),
}


@get("/p/draws", include_in_schema=False)
async def draw_plans(language: NamedDependency[str]) -> Template:
    """一公开: the published random-inspection plans."""
    return Template(
        template_name="public/draws.html",
        context={**_base(language), "plans": await draws.public_plans()},
        headers=_headers(language),
        media_type="text/html",
    )


@get("/p/draws/{plan_id:int}", include_in_schema=False)
async def draw_plan(
    plan_id: FromPath[int],
    language: NamedDependency[str],
    public_settings: NamedDependency[PublicSettings],
) -> Template:
    """A published plan: its seed, each draw's digests, the targets (never the
    inspectors) and the published results."""
    _ = Translator(language)
    try:
        plan, made, tasks = await draws.public_plan(plan_id)
    except NotFound:
        return error_page(
            language,
            404,
            N_("Plan not found"),
            _("No published plan has this number."),
            emergency_number=public_settings.emergency_number,
        )
    return Template(
        template_name="public/draw_plan.html",
        context={
            **_base(language),
            "plan": plan,
            "draws": made,
            "targets": [draws.public_task(t) for t in tasks],
            "conclusions": {k: _(v) for k, v in CONCLUSIONS.items()},
        },
        headers=_headers(language),
        media_type="text/html",
    )


def _html_error(request: Request, exc: HTTPException) -> Response:
    """The pages answer errors (413 too large, 405, ...) in HTML, not the API's JSON."""
    lang = request_language(request)
    _ = Translator(lang)
    message = (
        _("The report is too long.")
        if exc.status_code == 413
        else _("The request could not be handled ({status}).", status=exc.status_code)
    )
    settings: PublicSettings = request.app.state.settings.public
    return error_page(
        lang,
        exc.status_code,
        N_("Report not sent"),
        message,
        emergency_number=settings.emergency_number,
    )


public_pages = Router(
    path="/",
    route_handlers=[draw_plans, draw_plan, unit_page, report],
    exception_handlers={HTTPException: _html_error},
)
