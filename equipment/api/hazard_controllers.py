"""HTTP handlers for hazards (隐患) and the 一单四制 loop: thin, the service decides."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Literal

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter
from msgspec import Meta, Struct

from equipment.api import api_docs, bodies, exports, views
from equipment.api.controllers import Limit, page_limit
from equipment.api.exports import Column, Sheet
from equipment.api.schemas import OrgId, text
from equipment.domain import hazards as rules
from equipment.domain.access import Permission, Principal
from equipment.domain.catalogue import Family
from equipment.domain.labels import label
from equipment.i18n import gettext
from equipment.services import clock, evidence, hazards
from equipment.services.evidence_store import store_for
from equipment.settings import Settings
from equipment.storage.hazards import EvidenceRecord, HazardChangeRecord, HazardRecord

HazardId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="hazard id")]
UnitId = Annotated[int, Meta(ge=1, le=2**63 - 1)]
StateName = Literal["listed", "assigned", "rectifying", "submitted", "verified"]
GradeName = Literal["general", "major"]
SourceName = Literal[
    "inspection", "supervision_check", "maintenance", "alarm", "public_report", "manual"
]
ActionName = Literal["assign", "start", "submit", "verify", "send_back"]


class HazardCreate(Struct, forbid_unknown_fields=True):
    """A hazard of a unit (equipment_id) or, for a management hazard, of a user unit."""

    description: Annotated[str, text(hazards.MAX_DESCRIPTION, 1)]
    equipment_id: UnitId | None = None
    user_unit_id: OrgId | None = None
    # An item of GB 45067-2024 (GET /hazards/criteria): the hazard is major. None: general.
    criterion: Annotated[str, text(48, 1)] | None = None
    source: SourceName = "manual"
    source_ref: Annotated[str, text(80)] = ""
    found_on: date | None = None


class HazardActionRequest(Struct, forbid_unknown_fields=True):
    """One step of the loop. ``assign`` carries the 交办单 (the other fields)."""

    action: ActionName
    note: Annotated[str, text(2000)] = ""
    responsible_org_id: OrgId | None = None
    responsible_person: Annotated[str, text(100)] = ""
    measures: Annotated[str, text(2000)] = ""
    deadline: date | None = None
    supervising_inspector: Annotated[str, text(100)] = ""


class Hazard(Struct):
    id: int
    equipment_id: int | None
    user_unit_id: int
    district_code: str
    source: str
    source_label: str
    source_ref: str
    description: str
    grade: str
    grade_label: str
    criterion: str | None
    criterion_clause: str | None
    state: str
    state_label: str
    overdue: bool
    found_on: date
    responsible_org_id: int | None
    responsible_person: str
    measures: str
    deadline: date | None
    supervising_inspector: str
    overdue_alarm_id: int | None
    closed_on: date | None
    version: int


class HazardPage(Struct):
    items: list[Hazard]
    next_after_id: int | None


class HazardChange(Struct):
    action: str
    from_state: str
    to_state: str
    note: str
    actor: str
    at: str


class Evidence(Struct):
    id: int
    media_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: str


def _evidence(row: EvidenceRecord) -> Evidence:
    return Evidence(
        row.id, row.media_type, row.size, row.sha256, row.uploaded_by, row.uploaded_at.isoformat()
    )


EvidenceId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="evidence id")]


class Criterion(Struct):
    key: str
    families: list[str]
    clause: str
    confidence: str
    text: str


class LedgerLine(Struct):
    key: str
    by_state: dict[str, int]
    open: int
    major_open: int
    overdue: int


def _view(row: HazardRecord, lang: str, today: date) -> Hazard:
    criterion = rules.CRITERIA_BY_KEY.get(row.criterion or "")
    return Hazard(
        id=row.id,
        equipment_id=row.equipment,
        user_unit_id=row.user_unit,
        district_code=row.district_code,
        source=row.source,
        source_label=label(rules.SOURCE_LABELS, row.source, lang),
        source_ref=row.source_ref,
        description=row.description,
        grade=row.grade,
        grade_label=label(rules.GRADE_LABELS, row.grade, lang),
        criterion=row.criterion,
        criterion_clause=None if criterion is None else criterion.clause,
        state=row.state,
        state_label=label(rules.STATE_LABELS, row.state, lang),
        overdue=rules.is_overdue(rules.State(row.state), row.deadline, today),
        found_on=row.found_on,
        responsible_org_id=row.responsible_org,
        responsible_person=row.responsible_person,
        measures=row.measures,
        deadline=row.deadline,
        supervising_inspector=row.supervising_inspector,
        overdue_alarm_id=row.overdue_alarm,
        closed_on=row.closed_on,
        version=row.version,
    )


def _change(row: HazardChangeRecord) -> HazardChange:
    return HazardChange(
        row.action, row.from_state, row.to_state, row.note, row.actor, row.at.isoformat()
    )


class HazardController(Controller):
    path = "/hazards"
    tags = ("hazards",)

    @post("/", responses=api_docs.WRITE)
    async def create(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        data: JSONBody[HazardCreate],
    ) -> Response[Hazard]:
        today = clock.today()
        row = await hazards.report(
            principal,
            hazards.NewHazard(
                description=data.description,
                source=rules.Source(data.source),
                equipment_id=data.equipment_id,
                user_unit_id=data.user_unit_id,
                criterion=data.criterion,
                source_ref=data.source_ref,
                found_on=data.found_on,
            ),
            today=today,
            now=clock.now(),
        )
        return Response(_view(row, language, today), status_code=201)

    @get("/", responses=api_docs.READ)
    async def list_(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        limit: Limit = None,
        equipment_id: Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)] = None,
        hazard_state: Annotated[StateName | None, QueryParameter(name="state")] = None,
        grade: FromQuery[GradeName | None] = None,
        overdue: FromQuery[bool] = False,
        after_id: Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)] = None,
    ) -> HazardPage:
        today = clock.today()
        page = await hazards.list_hazards(
            principal,
            equipment_id=equipment_id,
            state=hazard_state,
            grade=grade,
            overdue=overdue,
            after_id=after_id,
            limit=page_limit(limit),
            today=today,
        )
        return HazardPage([_view(r, language, today) for r in page.items], page.next_after_id)

    @get("/criteria", responses=api_docs.READ)
    async def criteria(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        family: Annotated[Family | None, QueryParameter(description="equipment family")] = None,
    ) -> list[Criterion]:
        """GB 45067-2024's major-hazard items (each with its clause and confidence tag)."""
        principal.require(Permission.HAZARD_READ)
        rows = rules.CRITERIA if family is None else rules.criteria_for(family)
        return [
            Criterion(
                c.key,
                sorted(f.value for f in c.families),
                c.clause,
                c.confidence,
                c.text_zh if language == "zh-CN" else c.text_en,
            )
            for c in rows
        ]

    @get("/ledger", responses=api_docs.READ)
    async def ledger(
        self,
        principal: NamedDependency[Principal],
        by: Annotated[
            Literal["user_unit", "maintenance_company", "district", "area"],
            QueryParameter(required=False),
        ] = "user_unit",
    ) -> list[LedgerLine]:
        """台账: counts by state per user unit, maintenance company, district or area."""
        lines = await hazards.ledger(principal, by, today=clock.today())  # JSON
        return [LedgerLine(x.key, x.by_state, x.open, x.major_open, x.overdue) for x in lines]

    @get("/ledger.xlsx", media_type=exports.XLSX_MEDIA_TYPE, responses=api_docs.READ)
    async def ledger_xlsx(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        by: Annotated[
            Literal["user_unit", "maintenance_company", "district", "area"],
            QueryParameter(required=False),
        ] = "user_unit",
    ) -> Response[bytes]:
        """台账 as Excel: the counts per group, the 问题隐患清单 and the 制度措施清单."""
        today = clock.today()
        book = await hazards.ledger_book(principal, by, today=today)
        # Off the event loop: a city's list is tens of thousands of rows.
        content = await asyncio.to_thread(
            exports.to_xlsx_book,
            ledger_sheets(book, language, today),
            exports.export_lang(language),
        )
        return Response(
            content,
            media_type=exports.XLSX_MEDIA_TYPE,
            headers={
                "Content-Disposition": f'attachment; filename="hazard-ledger-{by}-{today}.xlsx"'
            },
        )

    @get("/{hazard_id:int}", responses=api_docs.READ_ONE)
    async def read(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        hazard_id: HazardId,
    ) -> Hazard:
        return _view(await hazards.get_hazard(principal, hazard_id), language, clock.today())

    @get("/{hazard_id:int}/history", responses=api_docs.READ_ONE)
    async def history(
        self, principal: NamedDependency[Principal], hazard_id: HazardId
    ) -> list[HazardChange]:
        return [_change(c) for c in await hazards.history(principal, hazard_id)]

    @post("/{hazard_id:int}/actions", status_code=200, responses=api_docs.WRITE)
    async def act(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        hazard_id: HazardId,
        data: JSONBody[HazardActionRequest],
    ) -> Hazard:
        """Move the hazard one step: assign (with the 交办单), start, submit, verify (销号)
        or send_back."""
        assignment = None
        if data.action == "assign" and data.responsible_org_id and data.deadline:
            assignment = rules.Assignment(
                responsible_org_id=data.responsible_org_id,
                responsible_person=data.responsible_person,
                measures=data.measures,
                deadline=data.deadline,
                supervising_inspector=data.supervising_inspector,
            )
        today = clock.today()
        row = await hazards.act(
            principal,
            hazard_id,
            rules.Action(data.action),
            note=data.note,
            assignment=assignment,
            today=today,
            now=clock.now(),
        )
        return _view(row, language, today)

    @post(
        "/{hazard_id:int}/evidence",
        request_max_body_size=bodies.EVIDENCE_MAX_BYTES,
        responses=api_docs.WRITE,
        operation_class=api_docs.EvidenceUpload,
    )
    async def add_evidence(
        self,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        request: Request,
        hazard_id: HazardId,
    ) -> Response[Evidence]:
        """Attach a photo (JPEG, PNG) or a document (PDF): the body is the file."""
        data = await request.body()
        row = await hazards.add_evidence(
            principal,
            hazard_id,
            data,
            store=store_for(settings.evidence),
            max_bytes=settings.evidence.max_bytes,
            now=clock.now(),
        )
        return Response(_evidence(row), status_code=201)

    @get("/{hazard_id:int}/evidence", responses=api_docs.READ_ONE)
    async def evidence(
        self, principal: NamedDependency[Principal], hazard_id: HazardId
    ) -> list[Evidence]:
        return [_evidence(r) for r in await hazards.list_evidence(principal, hazard_id)]

    @get(
        "/{hazard_id:int}/evidence/{evidence_id:int}",
        responses=api_docs.READ_ONE,
        operation_class=api_docs.EvidenceDownload,
    )
    async def evidence_file(
        self,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        hazard_id: HazardId,
        evidence_id: EvidenceId,
    ) -> Response[bytes]:
        row, data = await hazards.read_evidence(
            principal, hazard_id, evidence_id, store=store_for(settings.evidence)
        )
        return views.evidence_download(
            data, row.media_type, evidence.file_name("evidence", row.id, row.key)
        )


# ---- the ledger workbook ---------------------------------------------------------------

_GROUP_HEADERS = {
    "user_unit": ("User unit", "使用单位"),
    "maintenance_company": ("Maintenance company", "维保单位"),
    "district": ("District", "区县"),
    "area": ("Area", "片区"),
}
_HAZARD_COLUMNS = (
    Column("id", "Hazard no.", "隐患编号", 10),
    Column("unit_code", "Unit code", "设备代码", 24),
    Column("user_unit", "User unit id", "使用单位编号", 12),
    Column("district_code", "District code", "区划代码", 10),
    Column("source", "Source", "来源", 14),
    Column("description", "Description", "隐患描述", 50),
    Column("grade", "Grade", "隐患等级", 14),
    Column("clause", "GB 45067-2024 item", "GB 45067-2024 条款", 20),
    Column("found_on", "Found on", "发现日期", 13),
    Column("state", "State", "状态", 14),
    Column("deadline", "Deadline", "整改期限", 13),
    Column("overdue", "Overdue", "逾期", 8),
    Column("closed_on", "Closed on", "销号日期", 13),
)
_MEASURE_COLUMNS = (
    Column("id", "Hazard no.", "隐患编号", 10),
    Column("description", "Hazard", "隐患", 40),
    Column("responsible_org", "Responsible organisation", "责任单位", 30),
    Column("responsible_person", "Responsible person", "责任人", 14),
    Column("measures", "Measures", "整改措施", 50),
    Column("deadline", "Deadline", "整改期限", 13),
    Column("supervising_inspector", "Supervising inspector", "督办人", 14),
    Column("state", "State", "状态", 14),
    Column("closed_on", "Closed on", "销号日期", 13),
)


def ledger_sheets(book: hazards.LedgerBook, lang: str, today: date) -> list[Sheet]:
    """The 台账 workbook's three sheets, in the caller's language."""
    en, zh = _GROUP_HEADERS[book.by]
    columns = (
        Column("key", f"{en} (code)", f"{zh}（编号）", 12),
        Column("name", en, zh, 30),
        *(
            Column(s.value, rules.STATE_LABELS[s], gettext("zh-CN", rules.STATE_LABELS[s]), 12)
            for s in rules.State
        ),
        Column("open", "Open", "未销号", 10),
        Column("major_open", "Open major", "未销号重大隐患", 14),
        Column("overdue", "Overdue", "逾期", 8),
    )
    counts = [
        {
            "key": line.key,
            "name": book.names.get(line.key, ""),
            **line.by_state,
            "open": line.open,
            "major_open": line.major_open,
            "overdue": line.overdue,
        }
        for line in book.lines
    ]
    yes_no = (gettext(lang, "No"), gettext(lang, "Yes"))

    def hazard_row(h: HazardRecord) -> dict[str, object]:
        criterion = rules.CRITERIA_BY_KEY.get(h.criterion or "")
        return {
            "id": h.id,
            "unit_code": book.unit_codes.get(h.equipment or 0, ""),
            "user_unit": h.user_unit,
            "district_code": h.district_code,
            "source": label(rules.SOURCE_LABELS, h.source, lang),
            "description": h.description,
            "grade": label(rules.GRADE_LABELS, h.grade, lang),
            "clause": "" if criterion is None else criterion.clause,
            "found_on": h.found_on,
            "state": label(rules.STATE_LABELS, h.state, lang),
            "deadline": h.deadline,
            "overdue": yes_no[rules.is_overdue(rules.State(h.state), h.deadline, today)],
            "closed_on": h.closed_on,
        }

    def measure_row(h: HazardRecord) -> dict[str, object]:
        return {
            "id": h.id,
            "description": h.description,
            "responsible_org": book.org_names.get(h.responsible_org or 0, ""),
            "responsible_person": h.responsible_person,
            "measures": h.measures,
            "deadline": h.deadline,
            "supervising_inspector": h.supervising_inspector,
            "state": label(rules.STATE_LABELS, h.state, lang),
            "closed_on": h.closed_on,
        }

    return [
        Sheet("隐患台账", "Ledger", columns, counts),
        Sheet("问题隐患清单", "Hazard list", _HAZARD_COLUMNS, map(hazard_row, book.hazards)),
        Sheet(
            "制度措施清单",
            "Measures list",
            _MEASURE_COLUMNS,
            (measure_row(h) for h in book.hazards if h.responsible_org is not None),
        ),
    ]
