"""What the map pages draw: area outlines shaded by overdue lifts, lift points (clustered
by the map's zoom when many) coloured by state, all in the coordinate system of the
configured base tiles (geo.basemap)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from equipment.domain import map_shading
from equipment.domain.access import Permission, Principal
from equipment.services import areas, spatial
from equipment.storage import reads
from equipment.storage.areas import AreaRow
from geo.areas import MAX_FEATURES
from geo.crs import Crs

LIFTS = "3"  # the lift family of the catalogue (TSG 08-2017): lifts, escalators, walks
# The area counts the map shows, from areas.summary over the caller's lifts.
AREA_COUNTS = ("lifts", "lifts_over_15_years", "overdue_inspections", "open_alarms")


@dataclass(frozen=True)
class ShadedArea:
    row: AreaRow  # the area with its geometry
    counts: dict[str, int]
    shade: map_shading.Shade
    at_risk: bool


async def shaded_areas(
    principal: Principal, *, kind: str | None, today: date, now: datetime
) -> list[ShadedArea]:
    """Every area (of ``kind``) with the counts of the caller's lifts in it."""
    principal.require(Permission.EQUIPMENT_READ)
    summary = await areas.summary(
        principal,
        kind=kind,
        category_prefix=LIFTS,
        sort="-overdue_inspections",
        limit=MAX_FEATURES,
        today=today,
        now=now,
    )
    counts = {r["id"]: {c: int(r[c]) for c in AREA_COUNTS} for r in summary}
    rows: list[AreaRow] = []
    cursor = None
    while True:
        page = await areas.list_areas(
            principal, kind=kind, cursor=cursor, limit=MAX_FEATURES, with_geometry=True
        )
        rows.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    shaded = []
    for row in rows:
        c = counts.get(row.id, dict.fromkeys(AREA_COUNTS, 0))
        shaded.append(
            ShadedArea(
                row, c, map_shading.area_shade(c["overdue_inspections"]), c["open_alarms"] > 0
            )
        )
    return shaded


@dataclass(frozen=True)
class LiftPoints:
    view: spatial.BoxView
    states: dict[int, map_shading.PointState]  # unit id -> state, when not clustered


async def lift_points(
    principal: Principal,
    box: spatial.BBox,
    *,
    crs: Crs,
    max_points: int,
    today: date,
) -> LiftPoints:
    """The caller's lifts in a map box given in ``crs``; grid clusters when more than
    ``max_points`` (the cluster cell follows the box, so the map's zoom)."""
    view = await spatial.in_box(
        principal,
        box,
        crs=crs,
        max_points=max_points,
        f=spatial.UnitFilter(category_prefix=LIFTS),
    )
    alarmed = await reads().map.with_open_alarm(u.id for u in view.units)
    states = {
        u.id: map_shading.point_state(u.status, u.next_inspection_due, today, u.id in alarmed)
        for u in view.units
    }
    return LiftPoints(view, states)
