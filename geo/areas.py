"""Named areas (districts, streets, communities, old residential areas) and their GeoJSON.

Import is strict and explains itself: a collection that is not a GeoJSON
FeatureCollection, or is too large, raises ``AreaImportError``; a feature that cannot be
used becomes a ``Rejection(index, reason)`` and the others still import. Coordinates
may come in WGS-84 (the default and the store), GCJ-02 or BD-09 (``crs``) and are kept in
WGS-84. A self-intersecting or otherwise invalid ring is repaired with
``shapely.make_valid(method="structure")`` (outer rings bound area, holes remove it)
keeping only polygonal parts, and the area is flagged ``repaired``; if no area is left it
is rejected. Export writes RFC 7946 GeoJSON: WGS-84, exterior rings counter-clockwise,
holes clockwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, NamedTuple, TypeAlias, get_args

import numpy as np
import shapely
from shapely import MultiPolygon, Polygon

from geo.coords import CoordinateError, check_wgs84_in_china, outside_china
from geo.crs import Crs, check_crs, from_wgs84_arrays, to_wgs84_arrays

AreaKind = Literal["district", "street", "community", "old_residential"]
AREA_KINDS: tuple[str, ...] = get_args(AreaKind)

Polygonal: TypeAlias = Polygon | MultiPolygon

MAX_FEATURES = 5_000
MAX_VERTICES_PER_FEATURE = 100_000
MAX_VERTICES_PER_COLLECTION = 2_000_000
MAX_TEXT_LENGTH = 200
MAX_KEY_LENGTH = 64
YEARS = (1900, 2100)
MAX_HOUSEHOLDS = 100_000

# Old-style GeoJSON (2008) "crs" members that still mean WGS-84 lon/lat.
_WGS84_CRS_NAMES = frozenset(
    {"EPSG:4326", "urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84",
     "urn:ogc:def:crs:EPSG::4326", "CRS84"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Area:
    """One named area. ``geometry`` is a valid WGS-84 (Multi)Polygon of non-zero area.

    ``key`` identifies the area across imports (the feature's ``id``, else its ``code``);
    None lets the store assign one. ``repaired`` and ``feature_index`` describe the import
    that produced the value and take no part in equality.
    """

    kind: AreaKind
    name: str
    geometry: Polygonal
    key: str | None = None
    code: str | None = None
    year_built: int | None = None
    households: int | None = None
    renovation_programme: str | None = None
    renovation_year: int | None = None
    repaired: bool = field(default=False, compare=False)
    feature_index: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Feature ``index`` (0-based, in the collection's order) was not imported: ``reason``."""

    index: int
    reason: str


class ParsedAreas(NamedTuple):
    areas: list[Area]
    rejections: list[Rejection]

    @property
    def repaired(self) -> list[Area]:
        return [a for a in self.areas if a.repaired]


class AreaImportError(ValueError):
    """The whole document is unusable (not a FeatureCollection, too large, foreign crs)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class GeometryError(ValueError):
    """A GeoJSON geometry that is not a usable (Multi)Polygon in China."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Reject(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- geometry -----------------------------------------------------------------------------


def _is_number(value: object) -> bool:
    """A JSON number: int or float, finite, not a bool (True is an int to Python)."""
    if type(value) is float:
        return math.isfinite(value)
    return type(value) is int and abs(value) <= 1e308  # a huge int cannot become a float


def _ring(value: object, where: str) -> list[tuple[float, float]]:
    if not isinstance(value, list | tuple):
        raise GeometryError(f"{where} is not a list of positions")
    if len(value) < 4:
        raise GeometryError(f"{where} has {len(value)} positions; a ring needs at least 4")
    ring: list[tuple[float, float]] = []
    for k, position in enumerate(value):
        if (
            not isinstance(position, list | tuple)
            or not 2 <= len(position) <= 3
            or not all(_is_number(v) for v in position)
        ):
            raise GeometryError(f"{where} position {k} is not [longitude, latitude] numbers")
        ring.append((float(position[0]), float(position[1])))
    if ring[0] != ring[-1]:
        raise GeometryError(f"{where} is not closed (first position ≠ last, RFC 7946 §3.1.6)")
    return ring


def _polygon_rings(value: object, where: str) -> list[list[tuple[float, float]]]:
    if not isinstance(value, list | tuple) or not value:
        raise GeometryError(f"{where} must be a non-empty list of rings")
    return [
        _ring(r, f"{where} ring {j}" if j else f"{where} exterior ring")
        for j, r in enumerate(value)
    ]


def _position_count(value: object, depth: int) -> int:
    """Positions in nested lists ``depth`` levels deep (1: a ring); malformed parts count 0."""
    if not isinstance(value, list | tuple):
        return 0
    if depth == 1:
        return len(value)
    return sum(_position_count(v, depth - 1) for v in value)


def _polygonal_part(geometry: shapely.Geometry) -> Polygonal | None:
    """The polygons in what make_valid returned (lines and points from collapsed parts go)."""
    if isinstance(geometry, Polygon | MultiPolygon):
        return None if geometry.is_empty else geometry
    parts = [
        p
        for p in shapely.get_parts(geometry)
        if isinstance(p, Polygon | MultiPolygon) and not p.is_empty
    ]
    if not parts:
        return None
    merged = shapely.union_all(parts)
    return merged if isinstance(merged, Polygon | MultiPolygon) else None


def parse_polygonal(
    obj: object, crs: Crs = "wgs84", *, max_vertices: int = MAX_VERTICES_PER_FEATURE
) -> tuple[Polygonal, bool]:
    """A GeoJSON Polygon/MultiPolygon as a valid WGS-84 shapely geometry and whether it
    had to be repaired. Raises GeometryError with the reason.

    Used for imported features and for a polygon a caller sends with a query.
    """
    crs = check_crs(crs)
    if not isinstance(obj, Mapping):
        raise GeometryError("geometry must be a GeoJSON object")
    kind = obj.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise GeometryError(f"geometry type {kind!r} is not Polygon or MultiPolygon")
    coordinates = obj.get("coordinates")
    # Count before looking at each position, so an oversized geometry costs little.
    vertices = _position_count(coordinates, depth=2 if kind == "Polygon" else 3)
    if vertices > max_vertices:
        raise GeometryError(f"{vertices} vertices; at most {max_vertices} per geometry")
    if kind == "Polygon":
        polygons = [_polygon_rings(coordinates, "polygon")]
    else:
        if not isinstance(coordinates, list | tuple) or not coordinates:
            raise GeometryError("multipolygon must be a non-empty list of polygons")
        polygons = [_polygon_rings(p, f"polygon {i}") for i, p in enumerate(coordinates)]

    xy = np.array([pt for rings in polygons for ring in rings for pt in ring], dtype=np.float64)
    bad = np.flatnonzero(outside_china(xy[:, 0], xy[:, 1]))
    if bad.size:
        k = int(bad[0])
        try:
            check_wgs84_in_china(float(xy[k, 0]), float(xy[k, 1]))
        except CoordinateError as error:
            raise GeometryError(f"vertex {k}: {error.reason}") from None
        raise GeometryError(f"vertex {k} is outside China")  # pragma: no cover - same box
    lon, lat = to_wgs84_arrays(xy[:, 0], xy[:, 1], crs)
    if outside_china(lon, lat).any():
        raise GeometryError(f"outside China once converted from {crs} to WGS-84")

    shapes: list[Polygon] = []
    offset = 0
    for rings in polygons:
        parts = []
        for ring in rings:
            n = len(ring)
            parts.append(np.column_stack((lon[offset : offset + n], lat[offset : offset + n])))
            offset += n
        shapes.append(Polygon(parts[0], parts[1:]))
    geometry: shapely.Geometry = shapes[0] if kind == "Polygon" else MultiPolygon(shapes)

    repaired = False
    if not shapely.is_valid(geometry):
        why = shapely.is_valid_reason(geometry)
        fixed = _polygonal_part(
            shapely.make_valid(geometry, method="structure", keep_collapsed=False)
        )
        if fixed is None or fixed.area <= 0 or not fixed.is_valid:
            raise GeometryError(f"invalid geometry ({why}) and no area is left after repair")
        geometry, repaired = fixed, True
    if geometry.area <= 0:  # pragma: no cover - a valid polygon has area
        raise GeometryError("geometry has zero area")
    return geometry, repaired


# --- properties ---------------------------------------------------------------------------


def _text(properties: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = properties.get(name)
    if value is None:
        if required:
            raise _Reject(f"properties.{name} is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise _Reject(f"properties.{name} must be a non-empty string")
    if len(value) > MAX_TEXT_LENGTH:
        raise _Reject(f"properties.{name} is longer than {MAX_TEXT_LENGTH} characters")
    return value.strip()


def _identifier(value: object, what: str) -> str | None:
    if value is None:
        return None
    if type(value) is int:
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_KEY_LENGTH:
        raise _Reject(f"{what} must be a string or integer of 1-{MAX_KEY_LENGTH} characters")
    return value.strip()


def _integer(properties: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = properties.get(name)
    if value is None:
        return None
    if type(value) is not int or not low <= value <= high:
        raise _Reject(f"properties.{name} must be an integer in {low}..{high}, not {value!r}")
    return value


def _parse_feature(feature: object, crs: Crs) -> Area:
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise _Reject('not a GeoJSON Feature (needs "type": "Feature")')
    properties = feature.get("properties")
    if not isinstance(properties, Mapping):
        raise _Reject("properties must be an object with at least name and kind")
    name = _text(properties, "name", required=True)
    assert name is not None  # required: _text rejected a missing name
    kind = properties.get("kind")
    if kind not in AREA_KINDS:
        raise _Reject(f"properties.kind {kind!r} is not one of {', '.join(AREA_KINDS)}")
    code = _identifier(properties.get("code"), "properties.code")
    key = _identifier(feature.get("id"), "id") or code
    year_built = _integer(properties, "year_built", *YEARS)
    households = _integer(properties, "households", 0, MAX_HOUSEHOLDS)
    programme = _text(properties, "renovation_programme")
    renovation_year = _integer(properties, "renovation_year", *YEARS)
    if year_built is not None and renovation_year is not None and renovation_year < year_built:
        raise _Reject(f"renovation_year {renovation_year} is before year_built {year_built}")
    if feature.get("geometry") is None:
        raise _Reject("geometry is missing")
    try:
        geometry, repaired = parse_polygonal(feature["geometry"], crs)
    except GeometryError as error:
        raise _Reject(f"geometry: {error.reason}") from None
    return Area(
        kind=kind,
        name=name,
        geometry=geometry,
        key=key,
        code=code,
        year_built=year_built,
        households=households,
        renovation_programme=programme,
        renovation_year=renovation_year,
        repaired=repaired,
    )


def parse_feature_collection(obj: object, crs: Crs = "wgs84") -> ParsedAreas:
    """Areas from a GeoJSON FeatureCollection whose coordinates are in ``crs``.

    Returns (areas, rejections); unpacks as a pair. Each area carries ``feature_index``
    and ``repaired``. Raises AreaImportError when the document as a whole is unusable.
    """
    crs = check_crs(crs)
    if not isinstance(obj, Mapping) or obj.get("type") != "FeatureCollection":
        raise AreaImportError('not a GeoJSON FeatureCollection (needs "type": "FeatureCollection")')
    declared = obj.get("crs")
    if declared is not None:
        name = declared.get("properties", {}).get("name") if isinstance(declared, Mapping) else None
        if name not in _WGS84_CRS_NAMES:
            raise AreaImportError(
                f"GeoJSON crs {name or declared!r} is not supported: send WGS-84 lon/lat "
                "(RFC 7946), or GCJ-02 / BD-09 with the crs parameter"
            )
    features = obj.get("features")
    if not isinstance(features, list):
        raise AreaImportError('"features" must be a list')
    if len(features) > MAX_FEATURES:
        raise AreaImportError(f"{len(features)} features; at most {MAX_FEATURES} per import")

    areas: list[Area] = []
    rejections: list[Rejection] = []
    first_with_key: dict[str, int] = {}
    budget = MAX_VERTICES_PER_COLLECTION
    for index, feature in enumerate(features):
        try:
            area = _parse_feature(feature, crs)
        except _Reject as reject:
            rejections.append(Rejection(index, reject.reason))
            continue
        budget -= len(shapely.get_coordinates(area.geometry))
        if budget < 0:
            raise AreaImportError(f"more than {MAX_VERTICES_PER_COLLECTION} vertices in one import")
        if area.key is not None:
            if area.key in first_with_key:
                rejections.append(
                    Rejection(
                        index, f"duplicate key {area.key!r} (feature {first_with_key[area.key]})"
                    )
                )
                continue
            first_with_key[area.key] = index
        areas.append(replace(area, feature_index=index))
    return ParsedAreas(areas, rejections)


# --- export -------------------------------------------------------------------------------


def _rings_json(polygon: Polygon, crs: Crs) -> list[list[list[float]]]:
    rings = []
    for ring in (polygon.exterior, *polygon.interiors):
        xy = shapely.get_coordinates(ring)
        lon, lat = from_wgs84_arrays(xy[:, 0], xy[:, 1], crs)
        rings.append(np.column_stack((lon, lat)).tolist())
    return rings


def geometry_to_geojson(geometry: Polygonal, crs: Crs = "wgs84") -> dict[str, Any]:
    """A (Multi)Polygon as a GeoJSON geometry with RFC 7946 ring orientation.

    ``crs`` other than WGS-84 is for map widgets that want GCJ-02 or BD-09; such output is
    no longer RFC 7946 GeoJSON, which is WGS-84 by definition.
    """
    oriented = shapely.orient_polygons(geometry, exterior_cw=False)
    if isinstance(oriented, Polygon):
        return {"type": "Polygon", "coordinates": _rings_json(oriented, crs)}
    return {
        "type": "MultiPolygon",
        "coordinates": [_rings_json(p, crs) for p in oriented.geoms],
    }


def area_properties(area: Area) -> dict[str, Any]:
    properties: dict[str, Any] = {"kind": area.kind, "name": area.name}
    for name in ("code", "year_built", "households", "renovation_programme", "renovation_year"):
        value = getattr(area, name)
        if value is not None:
            properties[name] = value
    return properties


def to_feature_collection(areas: Sequence[Area], crs: Crs = "wgs84") -> dict[str, Any]:
    """Areas as a GeoJSON FeatureCollection that ``parse_feature_collection`` reads back."""
    crs = check_crs(crs)
    features = []
    for area in areas:
        feature: dict[str, Any] = {"type": "Feature"}
        if area.key is not None:
            feature["id"] = area.key
        feature["geometry"] = geometry_to_geojson(area.geometry, crs)
        feature["properties"] = area_properties(area)
        features.append(feature)
    return feature_collection(features)


def point_feature(
    lon: float,
    lat: float,
    properties: Mapping[str, Any] | None = None,
    *,
    feature_id: str | int | None = None,
    crs: Crs = "wgs84",
) -> dict[str, Any]:
    """One WGS-84 point (a unit, a cluster) as a GeoJSON Feature."""
    x, y = from_wgs84_arrays(lon, lat, crs) if crs != "wgs84" else (lon, lat)
    feature: dict[str, Any] = {"type": "Feature"}
    if feature_id is not None:
        feature["id"] = feature_id
    feature["geometry"] = {"type": "Point", "coordinates": [float(x), float(y)]}
    feature["properties"] = dict(properties or {})
    return feature


def feature_collection(features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}
