"""HTTP handlers for on-site supervision checks (监督检查) and the user unit's routine
records (日管控、周排查、月调度): thin, the services decide (scope included)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter
from msgspec import Meta, Struct

from equipment.api import api_docs, bodies, views
from equipment.api.controllers import Limit, page_limit
from equipment.api.schemas import OrgId, text
from equipment.domain import checks as rules
from equipment.domain import routines as routine_rules
from equipment.domain.access import Permission, Principal
from equipment.domain.errors import InvalidValue
from equipment.domain.labels import label
from equipment.services import checks, clock, evidence, routines
from equipment.services.evidence_store import store_for
from equipment.settings import Settings
from equipment.storage.checks import (
    CheckEvidenceRecord,
    CheckItemRecord,
    CheckRecord,
    MissingUnit,
    RoutineRecordRow,
)

CheckId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="check id")]
EvidenceId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="evidence id")]
UnitId = Annotated[int, Meta(ge=1, le=2**63 - 1)]
BigQuery = Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)]
OutcomeName = Literal["passed", "failed", "not_applicable"]
KindName = Literal["daily", "weekly", "monthly"]
ItemKey = Annotated[str, text(48, 1)]


class ItemAnswer(Struct, forbid_unknown_fields=True):
    key: ItemKey
    outcome: OutcomeName
    note: Annotated[str, text(rules.MAX_NOTE)] = ""


class CheckCreate(Struct, forbid_unknown_fields=True):
    """A check of a user unit (user_unit_id) or of one unit (equipment_id): every item of
    its checklist answered once (GET /checks/checklists/{name})."""

    items: Annotated[list[ItemAnswer], Meta(min_length=1, max_length=rules.MAX_ITEMS)]
    equipment_id: UnitId | None = None
    user_unit_id: OrgId | None = None
    checklist: Annotated[str, text(32, 1)] | None = None
    inspector: Annotated[str, text(checks.MAX_INSPECTOR)] = ""
    note: Annotated[str, text(checks.MAX_CHECK_NOTE)] = ""
    checked_on: date | None = None
    task_id: UnitId | None = None
    open_hazards: bool = True


class OpenHazards(Struct, forbid_unknown_fields=True):
    """Which failed items to open as hazards (empty: every failed item not yet opened)."""

    items: Annotated[list[ItemKey], Meta(max_length=rules.MAX_ITEMS)] = []


class ChecklistItem(Struct):
    key: str
    text: str
    source: str
    criterion: str | None


class Checklist(Struct):
    name: str
    items: list[ChecklistItem]


class CheckItemView(Struct):
    key: str
    text: str
    source: str
    criterion: str | None
    outcome: str
    outcome_label: str
    note: str
    hazard_id: int | None


class EvidenceView(Struct):
    id: int
    item_key: str
    media_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: str


class Check(Struct):
    id: int
    target_kind: str
    user_unit_id: int
    equipment_id: int | None
    district_code: str
    checklist: str
    checked_on: date
    inspector: str
    task_id: int | None
    note: str
    failed: int


class CheckDetail(Check):
    items: list[CheckItemView]
    evidence: list[EvidenceView]


class CheckPage(Struct):
    items: list[Check]
    next_before_id: int | None


def _check(row: CheckRecord) -> Check:
    return Check(
        row.id,
        row.target_kind,
        row.user_unit,
        row.equipment,
        row.district_code,
        row.checklist,
        row.checked_on,
        row.inspector,
        row.task_id,
        row.note,
        row.failed,
    )


def _item(row: CheckItemRecord, lang: str) -> CheckItemView:
    return CheckItemView(
        row.key,
        row.text,
        row.source,
        row.criterion,
        row.outcome,
        label(rules.OUTCOME_LABELS, row.outcome, lang),
        row.note,
        row.hazard,
    )


def _evidence(row: CheckEvidenceRecord) -> EvidenceView:
    return EvidenceView(
        row.id,
        row.item_key,
        row.media_type,
        row.size,
        row.sha256,
        row.uploaded_by,
        row.uploaded_at.isoformat(),
    )


def _detail(detail: checks.CheckDetail, lang: str) -> CheckDetail:
    base = _check(detail.check)
    return CheckDetail(
        **{f: getattr(base, f) for f in Check.__struct_fields__},
        items=[_item(i, lang) for i in detail.items],
        evidence=[_evidence(e) for e in detail.evidence],
    )


class CheckController(Controller):
    path = "/checks"
    tags = ("checks",)

    @get("/checklists", responses=api_docs.READ)
    async def checklists(self, principal: NamedDependency[Principal]) -> list[str]:
        """The names of the checklists: ``user_unit`` and one per equipment family."""
        principal.require(Permission.CHECK_READ)
        return checks.checklist_names()

    @get("/checklists/{name:str}", responses=api_docs.READ_ONE)
    async def checklist(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        name: Annotated[str, PathParameter(max_length=32, description="checklist name")],
    ) -> Checklist:
        """The items of one checklist (检查事项清单), each with its source."""
        principal.require(Permission.CHECK_READ)
        items = checks.checklist_items(name)
        return Checklist(
            name,
            [ChecklistItem(i.key, i.text(language), i.source, i.criterion) for i in items],
        )

    @post("/", responses=api_docs.WRITE)
    async def create(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        data: JSONBody[CheckCreate],
    ) -> Response[CheckDetail]:
        """Record a check; failed items become hazards in the same step (open_hazards)."""
        if (data.equipment_id is None) == (data.user_unit_id is None):
            raise InvalidValue(
                "a check is of a unit (equipment_id) or of a user unit (user_unit_id): "
                "name exactly one",
                field="equipment_id",
            )
        target = (
            checks.Target.equipment(data.equipment_id)
            if data.equipment_id is not None
            else checks.Target.user_unit(data.user_unit_id or 0)
        )
        detail = await checks.record(
            principal,
            target,
            data.checklist,
            [rules.Answer(a.key, rules.Outcome(a.outcome), a.note) for a in data.items],
            task_id=data.task_id,
            inspector=data.inspector,
            note=data.note,
            checked_on=data.checked_on,
            open_hazards=data.open_hazards,
            today=clock.today(),
            now=clock.now(),
        )
        return Response(_detail(detail, language), status_code=201)

    @get("/", responses=api_docs.READ)
    async def list_(
        self,
        principal: NamedDependency[Principal],
        limit: Limit = None,
        user_unit_id: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
        equipment_id: BigQuery = None,
        task_id: BigQuery = None,
        failed: Annotated[bool, QueryParameter(required=False)] = False,
        before_id: BigQuery = None,
    ) -> CheckPage:
        """The checks in the caller's scope, newest first."""
        page = await checks.list_checks(
            principal,
            user_unit_id=user_unit_id,
            equipment_id=equipment_id,
            task_id=task_id,
            failed_only=failed,
            before_id=before_id,
            limit=page_limit(limit),
        )
        return CheckPage([_check(r) for r in page.items], page.next_before_id)

    @get("/{check_id:int}", responses=api_docs.READ_ONE)
    async def read(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        check_id: CheckId,
    ) -> CheckDetail:
        return _detail(await checks.get_check(principal, check_id), language)

    @post("/{check_id:int}/hazards", status_code=200, responses=api_docs.WRITE)
    async def open_hazards(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        check_id: CheckId,
        data: JSONBody[OpenHazards],
    ) -> CheckDetail:
        """Turn the check's failed items (``items``: only these; empty: all) into hazards,
        those not yet turned."""
        detail = await checks.open_hazards(
            principal,
            check_id,
            only=data.items or None,
            today=clock.today(),
            now=clock.now(),
        )
        return _detail(detail, language)

    @post(
        "/{check_id:int}/evidence",
        request_max_body_size=bodies.EVIDENCE_MAX_BYTES,
        responses=api_docs.WRITE,
        operation_class=api_docs.EvidenceUpload,
    )
    async def add_evidence(
        self,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        request: Request,
        check_id: CheckId,
        item: Annotated[str, QueryParameter(max_length=48)] = "",
    ) -> Response[EvidenceView]:
        """Attach a photo (JPEG, PNG) or document (PDF) to the check (or one item)."""
        data = await request.body()
        row = await checks.add_evidence(
            principal,
            check_id,
            data,
            item_key=item,
            store=store_for(settings.evidence),
            max_bytes=settings.evidence.max_bytes,
            now=clock.now(),
        )
        return Response(_evidence(row), status_code=201)

    @get(
        "/{check_id:int}/evidence/{evidence_id:int}",
        responses=api_docs.READ_ONE,
        operation_class=api_docs.EvidenceDownload,
    )
    async def evidence_file(
        self,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        check_id: CheckId,
        evidence_id: EvidenceId,
    ) -> Response[bytes]:
        row, data = await checks.read_evidence(
            principal, check_id, evidence_id, store=store_for(settings.evidence)
        )
        return views.evidence_download(
            data, row.media_type, evidence.file_name("check-evidence", row.id, row.key)
        )


# ---- routine records ------------------------------------------------------------------


class RoutineCreate(Struct, forbid_unknown_fields=True):
    equipment_id: UnitId
    kind: KindName
    all_clear: bool = True
    findings: Annotated[str, text(routines.MAX_FINDINGS)] = ""
    day: date | None = None


class Routine(Struct):
    id: int
    equipment_id: int
    user_unit_id: int
    kind: str
    kind_label: str
    period_start: date
    recorded_on: date
    all_clear: bool
    findings: str
    recorded_by: str


class RoutinePage(Struct):
    items: list[Routine]
    next_before_id: int | None


class Missing(Struct):
    equipment_id: int
    code: str
    category: str
    user_unit_id: int
    district_code: str


class MissingPage(Struct):
    kind: str
    period_start: date
    items: list[Missing]
    next_after_id: int | None


def _routine(row: RoutineRecordRow, lang: str) -> Routine:
    return Routine(
        row.id,
        row.equipment,
        row.user_unit,
        row.kind,
        label(routine_rules.KIND_LABELS, row.kind, lang),
        row.period_start,
        row.recorded_on,
        row.all_clear,
        row.findings,
        row.recorded_by,
    )


def _missing(row: MissingUnit) -> Missing:
    return Missing(row.id, row.code, row.category, row.user_unit, row.district_code)


class RoutineController(Controller):
    path = "/routine-records"
    tags = ("routine records",)

    @post("/", responses=api_docs.WRITE)
    async def create(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        data: JSONBody[RoutineCreate],
    ) -> Response[Routine]:
        """The user unit's daily / weekly / monthly record of one of its units."""
        row = await routines.record(
            principal,
            data.equipment_id,
            routine_rules.Kind(data.kind),
            all_clear=data.all_clear,
            findings=data.findings,
            day=data.day,
            today=clock.today(),
            now=clock.now(),
        )
        return Response(_routine(row, language), status_code=201)

    @get("/", responses=api_docs.READ)
    async def list_(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        limit: Limit = None,
        equipment_id: BigQuery = None,
        kind: Annotated[KindName | None, QueryParameter(required=False)] = None,
        before_id: BigQuery = None,
    ) -> RoutinePage:
        page = await routines.list_records(
            principal,
            equipment_id=equipment_id,
            kind=routine_rules.Kind(kind) if kind else None,
            before_id=before_id,
            limit=page_limit(limit),
        )
        return RoutinePage([_routine(r, language) for r in page.items], page.next_before_id)

    @get("/missing", responses=api_docs.READ)
    async def missing(
        self,
        principal: NamedDependency[Principal],
        kind: Annotated[KindName, QueryParameter(required=False)] = "daily",
        limit: Limit = None,
        after_id: BigQuery = None,
    ) -> MissingPage:
        """Units in use whose record of the current day, week or month is missing."""
        page = await routines.missing(
            principal,
            routine_rules.Kind(kind),
            today=clock.today(),
            after_id=after_id,
            limit=page_limit(limit),
        )
        return MissingPage(
            kind, page.period_start, [_missing(m) for m in page.items], page.next_after_id
        )
