"""HTTP handlers for areas (import, export, summary, their units) and spatial queries
(nearby, map box, inside a polygon, units without a location).

Every list takes ``format=geojson`` for a FeatureCollection (``application/geo+json``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter

from equipment.api import api_docs, schemas, views
from equipment.api.bodies import AREA_IMPORT_MAX_BYTES
from equipment.api.controllers import (
    District,
    Limit,
    category_filter,
    category_prefix_filter,
    district_filter,
    page_limit,
    query_text,
)
from equipment.api.language import AcceptLanguage, Lang, request_language
from equipment.domain.access import Permission, Principal
from equipment.domain.lifecycle import Status
from equipment.domain.risk import RiskGrade
from equipment.domain.risk import rank as risk_rank
from equipment.services import areas, clock, spatial
from geo.areas import MAX_FEATURES

GEOJSON = api_docs.GEOJSON

AreaId = Annotated[int, PathParameter(ge=1, le=2**31 - 1, description="area id")]
Crs = Annotated[
    schemas.CrsName,
    QueryParameter(description="coordinate system of the positions sent: wgs84, gcj02, bd09"),
]
OutputCrs = Annotated[
    schemas.CrsName,
    QueryParameter(description="coordinate system of the GeoJSON sent back (default wgs84)"),
]
Format = Annotated[
    Literal["json", "geojson"],
    QueryParameter(name="format", description="geojson: a GeoJSON FeatureCollection"),
]
AreaLimit = Annotated[int | None, QueryParameter(ge=1, le=MAX_FEATURES, required=False)]
Category = Annotated[str | None, query_text(4)]
Longitude = Annotated[float, QueryParameter(ge=-180, le=180)]
Latitude = Annotated[float, QueryParameter(ge=-90, le=90)]


def _geojson(collection: schemas.FeatureCollection, **headers: str) -> Response[Any]:
    return Response(collection, media_type=GEOJSON, headers=headers or None)


class AreaController(Controller):
    path = "/areas"
    tags = ("areas",)

    @post(
        "/import",
        status_code=200,
        request_max_body_size=AREA_IMPORT_MAX_BYTES,
        responses=api_docs.WRITE,
    )
    async def import_(
        self,
        principal: NamedDependency[Principal],
        request: Request,
        crs: Crs = "wgs84",
    ) -> schemas.AreaImportReport:
        """Import a GeoJSON FeatureCollection of areas, up to 16 MiB a file (properties: name,
        kind, optional code, year_built, households, renovation_programme, renovation_year).
        Areas are matched by the feature's id (else its code), so a large set imports in
        several files; an invalid ring is repaired, an unusable feature is
        rejected with its index and reason, the others still import. Then every unit is
        reassigned to the areas."""
        principal.require(Permission.AREA_MANAGE)  # before reading a byte of the body
        # The raw bytes: decoding up to 16 MiB of JSON here would hold the event loop; the
        # service decodes them in a worker process.
        body = await request.body()
        report = await areas.import_geojson(principal, body, crs=crs, now=clock.now())
        return views.import_report(report)

    @get("/", responses=api_docs.READ, operation_class=api_docs.JsonOrGeoJson)
    async def list_(
        self,
        principal: NamedDependency[Principal],
        kind: FromQuery[schemas.AreaKindName | None] = None,
        format_: Format = "json",
        crs: OutputCrs = "wgs84",
        cursor: Annotated[str | None, query_text(400)] = None,
        limit: AreaLimit = None,
    ) -> Response[schemas.AreaPage | schemas.FeatureCollection]:
        geojson = format_ == "geojson"
        page = await areas.list_areas(
            principal, kind=kind, cursor=cursor, limit=limit or 1000, with_geometry=geojson
        )
        if geojson:
            return _geojson(views.area_collection(page.items, crs, page.next_cursor))
        return Response(schemas.AreaPage([views.area(r) for r in page.items], page.next_cursor))

    @get("/export.geojson", media_type=GEOJSON, responses=api_docs.READ)
    async def export(
        self,
        principal: NamedDependency[Principal],
        kind: FromQuery[schemas.AreaKindName | None] = None,
        crs: OutputCrs = "wgs84",
    ) -> Response[schemas.FeatureCollection]:
        """Every area as one GeoJSON file, which the import reads back unchanged."""
        rows, cursor = [], None
        while True:
            page = await areas.list_areas(
                principal, kind=kind, cursor=cursor, limit=MAX_FEATURES, with_geometry=True
            )
            rows.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        disposition = 'attachment; filename="areas.geojson"'
        return _geojson(views.area_collection(rows, crs), **{"Content-Disposition": disposition})

    @get("/summary", responses=api_docs.READ)
    async def summary(
        self,
        principal: NamedDependency[Principal],
        kind: FromQuery[schemas.AreaKindName | None] = None,
        category_prefix: Category = None,
        sort: Annotated[
            str,
            query_text(
                30, "a count to rank by, e.g. -overdue_inspections, or -grade ('-' descends)"
            ),
        ] = "-overdue_inspections",
        limit: AreaLimit = None,
        grade: Annotated[
            Literal["red", "orange", "yellow", "blue"] | None,
            QueryParameter(description="areas of this risk grade only (风险分级)"),
        ] = None,
    ) -> list[schemas.AreaSummaryRow]:
        """Per area, over the caller's units in it (not scrapped or cancelled): units, lifts,
        lifts over 15 years, overdue inspections, overdue maintenance, open alarms and alarms
        in the last 90 days. ``category_prefix=3`` counts lifts only."""
        rows = await areas.summary(
            principal,
            kind=kind,
            category_prefix=category_prefix_filter(category_prefix),
            sort=sort,
            limit=limit or MAX_FEATURES,
            today=clock.today(),
            now=clock.now(),
            grade=None if grade is None else risk_rank(RiskGrade(grade)),
        )
        return [views.area_summary(r) for r in rows]

    @get("/{area_id:int}", responses=api_docs.READ_ONE)
    async def read(
        self, principal: NamedDependency[Principal], area_id: AreaId
    ) -> schemas.AreaDetail:
        return views.area_detail(await areas.get_area(principal, area_id))

    @get(
        "/{area_id:int}/equipment",
        responses=api_docs.READ_ONE,
        operation_class=api_docs.JsonOrGeoJson,
    )
    async def equipment(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        area_id: AreaId,
        category: Category = None,
        category_prefix: Category = None,
        status: FromQuery[Status | None] = None,
        min_age_years: Annotated[int | None, QueryParameter(ge=0, le=200)] = None,
        overdue_inspection: Annotated[
            bool, QueryParameter(description="only units past their next inspection date")
        ] = False,
        overdue_maintenance: Annotated[
            bool, QueryParameter(description="only units past a maintenance due date")
        ] = False,
        open_alarms: Annotated[
            bool, QueryParameter(description="only units with an open alarm")
        ] = (False),
        format_: Format = "json",
        cursor: Annotated[str | None, query_text(400)] = None,
        limit: Limit = None,
    ) -> Response[schemas.EquipmentPage | schemas.FeatureCollection]:
        """The caller's units in or on the area, by id (keyset pages)."""
        page = await areas.area_units(
            principal,
            area_id,
            areas.AreaUnitFilter(
                category=category_filter(category),
                category_prefix=category_prefix_filter(category_prefix),
                status=status,
                min_age_years=min_age_years,
                overdue_inspection=overdue_inspection,
                overdue_maintenance=overdue_maintenance,
                open_alarms=open_alarms,
            ),
            today=clock.today(),
            cursor=cursor,
            limit=page_limit(limit),
        )
        if format_ == "geojson":
            return _geojson(views.unit_collection(page.items, next_cursor=page.next_cursor))
        return Response(
            schemas.EquipmentPage(
                [views.equipment(r, language) for r in page.items], page.next_cursor
            )
        )


class GeoController(Controller):
    path = "/geo"
    tags = ("geo",)

    @get("/nearby", responses=api_docs.READ, operation_class=api_docs.JsonOrGeoJson)
    async def nearby(
        self,
        principal: NamedDependency[Principal],
        request: Request,
        # The language dependency's parameters, declared here in its place (the OpenAPI
        # document is unchanged) and read from the request as it reads them: with two
        # dependencies Litestar resolves them in an anyio task group, ~5 % of this hot
        # route's server CPU under py-spy (issue 19); with principal alone it awaits it.
        lang: Lang = None,
        accept_language: AcceptLanguage = None,
        *,
        lon: Longitude,
        lat: Latitude,
        radius_m: Annotated[
            float, QueryParameter(gt=0, le=spatial.MAX_RADIUS_M, description="metres")
        ],
        crs: Crs = "wgs84",
        category: Category = None,
        category_prefix: Category = None,
        status: FromQuery[Status | None] = None,
        format_: Format = "json",
        limit: Limit = None,
    ) -> Response[schemas.NearbyPage | schemas.FeatureCollection]:
        """The caller's units within ``radius_m`` metres of (lon, lat), nearest first, with
        their geodesic distance in metres."""
        result = await spatial.nearby(
            principal,
            longitude=lon,
            latitude=lat,
            crs=crs,
            radius_m=radius_m,
            limit=page_limit(limit),
            f=spatial.UnitFilter(
                category_filter(category), category_prefix_filter(category_prefix), status
            ),
        )
        if format_ == "geojson":
            return _geojson(views.nearby_collection(result))
        return Response(views.nearby(result, request_language(request)))

    @get("/bbox", responses=api_docs.READ, operation_class=api_docs.JsonOrGeoJson)
    async def bbox(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        min_lon: Longitude,
        min_lat: Latitude,
        max_lon: Longitude,
        max_lat: Latitude,
        crs: Crs = "wgs84",
        max_points: Annotated[int, QueryParameter(ge=1, le=MAX_FEATURES)] = 500,
        category: Category = None,
        category_prefix: Category = None,
        status: FromQuery[Status | None] = None,
        format_: Format = "json",
    ) -> Response[schemas.BoxView | schemas.FeatureCollection]:
        """The caller's units in a map box, or grid clusters of them when there are more
        than ``max_points`` (counts add up to ``total``)."""
        view = await spatial.in_box(
            principal,
            (min_lon, min_lat, max_lon, max_lat),
            crs=crs,
            max_points=max_points,
            f=spatial.UnitFilter(
                category_filter(category), category_prefix_filter(category_prefix), status
            ),
        )
        if format_ == "geojson":
            return _geojson(views.box_collection(view))
        return Response(views.box_view(view, language))

    @post(
        "/within",
        status_code=200,
        responses=api_docs.QUERY_BODY,
        operation_class=api_docs.JsonOrGeoJson,
    )
    async def within(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        data: JSONBody[dict[str, Any]],
        crs: Crs = "wgs84",
        category: Category = None,
        category_prefix: Category = None,
        status: FromQuery[Status | None] = None,
        format_: Format = "json",
        cursor: Annotated[str | None, query_text(400)] = None,
        limit: Limit = None,
    ) -> Response[schemas.WithinPage | schemas.FeatureCollection]:
        """The caller's units in or on the GeoJSON Polygon or MultiPolygon sent (or a Feature
        holding one), by id (keyset pages); ``crs`` names the polygon's coordinate system."""
        page = await spatial.within_polygon(
            principal,
            data,
            crs=crs,
            cursor=cursor,
            limit=page_limit(limit),
            f=spatial.UnitFilter(
                category_filter(category), category_prefix_filter(category_prefix), status
            ),
        )
        if format_ == "geojson":
            collection = views.unit_collection(
                page.items, next_cursor=page.next_cursor, total=page.total
            )
            return _geojson(collection)
        items = [views.equipment(r, language) for r in page.items]
        return Response(schemas.WithinPage(page.total, page.repaired, items, page.next_cursor))

    @get("/missing-coordinates", responses=api_docs.READ)
    async def missing_coordinates(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        district: District = None,
        category_prefix: Category = None,
        cursor: Annotated[str | None, query_text(400)] = None,
        limit: Limit = None,
    ) -> schemas.EquipmentPage:
        """The caller's units with no location, by id: a data-quality gap (no map, area or
        radius query finds them)."""
        page = await spatial.missing_coordinates(
            principal,
            district_code=district_filter(district),
            category_prefix=category_prefix_filter(category_prefix),
            cursor=cursor,
            limit=page_limit(limit),
        )
        return schemas.EquipmentPage(
            [views.equipment(r, language) for r in page.items], page.next_cursor
        )
