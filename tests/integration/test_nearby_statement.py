"""Nearby reads the box's units in one statement and decides with flat distance bounds,
measuring the exact geodesic only where they cannot tell (geo.distance.nearest_within); it
must answer exactly what measuring every unit of the register answers, on random centres,
radii and limits, with and without a margin past the limit (with none, the limit-th
distance is found in a second pass). On PostgreSQL the box is read through the latitude
cells of the location index."""

from __future__ import annotations

import random

import numpy as np
import pytest

from equipment.demo.load import load_demo_city
from equipment.domain.access import SYSTEM
from equipment.services import clock, spatial
from equipment.storage.tables import Equipment
from geo.distance import within_radius
from tests import factories as f

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("margin", [spatial.NEAREST_MARGIN, 0])
async def test_nearby_equals_the_whole_box_decided_in_python(engine, monkeypatch, margin) -> None:
    await load_demo_city(seed=11, units=500, today=f.today(), now=clock.now(), show_progress=False)
    monkeypatch.setattr(spatial, "NEAREST_MARGIN", margin)
    units = await Equipment.select(Equipment.id, Equipment.longitude, Equipment.latitude).where(
        Equipment.longitude.is_not_null()
    )
    units.sort(key=lambda u: u["id"])
    ids = np.array([u["id"] for u in units])
    lons = np.array([u["longitude"] for u in units], dtype=np.float64)
    lats = np.array([u["latitude"] for u in units], dtype=np.float64)
    rng = random.Random(margin)
    for _ in range(25):
        anchor = rng.choice(units)
        lon = anchor["longitude"] + rng.uniform(-0.01, 0.01)
        lat = anchor["latitude"] + rng.uniform(-0.01, 0.01)
        radius = rng.choice([30.0, 300.0, 1500.0, 8000.0])
        limit = rng.choice([1, 3, 50])
        got = await spatial.nearby(
            SYSTEM, longitude=lon, latitude=lat, crs="wgs84", radius_m=radius, limit=limit
        )
        near = within_radius((lon, lat), lons, lats, radius)
        assert got.total == near.indices.size
        assert [row.id for row, _ in got.items] == ids[near.indices[:limit]].tolist()
        assert [d for _, d in got.items] == near.distances_m[:limit].tolist()
