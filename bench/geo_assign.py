"""Bulk point-in-area assignment beside its floor, measured in the same run.

    .venv/bin/python -m bench.geo_assign [--points 1000000] [--areas 2000] [--repeat 3]

Synthetic: ``--areas`` random small polygons (≈ 100 m - 2 km across) over the Xiangyang
box and ``--points`` uniformly random points over the same box (fixed seed). Times:
  (a) the bare floor: ``STRtree(polygons).query(points, predicate=EDGE_RULE)`` on
      shapely points built beforehand;
  (b) building those shapely points with ``shapely.points(lons, lats)``;
  (c) ``geo.assign.assign_points(lons, lats, areas)`` from the coordinate arrays, which is
      what a reassignment of the whole register runs;
  (d) for reference, the textbook path (b) + (a) + sorting the pairs.
Each figure is the median of ``--repeat`` runs. The target: (c) / (a) ≤ 2. The pairs
from (c) are checked against (a).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely

from bench.harness import machine
from geo.areas import Area
from geo.assign import EDGE_RULE, assign_points

CITY_BOX = (110.75, 31.25, 113.10, 32.62)
TARGET_RATIO = 2.0


def synthetic(
    n_points: int, n_areas: int, seed: int = 420600
) -> tuple[np.ndarray, np.ndarray, list[Area]]:
    rng = np.random.default_rng(seed)
    min_lon, min_lat, max_lon, max_lat = CITY_BOX
    centres = shapely.points(
        rng.uniform(min_lon, max_lon, n_areas), rng.uniform(min_lat, max_lat, n_areas)
    )
    polygons = shapely.buffer(centres, rng.uniform(0.0005, 0.01, n_areas), quad_segs=4)
    areas = [Area(kind="old_residential", name=f"{i}", geometry=g) for i, g in enumerate(polygons)]
    lons = rng.uniform(min_lon, max_lon, n_points)
    lats = rng.uniform(min_lat, max_lat, n_points)
    return lons, lats, areas


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    seconds = []
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--areas", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    lons, lats, areas = synthetic(args.points, args.areas)
    polygons = np.array([a.geometry for a in areas])
    print(f"machine: {machine()}")
    print(f"{args.points:,} points, {args.areas:,} polygons, predicate {EDGE_RULE!r}")
    print(f"each time the median of {args.repeat} runs")

    points = shapely.points(lons, lats)  # warm-up and the input of (a)
    tree = shapely.STRtree(polygons)
    tree.query(points[:1000], predicate=EDGE_RULE)

    floor_s, floor_pairs = timed(lambda: tree.query(points, predicate=EDGE_RULE), args.repeat)
    points_s, _ = timed(lambda: shapely.points(lons, lats), args.repeat)
    ours_s, (point_index, area_index) = timed(lambda: assign_points(lons, lats, areas), args.repeat)

    def textbook() -> np.ndarray:
        found = shapely.STRtree(polygons).query(shapely.points(lons, lats), predicate=EDGE_RULE)
        return found[:, np.lexsort((found[1], found[0]))]

    textbook_s, _ = timed(textbook, args.repeat)

    order = np.lexsort((floor_pairs[1], floor_pairs[0]))
    same = np.array_equal(point_index, floor_pairs[0][order]) and np.array_equal(
        area_index, floor_pairs[1][order]
    )
    ratio = ours_s / floor_s
    n_pairs = floor_pairs.shape[1]
    print(f"(a) STRtree.query on pre-built points   {floor_s:8.3f} s  ({n_pairs:,} pairs)")
    print(f"(b) shapely.points(lons, lats)          {points_s:8.3f} s")
    print(f"(c) assign_points(lons, lats, areas)    {ours_s:8.3f} s  ({point_index.size:,} pairs)")
    print(f"(d) textbook: points + tree + query + sort {textbook_s:5.3f} s")
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    print(f"(c)/(a) = {ratio:.2f}  target ≤ {TARGET_RATIO:.0f}: {verdict}")
    print(f"pairs identical to (a): {same}")
    if not same:
        raise SystemExit("assign_points disagrees with STRtree.query")


if __name__ == "__main__":
    main()
