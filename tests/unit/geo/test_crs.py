"""GCJ-02 / BD-09 conversions: the published formulas, round trips within 1 m at Xiangyang."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.coords import CoordinateError
from geo.crs import (
    bd09_to_gcj02,
    from_wgs84,
    from_wgs84_arrays,
    gcj02_to_bd09,
    to_wgs84,
    to_wgs84_arrays,
    wgs84_to_gcj02,
)
from geo.distance import geodesic_distance_m

XIANGYANG = (112.134, 32.010)  # 襄城区 seat
# The prefecture's box, where the register's coordinates live.
CITY_LON = st.floats(110.7, 113.2)
CITY_LAT = st.floats(31.2, 32.7)


def reference_wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """The published scalar algorithm, transcribed with ``math`` only, as an oracle for the
    vectorised implementation."""
    a, ee, pi = 6378245.0, 0.00669342162296594323, math.pi
    if not (73.66 < lon < 135.05 and 3.86 < lat < 53.55):
        return lon, lat
    x, y = lon - 105.0, lat - 35.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    dlat += (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat += (20.0 * math.sin(y * pi) + 40.0 * math.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * math.sin(y / 12.0 * pi) + 320 * math.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    dlon += (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlon += (20.0 * math.sin(x * pi) + 40.0 * math.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * math.sin(x / 12.0 * pi) + 300.0 * math.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * pi
    magic = 1 - ee * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((a * (1 - ee)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (a / sqrtmagic * math.cos(radlat) * pi)
    return lon + dlon, lat + dlat


def metres(p: tuple[float, float], q: tuple[float, float]) -> float:
    return float(geodesic_distance_m(p[0], p[1], q[0], q[1]))


def test_forward_matches_the_published_scalar_algorithm():
    rng = np.random.default_rng(0)
    lon = rng.uniform(74.0, 135.0, 500)
    lat = rng.uniform(4.0, 53.5, 500)
    glon, glat = wgs84_to_gcj02(lon, lat)
    expected = np.array([reference_wgs84_to_gcj02(x, y) for x, y in zip(lon, lat, strict=True)])
    np.testing.assert_allclose(glon, expected[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(glat, expected[:, 1], rtol=0, atol=1e-12)


def test_gcj02_offset_at_xiangyang_is_hundreds_of_metres():
    """A map pick read as WGS-84 would be this far off: the reason the crs parameter exists."""
    assert 300 < metres(XIANGYANG, from_wgs84(*XIANGYANG, "gcj02")) < 800
    assert 800 < metres(XIANGYANG, from_wgs84(*XIANGYANG, "bd09")) < 1600


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_round_trip_at_xiangyang_within_one_metre(crs):
    there = from_wgs84(*XIANGYANG, crs)
    back = to_wgs84(*there, crs)
    assert metres(XIANGYANG, back) < 1.0
    assert metres(there, from_wgs84(*to_wgs84(*there, crs), crs)) < 1.0


def test_gcj02_inverse_converges_below_1e7_degrees():
    rng = np.random.default_rng(1)
    lon = rng.uniform(110.7, 113.2, 10_000)
    lat = rng.uniform(31.2, 32.7, 10_000)
    back_lon, back_lat = to_wgs84_arrays(*from_wgs84_arrays(lon, lat, "gcj02"), "gcj02")
    assert np.max(np.abs(back_lon - lon)) < 1e-7
    assert np.max(np.abs(back_lat - lat)) < 1e-7


@settings(max_examples=300, deadline=None)
@given(lon=CITY_LON, lat=CITY_LAT, crs=st.sampled_from(["wgs84", "gcj02", "bd09"]))
def test_round_trips_over_the_city_box(lon, lat, crs):
    assert metres((lon, lat), to_wgs84(*from_wgs84(lon, lat, crs), crs)) < 1.0
    assert metres((lon, lat), from_wgs84(*to_wgs84(lon, lat, crs), crs)) < 1.0


def test_bd09_formulas_invert_each_other():
    glon, glat = gcj02_to_bd09(112.14, 32.008)
    back = bd09_to_gcj02(glon, glat)
    assert metres((112.14, 32.008), (float(back[0]), float(back[1]))) < 0.05


def test_outside_china_gcj02_is_wgs84():
    for lon, lat in [(2.35, 48.86), (139.69, 35.69), (-74.0, 40.7)]:
        assert from_wgs84(lon, lat, "gcj02") == (lon, lat)
        assert to_wgs84(lon, lat, "gcj02") == (lon, lat)


def test_arrays_equal_scalars_and_nan_passes_through():
    lon = np.array([112.134, np.nan, 111.676])
    lat = np.array([32.010, 32.0, np.nan])
    for crs in ("gcj02", "bd09"):
        glon, glat = from_wgs84_arrays(lon, lat, crs)
        assert (glon[0], glat[0]) == from_wgs84(112.134, 32.010, crs)
        wlon, wlat = to_wgs84_arrays(glon, glat, crs)
        assert np.isnan(wlon[1]) and np.isnan(wlat[2])
        assert abs(wlon[0] - 112.134) < 1e-7


def test_wgs84_is_the_identity():
    assert to_wgs84(112.1, 32.0, "wgs84") == (112.1, 32.0)
    assert from_wgs84(112.1, 32.0) == (112.1, 32.0)


def test_unknown_crs_is_a_coordinate_error_on_the_crs_field():
    with pytest.raises(CoordinateError) as caught:
        to_wgs84(112.1, 32.0, "epsg3857")  # type: ignore[arg-type]
    assert caught.value.field == "crs"
