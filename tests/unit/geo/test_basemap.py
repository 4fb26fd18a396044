"""Which coordinate system the map sends, and the conversion of its points to it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.basemap import display_crs, point_to
from geo.crs import from_wgs84, to_wgs84

TIANDITU = "https://t{s}.tianditu.gov.cn/vec_w/wmts?x={x}&y={y}&l={z}"
AMAP = "https://webrd0{s}.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}&style=8"


@pytest.mark.parametrize(
    ("tile_url", "tile_crs", "expected"),
    [
        (None, "wgs84", "wgs84"),
        # No tiles: the base is the register's own outlines, in WGS-84 whatever was set.
        (None, "gcj02", "wgs84"),
        ("", "gcj02", "wgs84"),
        (TIANDITU, "wgs84", "wgs84"),
        (AMAP, "gcj02", "gcj02"),
    ],
)
def test_the_map_speaks_the_tiles_crs_or_wgs84_offline(tile_url, tile_crs, expected):
    assert display_crs(tile_url, tile_crs) == expected


def test_tiles_in_bd09_or_an_unknown_crs_are_refused():
    with pytest.raises(ValueError, match="bd09"):
        display_crs(AMAP, "bd09")
    with pytest.raises(ValueError, match="unknown crs"):
        display_crs(AMAP, "mars")


def feature(lon: float, lat: float, **extra) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, **extra}


def test_a_point_is_moved_onto_gcj02_tiles_by_the_offset_and_left_alone_on_wgs84():
    # Xiangyang: the GCJ-02 offset there is several hundred metres (≈0.005° east).
    lon, lat = 112.135, 32.045
    moved = point_to(feature(lon, lat, properties={"id": 7}), "gcj02")
    assert moved["geometry"]["coordinates"] == list(from_wgs84(lon, lat, "gcj02"))
    assert moved["geometry"]["coordinates"][0] - lon > 0.004
    assert moved["properties"] == {"id": 7}
    assert point_to(feature(lon, lat), "wgs84")["geometry"]["coordinates"] == [lon, lat]


def test_a_clusters_box_moves_with_its_point():
    moved = point_to(feature(112.1, 32.0, bbox=[112.0, 31.9, 112.2, 32.1]), "gcj02")
    assert moved["bbox"][:2] == list(from_wgs84(112.0, 31.9, "gcj02"))
    assert moved["bbox"][2:] == list(from_wgs84(112.2, 32.1, "gcj02"))


@given(
    lon=st.floats(min_value=73.7, max_value=135.0),
    lat=st.floats(min_value=18.0, max_value=53.5),
)
def test_a_gcj02_point_reads_back_as_the_stored_wgs84_one(lon: float, lat: float):
    x, y = point_to(feature(lon, lat), "gcj02")["geometry"]["coordinates"]
    back = to_wgs84(x, y, "gcj02")
    assert back == pytest.approx((lon, lat), abs=1e-7)
