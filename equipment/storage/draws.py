"""Random inspections (双随机、一公开): the roster, plans, draws with their stored inputs,
and the tasks the draws made. Every table access of equipment.services.draws is here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import msgspec
from piccolo.columns import Serial

from equipment.storage.tables import (
    DrawPlan,
    DrawTask,
    DrawTaskInspector,
    Organisation,
    RandomDraw,
    RosterInspector,
)

_roster_id: Serial = RosterInspector.id
_plan_id: Serial = DrawPlan.id
_LIVE = "('scrapped', 'cancelled')"
_UNIT_COLUMN = {
    "user_unit": "user_unit",
    "maintenance_company": "maintenance_company",
    "filling_station": "owning_station",
}


class RosterRecord(msgspec.Struct, frozen=True):
    id: int
    name: str
    account: int | None
    token: int | None
    inspection_body: int | None
    districts: str
    qualifications: str
    available: bool
    created_at: datetime
    updated_at: datetime


class PlanRecord(msgspec.Struct, frozen=True):
    id: int
    title: str
    year: int
    categories: str
    districts: str
    enterprise_kinds: str
    checklist: str
    publish_working_days: int
    period_start: date
    period_end: date
    ratios: dict[str, str]
    seed: str
    seed_announced_at: datetime | None
    published_at: datetime | None
    actor: str
    created_at: datetime


class DrawRecord(msgspec.Struct, frozen=True):
    id: int
    plan: int
    number: int
    reason: str
    algorithm: str
    seed: str
    inputs: dict[str, Any]
    inputs_digest: str
    result: dict[str, Any]
    result_digest: str
    superseded_by: int | None
    actor: str
    drawn_at: datetime


class TaskRecord(msgspec.Struct, frozen=True):
    id: int
    draw: int
    plan: int
    enterprise: int
    enterprise_kind: str
    klass: str
    district_code: str
    due_on: date
    state: str
    check_id: int | None
    conclusion: str
    findings: str
    done_on: date | None
    publish_by: date | None
    published_at: datetime | None
    actor: str
    created_at: datetime
    inspectors: list[int] = []
    enterprise_name: str = ""


class ScopeUnits(msgspec.Struct, frozen=True):
    """Units in a plan's scope per enterprise, district and category family."""

    enterprise: int
    district_code: str
    family: str
    units: int


def _plan(row: Mapping[str, Any]) -> PlanRecord:
    return msgspec.convert(row, PlanRecord, strict=False)


class DrawRepository:
    # ---- the roster ------------------------------------------------------------------
    async def add_inspector(self, values: Mapping[str, Any]) -> RosterRecord:
        [row] = await RosterInspector.insert(RosterInspector(**values)).returning(
            *RosterInspector.all_columns()
        )
        return msgspec.convert(row, RosterRecord, strict=False)

    async def update_inspector(
        self, inspector_id: int, values: Mapping[str, Any]
    ) -> RosterRecord | None:
        rows = (
            await RosterInspector.update(dict[Any, Any](values))
            .where(_roster_id == inspector_id)
            .returning(*RosterInspector.all_columns())
        )
        return msgspec.convert(rows[0], RosterRecord, strict=False) if rows else None

    async def roster(self) -> list[RosterRecord]:
        rows = await RosterInspector.select().order_by(_roster_id)
        return [msgspec.convert(r, RosterRecord, strict=False) for r in rows]

    async def roster_ids_of(self, *, account_id: int | None, token_id: int | None) -> list[int]:
        """The roster entries of a person: by his log-in account, else his API token."""
        if account_id is not None:
            where = RosterInspector.account == account_id
        elif token_id is not None:
            where = RosterInspector.token == token_id
        else:
            return []
        rows = await RosterInspector.select(_roster_id).where(where)
        return [int(r["id"]) for r in rows]

    async def roster_names(self, ids: Iterable[int]) -> dict[int, str]:
        wanted = list(ids)
        if not wanted:
            return {}
        rows = await RosterInspector.select(_roster_id, RosterInspector.name).where(
            _roster_id.is_in(wanted)
        )
        return {int(r["id"]): str(r["name"]) for r in rows}

    # ---- plans -----------------------------------------------------------------------
    async def add_plan(self, values: Mapping[str, Any]) -> PlanRecord:
        [row] = await DrawPlan.insert(DrawPlan(**values)).returning(_plan_id)
        made = await self.plan(int(row["id"]))
        assert made is not None
        return made

    async def plan(self, plan_id: int) -> PlanRecord | None:
        row = await DrawPlan.select().where(_plan_id == plan_id).output(load_json=True).first()
        return None if row is None else _plan(row)

    async def plans(self, *, published_only: bool) -> list[PlanRecord]:
        query = DrawPlan.select().order_by(_plan_id, ascending=False).output(load_json=True)
        if published_only:
            query = query.where(DrawPlan.published_at.is_not_null())
        return [_plan(r) for r in await query]

    async def update_plan(self, plan_id: int, values: Mapping[str, Any]) -> PlanRecord | None:
        rows = (
            await DrawPlan.update(dict[Any, Any](values))
            .where(_plan_id == plan_id)
            .returning(_plan_id)
        )
        return await self.plan(plan_id) if rows else None

    # ---- the draw's inputs -----------------------------------------------------------
    async def scope_units(
        self, kind: str, families: Iterable[str], districts: Iterable[str]
    ) -> list[ScopeUnits]:
        col = _UNIT_COLUMN[kind]
        fams = sorted(families)
        dists = sorted(districts)
        # The enterprise must be of ``kind``: a station is the user unit of its own
        # cylinders, and is not drawn as a user unit for them.
        where = f"e.status NOT IN {_LIVE} AND o.kind = {{}}"
        args: list[Any] = [kind]
        if fams:
            where += " AND substr(e.category, 1, 1) IN (" + ", ".join("{}" for _ in fams) + ")"
            args += fams
        if dists:
            where += " AND e.district_code IN (" + ", ".join("{}" for _ in dists) + ")"
            args += dists
        rows = await Organisation.raw(
            f"SELECT e.{col} AS enterprise, e.district_code AS district_code,"
            " substr(e.category, 1, 1) AS family, COUNT(*) AS units"
            f" FROM equipment e JOIN organisation o ON o.id = e.{col} WHERE {where}"
            f" GROUP BY e.{col}, e.district_code, substr(e.category, 1, 1)",
            *args,
        )
        return [msgspec.convert(r, ScopeUnits, strict=False) for r in rows]

    async def bodies_inspecting(self, kind: str, since: date) -> dict[int, set[int]]:
        col = _UNIT_COLUMN[kind]
        rows = await Organisation.raw(
            f"SELECT DISTINCT e.{col} AS enterprise, i.inspection_body AS body"
            " FROM inspection i JOIN equipment e ON e.id = i.equipment"
            f" WHERE i.inspected_on >= {{}} AND i.inspection_body IS NOT NULL"
            f" AND e.{col} IS NOT NULL",
            since,
        )
        out: dict[int, set[int]] = {}
        for r in rows:
            out.setdefault(int(r["enterprise"]), set()).add(int(r["body"]))
        return out

    async def last_checkers(self) -> dict[int, set[int]]:
        """Per enterprise, the inspectors of its latest completed task."""
        rows = await Organisation.raw(
            "SELECT t.enterprise AS enterprise, ti.inspector AS inspector FROM draw_task t"
            " JOIN draw_task_inspector ti ON ti.task = t.id WHERE t.id IN"
            " (SELECT MAX(id) FROM draw_task WHERE state = 'done' GROUP BY enterprise)"
        )
        out: dict[int, set[int]] = {}
        for r in rows:
            out.setdefault(int(r["enterprise"]), set()).add(int(r["inspector"]))
        return out

    async def drawn_in_year(self, year: int, exclude_plan: int | None) -> int:
        """Tasks (not cancelled) of the year's plans: the yearly 3 % counts them."""
        rows = await Organisation.raw(
            "SELECT COUNT(DISTINCT t.enterprise) AS n FROM draw_task t"
            " JOIN draw_plan p ON p.id = t.plan WHERE p.year = {} AND t.state != 'cancelled'"
            " AND t.plan != {}",
            year,
            -1 if exclude_plan is None else exclude_plan,
        )
        return int(rows[0]["n"] or 0)

    # ---- draws -----------------------------------------------------------------------
    async def draws_of(self, plan_id: int) -> list[DrawRecord]:
        rows = (
            await RandomDraw.select()
            .where(RandomDraw.plan == plan_id)
            .order_by(RandomDraw.number)
            .output(load_json=True)
        )
        return [msgspec.convert(r, DrawRecord, strict=False) for r in rows]

    async def draw(self, draw_id: int) -> DrawRecord | None:
        row = (
            await RandomDraw.select().where(RandomDraw.id == draw_id).output(load_json=True).first()
        )
        return None if row is None else msgspec.convert(row, DrawRecord, strict=False)

    async def add_draw(self, values: Mapping[str, Any]) -> int:
        [row] = await RandomDraw.insert(RandomDraw(**values)).returning(RandomDraw.id)
        return int(row["id"])

    async def supersede(self, draw_id: int, by: int) -> None:
        await RandomDraw.update({RandomDraw.superseded_by: by}).where(RandomDraw.id == draw_id)

    # ---- tasks -----------------------------------------------------------------------
    async def add_tasks(
        self, rows: Iterable[Mapping[str, Any]], inspectors: Iterable[Iterable[int]]
    ) -> int:
        made = 0
        for values, who in zip(rows, inspectors, strict=True):
            [row] = await DrawTask.insert(DrawTask(**values)).returning(DrawTask.id)
            task_id = int(row["id"])
            links = [DrawTaskInspector(task=task_id, inspector=i) for i in who]
            if links:
                await DrawTaskInspector.insert(*links)
            made += 1
        return made

    async def cancel_open_tasks(self, draw_id: int, actor: str) -> int:
        rows = (
            await DrawTask.update({DrawTask.state: "cancelled", DrawTask.actor: actor})
            .where(DrawTask.draw == draw_id, DrawTask.state == "open")
            .returning(DrawTask.id)
        )
        return len(rows)

    async def tasks(
        self,
        *,
        task_id: int | None = None,
        plan: int | None = None,
        draw: int | None = None,
        inspector_ids: Iterable[int] | None = None,
        enterprise: int | None = None,
        state: str | None = None,
        due_before: date | None = None,
        published_only: bool = False,
        unpublished_by: date | None = None,
        limit: int = 500,
    ) -> list[TaskRecord]:
        query = DrawTask.select().limit(limit)
        if unpublished_by is not None:
            # Done, not yet published, and the publication deadline passed before the day:
            # the longest late first.
            query = query.where(
                DrawTask.state == "done",
                DrawTask.published_at.is_null(),
                DrawTask.publish_by < unpublished_by,
            ).order_by(DrawTask.publish_by, DrawTask.id)
        else:
            query = query.order_by(DrawTask.due_on, DrawTask.id)
        if task_id is not None:
            query = query.where(DrawTask.id == task_id)
        if plan is not None:
            query = query.where(DrawTask.plan == plan)
        if draw is not None:
            query = query.where(DrawTask.draw == draw)
        if enterprise is not None:
            query = query.where(DrawTask.enterprise == enterprise)
        if state is not None:
            query = query.where(DrawTask.state == state)
        if due_before is not None:
            query = query.where(DrawTask.due_on < due_before)
        if published_only:
            query = query.where(DrawTask.published_at.is_not_null())
        if inspector_ids is not None:
            ids = list(inspector_ids)
            if not ids:
                return []
            mine = DrawTaskInspector.select(DrawTaskInspector.task).where(
                DrawTaskInspector.inspector.is_in(ids)
            )
            task_ids = [int(r["task"]) for r in await mine]
            if not task_ids:
                return []
            query = query.where(DrawTask.id.is_in(task_ids))
        rows = await query
        if not rows:
            return []
        ids = [int(r["id"]) for r in rows]
        links = await DrawTaskInspector.select(
            DrawTaskInspector.task, DrawTaskInspector.inspector
        ).where(DrawTaskInspector.task.is_in(ids))
        who: dict[int, list[int]] = {}
        for link in links:
            who.setdefault(int(link["task"]), []).append(int(link["inspector"]))
        orgs = {r["enterprise"] for r in rows}
        names = await Organisation.select(Organisation.id, Organisation.name).where(
            Organisation.id.is_in(list(orgs))
        )
        name_of = {int(n["id"]): str(n["name"]) for n in names}
        return [
            msgspec.convert(
                {
                    **r,
                    "inspectors": sorted(who.get(int(r["id"]), [])),
                    "enterprise_name": name_of.get(int(r["enterprise"]), ""),
                },
                TaskRecord,
                strict=False,
            )
            for r in rows
        ]

    async def complete(self, task_id: int, values: Mapping[str, Any]) -> bool:
        rows = (
            await DrawTask.update(dict[Any, Any](values))
            .where(DrawTask.id == task_id, DrawTask.state == "open")
            .returning(DrawTask.id)
        )
        return bool(rows)

    async def publish(self, task_ids: Iterable[int], now: datetime) -> int:
        ids = list(task_ids)
        if not ids:
            return 0
        rows = (
            await DrawTask.update({DrawTask.published_at: now})
            .where(
                DrawTask.id.is_in(ids),
                DrawTask.state == "done",
                DrawTask.published_at.is_null(),
            )
            .returning(DrawTask.id)
        )
        return len(rows)
