"""Distances on the WGS-84 ellipsoid, in metres. No flat-earth degrees.

Exact distances are geodesics from ``pyproj.Geod(ellps="WGS84")`` (Karney's algorithm,
vectorised ``inv``). Degrees appear only in ``bbox_around``, a box *guaranteed* to hold
every point within the radius, used as a cheap prefilter before the exact check.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from pyproj import Geod

WGS84_GEOD = Geod(ellps="WGS84")

# WGS-84 semi-major axis and first eccentricity squared.
_A = 6378137.0
_E2 = 0.00669437999014
# The meridian's radius of curvature is smallest at the equator: a(1 - e²). No path
# between two latitudes is shorter than that radius times their difference in radians.
_MIN_METRES_PER_DEG_LAT = _A * (1.0 - _E2) * math.pi / 180.0  # ≈ 110,574 m
# Floating-point slack (relative, and ≈ 0.1 mm absolute) so a point exactly at the radius
# is never cut by the prefilter.
_SLACK = 1.0 + 1e-9
_SLACK_DEG = 1e-9

BBox = tuple[float, float, float, float]  # (min_lon, min_lat, max_lon, max_lat)


class Nearby(NamedTuple):
    """Point indices within a radius, nearest first, with their distances in metres."""

    indices: npt.NDArray[np.intp]
    distances_m: npt.NDArray[np.float64]


def _check_radius(radius_m: float) -> None:
    if not (math.isfinite(radius_m) and radius_m >= 0):
        raise ValueError(f"radius {radius_m!r} m must be a finite number ≥ 0")


def geodesic_distance_m(
    lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Geodesic distance in metres between (lon1, lat1) and (lon2, lat2), broadcast."""
    arrays = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (lon1, lat1, lon2, lat2))
    )
    shape = arrays[0].shape
    flat = [np.ascontiguousarray(a).reshape(-1) for a in arrays]
    if flat[0].size == 0:
        return np.zeros(shape)
    _, _, dist = WGS84_GEOD.inv(flat[0], flat[1], flat[2], flat[3])
    return np.asarray(dist, dtype=np.float64).reshape(shape)


def bbox_around(lon: float, lat: float, radius_m: float) -> BBox:
    """A lon/lat box containing every point within ``radius_m`` of (lon, lat).

    Latitude: a(1-e²) is the smallest meridian radius, so |Δlat| ≤ r / 110,574 m.
    Longitude: an east-west step dλ at latitude φ costs at least a·cos φ·dλ, so over the
    box's latitudes |Δlon| ≤ r / (a·cos φ_max) with φ_max the latitude farthest from the
    equator. The box is a little loose (≤ 1 % at Xiangyang), never short. If it reaches
    a pole it spans every longitude; it does not wrap at ±180° (nothing in China does).
    """
    _check_radius(radius_m)
    if not (math.isfinite(lon) and math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise ValueError(f"centre ({lon!r}, {lat!r}) is not a valid WGS-84 coordinate")
    dlat = radius_m / _MIN_METRES_PER_DEG_LAT * _SLACK + _SLACK_DEG
    min_lat, max_lat = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    widest = max(abs(min_lat), abs(max_lat))
    cos_widest = math.cos(math.radians(widest))
    if widest >= 90.0 or cos_widest <= 0.0:
        return (-180.0, min_lat, 180.0, max_lat)
    dlon = math.degrees(radius_m / (_A * cos_widest)) * _SLACK + _SLACK_DEG
    if dlon >= 180.0:
        return (-180.0, min_lat, 180.0, max_lat)
    return (lon - dlon, min_lat, lon + dlon, max_lat)


def within_radius(
    center: tuple[float, float],
    points_lon: npt.ArrayLike,
    points_lat: npt.ArrayLike,
    radius_m: float,
    *,
    limit: int | None = None,
) -> Nearby:
    """Points within ``radius_m`` metres (geodesic, inclusive) of ``center`` (lon, lat),
    nearest first; ties keep index order. Points with NaN coordinates are never near.

    The box from ``bbox_around`` discards most points with four comparisons each; only
    the survivors get an exact geodesic distance.
    """
    lon0, lat0 = center
    lons = np.asarray(points_lon, dtype=np.float64)
    lats = np.asarray(points_lat, dtype=np.float64)
    if lons.shape != lats.shape or lons.ndim != 1:
        raise ValueError("points_lon and points_lat must be 1-D arrays of the same length")
    if limit is not None and limit < 0:
        raise ValueError(f"limit {limit} must be ≥ 0")
    min_lon, min_lat, max_lon, max_lat = bbox_around(lon0, lat0, radius_m)
    candidates = np.flatnonzero(
        (lons >= min_lon) & (lons <= max_lon) & (lats >= min_lat) & (lats <= max_lat)
    )
    distances = geodesic_distance_m(lon0, lat0, lons[candidates], lats[candidates])
    inside = distances <= radius_m
    candidates, distances = candidates[inside], distances[inside]
    order = np.argsort(distances, kind="stable")[:limit]
    return Nearby(candidates[order], distances[order])


def metres_per_degree(lat: float) -> tuple[float, float]:
    """(metres per degree of longitude, per degree of latitude) at ``lat`` on WGS-84:
    the local scale from the ellipsoid's radii of curvature, for building small shapes
    (a few hundred metres) in degrees. Distances between points use the geodesic."""
    phi = math.radians(lat)
    w = math.sqrt(1.0 - _E2 * math.sin(phi) ** 2)
    prime_vertical = _A / w
    meridional = _A * (1.0 - _E2) / w**3
    return math.radians(1.0) * prime_vertical * math.cos(phi), math.radians(1.0) * meridional


# Latitude slack for the bounds below: a geodesic between two points of a box bulges
# poleward of the straight lon/lat line by well under 0.01° at the 50 km radius's scale.
_BOUND_SLACK_DEG = 0.05


def _metres_per_degree(phi_deg: float) -> tuple[float, float]:
    """(east-west metres per degree of longitude, north-south metres per degree of
    latitude) at latitude ``phi_deg`` on the WGS-84 ellipsoid."""
    phi = math.radians(phi_deg)
    w = math.sqrt(1.0 - _E2 * math.sin(phi) ** 2)
    per_rad = math.pi / 180.0
    return _A * math.cos(phi) / w * per_rad, _A * (1.0 - _E2) / w**3 * per_rad


def flat_bounds(min_lat: float, max_lat: float) -> tuple[float, float, float, float]:
    """Scales (kx_low, ky_low, kx_high, ky_high), metres per degree, such that for any two
    points with latitudes in [min_lat, max_lat] (and less than 90° of longitude apart)

        hypot(kx_low·Δlon, ky_low·Δlat) ≤ geodesic distance ≤ hypot(kx_high·Δlon, ky_high·Δlat).

    Why: along any path ds² = M(φ)²dφ² + (N(φ)cos φ)²dλ². With M and N·cos φ bounded below
    over the band (widened by a slack the geodesic's bulge stays within) every path, the
    geodesic included, is at least the flat distance with the low scales; with them
    bounded above, the straight lon/lat segment (which stays in the band) is at most the
    flat distance with the high scales, and the geodesic is no longer than that segment.
    N·cos φ falls and M rises with |φ|. A database can compare the flat distances with
    plain arithmetic; only the points between the two need the exact geodesic.
    """
    lo = max(-90.0, min_lat - _BOUND_SLACK_DEG)
    hi = min(90.0, max_lat + _BOUND_SLACK_DEG)
    near = 0.0 if lo <= 0.0 <= hi else min(abs(lo), abs(hi))  # nearest the equator
    far = max(abs(lo), abs(hi))
    kx_far, ky_far = _metres_per_degree(far)
    kx_near, ky_near = _metres_per_degree(near)
    return kx_far, ky_near, kx_near, ky_far


class NearestWithin(NamedTuple):
    """``within_radius`` limited to the nearest few, with the count of every point inside."""

    total: int  # points within the radius
    nearest: Nearby  # at most ``limit`` of them, nearest first, ties in index order


# Relative rounding allowance of the flat bounds' squared comparisons: the lower bound's
# tests err wide (more points measured), the surely-inside test narrow.
_ROUNDING = 1e-9


def nearest_within(
    center: tuple[float, float],
    points_lon: npt.ArrayLike,
    points_lat: npt.ArrayLike,
    radius_m: float,
    limit: int,
    *,
    margin: int = 10,
) -> NearestWithin:
    """The same answer as ``within_radius(center, lons, lats, radius_m, limit=limit)``, and
    how many points lie within the radius, with the exact geodesic measured only where
    the flat bounds (``flat_bounds``) cannot decide.

    Why: a 300 m circle in a dense district holds thousands of points, and the geodesic
    (Karney, ~1 µs a point) of every one of them was most of a nearby request's CPU. The
    flat bounds are a few array operations: a point whose high bound is within the radius
    is surely inside (counted unmeasured), one whose low bound is past it surely outside.
    Only the thin band between the two and the nearest ``limit + margin`` by low bound
    are measured; then every point whose low bound does not exceed the ``limit``-th
    exact distance found (it might still rank among the nearest), so the answer is exact
    whatever the bounds' looseness.
    """
    _check_radius(radius_m)
    if limit < 0:
        raise ValueError(f"limit {limit} must be ≥ 0")
    lon0, lat0 = center
    lons = np.asarray(points_lon, dtype=np.float64)
    lats = np.asarray(points_lat, dtype=np.float64)
    if lons.shape != lats.shape or lons.ndim != 1:
        raise ValueError("points_lon and points_lat must be 1-D arrays of the same length")
    min_lon, min_lat, max_lon, max_lat = bbox_around(lon0, lat0, radius_m)
    boxed = np.flatnonzero(
        (lons >= min_lon) & (lons <= max_lon) & (lats >= min_lat) & (lats <= max_lat)
    )
    kx_low, ky_low, kx_high, ky_high = flat_bounds(min_lat, max_lat)
    dlon, dlat = lons[boxed] - lon0, lats[boxed] - lat0
    low2 = (kx_low * dlon) ** 2 + (ky_low * dlat) ** 2
    r2 = radius_m * radius_m
    kept = low2 <= r2 * (1 + _ROUNDING)
    candidates, low2, dlon, dlat = boxed[kept], low2[kept], dlon[kept], dlat[kept]
    high2 = (kx_high * dlon) ** 2 + (ky_high * dlat) ** 2
    band = high2 > r2 * (1 - _ROUNDING)  # not surely inside: measured
    exact = np.full(candidates.size, np.nan)

    def measure(wanted: npt.NDArray[np.bool_]) -> None:
        todo = np.flatnonzero(wanted & np.isnan(exact))
        if todo.size:
            at = candidates[todo]
            exact[todo] = geodesic_distance_m(lon0, lat0, lons[at], lats[at])

    measure(band)
    total = int(np.count_nonzero(~band) + np.count_nonzero(exact[band] <= radius_m))
    if limit and candidates.size:
        first = np.zeros(candidates.size, dtype=bool)
        if candidates.size <= limit + margin:
            first[:] = True
        else:
            first[np.argpartition(low2, limit + margin - 1)[: limit + margin]] = True
        measure(first)
        found = exact[~np.isnan(exact) & (exact <= radius_m)]
        reach = radius_m
        if found.size >= limit:
            reach = float(np.partition(found, limit - 1)[limit - 1])
        # No unmeasured point can be nearer than its low bound: those past ``reach`` rank
        # after the limit-th already found (ties included: equal means measured).
        measure(low2 <= reach * reach * (1 + _ROUNDING))
    inside = ~np.isnan(exact) & (exact <= radius_m)
    indices, distances = candidates[inside], exact[inside]
    order = np.lexsort((indices, distances))[:limit]
    return NearestWithin(total, Nearby(indices[order], distances[order]))
