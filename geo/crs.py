"""WGS-84 ⇄ GCJ-02 ⇄ BD-09, the three coordinate systems a Chinese register meets.

WGS-84 is what GPS receivers report and what sereg stores. GCJ-02 ("Mars coordinates")
is the obfuscated system every map licensed in China must display (AMap/Gaode, Tencent,
Google China); BD-09 is Baidu Maps' further offset of GCJ-02. A coordinate picked on
one of those maps is off by several hundred metres if read as WGS-84.

There is no official specification of GCJ-02. The forward transform below is the
widely published reverse-engineered algorithm (Krasovsky 1940 ellipsoid, the
``transformlat``/``transformlon`` polynomials, and the rectangular "out of China"
box, as in eviltransform and coordtransform) that every open-source converter uses; it
matches the providers' own conversion to well under a metre. GCJ-02 has no closed-form
inverse, so WGS-84 is recovered by fixed-point iteration of the forward transform,
converging below 1e-9 degrees (≈ 0.1 mm). BD-09 ⇄ GCJ-02 use the standard
x_pi = π·3000/180 formulas published with Baidu's own conversion.

Every function works on numpy arrays (vectorised, NaN in → NaN out) and on scalars.
"""

from __future__ import annotations

from typing import Literal, TypeGuard, get_args

import numpy as np
import numpy.typing as npt

from geo.coords import CoordinateError

Crs = Literal["wgs84", "gcj02", "bd09"]
CRS_NAMES: tuple[str, ...] = get_args(Crs)

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]

# Krasovsky 1940 ellipsoid, as used by the published GCJ-02 algorithm.
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
# BD-09's constant.
_X_PI = np.pi * 3000.0 / 180.0

# The published algorithm's own box: outside it GCJ-02 equals WGS-84. (This is the
# converters' rectangle, not geo.coords' plausibility box for the register.)
GCJ02_BOX_LON = (73.66, 135.05)
GCJ02_BOX_LAT = (3.86, 53.55)

# Fixed-point inverse: the offset's derivative is below 0.01 per degree, so each step
# gains more than two digits; five steps reach ~1e-12 degrees from a ~0.006° start.
_INVERSE_TOLERANCE_DEG = 1e-9
_INVERSE_MAX_ITERATIONS = 10


def _is_crs(crs: str) -> TypeGuard[Crs]:
    return crs in CRS_NAMES


def check_crs(crs: str) -> Crs:
    """The crs name, or CoordinateError(field="crs") for an unknown one."""
    if not _is_crs(crs):
        raise CoordinateError(f"unknown crs {crs!r}; expected one of {', '.join(CRS_NAMES)}", "crs")
    return crs


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> npt.NDArray[np.bool_]:
    """True where the GCJ-02 algorithm leaves a coordinate unchanged (NaN counts as out)."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    inside = (
        (lon > GCJ02_BOX_LON[0])
        & (lon < GCJ02_BOX_LON[1])
        & (lat > GCJ02_BOX_LAT[0])
        & (lat < GCJ02_BOX_LAT[1])
    )
    return ~inside


def _transform_lat(x: FloatArray, y: FloatArray) -> FloatArray:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: FloatArray, y: FloatArray) -> FloatArray:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _gcj02_offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(dlon, dlat) in degrees that GCJ-02 adds to a WGS-84 coordinate inside the box."""
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _KRASOVSKY_EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_KRASOVSKY_A / sqrtmagic * np.cos(radlat) * np.pi)
    outside = out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    dlon, dlat = _gcj02_offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Iterate w ← w − (gcj(w) − g) from w = g until every step is below 1e-9 degrees."""
    g_lon = np.asarray(lon, dtype=np.float64)
    g_lat = np.asarray(lat, dtype=np.float64)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(_INVERSE_MAX_ITERATIONS):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        step_lon, step_lat = f_lon - g_lon, f_lat - g_lat
        w_lon = w_lon - step_lon
        w_lat = w_lat - step_lat
        step = np.fmax(np.abs(step_lon), np.abs(step_lat))  # fmax: NaN never blocks the end
        if not np.any(step > _INVERSE_TOLERANCE_DEG):
            break
    return w_lon, w_lat


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(lon, dtype=np.float64) - 0.0065
    y = np.asarray(lat, dtype=np.float64) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def to_wgs84_arrays(lon: ArrayLike, lat: ArrayLike, crs: Crs) -> tuple[FloatArray, FloatArray]:
    """Coordinates given in ``crs`` as WGS-84 (vectorised)."""
    crs = check_crs(crs)
    if crs == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if crs == "bd09":
        return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def from_wgs84_arrays(lon: ArrayLike, lat: ArrayLike, crs: Crs) -> tuple[FloatArray, FloatArray]:
    """WGS-84 coordinates expressed in ``crs`` (vectorised)."""
    crs = check_crs(crs)
    if crs == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if crs == "bd09":
        return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def to_wgs84(lon: float, lat: float, crs: Crs = "wgs84") -> tuple[float, float]:
    """One coordinate given in ``crs`` as WGS-84 (lon, lat)."""
    x, y = to_wgs84_arrays(lon, lat, crs)
    return float(x), float(y)


def from_wgs84(lon: float, lat: float, crs: Crs = "wgs84") -> tuple[float, float]:
    """One WGS-84 coordinate expressed in ``crs`` (lon, lat)."""
    x, y = from_wgs84_arrays(lon, lat, crs)
    return float(x), float(y)
