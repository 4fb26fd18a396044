"""HTTP handlers for special campaigns (专项整治 / 回头看) and post-licence supervision
(证后监管): thin."""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import Annotated, Any, Final, Literal

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter
from msgspec import Meta, Struct

from equipment.api import api_docs, exports
from equipment.api.controllers import render
from equipment.api.schemas import OrgId, text
from equipment.domain.access import Principal
from equipment.services import campaigns, clock, licences
from equipment.storage.campaigns import CampaignRecord, CampaignTaskRecord

PathId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
PathBig = Annotated[int, PathParameter(ge=1, le=2**63 - 1)]
CategoryPrefix = Annotated[str, Meta(pattern=r"^[0-9A-Z]{1,4}$")]
District = Annotated[str, Meta(pattern=r"^\d{6}$")]
BigId = Annotated[int, Meta(ge=1, le=2**63 - 1)]


class CampaignCreate(Struct, forbid_unknown_fields=True):
    title: Annotated[str, text(200, 1)]
    due_on: date
    per: Literal["unit", "enterprise"] = "unit"
    categories: Annotated[list[CategoryPrefix], Meta(max_length=20)] = []
    districts: Annotated[list[District], Meta(max_length=50)] = []
    min_age_years: Annotated[int, Meta(ge=1, le=100)] | None = None
    overdue: bool = False
    min_grade: Literal["blue", "yellow", "orange", "red"] | None = None


class FollowUpCreate(Struct, forbid_unknown_fields=True):
    title: Annotated[str, text(200, 1)]
    due_on: date


class TaskComplete(Struct, forbid_unknown_fields=True):
    check_id: BigId


def campaign_view(c: CampaignRecord, tasks: int | None = None) -> dict[str, Any]:
    out = msgspec.to_builtins(c)
    out.pop("actor", None)
    return out if tasks is None else {**out, "tasks": tasks}


def task_view(t: CampaignTaskRecord) -> dict[str, Any]:
    return msgspec.to_builtins(t)


PROGRESS_COLUMNS: Final = (
    exports.Column("district_code", "District code", "区划代码", 10),
    exports.Column("district_name", "District", "区县", 12),
    exports.Column("tasks", "Tasks", "任务数", 10),
    exports.Column("done", "Done", "已完成", 10),
    exports.Column("done_percent", "Done %", "完成率%", 10),
    exports.Column("with_findings", "With findings", "发现问题", 12),
    exports.Column("hazards", "Hazards", "隐患数", 10),
)
PROGRESS_TITLE: Final[dict[exports.Lang, str]] = {"zh": "专项整治进度", "en": "Campaign progress"}


class CampaignController(Controller):
    path = "/campaigns"
    tags = ("campaigns",)

    @post("", responses=api_docs.WRITE, status_code=201)
    async def create(
        self, principal: NamedDependency[Principal], data: JSONBody[CampaignCreate]
    ) -> dict[str, Any]:
        """Start a campaign: a task per unit (or per user unit) the filters select."""
        selection = campaigns.Selection(
            tuple(data.categories),
            tuple(data.districts),
            data.min_age_years,
            data.overdue,
            data.min_grade,
        )
        made, count = await campaigns.create_campaign(
            principal,
            title=data.title.strip(),
            per=data.per,
            due_on=data.due_on,
            selection=selection,
            today=clock.today(),
            now=clock.now(),
        )
        return campaign_view(made, count)

    @get("", responses=api_docs.READ)
    async def index(self, principal: NamedDependency[Principal]) -> list[dict[str, Any]]:
        return [campaign_view(c) for c in await campaigns.list_campaigns(principal)]

    @get("/{campaign_id:int}", responses=api_docs.READ_ONE)
    async def read(
        self, principal: NamedDependency[Principal], campaign_id: PathId
    ) -> dict[str, Any]:
        return campaign_view(await campaigns.get_campaign(principal, campaign_id))

    @post("/{campaign_id:int}/follow-up", responses=api_docs.WRITE, status_code=201)
    async def follow_up(
        self,
        principal: NamedDependency[Principal],
        campaign_id: PathId,
        data: JSONBody[FollowUpCreate],
    ) -> dict[str, Any]:
        """回头看: check again the targets whose hazards were all closed."""
        made, count = await campaigns.follow_up(
            principal,
            campaign_id,
            title=data.title.strip(),
            due_on=data.due_on,
            today=clock.today(),
            now=clock.now(),
        )
        return campaign_view(made, count)

    @get("/{campaign_id:int}/tasks", responses=api_docs.READ_ONE)
    async def tasks(
        self,
        principal: NamedDependency[Principal],
        campaign_id: PathId,
        task_state: Annotated[Literal["open", "done"] | None, QueryParameter(name="state")] = None,
    ) -> list[dict[str, Any]]:
        """The campaign's tasks in the caller's scope (``?state=open`` or ``done``)."""
        rows = await campaigns.list_tasks(principal, campaign_id, state=task_state)
        return [task_view(t) for t in rows]

    @post("/tasks/{task_id:int}/complete", responses=api_docs.WRITE, status_code=200)
    async def complete(
        self,
        principal: NamedDependency[Principal],
        task_id: PathBig,
        data: JSONBody[TaskComplete],
    ) -> dict[str, Any]:
        """Close a task with the supervision check of its target (POST /api/v1/checks)."""
        done = await campaigns.complete_task(
            principal, task_id, check_id=data.check_id, today=clock.today(), now=clock.now()
        )
        return task_view(done)

    @get("/{campaign_id:int}/progress", responses=api_docs.READ_ONE)
    async def progress(
        self, principal: NamedDependency[Principal], campaign_id: PathId
    ) -> list[campaigns.ProgressLine]:
        """Per district: tasks, done, rate, targets with findings, hazards; then the total."""
        return await campaigns.progress(principal, campaign_id)

    @get(
        "/{campaign_id:int}/progress.xlsx",
        media_type=exports.XLSX_MEDIA_TYPE,
        responses=api_docs.READ_ONE,
    )
    async def progress_xlsx(
        self,
        principal: NamedDependency[Principal],
        campaign_id: PathId,
        language: NamedDependency[str],
    ) -> Response[bytes]:
        rows = await campaigns.progress(principal, campaign_id)
        # A factory, as the due list's: large exports are built in the export worker.
        make = partial(
            exports.XlsxExport,
            exports.export_lang(language),
            columns=PROGRESS_COLUMNS,
            title=PROGRESS_TITLE,
        )
        return Response(
            await render(make, [msgspec.structs.asdict(r) for r in rows]),
            media_type=exports.XLSX_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}.xlsx"'},
        )


class LicenceCreate(Struct, forbid_unknown_fields=True):
    organisation_id: OrgId
    kind: Literal["manufacture", "installation", "inspection"]
    number: Annotated[str, text(64, 1)]
    valid_from: date
    valid_until: date
    scope: Annotated[str, text(500)] = ""


class InstallationCreate(Struct, forbid_unknown_fields=True):
    installer_id: OrgId
    installed_on: date | None = None


class ReportCreate(Struct, forbid_unknown_fields=True):
    organisation_id: OrgId
    year: Annotated[int, Meta(ge=2000, le=2100)]
    submitted_on: date


class LicenceController(Controller):
    path = "/licences"
    tags = ("licences",)

    @get("", responses=api_docs.READ)
    async def overview(
        self,
        principal: NamedDependency[Principal],
        year: Annotated[int | None, QueryParameter(ge=2000, le=2100)] = None,
        days: Annotated[int, QueryParameter(ge=1, le=366)] = 90,
    ) -> dict[str, Any]:
        """Licences, those expiring within ``days``, expired ones in use, units installed
        without a valid licence, and the manufacturers' annual reports of ``year``."""
        return await licences.overview(principal, today=clock.today(), year=year, warning_days=days)

    @post("", responses=api_docs.WRITE, status_code=201)
    async def add(
        self, principal: NamedDependency[Principal], data: JSONBody[LicenceCreate]
    ) -> dict[str, Any]:
        row = await licences.add_licence(
            principal,
            data.organisation_id,
            kind=data.kind,
            number=data.number,
            scope=data.scope,
            valid_from=data.valid_from,
            valid_until=data.valid_until,
            now=clock.now(),
        )
        return msgspec.to_builtins(row)

    @post("/installations/{equipment_id:int}", responses=api_docs.WRITE, status_code=200)
    async def installation(
        self,
        principal: NamedDependency[Principal],
        equipment_id: PathBig,
        data: JSONBody[InstallationCreate],
    ) -> dict[str, Any]:
        row = await licences.record_installation(
            principal,
            equipment_id,
            installer_id=data.installer_id,
            installed_on=data.installed_on,
            now=clock.now(),
        )
        return msgspec.to_builtins(row)

    @post("/reports", responses=api_docs.WRITE, status_code=201)
    async def report(
        self, principal: NamedDependency[Principal], data: JSONBody[ReportCreate]
    ) -> dict[str, Any]:
        row = await licences.record_report(
            principal,
            data.organisation_id,
            year=data.year,
            submitted_on=data.submitted_on,
            now=clock.now(),
        )
        return msgspec.to_builtins(row)
