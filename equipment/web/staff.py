"""The staff web: login, logout, the layout and the role's home, and the ``/ui`` router
every page of the people who work in the register is added to.

How a page is added (the pattern every page follows):

- write a handler (or a Controller) in a module of ``equipment/web``, its path starting
  with ``/ui/``, and add it to the list ``staff_router([...])`` is given in
  ``sereg/app.py`` (one entry a line); the role's home links to it once the path is
  registered, if ``NAV`` below lists it;
- take ``principal: NamedDependency[Principal]`` (the logged-in person: role,
  organisation, jurisdiction) and call the same service functions as the API: the scope
  function decides what is visible, and a unit outside it raises ``NotFound``, which
  this router answers with a 404 page; ``Forbidden`` becomes a 403 page;
- take ``request: Request`` and answer ``page(request, "my_page.html", {...})``: the
  template extends ``staff_base.html`` (block ``title`` and block ``content``) and gets
  ``_`` (the translator), ``lang``, ``principal``, ``username``, ``nav`` and
  ``csrf_field()``. The template is compiled once per language: ``_("fixed text")``
  is translated then and costs nothing per render (equipment/web/templating.py), so
  write fixed texts inline; in a loop over many rows read fields by subscript
  (``row["code"]``) and labels from a mapping, not by calls;
- every form that posts puts ``{{ csrf_field() }}`` inside it. The router checks the
  token of every POST, PUT, PATCH and DELETE before the handler runs (or the
  ``X-CSRF-Token`` header, for scripts): a request without it is refused with 403;
- read a form with ``await request.form()`` (already read and checked by then);
- test it with the ``staff`` fixture (tests/web_support.py): ``await staff(Role.X, org)``
  is a logged-in client whose ``post`` adds the CSRF token.

Anonymous requests to ``/ui`` are sent to ``/login?next=...``; the session is read from
the database on every request, so a logout or a disabled account takes effect at once.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from litestar import MediaType, Request, Response, Router, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.types import Guard
from markupsafe import Markup

from equipment.domain.access import Jurisdiction, Permission, Principal, Role
from equipment.domain.errors import (
    Busy,
    DomainError,
    Forbidden,
    NotFound,
    TooManyAttempts,
    Unauthenticated,
)
from equipment.i18n import LANGUAGES, N_, Translator, negotiate
from equipment.i18n.spoken import speak
from equipment.services import accounts, clock
from equipment.web.templating import localised

STATIC = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "sereg_session"
LOGIN_CSRF_COOKIE = "sereg_login_csrf"
LANG_COOKIE = "sereg_lang"
CSRF_FIELD = "_csrf"
CSRF_HEADER = "x-csrf-token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Staff forms are a few short fields; pages that take uploads set their own limit.
FORM_MAX_BYTES = 16 * 1024
OTHER_LANG = {"zh-CN": ("en", "English"), "en": ("zh-CN", "中文")}

# What each role works on: its home's links. A link shows once its page exists (a route
# with that path is registered), so later pages light up without touching this table.
NAV: dict[Role, tuple[tuple[str, str], ...]] = {
    Role.INSPECTOR: (
        ("/ui/due", N_("Due list")),
        ("/ui/map", N_("Map of old residential areas")),
        ("/ui/alarms", N_("Live alarm board")),
        ("/ui/checks", N_("Supervision checks")),
        ("/ui/hazards", N_("Hazards")),
        ("/ui/routine", N_("Routine records")),
        ("/ui/draws/tasks", N_("Random-inspection tasks")),
        ("/ui/campaigns", N_("Special campaigns")),
        ("/ui/licences", N_("Post-licence supervision")),
        ("/ui/cleanup", N_("Data clean-up list")),
    ),
    Role.USER_UNIT: (
        ("/ui/units", N_("Our units")),
        ("/ui/due", N_("Due reminders")),
        ("/ui/units/new", N_("Apply for a new unit")),
        ("/ui/contracts", N_("Maintenance contracts")),
        ("/ui/labels", N_("Print QR labels")),
        ("/ui/routine", N_("Routine records")),
        ("/ui/hazards", N_("Hazards")),
        ("/ui/checks", N_("Supervision checks")),
    ),
    Role.MAINTENANCE: (
        ("/ui/maint/units", N_("Units we maintain")),
        ("/ui/maint/overdue", N_("Overdue maintenance")),
        ("/ui/maint/upload", N_("Upload maintenance records")),
        ("/ui/maint/alarms", N_("Entrapment alarms")),
        ("/ui/maint/score", N_("Our score")),
        ("/ui/hazards", N_("Hazards")),
        ("/ui/checks", N_("Supervision checks")),
    ),
    Role.STATION: (
        ("/ui/station/fills", N_("Today's fills")),
        ("/ui/station/refused", N_("Refused and suspicious fills")),
        ("/ui/station/cylinders", N_("Cylinder lookup")),
        ("/ui/station/due", N_("Cylinders due for inspection")),
    ),
    Role.ADMIN: (
        ("/ui/registrations", N_("Pending registrations")),
        ("/ui/organisations", N_("Organisations")),
        ("/ui/accounts", N_("Accounts")),
        ("/ui/due", N_("Due list")),
        ("/ui/map", N_("Map of old residential areas")),
        ("/ui/hazards", N_("Hazards")),
        ("/ui/checks", N_("Supervision checks")),
        ("/ui/draws/plans", N_("Random inspections")),
        ("/ui/campaigns", N_("Special campaigns")),
        ("/ui/licences", N_("Post-licence supervision")),
        ("/ui/cleanup", N_("Data clean-up list")),
    ),
    Role.CALL_CENTRE: (
        ("/ui/calls", N_("Take a 96333 call")),
        ("/ui/alarms", N_("Live alarm board")),
    ),
}
ROLE_NAMES = {
    Role.ADMIN: N_("Registration office"),
    Role.INSPECTOR: N_("Inspector"),
    Role.MAINTENANCE: N_("Maintenance company"),
    Role.USER_UNIT: N_("User unit"),
    Role.STATION: N_("Filling station"),
    Role.CALL_CENTRE: N_("96333 call centre"),
}


# A role's own home page, registered by its page module (equipment/web/<area>_pages.py):
# what that role must act on today. A role without one gets the list of its links.
ROLE_HOMES: dict[Role, Callable[[Request, Principal], Awaitable[Template]]] = {}


class LoginRequired(Exception):
    """No live session on a page that needs one: the router sends the browser to /login."""


def staff_language(request: Request) -> str:
    """``?lang=`` first, then the language the person chose before (a cookie the switch
    sets), then Accept-Language, then zh-CN: the public side's rule plus memory."""
    chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return negotiate(chosen, request.headers.get("accept-language"))


def secure_cookies(request: Request) -> bool:
    """Secure cookies when served over TLS, or behind a proxy at an https public URL."""
    base = request.app.state.settings.public.base_url or ""
    return request.url.scheme == "https" or base.startswith("https://")


def _cookie(request: Request, key: str, value: str, *, max_age: int | None = None) -> Cookie:
    return Cookie(
        key=key,
        value=value,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        max_age=max_age,
    )


async def current_session(connection: ASGIConnection) -> accounts.Session | None:
    """The request's live session (read once a request), or None."""
    if "session" in connection.state:
        return connection.state.session
    session_id = connection.cookies.get(SESSION_COOKIE, "")
    found = await accounts.session(session_id, now=clock.now()) if session_id else None
    connection.state.session = found
    return found


async def require_session(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard of ``/ui``: runs before any body is read."""
    if await current_session(connection) is None:
        raise LoginRequired


def needs(permission: Permission) -> Guard:
    """A page's guard for the permission its form's service requires.

    Guards run before the body is read, so a role without the permission gets 403 for
    any submission, valid or not, rather than the form's own 422 on its fields: the
    answer must not depend on what was typed, and the access matrix can then see a
    missing check. The service checks the permission again (and the object's scope:
    404 outside it); this only answers first."""

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        session = await current_session(connection)
        if session is None:
            raise LoginRequired
        session.principal.require(permission)

    return guard


async def check_csrf(request: Request) -> None:
    """``before_request`` of ``/ui``: an unsafe method must send the session's token."""
    if request.method not in UNSAFE:
        return
    session = await current_session(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else ""
    if session is None or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise Forbidden("the form is out of date or did not come from this site; reload the page")


async def _principal(request: Request) -> Principal:
    session = await current_session(request)
    if session is None:  # the guard ran first; kept for the type checker's sake
        raise LoginRequired
    return session.principal


def nav_links(request: Request, principal: Principal) -> tuple[tuple[str, str], ...]:
    """The role's links whose pages exist."""
    lang = staff_language(request)
    known: dict[tuple[Role, str], tuple[tuple[str, str], ...]] = request.app.state.setdefault(
        NAV_STATE, {}
    )
    if (links := known.get((principal.role, lang))) is None:
        # Once per app, role and language: the routes are fixed once the app is built
        # (the set of their paths was built on every request before).
        _ = Translator(lang)
        built = {route.path for route in request.app.routes}
        links = tuple((path, _(label)) for path, label in NAV[principal.role] if path in built)
        known[(principal.role, lang)] = links
    return links


NAV_STATE = "staff_nav_links"  # the app's state key of the links by role and language


def _base_context(request: Request, lang: str) -> dict[str, Any]:
    other, other_name = OTHER_LANG[lang]
    return {
        "_": Translator(lang),
        "lang": lang,
        "other_lang": other,
        "other_lang_name": other_name,
        "path": request.url.path,
    }


def page(
    request: Request,
    template_name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Template:
    """A staff page: ``template_name`` (extending staff_base.html) with the layout's
    context. Remembers a language chosen with ``?lang=`` for the next pages."""
    lang = staff_language(request)
    session: accounts.Session | None = request.state.get("session")
    csrf = session.csrf if session else ""
    base = _base_context(request, lang)
    if session is not None:
        base |= {
            "principal": session.principal,
            "username": session.username,
            "role_name": base["_"](ROLE_NAMES[session.principal.role]),
            "nav": nav_links(request, session.principal),
            "csrf": csrf,
            "csrf_field": _csrf_field(csrf),
        }
    cookies = []
    if request.query_params.get("lang") in LANGUAGES:
        cookies.append(_cookie(request, LANG_COOKIE, lang, max_age=365 * 24 * 3600))
    return Template(
        template_name=localised(template_name, lang),
        # Named: Litestar guesses the type from the name's suffix, which ``@lang`` hides.
        media_type=MediaType.HTML,
        context={**base, **(context or {})},
        status_code=status_code,
        cookies=cookies,
        headers={"Content-Language": lang, "Cache-Control": "no-store"},
    )


def _csrf_field(token: str) -> Callable[[], Markup]:
    return lambda: Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)


def error_page(request: Request, status: int, heading: str, message: str) -> Template:
    _ = Translator(staff_language(request))
    return page(
        request,
        "staff_error.html",
        {"heading": _(heading), "message": message},
        status_code=status,
    )


def _login_redirect(request: Request, _: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(path=f"/login?next={quote(target, safe='')}", status_code=303)


def _domain_error(request: Request, exc: DomainError) -> Response:
    message = speak(staff_language(request), exc.reason)
    if isinstance(exc, NotFound):
        return error_page(request, 404, N_("Not found"), message)
    if isinstance(exc, Forbidden):
        return error_page(request, 403, N_("Not allowed"), message)
    if isinstance(exc, Unauthenticated):
        return _login_redirect(request, exc)
    if isinstance(exc, Busy):
        # Every live stream of this worker is taken: a retry (the browser's EventSource
        # does so itself) may land on another worker or find room later.
        answer = error_page(request, 503, N_("Busy"), message)
        answer.headers["Retry-After"] = "5"
        return answer
    return error_page(request, 400, N_("The request was refused"), message)


# ---- the pages outside /ui: /, /login, /logout ------------------------------------


@get("/", include_in_schema=False)
async def root(request: Request) -> Redirect:
    """The role's home when logged in, else the login page."""
    session = await current_session(request)
    return Redirect(path="/ui" if session else "/login", status_code=303)


def _safe_next(target: str | None) -> str:
    # Only a path of this site's staff pages: never an open redirect to another host.
    if target and target.startswith("/ui") and "//" not in target and "\\" not in target:
        return target
    return "/ui"


def _login_page(
    request: Request, *, status: int = 200, error: str = "", username: str = "", headers=None
) -> Template:
    token = secrets.token_urlsafe(32)
    template = page(
        request,
        "login.html",
        {
            "error": error,
            "login_name": username,
            "login_csrf": token,
            "csrf_name": CSRF_FIELD,
            "next": _safe_next(request.query_params.get("next")),
        },
        status_code=status,
    )
    # Login is CSRF-protected too (double submit): the form's token must match a cookie
    # only this site can have set.
    template.cookies.append(_cookie(request, LOGIN_CSRF_COOKIE, token))
    template.headers.update(headers or {})
    return template


@get("/login", include_in_schema=False)
async def login_form(request: Request) -> Template:
    """The login form (also when logged in: to change to another account)."""
    await current_session(request)
    return _login_page(request)


@post("/login", include_in_schema=False, request_max_body_size=FORM_MAX_BYTES)
async def login(request: Request) -> Template | Redirect:
    _ = Translator(staff_language(request))
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if (
        not isinstance(sent, str)
        or not expected
        or not hmac.compare_digest(sent.encode(), expected.encode())
    ):
        return error_page(
            request,
            403,
            N_("Not allowed"),
            _("The form is out of date or did not come from this site; reload the page."),
        )
    username = form.get("username")
    password = form.get("password")
    username = username if isinstance(username, str) else ""
    password = password if isinstance(password, str) else ""
    client = request.client.host if request.client else "unknown"
    now = clock.now()
    try:
        session_id, _session = await accounts.login(username, password, client=client, now=now)
    except TooManyAttempts as refused:
        return _login_page(
            request,
            status=429,
            error=_("Too many failed logins for this account or address; wait a minute and retry."),
            username=username,
            headers={"Retry-After": str(refused.retry_after)},
        )
    except Unauthenticated:
        return _login_page(
            request,
            status=401,
            error=_("The user name or the password is wrong."),
            username=username,
        )
    # A session the browser had before (or one an attacker planted) ends here: the
    # logged-in session always has a new id.
    if old := request.cookies.get(SESSION_COOKIE):
        await accounts.end_session(old, now=now)
    target = _safe_next(request.query_params.get("next") or _str(form.get("next")))
    response = Redirect(path=target, status_code=303)
    response.cookies.append(_cookie(request, SESSION_COOKIE, session_id))
    response.cookies.append(Cookie(key=LOGIN_CSRF_COOKIE, value="", path="/", expires=0, max_age=0))
    return response


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


# ---- /ui ------------------------------------------------------------------------


@get("/ui", include_in_schema=False)
async def home(request: Request, principal: NamedDependency[Principal]) -> Template:
    """The role's home: its own page if its module registered one (``ROLE_HOMES``), else
    what it can open (the role's pages as they are built)."""
    if (own := ROLE_HOMES.get(principal.role)) is not None:
        return await own(request, principal)
    jurisdiction = str(principal.jurisdiction) if principal.jurisdiction else ""
    return page(request, "staff_home.html", {"jurisdiction": jurisdiction})


@post("/logout", include_in_schema=False, request_max_body_size=FORM_MAX_BYTES)
async def logout(request: Request) -> Redirect:
    """End the session (a form button in the layout, CSRF-checked like any form)."""
    if (session_id := request.cookies.get(SESSION_COOKIE)) and await current_session(request):
        await check_csrf(request)
        await accounts.end_session(session_id, now=clock.now())
    response = Redirect(path="/login", status_code=303)
    response.cookies.append(Cookie(key=SESSION_COOKIE, value="", path="/", expires=0, max_age=0))
    return response


@get("/ui/accounts", include_in_schema=False)
async def account_list(request: Request, principal: NamedDependency[Principal]) -> Template:
    return await _accounts_page(request, principal)


async def _accounts_page(
    request: Request,
    principal: Principal,
    *,
    status: int = 200,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    notice: str = "",
) -> Template:
    rows = await accounts.list_accounts(principal)
    return page(
        request,
        "staff_accounts.html",
        {
            "accounts": rows,
            "organisations": await accounts.organisations_for_forms(),
            "roles": [(role.value, ROLE_NAMES[role]) for role in Role],
            "form": form or {},
            "errors": errors or {},
            "notice": notice,
        },
        status_code=status,
    )


@post("/ui/accounts", include_in_schema=False, guards=[needs(Permission.ACCOUNT_MANAGE)])
async def account_create(
    request: Request, principal: NamedDependency[Principal]
) -> Template | Redirect:
    principal.require(Permission.ACCOUNT_MANAGE)
    lang = staff_language(request)
    fields = await request.form()
    form = {
        name: _str(fields.get(name))
        for name in ("username", "password", "role", "org", "jurisdiction")
    }
    try:
        role = Role(form["role"]) if form["role"] in {r.value for r in Role} else None
        if role is None:
            raise _FieldError("role", "choose a role")
        org = form["org"].strip()
        if org and not org.isdigit():
            raise _FieldError("org", "choose an organisation")
        await accounts.create_account(
            principal,
            username=form["username"].strip(),
            password=form["password"],
            role=role,
            organisation_id=int(org) if org else None,
            jurisdiction=Jurisdiction.parse(form["jurisdiction"]),
            now=clock.now(),
        )
    except _FieldError as bad:
        form["password"] = ""
        return await _accounts_page(
            request,
            principal,
            status=422,
            form=form,
            errors={bad.field: Translator(lang)(bad.message)},
        )
    except DomainError as refused:
        if isinstance(refused, NotFound | Forbidden):
            raise
        form["password"] = ""
        return await _accounts_page(
            request,
            principal,
            status=422,
            form=form,
            errors={refused.field or "username": speak(lang, refused.reason)},
        )
    return Redirect(path="/ui/accounts", status_code=303)


class _FieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


N_("choose a role")
N_("choose an organisation")


@post(
    "/ui/accounts/{username:str}/disable",
    include_in_schema=False,
    guards=[needs(Permission.ACCOUNT_MANAGE)],
)
async def account_disable(
    request: Request, principal: NamedDependency[Principal], username: FromPath[str]
) -> Redirect:
    await accounts.disable_account(principal, username, now=clock.now())
    return Redirect(path="/ui/accounts", status_code=303)


STAFF_PAGES: list = [home, account_list, account_create, account_disable]


def staff_router(pages: list | None = None) -> Router:
    """``/ui``: every page behind the session guard, the CSRF check and the HTML errors."""
    return Router(
        path="/",
        route_handlers=[*STAFF_PAGES, *(pages or [])],
        guards=[require_session],
        before_request=check_csrf,
        dependencies={"principal": Provide(_principal)},
        exception_handlers={LoginRequired: _login_redirect, DomainError: _domain_error},
        request_max_body_size=FORM_MAX_BYTES,
        include_in_schema=False,
    )


def staff_static() -> Router:
    """The staff pages' stylesheet (and later scripts), served by the app: no CDN."""
    return create_static_files_router(
        path="/static/staff", directories=[STATIC], include_in_schema=False
    )


entry_pages = Router(
    path="/",
    route_handlers=[root, login_form, login, logout],
    exception_handlers={DomainError: _domain_error},
    include_in_schema=False,
)
