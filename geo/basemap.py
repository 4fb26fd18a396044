"""Which coordinate system a map's features must be sent in, and the conversion to it.

A tile service draws its streets in one system: AMap (Gaode) and Tencent in GCJ-02, the
offset every map licensed in China must show; Tianditu in WGS-84 (CGCS2000, which agrees
with WGS-84 well below a metre). A point sent in the other system lands several hundred
metres off its street. With no tiles configured the map's base is the register's own
outlines, stored in WGS-84, so WGS-84 is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from geo.crs import Crs, check_crs, from_wgs84

# What a configured tile service may be drawn in (BD-09 tiles are Baidu's own, and its
# tile grid is not Leaflet's either: not offered).
TILE_CRS: tuple[Crs, ...] = ("wgs84", "gcj02")


def display_crs(tile_url: str | None, tile_crs: str) -> Crs:
    """The system the map's coordinates are sent in: the tiles' own, or WGS-84 offline."""
    if not tile_url:
        return "wgs84"
    crs = check_crs(tile_crs)
    if crs not in TILE_CRS:
        raise ValueError(f"tiles in {crs} are not supported; use one of {', '.join(TILE_CRS)}")
    return crs


def point_to(feature: Mapping[str, Any], crs: Crs) -> dict[str, Any]:
    """A WGS-84 GeoJSON point feature (and its ``bbox``, if any) in ``crs``."""
    out = dict(feature)
    if crs == "wgs84":
        return out
    lon, lat = feature["geometry"]["coordinates"]
    x, y = from_wgs84(lon, lat, crs)
    out["geometry"] = {"type": "Point", "coordinates": [x, y]}
    if "bbox" in feature:
        min_lon, min_lat, max_lon, max_lat = feature["bbox"]
        x0, y0 = from_wgs84(min_lon, min_lat, crs)
        x1, y1 = from_wgs84(max_lon, max_lat, crs)
        out["bbox"] = [x0, y0, x1, y1]
    return out
