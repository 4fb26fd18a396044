"""Coordinate checks in WGS-84 (what the register stores)."""

from __future__ import annotations

import math

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
