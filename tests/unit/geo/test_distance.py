"""Geodesic radius queries against brute force, and the prefilter box's guarantee."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.distance import (
    WGS84_GEOD,
    bbox_around,
    flat_bounds,
    geodesic_distance_m,
    metres_per_degree,
    nearest_within,
    within_radius,
)

CENTRE = (112.134, 32.010)


def random_points(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(112.0, 112.3, n), rng.uniform(31.9, 32.15, n)


@pytest.mark.parametrize("radius", [0.0, 50.0, 500.0, 3_000.0, 20_000.0])
def test_within_radius_equals_brute_force_geodesic(radius):
    lons, lats = random_points(20_000)
    lons[:3] = np.nan  # units without a location are never near
    near = within_radius(CENTRE, lons, lats, radius)
    _, _, every = WGS84_GEOD.inv(
        np.full(lons.size, CENTRE[0]), np.full(lons.size, CENTRE[1]), lons, lats
    )
    expected = np.flatnonzero(np.asarray(every) <= radius)
    assert sorted(near.indices.tolist()) == expected.tolist()
    np.testing.assert_allclose(near.distances_m, np.asarray(every)[near.indices], rtol=1e-12)
    assert np.all(np.diff(near.distances_m) >= 0), "nearest first"


def test_nearest_first_with_limit_and_an_exact_hit():
    lons, lats = random_points(5_000, seed=3)
    lons[42], lats[42] = CENTRE
    near = within_radius(CENTRE, lons, lats, 2_000.0, limit=5)
    assert near.indices[0] == 42 and near.distances_m[0] == 0.0
    assert len(near.indices) == 5


def test_points_on_the_circle_are_inside():
    azimuths = np.linspace(0, 360, 73)
    lons, lats, _ = WGS84_GEOD.fwd(
        np.full(73, CENTRE[0]), np.full(73, CENTRE[1]), azimuths, np.full(73, 999.999)
    )
    assert len(within_radius(CENTRE, lons, lats, 1_000.0).indices) == 73


@settings(max_examples=200, deadline=None)
@given(
    lon=st.floats(73.5, 135.0),
    lat=st.floats(-80.0, 80.0),
    radius=st.floats(0.0, 500_000.0),
)
def test_bbox_around_holds_the_whole_circle(lon, lat, radius):
    """Points at exactly the radius, in every direction, lie inside the prefilter box."""
    azimuths = np.linspace(0, 360, 361)
    n = azimuths.size
    plons, plats, _ = WGS84_GEOD.fwd(np.full(n, lon), np.full(n, lat), azimuths, np.full(n, radius))
    min_lon, min_lat, max_lon, max_lat = bbox_around(lon, lat, radius)
    assert np.all((plats >= min_lat) & (plats <= max_lat))
    assert np.all((plons >= min_lon) & (plons <= max_lon))


def test_bbox_around_is_not_much_larger_than_the_circle_at_xiangyang():
    min_lon, min_lat, max_lon, max_lat = bbox_around(*CENTRE, 1_000.0)
    width = geodesic_distance_m(min_lon, CENTRE[1], max_lon, CENTRE[1])
    height = geodesic_distance_m(CENTRE[0], min_lat, CENTRE[0], max_lat)
    assert 2_000 <= width < 2_000 * 1.01
    assert 2_000 <= height < 2_000 * 1.01


def test_bbox_around_near_the_pole_spans_every_longitude():
    assert bbox_around(0.0, 89.99, 5_000.0)[0::2] == (-180.0, 180.0)


@pytest.mark.parametrize("radius", [-1.0, float("nan"), float("inf")])
def test_bad_radius_is_refused(radius):
    with pytest.raises(ValueError):
        within_radius(CENTRE, np.zeros(1), np.zeros(1), radius)


def test_metres_per_degree_matches_geodesics():
    per_lon, per_lat = metres_per_degree(32.0)
    assert per_lon == pytest.approx(
        geodesic_distance_m(112.0, 32.0, 112.001, 32.0) * 1000, rel=1e-4
    )
    assert per_lat == pytest.approx(
        geodesic_distance_m(112.0, 32.0, 112.0, 32.001) * 1000, rel=1e-4
    )


@settings(max_examples=400, deadline=None)
@given(
    lon0=st.floats(73.0, 135.0),
    lat0=st.floats(18.0, 53.5),
    radius=st.sampled_from([1.0, 300.0, 5_000.0, 50_000.0]),
    fx=st.floats(0.0, 1.0),
    fy=st.floats(0.0, 1.0),
)
def test_flat_bounds_enclose_the_geodesic_distance(lon0, lat0, radius, fx, fy) -> None:
    """Any point of the box around a centre: low flat distance ≤ geodesic ≤ high."""
    min_lon, min_lat, max_lon, max_lat = bbox_around(lon0, lat0, radius)
    lon = min_lon + fx * (max_lon - min_lon)
    lat = min_lat + fy * (max_lat - min_lat)
    kx_low, ky_low, kx_high, ky_high = flat_bounds(min_lat, max_lat)
    exact = float(geodesic_distance_m(lon0, lat0, np.array([lon]), np.array([lat]))[0])
    low = float(np.hypot(kx_low * (lon - lon0), ky_low * (lat - lat0)))
    high = float(np.hypot(kx_high * (lon - lon0), ky_high * (lat - lat0)))
    assert low <= exact * (1 + 1e-12) + 1e-9
    assert exact <= high * (1 + 1e-12) + 1e-9
    # Tight enough to leave few units to decide exactly: a band of a few per cent at most.
    if exact > 1.0:
        assert high - low <= 0.03 * exact


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    radius=st.sampled_from([0.0, 5.0, 300.0, 1_500.0]),
    limit=st.sampled_from([0, 1, 3, 50]),
    margin=st.sampled_from([0, 10]),
    spread=st.sampled_from([0.0005, 0.005, 0.05]),
    grid=st.sampled_from([None, 1e-4, 1e-5]),
)
def test_nearest_within_equals_within_radius(seed, radius, limit, margin, spread, grid) -> None:
    """Same count, same nearest (ties by index), same distances as measuring every point:
    clouds dense or sparse around the centre, coordinates snapped to a grid (equal
    distances), points on the circle and at the centre itself."""
    rng = np.random.default_rng(seed)
    lons = CENTRE[0] + rng.normal(0, spread, 2_000)
    lats = CENTRE[1] + rng.normal(0, spread, 2_000)
    if grid is not None:
        lons, lats = np.round(lons / grid) * grid, np.round(lats / grid) * grid
    ring, ring_lats, _ = WGS84_GEOD.fwd(
        np.full(24, CENTRE[0]), np.full(24, CENTRE[1]), np.linspace(0, 360, 24), np.full(24, radius)
    )
    lons = np.concatenate([lons, ring, [CENTRE[0], CENTRE[0], np.nan]])
    lats = np.concatenate([lats, ring_lats, [CENTRE[1], CENTRE[1], CENTRE[1]]])
    every = within_radius(CENTRE, lons, lats, radius)
    got = nearest_within(CENTRE, lons, lats, radius, limit, margin=margin)
    assert got.total == every.indices.size
    assert got.nearest.indices.tolist() == every.indices[:limit].tolist()
    assert got.nearest.distances_m.tolist() == every.distances_m[:limit].tolist()
