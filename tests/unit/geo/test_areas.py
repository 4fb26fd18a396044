"""GeoJSON import (strict, with repairs and reasons) and export (RFC 7946)."""

from __future__ import annotations

import copy
import json

import pytest
import shapely
from shapely import MultiPolygon, Polygon

from geo.areas import (
    MAX_FEATURES,
    Area,
    AreaImportError,
    GeometryError,
    parse_feature_collection,
    parse_polygonal,
    to_feature_collection,
)
from geo.crs import from_wgs84_arrays
from geo.distance import geodesic_distance_m

X0, Y0 = 112.13, 32.00  # near 襄城区's seat
D = 0.002  # ≈ 200 m


def square(x: float = X0, y: float = Y0, d: float = D) -> list[list[float]]:
    return [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]


def feature(
    coordinates, *, kind="old_residential", name="纺织厂小区", geometry_type="Polygon", **props
):
    return {
        "type": "Feature",
        "geometry": {"type": geometry_type, "coordinates": coordinates},
        "properties": {"kind": kind, "name": name, **props},
    }


def collection(*features) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def only_rejection(result) -> tuple[int, str]:
    assert not result.areas
    (rejection,) = result.rejections
    return rejection.index, rejection.reason


def test_a_full_feature_imports_with_every_attribute():
    areas, rejections = parse_feature_collection(
        collection(
            {
                **feature(
                    [square()],
                    code="420602LJ001",
                    year_built=1988,
                    households=320,
                    renovation_programme="2021年城镇老旧小区改造计划",
                    renovation_year=2021,
                    extra="ignored",
                ),
                "id": "LJ-1",
            }
        )
    )
    assert rejections == []
    (area,) = areas
    assert area == Area(
        kind="old_residential",
        name="纺织厂小区",
        geometry=Polygon(square()),
        key="LJ-1",
        code="420602LJ001",
        year_built=1988,
        households=320,
        renovation_programme="2021年城镇老旧小区改造计划",
        renovation_year=2021,
    )
    assert area.feature_index == 0 and not area.repaired


def test_key_falls_back_to_code_and_integer_codes_become_strings():
    areas, _ = parse_feature_collection(
        collection(feature([square()], kind="district", code=420602))
    )
    assert areas[0].key == "420602" == areas[0].code


def test_polygon_with_hole_and_multipolygon_import():
    hole = square(X0 + D / 4, Y0 + D / 4, D / 2)[::-1]
    areas, rejections = parse_feature_collection(
        collection(
            feature([square(), hole]),
            feature([[square()], [square(X0 + 2 * D)]], geometry_type="MultiPolygon"),
        )
    )
    assert rejections == []
    assert len(areas[0].geometry.interiors) == 1
    assert areas[0].geometry.area == pytest.approx(D * D * 0.75)
    assert isinstance(areas[1].geometry, MultiPolygon) and len(areas[1].geometry.geoms) == 2


def test_a_bow_tie_is_repaired_into_two_triangles_and_flagged():
    bow_tie = [[X0, Y0], [X0 + D, Y0 + D], [X0 + D, Y0], [X0, Y0 + D], [X0, Y0]]
    result = parse_feature_collection(collection(feature([square()]), feature([bow_tie])))
    assert result.rejections == []
    repaired = result.areas[1]
    assert repaired.repaired and repaired.feature_index == 1
    assert repaired.geometry.is_valid and isinstance(repaired.geometry, MultiPolygon)
    assert repaired.geometry.area == pytest.approx(D * D / 2)
    assert result.repaired == [repaired]


def test_overlapping_parts_of_a_multipolygon_are_merged_not_cancelled():
    parts = [[square()], [square(X0 + D / 2, Y0 + D / 2)]]
    (area,), _ = parse_feature_collection(collection(feature(parts, geometry_type="MultiPolygon")))
    assert area.repaired
    assert area.geometry.area == pytest.approx(D * D * 1.75)


def test_a_degenerate_ring_is_rejected_with_its_index():
    flat = [[X0, Y0], [X0 + D, Y0], [X0 + 2 * D, Y0], [X0, Y0]]
    index, reason = only_rejection(parse_feature_collection(collection(feature([flat]))))
    assert index == 0
    assert "no area is left after repair" in reason and "Self-intersection" in reason


def test_coordinates_outside_china_are_rejected_with_feature_index_and_vertex():
    result = parse_feature_collection(
        collection(
            feature([square()]), feature([square(2.35, 48.85)]), feature([square()], name="b")
        )
    )
    assert [a.feature_index for a in result.areas] == [0, 2]
    (rejection,) = result.rejections
    assert rejection.index == 1
    assert rejection.reason.startswith("geometry: vertex 0: longitude 2.35 is outside China")


def test_swapped_longitude_and_latitude_get_a_hint():
    swapped = [[y, x] for x, y in square()]
    _, reason = only_rejection(parse_feature_collection(collection(feature([swapped]))))
    assert "swapped" in reason


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda f: f.update(type="Feat"), "not a GeoJSON Feature"),
        (lambda f: f.update(properties=None), "properties must be an object"),
        (lambda f: f["properties"].pop("name"), "properties.name is required"),
        (lambda f: f["properties"].update(name="  "), "properties.name must be a non-empty"),
        (lambda f: f["properties"].update(kind="小区"), "properties.kind '小区' is not one of"),
        (
            lambda f: f["properties"].update(year_built="1990"),
            "properties.year_built must be an integer",
        ),
        (
            lambda f: f["properties"].update(year_built=True),
            "properties.year_built must be an integer",
        ),
        (lambda f: f["properties"].update(households=-1), "properties.households must be"),
        (
            lambda f: f["properties"].update(year_built=2000, renovation_year=1999),
            "renovation_year 1999 is before year_built 2000",
        ),
        (lambda f: f.update(geometry=None), "geometry is missing"),
        (lambda f: f["geometry"].update(type="Point"), "geometry type 'Point' is not Polygon"),
        (lambda f: f["geometry"].update(coordinates=[]), "non-empty list of rings"),
        (lambda f: f["geometry"]["coordinates"][0].pop(), "is not closed"),
        (lambda f: f["geometry"].update(coordinates=[square()[:3]]), "needs at least 4"),
        (lambda f: f["geometry"]["coordinates"][0][1].__setitem__(0, "112.1"), "position 1 is not"),
        (lambda f: f["geometry"]["coordinates"][0][1].__setitem__(0, True), "position 1 is not"),
        (lambda f: f["geometry"]["coordinates"][0][1].__setitem__(0, float("nan")), "position 1"),
        (lambda f: f["geometry"]["coordinates"][0].__setitem__(2, [X0]), "position 2 is not"),
        (lambda f: f["geometry"]["coordinates"][0][1].__setitem__(1, 10**400), "position 1 is not"),
        (
            lambda f: f["geometry"].update(coordinates=[square() * 25_000]),
            "125000 vertices; at most 100000",
        ),
    ],
)
def test_structural_problems_are_rejected_with_a_reason(mutate, expected):
    bad = feature([square()])
    mutate(bad)
    index, reason = only_rejection(parse_feature_collection(collection(bad)))
    assert index == 0
    assert expected in reason


def test_duplicate_keys_keep_the_first():
    result = parse_feature_collection(
        collection(feature([square()], code="A"), feature([square()], code="A", name="again"))
    )
    assert [a.name for a in result.areas] == ["纺织厂小区"]
    assert (
        result.rejections[0].index == 1
        and "duplicate key 'A' (feature 0)" in result.rejections[0].reason
    )


@pytest.mark.parametrize(
    "document",
    [
        None,
        [],
        {"type": "Feature"},
        {"type": "FeatureCollection"},
        {"type": "FeatureCollection", "features": {}},
        {
            "type": "FeatureCollection",
            "features": [],
            "crs": {"type": "name", "properties": {"name": "EPSG:3857"}},
        },
    ],
)
def test_unusable_documents_raise(document):
    with pytest.raises(AreaImportError):
        parse_feature_collection(document)


def test_too_many_features_raise_before_any_parsing():
    with pytest.raises(AreaImportError, match="at most 5000"):
        parse_feature_collection(collection(*[{}] * (MAX_FEATURES + 1)))


def test_old_style_wgs84_crs_member_is_accepted():
    document = collection(feature([square()]))
    document["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    assert len(parse_feature_collection(document).areas) == 1


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_coordinates_in_chinese_map_systems_are_stored_in_wgs84(crs):
    wgs = Polygon(square())
    xy = shapely.get_coordinates(wgs)
    lon, lat = from_wgs84_arrays(xy[:, 0], xy[:, 1], crs)
    as_picked = [[float(x), float(y)] for x, y in zip(lon, lat, strict=True)]
    (area,), _ = parse_feature_collection(collection(feature([as_picked])), crs=crs)
    back = shapely.get_coordinates(area.geometry)
    assert max(geodesic_distance_m(back[:, 0], back[:, 1], xy[:, 0], xy[:, 1])) < 1.0


def test_export_is_rfc7946_and_reads_back_equal():
    hole = square(X0 + D / 4, Y0 + D / 4, D / 2)  # counter-clockwise: the wrong way for a hole
    clockwise_shell = square()[::-1]
    source = collection(
        {**feature([clockwise_shell, hole], year_built=1990, households=12), "id": "K1"},
        feature([[square()], [square(X0 + 2 * D)]], geometry_type="MultiPolygon", kind="community"),
    )
    areas, _ = parse_feature_collection(source)
    exported = json.loads(json.dumps(to_feature_collection(areas)))
    first = exported["features"][0]
    assert first["id"] == "K1"
    assert first["properties"] == {
        "kind": "old_residential", "name": "纺织厂小区", "year_built": 1990, "households": 12,
    }  # fmt: skip
    shell, inner = first["geometry"]["coordinates"]
    assert shapely.LinearRing(shell).is_ccw and not shapely.LinearRing(inner).is_ccw
    again, rejections = parse_feature_collection(copy.deepcopy(exported))
    assert rejections == []
    for before, after in zip(areas, again, strict=True):
        assert shapely.equals(before.geometry, after.geometry)
        assert (before.kind, before.name, before.key, before.year_built) == (
            after.kind, after.name, after.key, after.year_built,
        )  # fmt: skip


def test_export_in_gcj02_for_map_widgets_reads_back_with_that_crs():
    (area,), _ = parse_feature_collection(collection(feature([square()])))
    exported = to_feature_collection([area], crs="gcj02")
    (again,), _ = parse_feature_collection(exported, crs="gcj02")
    a, b = shapely.get_coordinates(area.geometry), shapely.get_coordinates(again.geometry)
    assert max(geodesic_distance_m(a[:, 0], a[:, 1], b[:, 0], b[:, 1])) < 0.01


def test_parse_polygonal_for_a_query_polygon():
    geometry, repaired = parse_polygonal({"type": "Polygon", "coordinates": [square()]})
    assert geometry.equals(Polygon(square())) and not repaired
    with pytest.raises(GeometryError, match="not Polygon or MultiPolygon"):
        parse_polygonal({"type": "LineString", "coordinates": square()})
