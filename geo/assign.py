"""Which areas contain which points: bulk assignment, polygon and box queries, clusters.

Edge rule — a point ON an area's boundary belongs to the area (the "intersects"
predicate; for a point and a polygon that is the same as "covered by"). A lift whose
recorded position lies exactly on the line between two communities is counted in both
rather than lost from both; the boundary of a hole is the area's boundary too, so a
point on a hole's ring is inside the area and only a point strictly inside the hole is
outside. A caller that needs one area per kind (e.g. a district for statistics) picks
one with ``first_area``, deterministically the lowest area index.

Bulk assignment is vectorised and creates no shapely point per unit. Creating 10^6
shapely points costs more than the whole ``STRtree.query`` that would use them (≈ 0.37 s
against ≈ 0.21 s on the reference machine, see STYLE.md), so the points are bucketed
into a numpy grid instead: each area's bounding box selects whole contiguous runs of
grid-sorted points, a numpy box test trims them, and ``shapely.intersects_xy`` on the
prepared area geometries decides the rest straight from the coordinates. The result is
identical to ``STRtree(areas).query(points, predicate="intersects")`` (tested), and
``bench/geo_assign.py`` measures both. Units without a location (NaN) are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely import MultiPolygon, Polygon

from geo.areas import Area, point_feature

EDGE_RULE = "intersects"  # a point on the boundary is inside; see the module docstring

IndexArray = npt.NDArray[np.intp]
BBox = tuple[float, float, float, float]  # (min_lon, min_lat, max_lon, max_lat)

# The bucket grid has at most this many cells along an axis (ids stay below 2^25).
_MAX_GRID_SIDE = 4096
# Candidate (point, area) pairs handled per step, to bound memory when big areas (whole
# districts) each cover most of the points.
_CANDIDATES_PER_STEP = 4_000_000


def _coordinates(lons: npt.ArrayLike, lats: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(lons, dtype=np.float64)
    y = np.asarray(lats, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError("lons and lats must be 1-D arrays of the same length")
    return x, y


def _empty_pairs() -> tuple[IndexArray, IndexArray]:
    return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)


def contained_pairs(
    lons: npt.ArrayLike, lats: npt.ArrayLike, geometries: Sequence[shapely.Geometry] | np.ndarray
) -> tuple[IndexArray, IndexArray]:
    """All (point index, geometry index) pairs with the point in or on the geometry,
    sorted by point then geometry. NaN points match nothing. Prepares the geometries."""
    x, y = _coordinates(lons, lats)
    geoms = np.asarray(geometries, dtype=object)
    if x.size == 0 or geoms.size == 0:
        return _empty_pairs()
    shapely.prepare(geoms)
    bounds = shapely.bounds(geoms)  # (m, 4); NaN for empty geometries
    has_extent = np.all(np.isfinite(bounds), axis=1)
    if not has_extent.any():
        return _empty_pairs()
    x0, y0 = bounds[has_extent, 0].min(), bounds[has_extent, 1].min()
    x1, y1 = bounds[has_extent, 2].max(), bounds[has_extent, 3].max()

    # Points that can be in some area (NaN compares False, so it goes here too).
    kept = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
    if kept.size == 0:
        return _empty_pairs()
    px, py = x[kept], y[kept]

    # Grid cells about half a typical area wide: an area's box then spans a few cells,
    # so few points outside its box become candidates.
    extents = np.maximum(
        bounds[has_extent, 2] - bounds[has_extent, 0], bounds[has_extent, 3] - bounds[has_extent, 1]
    )
    cell = max(
        float(np.median(extents)) / 2.0,
        (x1 - x0) / _MAX_GRID_SIDE,
        (y1 - y0) / _MAX_GRID_SIDE,
        1e-12,
    )
    nx = int((x1 - x0) / cell) + 1
    point_col = np.floor((px - x0) / cell).astype(np.int64)
    point_row = np.floor((py - y0) / cell).astype(np.int64)
    cells = point_row * nx + point_col
    order = np.argsort(cells)  # quicksort: 4x a stable sort here; pairs are sorted at the end
    sorted_cells = cells[order]

    # One (area, grid row) pair per row an area's box spans; within a row, the points of
    # the box's columns are one contiguous run of ``order``. (floor is monotone, so a
    # point inside the box always lands in the box's cells, edges included.)
    areas = np.flatnonzero(has_extent)
    b = bounds[areas]
    col0 = np.floor((b[:, 0] - x0) / cell).astype(np.int64)
    col1 = np.floor((b[:, 2] - x0) / cell).astype(np.int64)
    row0 = np.floor((b[:, 1] - y0) / cell).astype(np.int64)
    rows = np.floor((b[:, 3] - y0) / cell).astype(np.int64) - row0 + 1
    pair_area = np.repeat(np.arange(areas.size), rows)
    pair_row = row0[pair_area] + _ranks(rows)
    starts = np.searchsorted(sorted_cells, pair_row * nx + col0[pair_area], side="left")
    ends = np.searchsorted(sorted_cells, pair_row * nx + col1[pair_area], side="right")
    lengths = ends - starts

    found_points: list[np.ndarray] = []
    found_areas: list[np.ndarray] = []
    cumulative = np.cumsum(lengths)
    step_ends = np.searchsorted(
        cumulative,
        np.arange(_CANDIDATES_PER_STEP, cumulative[-1], _CANDIDATES_PER_STEP),
        side="right",
    )
    for lo, hi in zip((0, *step_ends), (*step_ends, lengths.size), strict=True):
        if hi <= lo:
            continue
        n = lengths[lo:hi]
        cand_area = np.repeat(pair_area[lo:hi], n)
        cand = order[np.repeat(starts[lo:hi], n) + _ranks(n)]
        cx, cy = px[cand], py[cand]
        bb = b[cand_area]
        in_box = (cx >= bb[:, 0]) & (cx <= bb[:, 2]) & (cy >= bb[:, 1]) & (cy <= bb[:, 3])
        cand, cand_area, cx, cy = cand[in_box], cand_area[in_box], cx[in_box], cy[in_box]
        hit = shapely.intersects_xy(geoms[areas[cand_area]], cx, cy)
        found_points.append(kept[cand[hit]])
        found_areas.append(areas[cand_area[hit]])
    if not found_points:
        return _empty_pairs()
    point_index = np.concatenate(found_points).astype(np.intp, copy=False)
    area_index = np.concatenate(found_areas).astype(np.intp, copy=False)
    by_point = np.lexsort((area_index, point_index))
    return point_index[by_point], area_index[by_point]


def _ranks(lengths: np.ndarray) -> np.ndarray:
    """0..n-1 for each n in ``lengths``, concatenated: [2, 3] → [0, 1, 0, 1, 2]."""
    total = int(lengths.sum())
    firsts = np.cumsum(lengths) - lengths
    ranks: np.ndarray = np.arange(total, dtype=np.int64) - np.repeat(firsts, lengths)
    return ranks


def assign_points(
    lons: npt.ArrayLike, lats: npt.ArrayLike, areas: Sequence[Area]
) -> tuple[IndexArray, IndexArray]:
    """Every (point index, area index) pair with the point in or on the area (EDGE_RULE),
    sorted by point then area; a point in nested areas (district ⊃ street ⊃ community)
    appears once per area. Points with NaN coordinates are skipped."""
    return contained_pairs(lons, lats, [area.geometry for area in areas])


def first_area(point_index: np.ndarray, area_index: np.ndarray, n_points: int) -> IndexArray:
    """One area per point from ``assign_points`` pairs: the lowest area index, or -1."""
    chosen = np.full(n_points, np.iinfo(np.intp).max, dtype=np.intp)
    np.minimum.at(chosen, point_index, area_index)
    chosen[chosen == np.iinfo(np.intp).max] = -1
    return chosen


def units_in_polygon(
    lons: npt.ArrayLike, lats: npt.ArrayLike, polygon: Polygon | MultiPolygon
) -> IndexArray:
    """Indices of the points in or on ``polygon`` (a caller-sent WGS-84 shape), ascending.

    A numpy box test, then ``shapely.intersects_xy`` against the prepared polygon on the
    survivors only; no point geometry is created.
    """
    x, y = _coordinates(lons, lats)
    if not isinstance(polygon, Polygon | MultiPolygon):
        raise TypeError(f"expected a Polygon or MultiPolygon, not {type(polygon).__name__}")
    if polygon.is_empty:
        return np.empty(0, dtype=np.intp)
    min_x, min_y, max_x, max_y = polygon.bounds
    candidates = np.flatnonzero((x >= min_x) & (x <= max_x) & (y >= min_y) & (y <= max_y))
    shapely.prepare(polygon)
    inside: np.ndarray = candidates[shapely.intersects_xy(polygon, x[candidates], y[candidates])]
    return inside


def _check_bbox(bbox: BBox) -> BBox:
    min_lon, min_lat, max_lon, max_lat = (float(v) for v in bbox)
    if not all(math.isfinite(v) for v in (min_lon, min_lat, max_lon, max_lat)):
        raise ValueError(f"bbox {bbox!r} has a non-finite value")
    if min_lon > max_lon or min_lat > max_lat:
        raise ValueError(f"bbox {bbox!r} must be (min_lon, min_lat, max_lon, max_lat)")
    return min_lon, min_lat, max_lon, max_lat


def points_in_bbox(lons: npt.ArrayLike, lats: npt.ArrayLike, bbox: BBox) -> IndexArray:
    """Indices of the points inside the box (edges included), ascending."""
    x, y = _coordinates(lons, lats)
    min_lon, min_lat, max_lon, max_lat = _check_bbox(bbox)
    return np.flatnonzero((x >= min_lon) & (x <= max_lon) & (y >= min_lat) & (y <= max_lat))


@dataclass(frozen=True, slots=True)
class Cluster:
    """``count`` points around (lon, lat), their mean; ``bbox`` is their own extent and
    ``member`` the lowest index among them (the unit itself when count is 1)."""

    lon: float
    lat: float
    count: int
    bbox: BBox
    member: int

    def feature(self) -> dict[str, Any]:
        feature = point_feature(self.lon, self.lat, {"cluster": True, "count": self.count})
        feature["bbox"] = list(self.bbox)
        return feature


@dataclass(frozen=True, slots=True, eq=False)
class BBoxView:
    """What a map shows for a box: the points themselves when there are at most
    ``max_points``, otherwise grid clusters (never more than ``max_points`` of them)."""

    total: int
    indices: IndexArray  # the points, when not clustered; else empty
    clusters: tuple[Cluster, ...]  # when clustered; else empty
    cell_deg: float | None  # grid cell size in degrees, when clustered

    @property
    def clustered(self) -> bool:
        return self.cell_deg is not None


def _grid_cell(bbox: BBox, max_cells: int) -> float | None:
    """The smallest power-of-two cell size (degrees) whose grid, aligned to 0°, covers the
    box with at most ``max_cells`` cells. Aligned sizes keep clusters still while the map
    pans and nest when it zooms."""
    min_lon, min_lat, max_lon, max_lat = bbox
    for exponent in range(-30, 10):
        size = 2.0**exponent
        cols = math.floor(max_lon / size) - math.floor(min_lon / size) + 1
        rows = math.floor(max_lat / size) - math.floor(min_lat / size) + 1
        if cols * rows <= max_cells:
            return size
    return None  # a box straddling 0° with max_cells < 4: one cluster


def cluster_bbox(lons: npt.ArrayLike, lats: npt.ArrayLike, bbox: BBox, max_points: int) -> BBoxView:
    """The points inside ``bbox``; if more than ``max_points``, grid clusters instead.

    Vectorised: a cell id per point, one stable sort, then ``reduceat`` for counts, means
    and extents. The counts add up to ``total``.
    """
    if max_points < 1:
        raise ValueError(f"max_points {max_points} must be ≥ 1")
    x, y = _coordinates(lons, lats)
    box = _check_bbox(bbox)
    inside = points_in_bbox(x, y, box)
    if inside.size <= max_points:
        return BBoxView(int(inside.size), inside, (), None)

    px, py = x[inside], y[inside]
    cell = _grid_cell(box, max_points)
    if cell is None:
        ids = np.zeros(inside.size, dtype=np.int64)
        cell = math.inf
    else:
        col = np.floor(px / cell).astype(np.int64)
        row = np.floor(py / cell).astype(np.int64)
        col -= col.min()
        ids = (row - row.min()) * (int(col.max()) + 1) + col
    order = np.argsort(ids)
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    counts = np.diff(np.r_[starts, sorted_ids.size])
    sx, sy = px[order], py[order]
    mean_x = np.add.reduceat(sx, starts) / counts
    mean_y = np.add.reduceat(sy, starts) / counts
    min_x, max_x = np.minimum.reduceat(sx, starts), np.maximum.reduceat(sx, starts)
    min_y, max_y = np.minimum.reduceat(sy, starts), np.maximum.reduceat(sy, starts)
    members = np.minimum.reduceat(inside[order], starts)
    clusters = tuple(
        Cluster(float(a), float(b), int(n), (float(c), float(d), float(e), float(f)), int(m))
        for a, b, n, c, d, e, f, m in zip(
            mean_x, mean_y, counts, min_x, min_y, max_x, max_y, members, strict=True
        )
    )
    return BBoxView(int(inside.size), np.empty(0, dtype=np.intp), clusters, cell)
