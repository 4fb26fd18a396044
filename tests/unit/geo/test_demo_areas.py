"""The demo city's synthetic areas: valid, deterministic, tiling, nested."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
import shapely
from shapely import MultiPolygon, Polygon

from geo.areas import parse_feature_collection, to_feature_collection
from geo.assign import assign_points
from geo.coords import outside_china
from geo.demo_areas import CITY_OUTLINE, DISTRICTS, demo_areas
from geo.distance import metres_per_degree

URBAN = {"420602", "420606", "420607"}


@pytest.fixture(scope="module")
def areas():
    return demo_areas(420600)


def districts_of(areas):
    return [a for a in areas if a.kind == "district"]


def old_of(areas):
    return [a for a in areas if a.kind == "old_residential"]


def test_nine_districts_and_about_two_hundred_old_residential_areas(areas):
    assert [(d.code, d.name) for d in districts_of(areas)] == [(c, n) for c, n, _, _ in DISTRICTS]
    assert len(old_of(areas)) == 200
    assert len({a.key for a in areas}) == len(areas)


def test_every_geometry_is_valid_and_in_china(areas):
    for area in areas:
        assert isinstance(area.geometry, Polygon | MultiPolygon) and area.geometry.is_valid, (
            area.name
        )
        xy = shapely.get_coordinates(area.geometry)
        assert not outside_china(xy[:, 0], xy[:, 1]).any()


def test_deterministic_per_seed():
    assert demo_areas(5) == demo_areas(5)
    assert demo_areas(5) != demo_areas(6)
    # Districts do not depend on the seed.
    assert districts_of(demo_areas(5)) == districts_of(demo_areas(6))


def test_districts_tile_the_outline_without_overlap(areas):
    districts = districts_of(areas)
    for a, b in itertools.combinations(districts, 2):
        assert a.geometry.intersection(b.geometry).area < 1e-12, (a.name, b.name)
        assert (
            not a.geometry.overlaps(b.geometry) or a.geometry.intersection(b.geometry).area < 1e-12
        )
    union = shapely.union_all([d.geometry for d in districts])
    assert union.symmetric_difference(CITY_OUTLINE).area < 1e-9
    for district, (_, _, lon, lat) in zip(districts, DISTRICTS, strict=True):
        assert district.geometry.contains(shapely.Point(lon, lat)), district.name


def test_every_old_residential_area_lies_inside_its_district(areas):
    by_code = {d.code: d for d in districts_of(areas)}
    for area in old_of(areas):
        assert area.name.endswith("小区")
        assert by_code[area.code[:6]].geometry.contains(area.geometry), area.name


def test_old_residential_areas_do_not_overlap(areas):
    geometries = np.array([a.geometry for a in old_of(areas)])
    left, right = shapely.STRtree(geometries).query(geometries, predicate="intersects")
    assert np.all(left == right)


def test_old_residential_areas_look_like_old_residential_areas(areas):
    olds = old_of(areas)
    assert Counter(a.code[:6] in URBAN for a in olds)[True] >= 150, "mostly urban"
    assert all(1980 <= a.year_built <= 2000 for a in olds)
    assert all(a.households > 0 for a in olds)
    renovated = [a for a in olds if a.renovation_year is not None]
    assert 0 < len(renovated) < len(olds)
    assert all(
        a.renovation_programme and str(a.renovation_year) in a.renovation_programme
        for a in renovated
    )
    assert any(isinstance(a.geometry, Polygon) and a.geometry.interiors for a in olds), (
        "some have a hole"
    )
    assert any(isinstance(a.geometry, MultiPolygon) for a in olds), "a few are in two parts"
    for a in olds:
        min_x, min_y, max_x, max_y = a.geometry.bounds
        per_lon, per_lat = metres_per_degree((min_y + max_y) / 2)
        across = max((max_x - min_x) * per_lon, (max_y - min_y) * per_lat)
        assert 60 <= across <= 420, (a.name, across)


def test_an_old_residential_area_point_gets_its_district_too(areas):
    olds = old_of(areas)
    points = [a.geometry.representative_point() for a in olds]
    lons = np.array([p.x for p in points])
    lats = np.array([p.y for p in points])
    point_index, area_index = assign_points(lons, lats, areas)
    got = set(zip(point_index.tolist(), area_index.tolist(), strict=True))
    codes = [a.code for a in areas]
    for i, area in enumerate(olds):
        assert (i, areas.index(area)) in got
        assert (i, codes.index(area.code[:6])) in got


def test_demo_areas_survive_a_geojson_round_trip(areas):
    again, rejections = parse_feature_collection(to_feature_collection(areas))
    assert rejections == []
    assert [a.key for a in again] == [a.key for a in areas]
    assert all(shapely.equals(a.geometry, b.geometry) for a, b in zip(areas, again, strict=True))
