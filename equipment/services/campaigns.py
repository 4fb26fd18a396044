"""Special campaigns (专项整治) and their follow-ups (回头看).

A campaign selects the units in use by category, district, age and the due list (overdue
for inspection), and makes a task per unit or per user unit. A task is done by recording a
supervision check of its target (equipment.services.checks, against the target's
checklist: 清单之外无事项) and closing the task with that check: the failed items and the
hazards they opened are the campaign's findings. A 回头看 is a new campaign whose tasks are
the targets of a campaign whose hazards were all closed (verified, 销号), checked again.

Scope: the bureau (admin) starts campaigns and sees every task; an inspector works the
tasks in his scope (a bound inspector: those inside his jurisdiction, 404 otherwise) and
reads the progress of the tasks he sees. Nobody else reads campaigns.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import msgspec

from equipment.domain import regions, risk
from equipment.domain.access import Permission, Principal
from equipment.domain.errors import Conflict, InvalidValue, NotFound
from equipment.domain.hazards import State as HazardState
from equipment.domain.rules.dates import add_months
from equipment.services import audit, checks
from equipment.storage import reads, unit_of_work
from equipment.storage.campaigns import CampaignRecord, CampaignTaskRecord, SelectedUnit

# A campaign checks what inspectors can visit in its period; a selection larger than this
# is a mistake in its filters (the whole register), refused with the figure.
MAX_TASKS = 20_000
PER = ("unit", "enterprise")


@dataclass(frozen=True)
class Selection:
    """A campaign's filters (all optional; every one given must match)."""

    categories: tuple[str, ...] = ()  # category code prefixes: "3" lifts, "3110", ...
    districts: tuple[str, ...] = ()
    min_age_years: int | None = None  # commissioned at least this many years ago
    overdue: bool = False  # only units overdue for their inspection (the due list)
    min_grade: str | None = None  # only units of this risk grade or worse (domain.risk)

    def as_json(self) -> dict[str, Any]:
        return {
            "categories": list(self.categories),
            "districts": list(self.districts),
            "min_age_years": self.min_age_years,
            "overdue": self.overdue,
            "min_grade": self.min_grade,
        }


def _rank(grade: str) -> int:
    try:
        return risk.rank(risk.RiskGrade(grade))
    except ValueError:
        raise InvalidValue(f"{grade!r} is not a risk grade", field="min_grade") from None


def tasks_of(units: list[SelectedUnit], per: str, campaign_id: int) -> list[dict[str, Any]]:
    """One task per unit, or per user unit (its district: where most of its selected
    units are, the smallest code on a tie)."""
    if per == "unit":
        return [
            {
                "campaign": campaign_id,
                "equipment": u.id,
                "user_unit": u.user_unit,
                "district_code": u.district_code,
            }
            for u in units
        ]
    by_firm: dict[int, Counter[str]] = {}
    for u in units:
        by_firm.setdefault(u.user_unit, Counter())[u.district_code] += 1
    return [
        {
            "campaign": campaign_id,
            "equipment": None,
            "user_unit": firm,
            "district_code": min(c, key=lambda d: (-c[d], d)),
        }
        for firm, c in sorted(by_firm.items())
    ]


async def create_campaign(
    principal: Principal,
    *,
    title: str,
    per: str,
    due_on: date,
    selection: Selection,
    today: date,
    now: datetime,
) -> tuple[CampaignRecord, int]:
    """Start a campaign: its tasks made from the units selected now. (campaign, tasks)"""
    principal.require(Permission.CAMPAIGN_MANAGE)
    if per not in PER:
        raise InvalidValue("a campaign makes a task per unit or per enterprise", field="per")
    if due_on < today:
        raise InvalidValue(f"{due_on.isoformat()} is in the past", field="due_on")
    cutoff = (
        None
        if selection.min_age_years is None
        else add_months(today, -12 * selection.min_age_years)
    )
    async with unit_of_work() as uow:
        units = await uow.campaigns.select_units(
            categories=selection.categories,
            districts=selection.districts,
            commissioned_before=cutoff,
            due_before=today if selection.overdue else None,
            min_rank=None if selection.min_grade is None else _rank(selection.min_grade),
            limit=MAX_TASKS + 1,
        )
        if not units:
            raise InvalidValue("no unit in use matches the campaign's filters", field="filters")
        if len(units) > MAX_TASKS:
            raise InvalidValue(
                f"the filters select more than {MAX_TASKS} units: narrow them", field="filters"
            )
        campaign = await uow.campaigns.insert(
            {
                "title": title,
                "kind": "campaign",
                "per": per,
                "filters": selection.as_json(),
                "due_on": due_on,
                "actor": principal.actor,
                "created_at": now,
            }
        )
        count = await uow.campaigns.insert_tasks(tasks_of(units, per, campaign.id))
        await audit.record(
            principal,
            entity="campaign",
            entity_id=campaign.id,
            action="create",
            at=now,
            before=None,
            after={"title": title, "per": per, "filters": selection.as_json(), "tasks": count},
        )
    return campaign, count


async def follow_up(
    principal: Principal,
    campaign_id: int,
    *,
    title: str,
    due_on: date,
    today: date,
    now: datetime,
) -> tuple[CampaignRecord, int]:
    """回头看: a new campaign checking again the targets of ``campaign_id`` whose check
    opened hazards that are all closed (verified) now."""
    principal.require(Permission.CAMPAIGN_MANAGE)
    if due_on < today:
        raise InvalidValue(f"{due_on.isoformat()} is in the past", field="due_on")
    async with unit_of_work() as uow:
        parent = await uow.campaigns.get(campaign_id)
        if parent is None:
            raise NotFound(f"campaign {campaign_id} not found")
        done = await uow.campaigns.tasks(
            principal.equipment_scope(), campaign=campaign_id, state="done", limit=MAX_TASKS
        )
        with_hazards = [t for t in done if t.hazards]
        states = await uow.campaigns.hazard_states(
            sorted({h for t in with_hazards for h in t.hazards})
        )
        closed = [
            t for t in with_hazards if all(states.get(h) == HazardState.VERIFIED for h in t.hazards)
        ]
        if not closed:
            raise Conflict(
                f"campaign {campaign_id} has no target whose hazards were all closed",
                field="campaign",
            )
        campaign = await uow.campaigns.insert(
            {
                "title": title,
                "kind": "follow_up",
                "parent": campaign_id,
                "per": parent.per,
                "filters": {"follow_up_of": campaign_id},
                "due_on": due_on,
                "actor": principal.actor,
                "created_at": now,
            }
        )
        count = await uow.campaigns.insert_tasks(
            [
                {
                    "campaign": campaign.id,
                    "equipment": t.equipment,
                    "user_unit": t.user_unit,
                    "district_code": t.district_code,
                }
                for t in closed
            ]
        )
        await audit.record(
            principal,
            entity="campaign",
            entity_id=campaign.id,
            action="follow_up",
            at=now,
            before=None,
            after={"title": title, "parent": campaign_id, "tasks": count},
        )
    return campaign, count


def _require_reader(principal: Principal) -> None:
    if not principal.can(Permission.CAMPAIGN_MANAGE):
        principal.require(Permission.CAMPAIGN_TASK)


async def list_campaigns(principal: Principal) -> list[CampaignRecord]:
    _require_reader(principal)
    return await reads().campaigns.all()


async def get_campaign(principal: Principal, campaign_id: int) -> CampaignRecord:
    _require_reader(principal)
    found = await reads().campaigns.get(campaign_id)
    if found is None:
        raise NotFound(f"campaign {campaign_id} not found")
    return found


async def list_tasks(
    principal: Principal, campaign_id: int, *, state: str | None = None
) -> list[CampaignTaskRecord]:
    """The campaign's tasks in the caller's scope (at most MAX_TASKS)."""
    await get_campaign(principal, campaign_id)
    return await reads().campaigns.tasks(
        principal.equipment_scope(), campaign=campaign_id, state=state, limit=MAX_TASKS
    )


async def get_task(principal: Principal, task_id: int) -> CampaignTaskRecord:
    _require_reader(principal)
    found = await reads().campaigns.tasks(principal.equipment_scope(), task_id=task_id)
    if not found:
        raise NotFound(f"campaign task {task_id} not found")
    return found[0]


async def complete_task(
    principal: Principal, task_id: int, *, check_id: int, today: date, now: datetime
) -> CampaignTaskRecord:
    """Close a task with the supervision check of its target recorded since the campaign
    began; its failed items and their hazards become the task's findings."""
    principal.require(Permission.CAMPAIGN_TASK)
    async with unit_of_work() as uow:
        task = await get_task(principal, task_id)
        if task.state != "open":
            raise Conflict(f"campaign task {task_id} is {task.state}", field="state")
        campaign = await get_campaign(principal, task.campaign)
        detail = await checks.get_check(principal, check_id)
        check = detail.check
        same_target = (
            check.equipment == task.equipment
            if task.equipment is not None
            else check.target_kind == "user_unit" and check.user_unit == task.user_unit
        )
        if not same_target:
            raise InvalidValue(
                f"check {check_id} did not check this task's target", field="check_id"
            )
        if check.checked_on < campaign.created_at.date():
            raise InvalidValue(
                f"check {check_id} was made before the campaign began", field="check_id"
            )
        values = {
            "state": "done",
            "check_id": check_id,
            "failed": check.failed,
            "hazards": [i.hazard for i in detail.items if i.hazard is not None],
            "done_on": today,
            "actor": principal.actor,
        }
        if not await uow.campaigns.complete(task_id, values):
            raise Conflict(f"campaign task {task_id} is no longer open", field="state")
        await audit.record(
            principal,
            entity="campaign_task",
            entity_id=task_id,
            action="complete",
            at=now,
            before={"state": "open"},
            after=values,
        )
    return await get_task(principal, task_id)


class ProgressLine(msgspec.Struct, frozen=True):
    """A campaign's progress in one district, or in all of them (the total line,
    ``district_code`` "")."""

    district_code: str
    district_name: str | None
    tasks: int
    done: int
    done_percent: float
    with_findings: int
    hazards: int


def _line(code: str, tasks: int, done: int, with_findings: int, hazards: int) -> ProgressLine:
    known = regions.is_known_region(code) if code else False
    return ProgressLine(
        district_code=code,
        district_name=regions.region(code).name if known else None,
        tasks=tasks,
        done=done,
        done_percent=round(100 * done / tasks, 1) if tasks else 0.0,
        with_findings=with_findings,
        hazards=hazards,
    )


async def progress(principal: Principal, campaign_id: int) -> list[ProgressLine]:
    """Per district (in the caller's scope): tasks, done, the rate done in per cent,
    targets with findings, hazards opened; the last line is the total (district "")."""
    await get_campaign(principal, campaign_id)
    rows = await reads().campaigns.progress(principal.equipment_scope(), campaign_id)
    out = [_line(r.district_code, r.tasks, r.done, r.with_findings, r.hazards) for r in rows]
    out.append(
        _line(
            "",
            sum(r.tasks for r in rows),
            sum(r.done for r in rows),
            sum(r.with_findings for r in rows),
            sum(r.hazards for r in rows),
        )
    )
    return out
