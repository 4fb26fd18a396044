"""The map's endpoints on each engine: Leaflet served from its package, area outlines
shaded by the caller's overdue lifts, lift points coloured by state or clustered, each
caller seeing only its own lifts, and every coordinate in the configured tiles' system."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from equipment.domain.access import SYSTEM, Role
from equipment.services import alarms, areas, clock
from equipment.settings import MapSettings
from geo.crs import from_wgs84
from tests import factories
from tests.conftest import app_client

pytestmark = pytest.mark.integration

LON, LAT = 112.135, 32.045  # where the factories put their lifts
AREA = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": "MAP-1",
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [112.13, 32.04],
                        [112.14, 32.04],
                        [112.14, 32.05],
                        [112.13, 32.05],
                        [112.13, 32.04],
                    ]
                ],
            },
            "properties": {"kind": "old_residential", "name": "测试小区"},
        }
    ],
}
BOX = "min_lon=112.1&min_lat=32.0&max_lon=112.2&max_lat=32.1"


@pytest.fixture
async def amap_client(engine, configure) -> AsyncIterator[httpx.AsyncClient]:
    """The app configured with AMap-like tiles drawn in GCJ-02."""
    boot = configure(
        map=MapSettings(tile_url="https://tiles.example/{z}/{x}/{y}.png", tile_crs="gcj02")
    )
    async with app_client(boot) as http:
        yield http


async def test_leaflet_and_its_cluster_plugin_are_served_from_their_packages(client, engine):
    inspector = await factories.token(Role.INSPECTOR)
    config = (await client.get("/api/v1/map/config", headers=inspector)).json()
    assert (config["offline"], config["crs"], config["tile_url"]) == (True, "wgs84", None)
    for url in config["assets"].values():
        answer = await client.get(url)
        assert answer.status_code == 200, url
        kind = "javascript" if url.endswith(".js") else "css"
        assert kind in answer.headers["content-type"], url
        assert len(answer.content) > 500, url
    icon = await client.get("/static/leaflet/images/marker-icon.png")
    assert icon.status_code == 200 and icon.content.startswith(b"\x89PNG")


async def test_areas_and_lifts_are_the_callers_and_in_the_tiles_crs(client, amap_client, engine):
    owner = await factories.organisation("user_unit")
    company_a = await factories.organisation("maintenance_company")
    company_b = await factories.organisation("maintenance_company")
    lift_a = await factories.unit(owner["id"], maintenance_company_id=company_a["id"])
    lift_b = await factories.unit(owner["id"], maintenance_company_id=company_b["id"])
    await areas.import_feature_collection(SYSTEM, AREA, crs="wgs84", now=clock.now())
    now = clock.now()
    await alarms.raise_alarm(
        SYSTEM, lift_a["id"], kind="entrapment", raised_at=now, source="manual", now=now
    )
    inspector = await factories.token(Role.INSPECTOR)
    company = await factories.token(Role.MAINTENANCE, company_a["id"])

    # Areas: the counts are over the caller's lifts only.
    by_inspector = (await client.get("/api/v1/map/areas", headers=inspector)).json()
    [area] = by_inspector["features"]
    assert area["properties"]["lifts"] == 2
    [own] = (await client.get("/api/v1/map/areas", headers=company)).json()["features"]
    props = own["properties"]
    assert (props["lifts"], props["open_alarms"], props["at_risk"]) == (1, 1, True)
    assert props["shade"] == {0: "none", 1: "low"}[props["overdue_inspections"]]
    assert own["geometry"]["coordinates"][0][0] == [112.13, 32.04]

    # Lifts: points with their state, the caller's only.
    answer = await client.get(f"/api/v1/map/lifts?{BOX}", headers=company)
    assert answer.headers["content-type"].startswith("application/geo+json")
    [point] = answer.json()["features"]
    assert point["properties"]["id"] == lift_a["id"]
    assert point["properties"]["state"] == "alarm"
    assert point["geometry"]["coordinates"] == [LON, LAT]
    everyone = (await client.get(f"/api/v1/map/lifts?{BOX}", headers=inspector)).json()
    states = {f["properties"]["id"]: f["properties"]["state"] for f in everyone["features"]}
    assert states[lift_a["id"]] == "alarm" and states[lift_b["id"]] in ("ok", "overdue")
    # More lifts than max_points: clusters whose counts add up to the total.
    clustered = (
        await client.get(f"/api/v1/map/lifts?{BOX}&max_points=1", headers=inspector)
    ).json()
    assert clustered["total"] == 2
    assert sum(f["properties"]["count"] for f in clustered["features"]) == 2
    assert all(f["properties"]["cluster"] for f in clustered["features"])

    # With GCJ-02 tiles every coordinate out, and the box in, is GCJ-02.
    config = (await amap_client.get("/api/v1/map/config", headers=company)).json()
    assert (config["offline"], config["crs"]) == (False, "gcj02")
    gx, gy = from_wgs84(LON, LAT, "gcj02")
    box = f"min_lon={gx - 0.001}&min_lat={gy - 0.001}&max_lon={gx + 0.001}&max_lat={gy + 0.001}"
    [moved] = (await amap_client.get(f"/api/v1/map/lifts?{box}", headers=company)).json()[
        "features"
    ]
    assert moved["geometry"]["coordinates"] == pytest.approx([gx, gy], abs=1e-9)
    [outline] = (await amap_client.get("/api/v1/map/areas", headers=company)).json()["features"]
    corner = from_wgs84(112.13, 32.04, "gcj02")
    assert outline["geometry"]["coordinates"][0][0] == pytest.approx(list(corner), abs=1e-6)
