"""Coordinate checks in WGS-84 (what the register stores)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

# A box around the People's Republic's land territory: anything outside is a typo or a
# swapped longitude/latitude, both common in hand-kept registers.
CHINA_LON = (73.4, 135.1)
CHINA_LAT = (3.8, 53.6)


class CoordinateError(ValueError):
    def __init__(self, reason: str, field: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def check_wgs84_in_china(longitude: float, latitude: float) -> None:
    swapped = CHINA_LAT[0] <= longitude <= CHINA_LAT[1] and CHINA_LON[0] <= latitude <= CHINA_LON[1]
    for name, value, (low, high) in (
        ("longitude", longitude, CHINA_LON),
        ("latitude", latitude, CHINA_LAT),
    ):
        if not math.isfinite(value) or not low <= value <= high:
            hint = " (longitude and latitude swapped?)" if swapped else ""
            raise CoordinateError(f"{name} {value} is outside China ({low}..{high}){hint}", name)


def outside_china(longitudes: npt.ArrayLike, latitudes: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Vectorised ``check_wgs84_in_china``: True where a point is outside the box or not
    finite. Call ``check_wgs84_in_china`` on a flagged point for the reason."""
    lon = np.asarray(longitudes, dtype=np.float64)
    lat = np.asarray(latitudes, dtype=np.float64)
    inside = (
        (lon >= CHINA_LON[0])
        & (lon <= CHINA_LON[1])
        & (lat >= CHINA_LAT[0])
        & (lat <= CHINA_LAT[1])
    )
    return ~inside
