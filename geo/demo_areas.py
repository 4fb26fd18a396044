"""Synthetic but plausible areas for the demo city, Xiangyang (襄阳, 420600).

Nothing here is surveyed. The nine districts and counties are the Voronoi cells of their
approximate seats, clipped to a rough outline of the prefecture: non-overlapping simple
polygons that tile the outline (the three urban districts sit close together, so their
cells are small, ~600-2,100 km², like the real ones). About two hundred old residential
areas (老旧小区), 100-400 m across, lie mostly in the urban districts: some with a hole
(a courtyard or a school that is not part of the 小区), a few in two parts. Each lies
wholly inside its district and overlaps no other. The same seed gives the same areas.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely import MultiPoint, MultiPolygon, Point, Polygon

from geo.areas import Area
from geo.distance import metres_per_degree

# (code, name, seat lon, seat lat)
DISTRICTS: tuple[tuple[str, str, float, float], ...] = (
    ("420602", "襄城区", 112.134, 32.010),
    ("420606", "樊城区", 112.135, 32.045),
    ("420607", "襄州区", 112.212, 32.087),
    ("420624", "南漳县", 111.839, 31.774),
    ("420625", "谷城县", 111.653, 32.263),
    ("420626", "保康县", 111.262, 31.879),
    ("420682", "老河口市", 111.676, 32.385),
    ("420683", "枣阳市", 112.772, 32.129),
    ("420684", "宜城市", 112.258, 31.719),
)

# A rough outline of the prefecture (lon, lat), about 110.75-113.10 E, 31.25-32.62 N.
CITY_OUTLINE = Polygon(
    [
        (111.50, 32.62), (111.90, 32.55), (112.40, 32.45), (112.80, 32.45), (113.10, 32.30),
        (113.05, 31.95), (112.75, 31.80), (112.50, 31.55), (112.25, 31.35), (111.90, 31.25),
        (111.45, 31.30), (110.95, 31.45), (110.75, 31.75), (110.85, 32.05), (111.15, 32.25),
        (111.40, 32.45), (111.50, 32.62),
    ]
)  # fmt: skip

# How many old residential areas go to each district, as shares of the total, and how
# far (metres, one standard deviation) they spread around the seat.
_SHARE = {
    "420602": 0.25, "420606": 0.33, "420607": 0.20, "420624": 0.03, "420625": 0.04,
    "420626": 0.02, "420682": 0.05, "420683": 0.05, "420684": 0.03,
}  # fmt: skip
_URBAN = {"420602", "420606", "420607"}
_SPREAD_URBAN_M = 2_500.0
_SPREAD_COUNTY_M = 1_200.0

_PLACES = (
    "汉江", "岘山", "隆中", "檀溪", "鹿门", "米公", "春园", "清河", "长虹", "人民路",
    "中原路", "长征路", "丹江路", "建设路", "解放路", "胜利街", "友谊路", "前进路", "大庆路",
    "航空路", "炮铺街", "荆州街", "北街", "南街", "东津", "古城", "卧龙", "张湾", "屏襄门",
    "铁佛寺",
)  # fmt: skip
_WORK_UNITS = (
    "纺织厂", "机床厂", "轴承厂", "汽车配件厂", "化纤厂", "棉纺厂", "铁路", "邮电", "粮食局",
    "供电局", "教育局", "卫生局", "自来水公司", "建筑公司", "电机厂", "农机厂", "印染厂",
    "制药厂", "食品厂", "运输公司", "物资局", "商业局", "电厂", "水泥厂", "造纸厂",
)  # fmt: skip

_HOLE_SHARE = 0.08
_TWO_PART_SHARE = 0.03
_RENOVATED_SHARE = 0.6
_DIGITS = 7  # ≈ 1 cm; rounding happens before every containment check


def demo_districts() -> list[Area]:
    """The nine districts/counties: Voronoi cells of the seats clipped to the outline."""
    seats = MultiPoint([(lon, lat) for _, _, lon, lat in DISTRICTS])
    cells = list(shapely.voronoi_polygons(seats, extend_to=CITY_OUTLINE).geoms)
    districts = []
    for code, name, lon, lat in DISTRICTS:
        seat = Point(lon, lat)
        (cell,) = [c for c in cells if c.contains(seat)]
        shape = shapely.set_precision(cell.intersection(CITY_OUTLINE), 10.0**-_DIGITS)
        assert isinstance(shape, Polygon) and shape.is_valid, name
        districts.append(Area(kind="district", name=name, geometry=shape, key=code, code=code))
    return districts


def _star(
    rng: np.random.Generator,
    lon: float,
    lat: float,
    radius_m: float,
    radius_range: tuple[float, float] = (0.75, 1.0),
) -> np.ndarray:
    """A simple star-shaped ring around (lon, lat): 5-9 vertices at jittered, evenly
    spread angles, so no edge comes nearer the centre than 0.4 × radius."""
    n = int(rng.integers(5, 10))
    step = 2 * math.pi / n
    angles = rng.uniform(0, 2 * math.pi) + step * (np.arange(n) + rng.uniform(-0.3, 0.3, n))
    radii = radius_m * rng.uniform(*radius_range, n)
    per_lon, per_lat = metres_per_degree(lat)
    ring = np.column_stack(
        (lon + radii * np.cos(angles) / per_lon, lat + radii * np.sin(angles) / per_lat)
    )
    return np.round(np.vstack((ring, ring[:1])), _DIGITS)


def _old_residential_shape(
    rng: np.random.Generator, lon: float, lat: float
) -> Polygon | MultiPolygon:
    radius = rng.uniform(50.0, 200.0)  # 100-400 m across
    roll = rng.uniform()
    if roll < _TWO_PART_SHARE:
        per_lon, per_lat = metres_per_degree(lat)
        angle = rng.uniform(0, 2 * math.pi)
        dx, dy = (
            0.55 * radius * math.cos(angle) / per_lon,
            0.55 * radius * math.sin(angle) / per_lat,
        )
        parts = [Polygon(_star(rng, lon + s * dx, lat + s * dy, 0.45 * radius)) for s in (-1, 1)]
        return MultiPolygon(parts)
    shell = _star(rng, lon, lat, radius)
    if roll < _TWO_PART_SHARE + _HOLE_SHARE:
        return Polygon(shell, [_star(rng, lon, lat, 0.25 * radius, (0.7, 1.0))])
    return Polygon(shell)


def demo_areas(seed: int = 420600, old_residential: int = 200) -> list[Area]:
    """The nine districts, then ``old_residential`` old residential areas."""
    rng = np.random.default_rng(seed)
    districts = demo_districts()
    counts = {code: math.floor(share * old_residential) for code, share in _SHARE.items()}
    for code in sorted(_URBAN, key=lambda c: -_SHARE[c])[: old_residential - sum(counts.values())]:
        counts[code] += 1
    names = [p + w for p in _PLACES for w in _WORK_UNITS]
    name_order = rng.permutation(len(names))

    areas: list[Area] = []
    placed: list[Polygon | MultiPolygon] = []
    for district, (code, _, seat_lon, seat_lat) in zip(districts, DISTRICTS, strict=True):
        spread = _SPREAD_URBAN_M if code in _URBAN else _SPREAD_COUNTY_M
        per_lon, per_lat = metres_per_degree(seat_lat)
        shapely.prepare(district.geometry)
        for number in range(1, counts[code] + 1):
            for _attempt in range(1000):
                lon = seat_lon + rng.normal(0.0, spread) / per_lon
                lat = seat_lat + rng.normal(0.0, spread) / per_lat
                shape = _old_residential_shape(rng, lon, lat)
                if (
                    shape.is_valid
                    and district.geometry.contains(shape)
                    and not (placed and shapely.intersects(shape, np.array(placed)).any())
                ):
                    break
            else:  # pragma: no cover - a seed that cannot place an area is a bug here
                raise RuntimeError(f"could not place old residential area {number} in {code}")
            placed.append(shape)
            year_built = int(rng.integers(1980, 2001))
            area_m2 = shape.area * per_lon * per_lat
            households = int(np.clip(area_m2 * rng.uniform(0.008, 0.02), 24, 1500))
            renovation_year = programme = None
            if rng.uniform() < _RENOVATED_SHARE:
                renovation_year = int(rng.integers(2019, 2025))
                programme = f"{renovation_year}年城镇老旧小区改造计划"
            area_code = f"{code}LJ{number:03d}"
            areas.append(
                Area(
                    kind="old_residential",
                    name=f"{names[name_order[len(areas)]]}小区",
                    geometry=shape,
                    key=area_code,
                    code=area_code,
                    year_built=year_built,
                    households=households,
                    renovation_programme=programme,
                    renovation_year=renovation_year,
                )
            )
    return [*districts, *areas]
