"""The map of old residential areas (老旧小区) for the staff pages: ``/ui/map`` and the
data its script fetches with the session cookie.

The data routes (``/ui/map/data/...``) answer exactly what ``/api/v1/map/...`` answers:
both call the same functions of equipment.api.map_controllers with the caller's
Principal, so the scope function and the coordinate conversion are one. They live under
``/ui`` so that a page's script is authenticated by the session (the API stays bearer
only: no cookie-authenticated API, no CSRF surface there).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template

from equipment.api import schemas
from equipment.api.map_controllers import (
    BoxEdge,
    BoxLat,
    MapConfig,
    MaxPoints,
    area_features,
    lift_features,
    map_config,
)
from equipment.domain.access import Permission, Principal
from equipment.domain.map_shading import SHADE_FROM
from equipment.i18n import N_, Translator
from equipment.services import areas, clock
from equipment.services.map_data import LIFTS
from equipment.web.staff import page, staff_language
from geo.areas import MAX_FEATURES

# The ranking table's columns: (summary column, heading). The table sorts in the browser.
RANKING_COLUMNS = (
    ("lifts", N_("Lifts")),
    ("lifts_over_15_years", N_("Lifts over 15 years")),
    ("overdue_inspections", N_("Overdue inspections")),
    ("open_alarms", N_("Open alarms")),
)
POINT_STATES = (
    ("alarm", N_("Open alarm")),
    ("stopped", N_("Out of use")),
    ("overdue", N_("Inspection overdue")),
    ("ok", N_("In order")),
)


@get("/ui/map", include_in_schema=False)
async def map_page(request: Request, principal: NamedDependency[Principal]) -> Template:
    """The map with the area ranking beside it (below it on a phone)."""
    principal.require(Permission.EQUIPMENT_READ)
    # The same counts the map's outlines are shaded by (map_data.shaded_areas), ranked by
    # overdue lifts; the browser re-sorts the table by any column.
    ranking = await areas.summary(
        principal,
        kind="old_residential",
        category_prefix=LIFTS,
        sort="-overdue_inspections",
        limit=MAX_FEATURES,
        today=clock.today(),
        now=clock.now(),
    )
    _ = Translator(staff_language(request))
    context: dict[str, Any] = {
        "texts": {
            "states": {state: _(label) for state, label in POINT_STATES},
            "open_unit": _("Open the unit's page"),
            "lifts": _("Lifts"),
            "overdue": _("Overdue inspections"),
            "alarms": _("Open alarms"),
            "cluster": _("{count} lifts here: zoom in"),
            "shown": _("{total} lifts in view"),
            "failed": _("The map data could not be loaded; reload the page."),
        },
        "ranking": ranking,
        "columns": RANKING_COLUMNS,
        "point_states": POINT_STATES,
        # The legend from the shading rule itself: (shade, overdue lifts it starts at).
        "shades": [(shade, threshold) for threshold, shade in SHADE_FROM],
    }
    return page(request, "map_board/map.html", context)


@get("/ui/map/data/config", include_in_schema=False)
async def map_data_config(principal: NamedDependency[Principal], state: State) -> MapConfig:
    """``GET /api/v1/map/config`` for the map page's script."""
    return map_config(principal, state.map_settings)


@get("/ui/map/data/areas", include_in_schema=False)
async def map_data_areas(
    principal: NamedDependency[Principal],
    state: State,
    kind: FromQuery[schemas.AreaKindName | None] = None,
) -> Response[schemas.FeatureCollection]:
    """``GET /api/v1/map/areas`` for the map page's script."""
    return await area_features(principal, state.map_settings, kind)


@get("/ui/map/data/lifts", include_in_schema=False)
async def map_data_lifts(
    principal: NamedDependency[Principal],
    state: State,
    min_lon: BoxEdge,
    min_lat: BoxLat,
    max_lon: BoxEdge,
    max_lat: BoxLat,
    max_points: MaxPoints = 500,
) -> Response[schemas.FeatureCollection]:
    """``GET /api/v1/map/lifts`` for the map page's script."""
    box = (min_lon, min_lat, max_lon, max_lat)
    return await lift_features(principal, state.map_settings, box, max_points)


MAP_PAGES: list = [map_page, map_data_config, map_data_areas, map_data_lifts]
