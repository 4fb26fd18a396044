"""Point-in-area assignment: holes, multipolygons, the edge rule, NaN, and agreement with
a brute-force shapely loop (the loop lives only here) and with STRtree.query."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import MultiPolygon, Point, Polygon, box

from geo.areas import Area
from geo.assign import (
    EDGE_RULE,
    assign_points,
    cluster_bbox,
    contained_pairs,
    first_area,
    points_in_bbox,
    units_in_polygon,
)
from geo.demo_areas import demo_areas

# A 200 m square community with a 100 m courtyard hole; a two-part old residential area.
X0, Y0, D = 112.13, 32.00, 0.002
WITH_HOLE = Area(
    kind="community",
    name="带天井社区",
    geometry=Polygon(
        [(X0, Y0), (X0 + D, Y0), (X0 + D, Y0 + D), (X0, Y0 + D)],
        [
            [
                (X0 + D / 4, Y0 + D / 4),
                (X0 + D / 4, Y0 + 3 * D / 4),
                (X0 + 3 * D / 4, Y0 + 3 * D / 4),
                (X0 + 3 * D / 4, Y0 + D / 4),
            ]
        ],
    ),
)
TWO_PARTS = Area(
    kind="old_residential",
    name="两块小区",
    geometry=MultiPolygon(
        [box(X0 + 2 * D, Y0, X0 + 3 * D, Y0 + D), box(X0 + 4 * D, Y0, X0 + 5 * D, Y0 + D)]
    ),
)
# Shares its west edge with WITH_HOLE's east edge.
NEIGHBOUR = Area(kind="community", name="东邻社区", geometry=box(X0 + D, Y0, X0 + 1.5 * D, Y0 + D))


def pairs(lons, lats, areas) -> set[tuple[int, int]]:
    p, a = assign_points(np.asarray(lons, float), np.asarray(lats, float), areas)
    return set(zip(p.tolist(), a.tolist(), strict=True))


def brute_force(lons, lats, areas) -> set[tuple[int, int]]:
    """The slow loop the production code must never be: one predicate per pair."""
    return {
        (i, j)
        for i, (x, y) in enumerate(zip(lons, lats, strict=True))
        if not (np.isnan(x) or np.isnan(y))
        for j, area in enumerate(areas)
        if area.geometry.intersects(Point(x, y))
    }


def test_the_edge_rule_is_intersects():
    assert EDGE_RULE == "intersects"


def test_polygon_with_a_hole():
    q = D / 4
    points = {
        "solid part": (X0 + q / 2, Y0 + q / 2),
        "strictly inside the hole": (X0 + D / 2, Y0 + D / 2),
        "on the hole's ring": (X0 + q, Y0 + D / 2),
        "on a hole vertex": (X0 + q, Y0 + q),
        "outside": (X0 - q, Y0),
    }
    lons, lats = zip(*points.values(), strict=True)
    inside = {p for p, _ in pairs(lons, lats, [WITH_HOLE])}
    names = list(points)
    assert {names[i] for i in inside} == {"solid part", "on the hole's ring", "on a hole vertex"}


def test_multipolygon_both_parts_count_and_the_gap_does_not():
    lons = [X0 + 2.5 * D, X0 + 4.5 * D, X0 + 3.5 * D]
    lats = [Y0 + D / 2] * 3
    assert pairs(lons, lats, [TWO_PARTS]) == {(0, 0), (1, 0)}


def test_a_point_on_a_shared_edge_belongs_to_both_neighbours():
    """The documented rule: counted in both, never lost from both."""
    on_edge = (X0 + D, Y0 + D / 2)
    on_corner = (X0 + D, Y0)
    diagonal = Area(
        kind="street", name="斜边", geometry=Polygon([(X0, Y0), (X0 + D, Y0 + D), (X0 + D, Y0)])
    )
    lons = [on_edge[0], on_corner[0], X0 + D / 2]
    lats = [on_edge[1], on_corner[1], Y0 + D / 2]  # the last one is on the diagonal edge
    assert pairs(lons, lats, [WITH_HOLE, NEIGHBOUR, diagonal]) == {
        (0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 2),
    }  # fmt: skip
    chosen = first_area(
        *assign_points(np.array(lons), np.array(lats), [WITH_HOLE, NEIGHBOUR, diagonal]), 4
    )
    assert chosen.tolist() == [0, 0, 2, -1]


def test_nan_coordinates_are_skipped():
    lons = np.array([np.nan, X0 + D / 8, X0 + D / 8, np.inf])
    lats = np.array([Y0 + D / 8, np.nan, Y0 + D / 8, Y0])
    assert pairs(lons, lats, [WITH_HOLE]) == {(2, 0)}


def test_empty_inputs():
    p, a = assign_points(np.array([]), np.array([]), [WITH_HOLE])
    assert p.size == a.size == 0
    p, a = assign_points(np.array([X0]), np.array([Y0]), [])
    assert p.size == a.size == 0


def test_agrees_with_a_brute_force_loop_on_the_demo_city():
    areas = demo_areas(7)
    rng = np.random.default_rng(7)
    # Half the points near the urban seats (where the old residential areas are), half
    # anywhere in the city; some exactly on area vertices, a few without a location.
    lons = np.r_[rng.normal(112.15, 0.03, 200), rng.uniform(110.7, 113.2, 150)]
    lats = np.r_[rng.normal(32.03, 0.03, 200), rng.uniform(31.2, 32.7, 150)]
    vertices = np.concatenate([shapely.get_coordinates(a.geometry)[:3] for a in areas[9:40]])
    lons, lats = np.r_[lons, vertices[:, 0], np.nan], np.r_[lats, vertices[:, 1], 32.0]
    expected = brute_force(lons, lats, areas)
    assert pairs(lons, lats, areas) == expected
    assert any(j >= 9 for _, j in expected), "some points fall in old residential areas"


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_areas=st.integers(1, 60), n_points=st.integers(0, 400))
def test_agrees_with_a_brute_force_loop_on_random_overlapping_areas(seed, n_areas, n_points):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 1, (n_areas, 2))
    sizes = rng.uniform(0.001, 0.5, n_areas)
    areas = [
        Area(kind="community", name=str(i), geometry=shapely.buffer(Point(*c), s, quad_segs=3))
        for i, (c, s) in enumerate(zip(centres, sizes, strict=True))
    ]
    lons = rng.uniform(-0.2, 1.2, n_points)
    lats = rng.uniform(-0.2, 1.2, n_points)
    assert pairs(lons, lats, areas) == brute_force(lons, lats, areas)


def test_equals_strtree_query_with_the_same_predicate():
    rng = np.random.default_rng(11)
    m, n = 500, 50_000
    polygons = shapely.buffer(
        shapely.points(rng.uniform(111, 113, m), rng.uniform(31.3, 32.6, m)),
        rng.uniform(0.001, 0.02, m),
    )
    lons, lats = rng.uniform(111, 113, n), rng.uniform(31.3, 32.6, n)
    point_index, area_index = contained_pairs(lons, lats, polygons)
    baseline = shapely.STRtree(polygons).query(shapely.points(lons, lats), predicate=EDGE_RULE)
    order = np.lexsort((baseline[1], baseline[0]))
    assert np.array_equal(point_index, baseline[0][order])
    assert np.array_equal(area_index, baseline[1][order])


def test_reassignment_after_an_area_edit():
    areas = demo_areas(3)
    district_count = 9
    rng = np.random.default_rng(3)
    lons, lats = rng.normal(112.15, 0.03, 5_000), rng.normal(32.03, 0.03, 5_000)
    before = pairs(lons, lats, areas)
    edited_index = district_count  # the first old residential area
    edited = areas[edited_index]
    moved = shapely.affinity.translate(edited.geometry, xoff=0.01)
    new_areas = [
        *areas[:edited_index],
        Area(**{**_fields(edited), "geometry": moved}),
        *areas[edited_index + 1 :],
    ]
    # Put units in the old and the new place so the edit matters.
    inside_old = edited.geometry.representative_point()
    inside_new = moved.representative_point()
    lons = np.r_[lons, inside_old.x, inside_new.x]
    lats = np.r_[lats, inside_old.y, inside_new.y]
    before = pairs(lons, lats, areas)
    after = pairs(lons, lats, new_areas)
    old_unit, new_unit = len(lons) - 2, len(lons) - 1
    assert (old_unit, edited_index) in before and (old_unit, edited_index) not in after
    assert (new_unit, edited_index) in after and (new_unit, edited_index) not in before
    untouched = {(p, a) for p, a in before if a != edited_index}
    assert untouched == {(p, a) for p, a in after if a != edited_index}
    assert after == brute_force(lons, lats, new_areas)


def _fields(area: Area) -> dict:
    return {name: getattr(area, name) for name in area.__dataclass_fields__}


def test_units_in_a_caller_polygon_follow_the_same_rule():
    lons = np.array([X0 + D / 8, X0 + D / 2, X0 + D / 4, X0 + D, np.nan, X0 - D])
    lats = np.array([Y0 + D / 8, Y0 + D / 2, Y0 + D / 2, Y0 + D, Y0, Y0])
    assert units_in_polygon(lons, lats, WITH_HOLE.geometry).tolist() == [0, 2, 3]
    assert units_in_polygon(lons, lats, TWO_PARTS.geometry).tolist() == []
    with pytest.raises(TypeError):
        units_in_polygon(lons, lats, Point(X0, Y0))  # type: ignore[arg-type]


def test_points_in_bbox_includes_edges_and_skips_nan():
    lons = np.array([1.0, 2.0, np.nan, 3.0])
    lats = np.array([1.0, 2.0, 1.5, 1.0])
    assert points_in_bbox(lons, lats, (1.0, 1.0, 2.0, 2.0)).tolist() == [0, 1]
    with pytest.raises(ValueError):
        points_in_bbox(lons, lats, (2.0, 1.0, 1.0, 2.0))


def test_few_points_come_back_raw():
    lons, lats = np.array([112.1, 112.2, 115.0]), np.array([32.0, 32.1, 32.0])
    view = cluster_bbox(lons, lats, (112.0, 31.9, 112.3, 32.2), max_points=2)
    assert not view.clustered and view.total == 2 and view.indices.tolist() == [0, 1]
    assert view.clusters == ()


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 3_000),
    max_points=st.integers(1, 400),
    span=st.floats(0.001, 3.0),
)
def test_clustering_conserves_the_count_and_respects_the_limit(seed, n, max_points, span):
    rng = np.random.default_rng(seed)
    lons = rng.normal(112.15, span / 3, n)
    lats = rng.normal(32.03, span / 3, n)
    lons[: n // 50] = np.nan
    bbox = (112.15 - span / 2, 32.03 - span / 2, 112.15 + span / 2, 32.03 + span / 2)
    inside = points_in_bbox(lons, lats, bbox)
    view = cluster_bbox(lons, lats, bbox, max_points)
    assert view.total == inside.size
    if inside.size <= max_points:
        assert not view.clustered and view.indices.tolist() == inside.tolist()
        return
    assert view.clustered and view.indices.size == 0
    assert 1 <= len(view.clusters) <= max_points
    assert sum(c.count for c in view.clusters) == inside.size
    for c in view.clusters:
        min_lon, min_lat, max_lon, max_lat = c.bbox
        assert min_lon <= c.lon <= max_lon and min_lat <= c.lat <= max_lat
        assert c.member in set(inside.tolist())
    feature = view.clusters[0].feature()
    assert feature["geometry"]["type"] == "Point" and feature["properties"]["count"] >= 1


def test_clusters_stay_put_when_the_map_pans():
    rng = np.random.default_rng(5)
    lons, lats = rng.uniform(112.0, 112.4, 20_000), rng.uniform(31.9, 32.2, 20_000)
    a = cluster_bbox(lons, lats, (112.0, 31.9, 112.3, 32.2), 100)
    b = cluster_bbox(lons, lats, (112.02, 31.9, 112.32, 32.2), 100)
    assert a.cell_deg == b.cell_deg
    # Cells wholly inside both boxes hold the same points in both views.
    common = (112.02 + a.cell_deg, 31.9 + a.cell_deg, 112.3 - a.cell_deg, 32.2 - a.cell_deg)

    def inner(view):
        return {
            (round(c.lon, 9), round(c.lat, 9), c.count)
            for c in view.clusters
            if common[0] <= c.bbox[0]
            and c.bbox[2] <= common[2]
            and common[1] <= c.bbox[1]
            and c.bbox[3] <= common[3]
        }

    assert inner(a) and inner(a) == inner(b)
