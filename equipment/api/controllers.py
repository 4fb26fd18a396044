"""Thin HTTP handlers: parse, call one service, map the result."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import cache, partial
from typing import Annotated, Any, Literal

from litestar import Controller, Litestar, Request, Response, Router, delete, get, patch, post
from litestar.datastructures import MultiDict
from litestar.di import NamedDependency, Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Operation
from litestar.params import FromQuery, HeaderParameter, JSONBody, PathParameter, QueryParameter
from litestar.types import ASGIApp, Receive, Scope, Send

from equipment.api import api_docs, export_worker, exports, schemas, views
from equipment.api.auth import etag, version_from_if_match
from equipment.api.encoded import EncodedJson
from equipment.api.language import AcceptLanguage, Lang, request_language
from equipment.domain import aliases, catalogue, regions
from equipment.domain.access import OrgKind, Permission, Principal, Role
from equipment.domain.errors import InvalidValue
from equipment.domain.lifecycle import Action, Status
from equipment.domain.risk import RiskGrade
from equipment.domain.risk import rank as risk_rank
from equipment.services import (
    clock,
    due,
    inspections,
    organisations,
    register,
    schedules,
    tokens,
)
from equipment.services.pagination import parse_sort
from equipment.storage.equipment import EquipmentRow

EquipmentId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="equipment id")]
OrgIdPath = Annotated[int, PathParameter(ge=1, le=2**31 - 1, description="organisation id")]
IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        required=False,
        description='The ETag of the version being changed, e.g. "3"',
    ),
]


def query_text(max_length: int, description: str | None = None) -> QueryParameter:
    # PostgreSQL cannot compare text holding NUL: refuse it here as a 400, not a 500.
    return QueryParameter(max_length=max_length, pattern=r"^[^\x00]*$", description=description)


# A list's page size when the caller names none; ``Limit`` caps what one may name.
DEFAULT_PAGE_SIZE = 50


def page_limit(limit: int | None) -> int:
    """A list's page size: the one asked for, or the default."""
    return DEFAULT_PAGE_SIZE if limit is None else limit


Limit = Annotated[int | None, QueryParameter(ge=1, le=500, required=False)]
District = Annotated[
    str | None, query_text(20, "a GB/T 2260 region code (420606) or a district's name (樊城区)")
]


def district_filter(district: str | None) -> str | None:
    """A list's ``district`` filter: a malformed or unknown code is a 422 with its reason,
    not an empty list that reads as 'nothing is due here'."""
    if district is None:
        return None
    return regions.validate_region(aliases.district_code(district), field="district")


def category_filter(category: str | None) -> str | None:
    """A list's ``category`` filter: a code of the catalogue, or a 422 saying why not."""
    if category is None:
        return None
    try:
        return catalogue.category(category).code
    except InvalidValue as exc:
        raise InvalidValue(exc.reason, field="category") from None


def category_prefix_filter(prefix: str | None) -> str | None:
    """A list's ``category_prefix`` filter (3 = every lift): the start of a catalogue code."""
    if prefix is None:
        return None
    normalised = catalogue.normalise_category_code(prefix)
    if not normalised or not any(code.startswith(normalised) for code in catalogue.ALL_CODES):
        raise InvalidValue(
            f"category prefix '{prefix}' starts no code of the Catalogue of Special Equipment "
            "(e.g. 3 lifts, 31 traction lifts, 23 gas cylinders)",
            field="category_prefix",
        )
    return normalised


def _with_etag(language: str, unit: EquipmentRow) -> Response[schemas.Equipment]:
    return Response(views.equipment(unit, language), headers={"ETag": etag(unit.version)})


class OrganisationController(Controller):
    path = "/organisations"
    tags = ("organisations",)

    @post("/", responses=api_docs.WRITE)
    async def create(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        data: JSONBody[schemas.OrganisationCreate],
    ) -> Response[schemas.Organisation]:
        row = await organisations.create_organisation(
            principal,
            schemas.to_builtins(data) | {"licence_valid_until": data.licence_valid_until},
            now=clock.now(),
        )
        return Response(
            views.organisation(row, language),
            status_code=201,
            headers={"ETag": etag(row.version)},
        )

    @get("/", responses=api_docs.READ)
    async def list_(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        kind: FromQuery[OrgKind | None] = None,
        q: Annotated[str | None, query_text(100)] = None,
        after: Annotated[int | None, QueryParameter(ge=0, le=2**31 - 1)] = None,
        limit: Limit = None,
    ) -> schemas.OrganisationPage:
        size = page_limit(limit)
        rows = await organisations.list_organisations(
            principal, kind=kind, q=q, after_id=after, limit=size
        )
        return schemas.OrganisationPage(
            [views.organisation(r, language) for r in rows],
            rows[-1].id if len(rows) == size else None,
        )

    @get("/{org_id:int}", responses=api_docs.READ_ONE)
    async def read(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        org_id: OrgIdPath,
    ) -> Response[schemas.Organisation]:
        row = await organisations.get_organisation(principal, org_id)
        return Response(views.organisation(row, language), headers={"ETag": etag(row.version)})

    @patch("/{org_id:int}", responses=api_docs.VERSIONED)
    async def update(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        org_id: OrgIdPath,
        data: JSONBody[schemas.OrganisationUpdate],
        if_match: IfMatch = None,
    ) -> Response[schemas.Organisation]:
        version = version_from_if_match(if_match, required=True)
        row = await organisations.update_organisation(
            principal, org_id, version, schemas.changes_of(data), now=clock.now()
        )
        return Response(views.organisation(row, language), headers={"ETag": etag(row.version)})


class EquipmentController(Controller):
    path = "/equipment"
    tags = ("equipment",)

    @post("/", responses=api_docs.WRITE)
    async def create(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        data: JSONBody[schemas.EquipmentCreate],
    ) -> Response[schemas.Equipment]:
        values = schemas.changes_of(data)
        for api_name, column in (
            ("user_unit_id", "user_unit"),
            ("maintenance_company_id", "maintenance_company"),
            ("owning_station_id", "owning_station"),
        ):
            values[column] = values.pop(api_name)
        unit = await register.create_equipment(
            principal, values, today=clock.today(), now=clock.now()
        )
        response = _with_etag(language, unit)
        response.status_code = 201
        return response

    @get("/", responses=api_docs.READ)
    async def list_(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        category: Annotated[str | None, query_text(4)] = None,
        category_prefix: Annotated[str | None, query_text(4)] = None,
        district: District = None,
        status: FromQuery[Status | None] = None,
        user_unit_id: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
        maintenance_company_id: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
        owning_station_id: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
        q: Annotated[str | None, query_text(100, "code prefix or address words")] = None,
        sort: Annotated[str, query_text(20, "id, code or updated_at; '-' descends")] = "id",
        cursor: Annotated[str | None, query_text(400)] = None,
        limit: Limit = None,
    ) -> schemas.EquipmentPage:
        page = await register.list_equipment(
            principal,
            register.EquipmentFilter(
                category=category_filter(category),
                category_prefix=category_prefix_filter(category_prefix),
                district_code=district_filter(district),
                status=status,
                user_unit_id=user_unit_id,
                maintenance_company_id=maintenance_company_id,
                owning_station_id=owning_station_id,
                q=q,
            ),
            parse_sort(sort, register.SORTS),
            cursor,
            page_limit(limit),
        )
        return schemas.EquipmentPage(
            [views.equipment(r, language) for r in page.items], page.next_cursor
        )

    @get("/{equipment_id:int}", responses=api_docs.READ_ONE)
    async def read(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        equipment_id: EquipmentId,
    ) -> Response[schemas.Equipment]:
        return _with_etag(language, await register.get_equipment(principal, equipment_id))

    @patch("/{equipment_id:int}", responses=api_docs.VERSIONED)
    async def update(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        equipment_id: EquipmentId,
        data: JSONBody[schemas.EquipmentUpdate],
        if_match: IfMatch = None,
    ) -> Response[schemas.Equipment]:
        version = version_from_if_match(if_match, required=True)
        unit = await register.update_equipment(
            principal,
            equipment_id,
            version,
            schemas.changes_of(data),
            today=clock.today(),
            now=clock.now(),
        )
        return _with_etag(language, unit)

    @post("/{equipment_id:int}/register", status_code=200, responses=api_docs.VERSIONED)
    async def register_(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        equipment_id: EquipmentId,
        data: JSONBody[schemas.RegisterRequest],
        if_match: IfMatch = None,
    ) -> Response[schemas.Equipment]:
        return _with_etag(
            language,
            await register.register(
                principal,
                equipment_id,
                registration_code=data.registration_code,
                certificate_no=data.certificate_no,
                registered_on=data.registered_on,
                expected_version=version_from_if_match(if_match, required=False),
                today=clock.today(),
                now=clock.now(),
            ),
        )

    @post("/{equipment_id:int}/refuse", status_code=200, responses=api_docs.VERSIONED)
    async def refuse(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        equipment_id: EquipmentId,
        data: JSONBody[schemas.RefuseRequest],
        if_match: IfMatch = None,
    ) -> Response[schemas.Equipment]:
        """Refuse a pending application (不予登记), saying why: the registration office."""
        return _with_etag(
            language,
            await register.refuse(
                principal,
                equipment_id,
                refused_on=data.on,
                reason=data.reason,
                expected_version=version_from_if_match(if_match, required=False),
                today=clock.today(),
                now=clock.now(),
            ),
        )

    @post("/{equipment_id:int}/reapply", status_code=200, responses=api_docs.VERSIONED)
    async def reapply(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        equipment_id: EquipmentId,
        if_match: IfMatch = None,
    ) -> Response[schemas.Equipment]:
        """Apply again after a refusal, once the record is put right: the applicant."""
        return _with_etag(
            language,
            await register.reapply(
                principal,
                equipment_id,
                expected_version=version_from_if_match(if_match, required=False),
                today=clock.today(),
                now=clock.now(),
            ),
        )

    @post("/{equipment_id:int}/suspend", status_code=200, responses=api_docs.VERSIONED)
    async def suspend(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        equipment_id: EquipmentId,
        data: JSONBody[schemas.SuspendRequest],
        if_match: IfMatch = None,
    ) -> Response[schemas.Equipment]:
        return _with_etag(
            language,
            await register.suspend(
                principal,
                equipment_id,
                suspended_from=data.suspended_from,
                planned_until=data.planned_until,
                notified_on=data.notified_on,
                reason=data.reason,
                expected_version=version_from_if_match(if_match, required=False),
                today=clock.today(),
                now=clock.now(),
            ),
        )

    @post("/{equipment_id:int}/resume", status_code=200, responses=api_docs.VERSIONED)
    async def resume(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        equipment_id: EquipmentId,
        data: JSONBody[schemas.ResumeRequest],
        if_match: IfMatch = None,
    ) -> Response[schemas.Equipment]:
        return _with_etag(
            language,
            await register.resume(
                principal,
                equipment_id,
                resumed_on=data.resumed_on,
                expected_version=version_from_if_match(if_match, required=False),
                today=clock.today(),
                now=clock.now(),
            ),
        )

    @post("/{equipment_id:int}/scrap", status_code=200, responses=api_docs.VERSIONED)
    async def scrap(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        equipment_id: EquipmentId,
        data: JSONBody[schemas.CloseRequest],
        if_match: IfMatch = None,
    ) -> Response[schemas.Equipment]:
        return _with_etag(
            language,
            await register.close(
                principal,
                equipment_id,
                Action.SCRAP,
                on=data.on,
                reason=data.reason,
                expected_version=version_from_if_match(if_match, required=False),
                today=clock.today(),
                now=clock.now(),
            ),
        )

    @post("/{equipment_id:int}/cancel", status_code=200, responses=api_docs.VERSIONED)
    async def cancel(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        equipment_id: EquipmentId,
        data: JSONBody[schemas.CloseRequest],
        if_match: IfMatch = None,
    ) -> Response[schemas.Equipment]:
        return _with_etag(
            language,
            await register.close(
                principal,
                equipment_id,
                Action.CANCEL,
                on=data.on,
                reason=data.reason,
                expected_version=version_from_if_match(if_match, required=False),
                today=clock.today(),
                now=clock.now(),
            ),
        )

    @post("/{equipment_id:int}/transfer", status_code=200, responses=api_docs.VERSIONED)
    async def transfer(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        equipment_id: EquipmentId,
        data: JSONBody[schemas.TransferRequest],
        if_match: IfMatch = None,
    ) -> Response[schemas.Equipment]:
        return _with_etag(
            language,
            await register.transfer(
                principal,
                equipment_id,
                user_unit_id=data.user_unit_id,
                transferred_on=data.on,
                expected_version=version_from_if_match(if_match, required=False),
                today=clock.today(),
                now=clock.now(),
            ),
        )

    @post("/{equipment_id:int}/change-maintainer", status_code=200, responses=api_docs.VERSIONED)
    async def change_maintainer(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        equipment_id: EquipmentId,
        data: JSONBody[schemas.ChangeMaintainerRequest],
        if_match: IfMatch = None,
    ) -> Response[schemas.Equipment]:
        return _with_etag(
            language,
            await register.change_maintainer(
                principal,
                equipment_id,
                maintenance_company_id=data.maintenance_company_id,
                changed_on=data.on,
                expected_version=version_from_if_match(if_match, required=False),
                today=clock.today(),
                now=clock.now(),
            ),
        )

    @get("/{equipment_id:int}/status-history", responses=api_docs.READ_ONE)
    async def status_history(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        equipment_id: EquipmentId,
    ) -> list[schemas.StatusChange]:
        rows = await register.status_history(principal, equipment_id)
        return [views.status_change(r, language) for r in rows]

    @get("/{equipment_id:int}/audit", responses=api_docs.READ_ONE)
    async def audit(
        self, principal: NamedDependency[Principal], equipment_id: EquipmentId
    ) -> list[schemas.AuditEntry]:
        return [views.audit_entry(r) for r in await register.audit_trail(principal, equipment_id)]


class InspectionController(Controller):
    path = "/equipment/{equipment_id:int}"
    tags = ("inspections",)

    @post("/inspections", responses=api_docs.WRITE)
    async def record(
        self,
        principal: NamedDependency[Principal],
        equipment_id: EquipmentId,
        data: JSONBody[schemas.InspectionCreate],
        language: NamedDependency[str],
    ) -> Response[schemas.InspectionResult]:
        row, schedule = await inspections.record_inspection(
            principal,
            equipment_id,
            schemas.changes_of(data),
            today=clock.today(),
            now=clock.now(),
        )
        result = schemas.InspectionResult(
            views.inspection(row, language), views.schedule(schedule, language)
        )
        return Response(result, status_code=201)

    @get("/inspections", responses=api_docs.READ_ONE)
    async def list_(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        equipment_id: EquipmentId,
    ) -> list[schemas.InspectionRecord]:
        rows = await inspections.list_inspections(principal, equipment_id)
        return [views.inspection(r, language, superseded=r.superseded) for r in rows]

    @get("/schedule", responses=api_docs.READ_ONE)
    async def schedule(
        self,
        principal: NamedDependency[Principal],
        equipment_id: EquipmentId,
        language: NamedDependency[str],
    ) -> schemas.ScheduleView:
        """Every due date of the unit as of today, each with the clause that produced it."""
        schedule = await inspections.schedule_of(principal, equipment_id, clock.today())
        return views.schedule(schedule, language)


DueWindow = Annotated[
    Literal["all", "overdue", "upcoming"],
    QueryParameter(description="overdue: past due; upcoming: due today or later"),
]


def due_filter(
    window: DueWindow = "all",
    within_days: Annotated[int | None, QueryParameter(ge=0, le=3660)] = None,
    due_from: Annotated[date | None, QueryParameter(name="from")] = None,
    due_to: Annotated[date | None, QueryParameter(name="to")] = None,
    kind: Annotated[
        str | None, query_text(24, "a due kind; default: statutory inspections")
    ] = None,
    category: Annotated[str | None, query_text(4)] = None,
    category_prefix: Annotated[str | None, query_text(4)] = None,
    district: District = None,
    user_unit_id: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
    maintenance_company_id: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
    area_id: Annotated[
        int | None, QueryParameter(ge=1, le=2**31 - 1, description="units in or on this area")
    ] = None,
    grade: Annotated[
        Literal["red", "orange", "yellow", "blue"] | None,
        QueryParameter(description="the unit's risk grade (风险分级)"),
    ] = None,
    sort: Annotated[
        Literal["due_on", "-grade"],
        QueryParameter(description="due_on: earliest first; -grade: worst risk grade first"),
    ] = "due_on",
    principal: NamedDependency[Principal | None] = None,
) -> due.DueFilter:
    """The due lists' filter from the query. As the controller's dependency it takes the
    caller (``principal``, the router's dependency), so Litestar resolves it after the
    caller and not beside it: two dependencies of one level are resolved concurrently in
    an anyio task group, which cost a due-list request about 460 function calls (cProfile;
    a quarter of what the request then made). The caller's permission is checked first:
    403 before any complaint about the filter. The staff pages call this without a
    caller."""
    if principal is not None:
        principal.require(Permission.DUE_READ)
    return due.DueFilter(
        window=window,
        within_days=within_days,
        due_from=due_from,
        due_to=due_to,
        kind=kind,
        category=category_filter(category),
        category_prefix=category_prefix_filter(category_prefix),
        district_code=district_filter(district),
        user_unit_id=user_unit_id,
        maintenance_company_id=maintenance_company_id,
        area_id=area_id,
        risk_rank=None if grade is None else risk_rank(RiskGrade(grade)),
        by_grade=sort == "-grade",
    )


EXPORT_LIMIT = 100_000


# --- The due list's query in one pass ------------------------------------------------------

_UINT = re.compile(r"0|[1-9][0-9]{0,9}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DUE_CHOICES = {
    "window": frozenset(("all", "overdue", "upcoming")),
    "grade": frozenset(("red", "orange", "yellow", "blue")),
    "sort": frozenset(("due_on", "-grade")),
}
# name in the query: (keyword of due_filter, bounds) for the integers; max length for text
_DUE_INTS = {
    "within_days": ("within_days", 0, 3660),
    "user_unit_id": ("user_unit_id", 1, 2**31 - 1),
    "maintenance_company_id": ("maintenance_company_id", 1, 2**31 - 1),
    "area_id": ("area_id", 1, 2**31 - 1),
}
_DUE_TEXTS = {"kind": 24, "category": 4, "category_prefix": 4, "district": 20}
_DUE_DATES = {"from": "due_from", "to": "due_to"}


def due_query(
    query: MultiDict,
) -> tuple[dict[str, Any], str | None, int | None] | None:
    """``due_filter``'s keywords, the cursor and the page size from the due list's query,
    when every parameter is in the form Litestar's parsing (the declarations on
    ``_DeclaredDueController``) reads the same way and accepts: no name twice, a choice
    spelled as listed, a whole number in decimal without sign or leading zero within its
    bounds, a date as YYYY-MM-DD, text within its length and without NUL. Anything else
    is None: the twin parses it, and answers with Litestar's checks and words."""
    pairs = list(query.multi_items())
    values = dict(pairs)
    if len(values) != len(pairs):
        return None
    filters: dict[str, Any] = {}
    for name, value in values.items():
        if name in _DUE_CHOICES:
            if value not in _DUE_CHOICES[name]:
                return None
            filters[name] = value
        elif name in _DUE_TEXTS:
            if len(value) > _DUE_TEXTS[name] or "\x00" in value:
                return None
            filters[name] = value
        elif name in _DUE_INTS:
            keyword, low, high = _DUE_INTS[name]
            if not _UINT.fullmatch(value) or not low <= int(value) <= high:
                return None
            filters[keyword] = int(value)
        elif name in _DUE_DATES:
            if not _ISO_DATE.fullmatch(value):
                return None
            try:
                filters[_DUE_DATES[name]] = date.fromisoformat(value)
            except ValueError:
                return None
    cursor = values.get("cursor")
    if cursor is not None and (len(cursor) > 400 or "\x00" in cursor):
        return None
    limit = values.get("limit")
    if limit is not None:
        if not _UINT.fullmatch(limit) or not 1 <= int(limit) <= 500:
            return None
        return filters, cursor, int(limit)
    return filters, cursor, None


class _DeclaredDueController(Controller):
    """The due list as Litestar parses it, every parameter declared: the twin of
    ``DueController.list_`` (its OpenAPI parameters, and its answer to a query that is not
    in the plain form ``due_query`` reads)."""

    path = "/due"
    tags = ("due",)
    dependencies = {"filters": Provide(due_filter, sync_to_thread=False)}  # noqa: RUF012

    @get("/", responses=api_docs.READ)
    async def list_(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        filters: NamedDependency[due.DueFilter],
        cursor: Annotated[str | None, query_text(400)] = None,
        limit: Limit = None,
        lang: Lang = None,
        accept_language: AcceptLanguage = None,
    ) -> schemas.DuePage:
        """Units due for inspection, earliest first (应检必检): the inspector's main list."""
        page = await due.due_rows(
            principal, filters, today=clock.today(), cursor=cursor, limit=page_limit(limit)
        )
        return schemas.DuePage(views.due_items(page, request_language(request)), page.next_cursor)


@cache
def due_list_twin() -> Litestar:
    """A Litestar app of the declared due list alone, under the API's path, with the
    API's request class, caller dependency and error map. The caller is the one the API
    router's token hook already found (``authenticate`` reads it from the request)."""
    from equipment.api.auth import authenticate
    from equipment.api.bodies import SeregRequest
    from equipment.api.errors import EXCEPTION_HANDLERS

    return Litestar(
        route_handlers=[
            Router(
                path="/api/v1",
                route_handlers=[_DeclaredDueController],
                dependencies={"principal": Provide(authenticate)},
                request_class=SeregRequest,
            )
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=OpenAPIConfig(title="sereg", version="1", use_handler_docstrings=True),
        logging_config=None,
        debug=False,
    )


@dataclass
class DueListOperation(Operation):
    """The due list's operation, its parameters those of the declared twin (in their
    order, each as Litestar documents it): the handler reads them itself."""

    def __post_init__(self) -> None:
        twin = due_list_twin().openapi_schema.paths
        declared = twin["/api/v1/due"].get if twin else None
        if declared is None or not declared.parameters:
            raise RuntimeError("the due list's twin documents no parameters")
        self.parameters = declared.parameters


class Delegated(Response):
    """A response that hands the request to another ASGI app (the due list's twin)."""

    def __init__(self, app: Litestar) -> None:
        super().__init__(None)
        self.app = app

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> ASGIApp:  # type: ignore[override]
        app = self.app

        async def delegate(scope: Scope, receive: Receive, send: Send) -> None:
            # A copy: the twin's router writes its own route into the scope it is given.
            await app(dict(scope), receive, send)  # type: ignore[arg-type]

        return delegate


class DueController(Controller):
    path = "/due"
    tags = ("due",)
    dependencies = {"filters": Provide(due_filter, sync_to_thread=False)}  # noqa: RUF012

    # The due list, sereg's hottest route, reads its query in one pass (``due_query``):
    # Litestar's parsing of its 16 parameters and the filter dependency cost about a fifth
    # of the request's Python. The parameters are still declared, on the twin the
    # operation is documented from (``due_list_twin``), which also answers every request
    # whose query is not in the plain form the one pass reads: Litestar's own checks
    # and words for those, byte for byte as before.
    @get("/", responses=api_docs.READ, operation_class=DueListOperation)
    async def list_(
        self, request: Request, principal: NamedDependency[Principal]
    ) -> Response[schemas.DuePage]:
        """Units due for inspection, earliest first (应检必检): the inspector's main list."""
        query = due_query(request.query_params)
        if query is None:
            return Delegated(due_list_twin())
        filters, cursor, limit = query
        page = await due.due_rows(
            principal,
            due_filter(**filters, principal=principal),
            today=clock.today(),
            cursor=cursor,
            limit=page_limit(limit),
        )
        items = views.due_items(page, request_language(request))
        return EncodedJson(schemas.DuePage(items, page.next_cursor))

    @get("/change-registrations", responses=api_docs.READ)
    async def change_registrations(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        filters: NamedDependency[due.DueFilter],
        cursor: Annotated[str | None, query_text(400)] = None,
        limit: Limit = None,
        lang: Lang = None,
        accept_language: AcceptLanguage = None,
    ) -> schemas.DuePage:
        """Units in use that reached their design service life: a change registration is
        due (TSG 08-2017, rule registration.change.design_life), earliest first. Scoped
        like the due list: a user unit sees its own units, the bureau all."""
        page = await due.due_rows(
            principal,
            replace(filters, kind="change_registration"),
            today=clock.today(),
            cursor=cursor,
            limit=page_limit(limit),
        )
        return schemas.DuePage(views.due_items(page, request_language(request)), page.next_cursor)

    @get("/summary", responses=api_docs.READ)
    async def summary(self, principal: NamedDependency[Principal]) -> list[schemas.DueSummaryRow]:
        rows = await due.summary(principal, today=clock.today())
        return [schemas.DueSummaryRow(**r) for r in rows]

    @get("/export.csv", media_type=exports.CSV_MEDIA_TYPE, responses=api_docs.DOWNLOAD)
    async def export_csv(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        filters: NamedDependency[due.DueFilter],
        language: NamedDependency[str],  # ?lang=en or Accept-Language; Chinese by default
    ) -> Response[Any]:
        make = partial(exports.CsvExport, exports.export_lang(language))
        return await _due_download(request, principal, filters, make, "csv")

    @get("/export.xlsx", media_type=exports.XLSX_MEDIA_TYPE, responses=api_docs.DOWNLOAD)
    async def export_xlsx(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        filters: NamedDependency[due.DueFilter],
        language: NamedDependency[str],  # ?lang=en or Accept-Language; Chinese by default
    ) -> Response[Any]:
        make = partial(exports.XlsxExport, exports.export_lang(language))
        return await _due_download(request, principal, filters, make, "xlsx")

    @get("/calendar.ics", media_type=exports.ICS_MEDIA_TYPE, responses=api_docs.DOWNLOAD)
    async def calendar(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        filters: NamedDependency[due.DueFilter],
    ) -> Response[Any]:
        """An iCalendar feed of the matching due dates, for a district or a company."""
        make = partial(exports.IcsExport, calendar_name="sereg 应检设备", generated_at=clock.now())
        return await _due_download(request, principal, filters, make, "ics")


_MEDIA_TYPES = {
    "csv": exports.CSV_MEDIA_TYPE,
    "xlsx": exports.XLSX_MEDIA_TYPE,
    "ics": exports.ICS_MEDIA_TYPE,
}


async def _due_download(
    request: Request,
    principal: Principal,
    filters: due.DueFilter,
    make: Callable[[], exports.Export],
    suffix: str,
) -> Response[Any]:
    """The caller's due list as a file: a large one read and formatted in the export
    worker (export_worker), the server relaying its bytes."""
    return await export_worker.due_response(
        request,
        principal,
        filters,
        make,
        today=clock.today(),
        max_rows=EXPORT_LIMIT,
        media_type=_MEDIA_TYPES[suffix],
        headers={"Content-Disposition": f'attachment; filename="due.{suffix}"'},
    )


async def render(make: Callable[[], exports.Export], rows: Sequence[dict]) -> bytes:
    """The bytes of a small export of rows in hand, formatted paced (export_worker)."""
    return await export_worker.render(make, rows)


@get("/reminders", tags=("due",), responses=api_docs.READ)
async def reminders(
    request: Request,
    principal: NamedDependency[Principal],
    cursor: Annotated[str | None, query_text(400)] = None,
    limit: Limit = None,
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> schemas.DuePage:
    """The caller's units whose inspection must be applied for now (one month before the
    due date, TSG 08-2017) or is overdue."""
    today = clock.today()
    page = await due.due_rows(
        principal, due.reminder_filter(today), today=today, cursor=cursor, limit=page_limit(limit)
    )
    # The language from the request: one dependency, not two (see due_filter).
    return schemas.DuePage(views.due_items(page, request_language(request)), page.next_cursor)


class TokenController(Controller):
    path = "/tokens"
    tags = ("tokens",)

    @post("/", responses=api_docs.WRITE)
    async def create(
        self, principal: NamedDependency[Principal], data: JSONBody[schemas.TokenCreate]
    ) -> schemas.NewToken:
        principal.require(Permission.TOKEN_MANAGE)
        secret, row = await tokens.create_token(
            principal,
            role=Role(data.role),
            organisation_id=data.organisation_id,
            label=data.label,
            now=clock.now(),
        )
        return schemas.NewToken(secret, row.id, row.role, row.organisation)

    @get("/", responses=api_docs.READ)
    async def list_(self, principal: NamedDependency[Principal]) -> list[schemas.Token]:
        principal.require(Permission.TOKEN_MANAGE)
        return [views.token(r) for r in await tokens.list_tokens()]

    @delete("/{token_id:int}", responses=api_docs.WRITE)
    async def revoke(
        self,
        principal: NamedDependency[Principal],
        token_id: Annotated[int, PathParameter(ge=1, le=2**31 - 1)],
    ) -> None:
        principal.require(Permission.TOKEN_MANAGE)
        await tokens.revoke_token(principal, token_id, now=clock.now())


@get("/me", tags=["tokens"], responses=api_docs.READ)
async def me(principal: NamedDependency[Principal]) -> schemas.Me:
    return schemas.Me(principal.role.value, principal.organisation_id, principal.token_id)


@get("/rules", tags=("public",), responses=api_docs.PUBLIC)
async def inspection_rules(language: NamedDependency[str]) -> schemas.RulesView:
    """The inspection-interval table in force: each row's regulation, clause and values,
    and its summary in the caller's language (zh-CN unless English is asked for)."""
    return views.rules_view(schedules.policy(), language)


@get("/categories", tags=["public"], responses=api_docs.PUBLIC)
async def categories() -> list[schemas.Category]:
    return [views.category(catalogue.category(c)) for c in catalogue.ALL_CODES]
