"""The map's data and assets: base-tile settings, shaded area outlines, lift points, and
Leaflet with its marker-cluster plugin served from their PyPI packages (no CDN).

Every coordinate these endpoints send and take is in the base tiles' coordinate system
(``GET /api/v1/map/config`` says which): GCJ-02 for AMap or Tencent tiles, WGS-84 for
Tianditu or with no tiles (offline: the register's own outlines are the base).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec
import xstatic.pkg.leaflet
import xstatic.pkg.leaflet_markercluster
from litestar import Controller, Response, Router, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from litestar.static_files import create_static_files_router

from equipment.api import api_docs, schemas, views
from equipment.domain.access import Permission, Principal
from equipment.services import clock, map_data
from equipment.settings import MapSettings
from geo.areas import MAX_FEATURES
from geo.basemap import display_crs, point_to
from geo.crs import Crs

LEAFLET = "/static/leaflet"
MARKERCLUSTER = "/static/leaflet-markercluster"
LEAFLET_DIST = Path(xstatic.pkg.leaflet.BASE_DIR)
MARKERCLUSTER_DIST = Path(xstatic.pkg.leaflet_markercluster.BASE_DIR)


def leaflet_assets() -> list[Router]:
    """Leaflet 1.9 (leaflet.js, leaflet.css, images/) and Leaflet.markercluster 1.4
    (leaflet.markercluster.js, MarkerCluster.css, MarkerCluster.Default.css), from the
    installed xstatic packages."""
    return [
        create_static_files_router(path=LEAFLET, directories=[LEAFLET_DIST], name="leaflet"),
        create_static_files_router(
            path=MARKERCLUSTER, directories=[MARKERCLUSTER_DIST], name="leaflet-markercluster"
        ),
    ]


class MapAssets(msgspec.Struct):
    leaflet_js: str
    leaflet_css: str
    markercluster_js: str
    markercluster_css: str
    markercluster_default_css: str


class MapConfig(msgspec.Struct):
    """What a map page needs before it draws anything."""

    offline: bool  # no tiles: draw the areas (kind district first) as the base
    crs: str  # the coordinate system of every coordinate the map endpoints use
    tile_url: str | None
    tile_attribution: str
    tile_max_zoom: int
    assets: MapAssets


ASSETS = MapAssets(
    leaflet_js=f"{LEAFLET}/leaflet.js",
    leaflet_css=f"{LEAFLET}/leaflet.css",
    markercluster_js=f"{MARKERCLUSTER}/leaflet.markercluster.js",
    markercluster_css=f"{MARKERCLUSTER}/MarkerCluster.css",
    markercluster_default_css=f"{MARKERCLUSTER}/MarkerCluster.Default.css",
)


def map_crs(settings: MapSettings) -> Crs:
    return display_crs(settings.tile_url, settings.tile_crs)


def _geojson(collection: schemas.FeatureCollection) -> Response[Any]:
    return Response(collection, media_type=api_docs.GEOJSON)


BoxEdge = Annotated[float, QueryParameter(ge=-180, le=180)]
BoxLat = Annotated[float, QueryParameter(ge=-90, le=90)]


class MapController(Controller):
    path = "/map"
    tags = ("map",)

    @get("/config", responses=api_docs.READ)
    async def config(self, principal: NamedDependency[Principal], state: State) -> MapConfig:
        """The base tiles (none: offline), the coordinate system of the map's data, and
        the URLs of Leaflet and its marker-cluster plugin served by this service."""
        principal.require(Permission.EQUIPMENT_READ)  # who may see the map's data
        settings: MapSettings = state.map_settings
        return MapConfig(
            offline=settings.tile_url is None,
            crs=map_crs(settings),
            tile_url=settings.tile_url,
            tile_attribution=settings.tile_attribution,
            tile_max_zoom=settings.tile_max_zoom,
            assets=ASSETS,
        )

    @get("/areas", media_type=api_docs.GEOJSON, responses=api_docs.READ)
    async def areas(
        self,
        principal: NamedDependency[Principal],
        state: State,
        kind: FromQuery[schemas.AreaKindName | None] = None,
    ) -> Response[schemas.FeatureCollection]:
        """Area outlines (e.g. kind=old_residential, 老旧小区; kind=district for the offline
        base) with, over the caller's lifts in each: ``lifts``, ``lifts_over_15_years``,
        ``overdue_inspections``, ``open_alarms``, ``shade`` (none, low, medium, high by
        overdue lifts: 1, 3, 10) and ``at_risk`` (an open alarm)."""
        crs = map_crs(state.map_settings)
        shaded = await map_data.shaded_areas(
            principal, kind=kind, today=clock.today(), now=clock.now()
        )
        features = []
        for area in shaded:
            feature = views.area_feature(area.row, crs)
            feature["properties"].update(area.counts, shade=area.shade, at_risk=area.at_risk)
            features.append(feature)
        return _geojson(schemas.FeatureCollection("FeatureCollection", features))

    @get("/lifts", media_type=api_docs.GEOJSON, responses=api_docs.READ)
    async def lifts(
        self,
        principal: NamedDependency[Principal],
        state: State,
        min_lon: BoxEdge,
        min_lat: BoxLat,
        max_lon: BoxEdge,
        max_lat: BoxLat,
        max_points: Annotated[int, QueryParameter(ge=1, le=MAX_FEATURES)] = 500,
    ) -> Response[schemas.FeatureCollection]:
        """The caller's lifts in the map's box (in the map's crs) as points with ``state``
        (alarm, stopped, overdue, ok) and the unit's register fields; more than
        ``max_points`` come as grid clusters instead (``cluster``, ``count``, ``member_id``,
        ``bbox``), whose cell follows the box, so the zoom. ``total``: lifts in the box."""
        crs = map_crs(state.map_settings)
        points = await map_data.lift_points(
            principal,
            (min_lon, min_lat, max_lon, max_lat),
            crs=crs,
            max_points=max_points,
            today=clock.today(),
        )
        collection = views.box_collection(points.view)
        features = []
        for feature in collection.features:
            if not feature["properties"].get("cluster"):
                feature["properties"]["state"] = points.states.get(feature["properties"]["id"])
            features.append(point_to(feature, crs))
        return _geojson(
            schemas.FeatureCollection("FeatureCollection", features, total=collection.total)
        )
