"""HTTP handlers for risk grades (风险分级): thin, the service decides and scopes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from msgspec import Struct

from equipment.api import api_docs
from equipment.api.controllers import EquipmentId, Limit, page_limit, query_text
from equipment.domain import risk as rules
from equipment.domain.access import Principal
from equipment.domain.errors import InvalidValue
from equipment.services import clock, register, risk

GradeName = Literal["red", "orange", "yellow", "blue"]
Cursor = Annotated[str | None, query_text(40, "the next_cursor of the previous page")]


class RiskFactor(Struct):
    factor: str
    name: str  # the factor's name in Chinese (docs/risk.md lists them all)
    value: float
    points: float


class RiskExplanation(Struct):
    """A unit's grade as its inputs stand now, with every factor's value and points."""

    equipment_id: int
    grade: str  # red | orange | yellow | blue (红 橙 黄 蓝)
    grade_zh: str
    points: float
    forced_by_major_hazard: bool
    factors: list[RiskFactor]
    stored_grade: str | None  # what the lists sort by (None: not graded yet)
    graded_at: datetime | None


class GradedUnit(Struct):
    equipment_id: int
    code: str
    category: str
    district_code: str
    user_unit_id: int
    address: str
    grade: str
    points: float
    graded_at: datetime


class GradedUnitPage(Struct):
    items: list[GradedUnit]
    next_cursor: str | None


class GradeChange(Struct):
    id: int
    equipment_id: int
    code: str
    category: str
    district_code: str
    from_grade: str | None  # None: the unit's first grade
    to_grade: str
    points: float
    changed_at: datetime


class GradeChangePage(Struct):
    items: list[GradeChange]
    next_cursor: str | None


class GroupGrade(Struct):
    """A user unit's or an area's grade: the worst grade held by at least the policy's
    share of its units (10 % by default), with its units per grade."""

    id: int
    grade: str | None
    units: int
    red: int
    orange: int
    yellow: int
    blue: int


def _group(row: risk.GroupGrades) -> GroupGrade:
    return GroupGrade(row.id, row.grade, row.units, row.red, row.orange, row.yellow, row.blue)


class RiskController(Controller):
    path = "/risk"
    tags = ("risk",)

    @get("/units", responses=api_docs.READ)
    async def units(
        self,
        principal: NamedDependency[Principal],
        grade: Annotated[GradeName | None, QueryParameter(description="this grade only")] = None,
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> GradedUnitPage:
        """The caller's graded units, worst grade first (红, 橙, 黄, 蓝), then newest."""
        items, next_cursor = await risk.units_by_grade(
            principal, grade=grade, cursor=cursor, limit=page_limit(limit)
        )
        return GradedUnitPage(
            [
                GradedUnit(
                    r.id,
                    r.code,
                    r.category,
                    r.district_code,
                    r.user_unit,
                    r.address,
                    risk.grade_name(r.risk_rank),
                    r.risk_points,
                    r.risk_graded_at,
                )
                for r in items
            ],
            next_cursor,
        )

    @get("/units/{equipment_id:int}", responses=api_docs.READ_ONE)
    async def unit(
        self, principal: NamedDependency[Principal], equipment_id: EquipmentId
    ) -> RiskExplanation:
        """One unit's grade, explained: every factor with its value and points."""
        row = await register.get_equipment(principal, equipment_id)  # scope: 404 outside
        # Scored as the unit stands now, beside the grade stored by the last grading: the
        # calendar moves some factors (days overdue, maintenance late, age) between two
        # gradings, and this answer says both (the staff page shows the stored one).
        found = await risk.explain_now(equipment_id, now=clock.now())
        if found is None:
            raise InvalidValue("a scrapped or cancelled unit has no risk grade", field="id")
        graded = row.risk_graded_at
        return RiskExplanation(
            equipment_id=equipment_id,
            grade=found["grade"],
            grade_zh=found["grade_zh"],
            points=found["points"],
            forced_by_major_hazard=found["forced_by_major_hazard"],
            factors=[RiskFactor(**f) for f in found["factors"]],
            stored_grade=(None if graded is None else rules.GRADE_ORDER[int(row.risk_rank)].value),
            graded_at=graded,
        )

    @get("/changes", responses=api_docs.READ)
    async def changes(
        self,
        principal: NamedDependency[Principal],
        since: Annotated[datetime, QueryParameter(description="RFC 3339, with an offset")],
        grade: Annotated[
            GradeName | None, QueryParameter(description="the grade changed to: red = became 红")
        ] = None,
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> GradeChangePage:
        """Grade changes since ``since`` (RFC 3339), oldest first: ``grade=red`` lists the
        units that became 红."""
        if since.tzinfo is None:
            raise InvalidValue("since needs an offset (RFC 3339)", field="since")
        items, next_cursor = await risk.changes(
            principal, since=since, grade=grade, cursor=cursor, limit=page_limit(limit)
        )
        return GradeChangePage(
            [
                GradeChange(
                    r.id,
                    r.equipment,
                    r.code,
                    r.category,
                    r.district_code,
                    None if r.from_rank is None else risk.grade_name(r.from_rank),
                    risk.grade_name(r.to_rank),
                    r.points,
                    r.changed_at,
                )
                for r in items
            ],
            next_cursor,
        )

    @get("/user-units", responses=api_docs.READ)
    async def user_units(self, principal: NamedDependency[Principal]) -> list[GroupGrade]:
        """Per user unit, over the caller's units: its grade and units per grade."""
        rows = await risk.group_grades(principal, by="user_unit")
        return [_group(r) for r in rows]

    @get("/areas", responses=api_docs.READ)
    async def areas(self, principal: NamedDependency[Principal]) -> list[GroupGrade]:
        """Per area, over the caller's units in it: its grade and units per grade."""
        rows = await risk.group_grades(principal, by="area")
        return [_group(r) for r in rows]
