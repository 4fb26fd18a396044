"""Areas and spatial queries end to end: GeoJSON import (holes, multipolygons, repairs,
rejections), point-in-area assignment and reassignment, coordinate systems, radius, box and
polygon queries, the per-area summary, the due list by area, role scoping, GeoJSON output.
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import random
from datetime import date, timedelta
from typing import Any

import msgspec
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from equipment.api import schemas, views
from equipment.demo.load import load_demo_city
from equipment.domain import catalogue, labels
from equipment.domain.access import SYSTEM, EquipmentScope, Jurisdiction, Role, ScopeKind
from equipment.domain.lifecycle import Status
from equipment.domain.risk import GRADE_ORDER
from equipment.services import areas, clock, membership, risk
from equipment.storage import reads
from equipment.storage.tables import Area, AreaMember, Equipment, RiskGrade
from geo.crs import from_wgs84
from tests import area_import_probe
from tests import factories as f
from tests.ingest_support import eventually

pytestmark = pytest.mark.integration
# These tests read the English message ids (the default answer language is Chinese).
ACCEPT_LANGUAGE = "en"
GEOD = Geod(ellps="WGS84")
# A quiet corner of 襄城区 for hand-made areas, in WGS-84.
LON0, LAT0 = 112.10, 32.00


def ring(lon: float, lat: float, size: float) -> list[list[float]]:
    """A closed counter-clockwise square ring, ``size`` degrees a side, from (lon, lat)."""
    return [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]


def feature(key: str, geometry: dict, kind: str = "old_residential", **properties) -> dict:
    return {
        "type": "Feature",
        "id": key,
        "geometry": geometry,
        "properties": {"kind": kind, "name": f"小区{key}", **properties},
    }


def polygon(*rings: list[list[float]]) -> dict:
    return {"type": "Polygon", "coordinates": list(rings)}


def collection(*features: Any) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


@pytest.fixture
async def ctx(engine):
    owner = await f.organisation("user_unit")
    company_a = await f.organisation("maintenance_company")
    company_b = await f.organisation("maintenance_company")
    body = await f.organisation("inspection_body")
    return {
        "owner": owner["id"],
        "company_a": company_a["id"],
        "company_b": company_b["id"],
        "admin": await f.token(Role.ADMIN),
        "inspector": await f.token(Role.INSPECTOR, body["id"]),
        "company_a_token": await f.token(Role.MAINTENANCE, company_a["id"]),
    }


AGES = {
    # (manufactured, commissioned, registered)
    "old": (date(2004, 1, 1), date(2005, 6, 1), date(2005, 6, 10)),  # over 15 years, overdue
    "middle": (date(2015, 3, 1), date(2015, 9, 1), date(2015, 9, 10)),  # overdue, 11 years
    "new": (
        f.today() - timedelta(days=100),
        f.today() - timedelta(days=5),
        f.today() - timedelta(days=3),
    ),
}


async def unit(
    ctx, lon: float | None, lat: float | None, *, company: str = "a", age: str = "middle", **kw
) -> int:
    made, commissioned, registered = AGES[age]
    row = await f.unit(
        ctx["owner"],
        longitude=lon,
        latitude=lat,
        maintenance_company_id=ctx[f"company_{company}"],
        manufacture_date=str(made),
        commissioning_date=str(commissioned),
        registered_on=registered,
        **kw,
    )
    return row["id"]


async def import_areas(client, ctx, document: dict, crs: str = "wgs84", status: int = 200):
    response = await client.post(
        f"/api/v1/areas/import?crs={crs}", json=document, headers=ctx["admin"]
    )
    assert response.status_code == status, response.text
    return response.json()


async def area_ids(client, ctx) -> dict[str, int]:
    listed = await client.get("/api/v1/areas?limit=5000", headers=ctx["admin"])
    assert listed.status_code == 200, listed.text
    return {a["key"]: a["id"] for a in listed.json()["items"]}


async def members(client, headers, area_id: int, **params) -> list[int]:
    response = await client.get(
        f"/api/v1/areas/{area_id}/equipment", params={"limit": 500, **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    return sorted(u["id"] for u in response.json()["items"])


# ---------------------------------------------------------------------------------------
# Import and assignment


async def test_import_holes_multipolygons_repairs_and_rejections(client, ctx):
    inside = await unit(ctx, LON0 + 0.0005, LAT0 + 0.0005)  # in the ring, outside the hole
    in_hole = await unit(ctx, LON0 + 0.0020, LAT0 + 0.0020)
    on_hole_edge = await unit(ctx, LON0 + 0.0015, LAT0 + 0.0020)  # the boundary belongs
    in_second_part = await unit(ctx, LON0 + 0.0105, LAT0 + 0.0005)
    in_bowtie = await unit(ctx, LON0 + 0.0201, LAT0 + 0.0020)
    outside = await unit(ctx, LON0 + 0.05, LAT0 + 0.05)
    bowtie = [  # self-intersecting: repaired into two triangles
        [LON0 + 0.020, LAT0],
        [LON0 + 0.024, LAT0 + 0.004],
        [LON0 + 0.024, LAT0],
        [LON0 + 0.020, LAT0 + 0.004],
        [LON0 + 0.020, LAT0],
    ]
    report = await import_areas(
        client,
        ctx,
        collection(
            feature(
                "HOLE",
                polygon(ring(LON0, LAT0, 0.004), ring(LON0 + 0.0015, LAT0 + 0.0015, 0.001)[::-1]),
            ),
            feature(
                "MULTI",
                {
                    "type": "MultiPolygon",
                    "coordinates": [
                        [ring(LON0 + 0.006, LAT0, 0.002)],
                        [ring(LON0 + 0.010, LAT0, 0.002)],
                    ],
                },
                kind="community",
            ),
            feature("BOWTIE", polygon(bowtie), year_built=1988, households=120),
            feature("FAR", polygon(ring(2.35, 48.85, 0.01))),  # Paris
            {"type": "Feature", "geometry": None, "properties": {"kind": "street", "name": "无"}},
            "not a feature",
        ),
    )
    assert (report["received"], report["created"], report["updated"]) == (6, 3, 0)
    assert [r["index"] for r in report["rejected"]] == [3, 4, 5]
    assert "outside China" in report["rejected"][0]["reason"]
    assert "geometry" in report["rejected"][1]["reason"]
    assert report["repaired"] == [2]
    assert report["reassignment"]["areas"] == 3
    ids = await area_ids(client, ctx)
    assert set(ids) == {"HOLE", "MULTI", "BOWTIE"}
    assert await members(client, ctx["admin"], ids["HOLE"]) == sorted([inside, on_hole_edge])
    assert await members(client, ctx["admin"], ids["MULTI"]) == [in_second_part]
    assert await members(client, ctx["admin"], ids["BOWTIE"]) == [in_bowtie]
    assert outside not in await members(client, ctx["admin"], ids["HOLE"])
    assert in_hole not in await members(client, ctx["admin"], ids["HOLE"])
    detail = (await client.get(f"/api/v1/areas/{ids['BOWTIE']}", headers=ctx["admin"])).json()
    assert detail["geometry"]["type"] == "MultiPolygon"  # the bow tie's two triangles
    assert (detail["year_built"], detail["households"]) == (1988, 120)
    assert detail["bbox"] == pytest.approx([LON0 + 0.020, LAT0, LON0 + 0.024, LAT0 + 0.004])


async def test_an_import_is_decoded_in_a_worker_process_while_the_loop_serves(
    client, ctx, monkeypatch, tmp_path
):
    """Decoding 16 MiB of JSON held the event loop about 0.5 s (msgspec keeps the GIL, so a
    thread would not help). The body now goes to a worker process as bytes: held there,
    the server still answers /health, and the import completes once let go."""
    monkeypatch.setattr(
        areas, "parse_worker", functools.partial(area_import_probe.parse, str(tmp_path))
    )
    started, go = tmp_path / "started", tmp_path / "go"
    document = collection(feature("A", polygon(ring(LON0, LAT0, 0.004))))
    importing = asyncio.ensure_future(
        client.post("/api/v1/areas/import", json=document, headers=ctx["admin"])
    )

    async def parsing() -> bool:
        assert not importing.done(), importing.result().text
        return started.exists() and started.read_text() != ""

    await eventually(parsing, what="the worker process holding the import's body")
    assert int(started.read_text()) != os.getpid()
    health = await client.get("/health")
    assert health.status_code == 200
    assert not importing.done()  # the import is still held in the worker process
    go.touch()
    response = await importing
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1


async def test_an_import_that_is_not_json_is_refused_from_the_worker(client, ctx):
    for body, reason in (
        (b"{not json", "the body is not JSON"),
        (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
    ):
        response = await client.post(
            "/api/v1/areas/import",
            content=body,
            headers={**ctx["admin"], "content-type": "application/json"},
        )
        assert response.status_code == 422, response.text
        assert reason in response.json()["detail"]


async def test_a_collection_with_nothing_importable_is_refused(client, ctx):
    body = await import_areas(
        client, ctx, collection(feature("FAR", polygon(ring(2.35, 48.85, 0.01)))), status=422
    )
    assert body["extra"] == [{"key": "features[0]", "message": body["detail"]}]
    assert "outside China" in body["detail"]
    for bad in ({"type": "Feature"}, {"type": "FeatureCollection", "features": 3}, []):
        response = await client.post("/api/v1/areas/import", json=bad, headers=ctx["admin"])
        assert response.status_code in (400, 422), response.text
    unknown_crs = await client.post(
        "/api/v1/areas/import?crs=epsg3857", json=collection(), headers=ctx["admin"]
    )
    assert unknown_crs.status_code == 400 and unknown_crs.json()["extra"][0]["key"] == "crs"


async def test_reimport_with_a_changed_polygon_moves_membership(client, ctx):
    first = await unit(ctx, LON0 + 0.0005, LAT0 + 0.0005)
    second = await unit(ctx, LON0 + 0.0105, LAT0 + 0.0005)
    await import_areas(client, ctx, collection(feature("A", polygon(ring(LON0, LAT0, 0.002)))))
    area_id = (await area_ids(client, ctx))["A"]
    assert await members(client, ctx["admin"], area_id) == [first]

    moved = await import_areas(
        client, ctx, collection(feature("A", polygon(ring(LON0 + 0.010, LAT0, 0.002))))
    )
    assert (moved["created"], moved["updated"], moved["unchanged"]) == (0, 1, 0)
    assert (moved["reassignment"]["added"], moved["reassignment"]["removed"]) == (1, 1)
    assert await members(client, ctx["admin"], area_id) == [second]
    assert (await area_ids(client, ctx))["A"] == area_id  # the same area, edited
    detail = (await client.get(f"/api/v1/areas/{area_id}", headers=ctx["admin"])).json()
    assert detail["version"] == 2

    again = await import_areas(
        client, ctx, collection(feature("A", polygon(ring(LON0 + 0.010, LAT0, 0.002))))
    )
    assert (again["unchanged"], again["reassignment"]) == (1, None)


async def test_keyless_features_are_keyed_by_content(client, ctx):
    shape = polygon(ring(LON0, LAT0, 0.002))
    keyless = {"type": "Feature", "geometry": shape, "properties": {"kind": "street", "name": "X"}}
    first = await import_areas(client, ctx, collection(keyless, dict(keyless)))
    assert first["created"] == 1 and [r["index"] for r in first["rejected"]] == [1]
    again = await import_areas(client, ctx, collection(keyless))
    assert again["unchanged"] == 1


async def test_units_created_in_gcj02_are_stored_in_wgs84_and_assigned(client, ctx):
    await import_areas(client, ctx, collection(feature("G", polygon(ring(LON0, LAT0, 0.002)))))
    area_id = (await area_ids(client, ctx))["G"]
    wgs = (LON0 + 0.001, LAT0 + 0.001)
    gcj = from_wgs84(*wgs, "gcj02")
    assert GEOD.inv(*wgs, *gcj)[2] > 300  # GCJ-02 is hundreds of metres off
    created = await client.post(
        "/api/v1/equipment",
        json=f.unit_body(ctx["owner"], longitude=gcj[0], latitude=gcj[1], crs="gcj02"),
        headers=ctx["admin"],
    )
    assert created.status_code == 201, created.text
    stored = created.json()
    assert GEOD.inv(*wgs, stored["longitude"], stored["latitude"])[2] < 1.0
    assert await members(client, ctx["admin"], area_id) == [stored["id"]]

    # Moved (in BD-09, Baidu's) out of the area: the membership follows.
    away = from_wgs84(LON0 + 0.05, LAT0 + 0.05, "bd09")
    patched = await client.patch(
        f"/api/v1/equipment/{stored['id']}",
        json={"longitude": away[0], "latitude": away[1], "crs": "bd09"},
        headers={**ctx["admin"], "If-Match": created.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    moved = patched.json()
    assert GEOD.inv(LON0 + 0.05, LAT0 + 0.05, moved["longitude"], moved["latitude"])[2] < 1.0
    assert await members(client, ctx["admin"], area_id) == []

    # Back in (WGS-84), then the location removed: in, then out again.
    back = await client.patch(
        f"/api/v1/equipment/{stored['id']}",
        json={"longitude": wgs[0], "latitude": wgs[1]},
        headers={**ctx["admin"], "If-Match": patched.headers["etag"]},
    )
    assert await members(client, ctx["admin"], area_id) == [stored["id"]]
    cleared = await client.patch(
        f"/api/v1/equipment/{stored['id']}",
        json={"longitude": None, "latitude": None},
        headers={**ctx["admin"], "If-Match": back.headers["etag"]},
    )
    assert cleared.status_code == 200, cleared.text
    assert await members(client, ctx["admin"], area_id) == []


async def test_coordinate_input_errors_name_their_field(client, ctx):
    cases = [
        ({"longitude": 2.35, "latitude": 48.85, "crs": "gcj02"}, 422, "longitude"),
        ({"longitude": 32.0, "latitude": 112.1, "crs": "bd09"}, 422, "longitude"),  # swapped
        ({"crs": "osgb36"}, 400, "crs"),
    ]
    for overrides, status, field in cases:
        response = await client.post(
            "/api/v1/equipment", json=f.unit_body(ctx["owner"], **overrides), headers=ctx["admin"]
        )
        assert response.status_code == status, response.text
        assert field in {e["key"] for e in response.json()["extra"]} | {""}, response.text
    created = await client.post(
        "/api/v1/equipment", json=f.unit_body(ctx["owner"]), headers=ctx["admin"]
    )
    half = await client.patch(
        f"/api/v1/equipment/{created.json()['id']}",
        json={"longitude": 112.2, "crs": "gcj02"},
        headers={**ctx["admin"], "If-Match": created.headers["etag"]},
    )
    assert half.status_code == 422 and half.json()["extra"][0]["key"] == "crs"


async def test_reassign_all_repairs_drifted_memberships(client, ctx):
    inside = await unit(ctx, LON0 + 0.0005, LAT0 + 0.0005)
    await import_areas(client, ctx, collection(feature("R", polygon(ring(LON0, LAT0, 0.002)))))
    area_id = (await area_ids(client, ctx))["R"]
    # Rows written behind the service's back are put right by a whole reassignment.
    await AreaMember.delete().where(AreaMember.equipment == inside)
    stray = await unit(ctx, LON0 + 0.05, LAT0 + 0.05)
    await AreaMember.insert(AreaMember(area=area_id, equipment=stray))
    result = await membership.reassign_all()
    assert (result.added, result.removed, result.areas) == (1, 1, 1)
    assert await members(client, ctx["admin"], area_id) == [inside]
    again = await membership.reassign_all()
    assert (again.added, again.removed) == (0, 0)


# ---------------------------------------------------------------------------------------
# Spatial queries


async def scattered(ctx, n: int = 24, seed: int = 7) -> dict[int, tuple[float, float]]:
    """``n`` lifts within ~1 km of (LON0, LAT0), half each company's; id -> (lon, lat)."""
    rng = random.Random(seed)
    points = {}
    for i in range(n):
        lon = round(LON0 + rng.uniform(-0.01, 0.01), 6)
        lat = round(LAT0 + rng.uniform(-0.008, 0.008), 6)
        points[await unit(ctx, lon, lat, company="a" if i % 2 else "b")] = (lon, lat)
    return points


async def test_radius_query_equals_a_brute_force_geodesic_filter(client, ctx):
    points = await scattered(ctx)
    await unit(ctx, None, None)  # never near anything
    centre, radius = (LON0 + 0.001, LAT0 - 0.001), 700.0
    expected = sorted(
        (GEOD.inv(*centre, lon, lat)[2], unit_id)
        for unit_id, (lon, lat) in points.items()
        if GEOD.inv(*centre, lon, lat)[2] <= radius
    )
    assert 3 < len(expected) < len(points)
    response = await client.get(
        "/api/v1/geo/nearby",
        params={"lon": centre[0], "lat": centre[1], "radius_m": radius, "limit": 500},
        headers=ctx["admin"],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(expected)
    assert [i["id"] for i in body["items"]] == [unit_id for _, unit_id in expected]
    for item, (distance, _) in zip(body["items"], expected, strict=True):
        assert item["distance_m"] == pytest.approx(distance, abs=1e-3)
    # limit keeps the nearest; the same centre given in GCJ-02 finds the same units
    nearest = await client.get(
        "/api/v1/geo/nearby",
        params={"lon": centre[0], "lat": centre[1], "radius_m": radius, "limit": 2},
        headers=ctx["admin"],
    )
    assert [i["id"] for i in nearest.json()["items"]] == [u for _, u in expected[:2]]
    gcj = from_wgs84(*centre, "gcj02")
    in_gcj = await client.get(
        "/api/v1/geo/nearby",
        params={"lon": gcj[0], "lat": gcj[1], "radius_m": radius, "crs": "gcj02", "limit": 500},
        headers=ctx["admin"],
    )
    assert [i["id"] for i in in_gcj.json()["items"]] == [u for _, u in expected]


def expected_unit(row: Any, lang: str) -> dict[str, Any]:
    """A unit's JSON fields as the API documents them, built here from the stored row (not
    through equipment.api.views): the labels from the domain's tables, the ids renamed."""
    cat = catalogue.category(row.category)
    graded = row.risk_graded_at is not None
    derived = {
        "category_label": cat.name_en if lang == "en" and cat.name_en else cat.name_zh,
        "category_name": cat.name_zh,
        "status_label": labels.label(labels.STATUS, row.status, lang),
        "user_unit_id": row.user_unit,
        "maintenance_company_id": row.maintenance_company,
        "owning_station_id": row.owning_station,
        "risk_grade": GRADE_ORDER[row.risk_rank].value if graded else None,
        "risk_points": row.risk_points if graded else None,
    }
    fields = [f for f in schemas.NearbyEquipment.__struct_fields__ if f != "distance_m"]
    return {f: derived[f] if f in derived else getattr(row, f) for f in fields}


async def test_nearby_answers_byte_for_byte_what_the_rows_hold(client, ctx):
    """Nearby's JSON (both languages) and GeoJSON, compared as bytes with pages built
    independently from the stored rows: the fast view builds the same answer."""
    ids = [
        await unit(ctx, LON0 + 0.0003, LAT0, age="old"),
        await unit(ctx, LON0 - 0.0006, LAT0 + 0.0002, company="b", age="new"),
        await unit(ctx, LON0, LAT0 - 0.0009, category="1000", parameters={}),
        await unit(ctx, LON0 + 0.0011, LAT0 + 0.0004, registered=False),
    ]
    # Graded (their owner's units together), then one back to never graded (nulls).
    await risk.recompute_units(ids, now=clock.now())
    await RiskGrade.delete().where(RiskGrade.equipment == ids[3])
    rows = await reads().equipment.by_ids(ids)
    assert {rows[i].risk_graded_at is None for i in ids} == {True, False}
    params = {"lon": LON0, "lat": LAT0, "radius_m": 500, "limit": 10}
    for lang in ("zh-CN", "en"):
        response = await client.get(
            "/api/v1/geo/nearby", params={**params, "lang": lang}, headers=ctx["admin"]
        )
        assert response.status_code == 200, response.text
        answered = response.json()["items"]
        assert sorted(i["id"] for i in answered) == sorted(ids)
        expected = {
            "total": len(ids),
            "items": [
                {**expected_unit(rows[i["id"]], lang), "distance_m": i["distance_m"]}
                for i in answered
            ],
        }
        assert response.content == msgspec.json.encode(expected), lang
    geojson = await client.get(
        "/api/v1/geo/nearby", params={**params, "format": "geojson"}, headers=ctx["admin"]
    )
    features = geojson.json()["features"]
    point = ("id", *views.UNIT_FEATURE_FIELDS)
    expected_collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": feat["id"],
                "geometry": {
                    "type": "Point",
                    "coordinates": [rows[feat["id"]].longitude, rows[feat["id"]].latitude],
                },
                "properties": {
                    **{k: expected_unit(rows[feat["id"]], "zh-CN")[k] for k in point},
                    "distance_m": feat["properties"]["distance_m"],
                },
            }
            for feat in features
        ],
        "total": len(ids),
    }
    assert geojson.content == msgspec.json.encode(expected_collection)


async def test_box_clusters_conserve_counts(client, ctx):
    points = await scattered(ctx, n=30)
    box = (LON0 - 0.006, LAT0 - 0.005, LON0 + 0.008, LAT0 + 0.006)
    inside = {
        i for i, (lon, lat) in points.items() if box[0] <= lon <= box[2] and box[1] <= lat <= box[3]
    }
    params = dict(zip(("min_lon", "min_lat", "max_lon", "max_lat"), box, strict=True))
    few = await client.get(
        "/api/v1/geo/bbox", params={**params, "max_points": 500}, headers=ctx["admin"]
    )
    assert few.status_code == 200, few.text
    assert not few.json()["clustered"] and {u["id"] for u in few.json()["items"]} == inside
    for max_points in (1, 3, 5):
        clustered = await client.get(
            "/api/v1/geo/bbox", params={**params, "max_points": max_points}, headers=ctx["admin"]
        )
        body = clustered.json()
        assert body["clustered"] and body["total"] == len(inside)
        assert 1 <= len(body["clusters"]) <= max_points
        assert sum(c["count"] for c in body["clusters"]) == len(inside)
        assert {c["member_id"] for c in body["clusters"]} <= inside
        geojson = await client.get(
            "/api/v1/geo/bbox",
            params={**params, "max_points": max_points, "format": "geojson"},
            headers=ctx["admin"],
        )
        assert geojson.headers["content-type"].startswith("application/geo+json")
        features = geojson.json()["features"]
        assert sum(feat["properties"]["count"] for feat in features) == len(inside)


async def test_the_box_statement_and_by_ids_read_what_the_register_holds(client, ctx):
    """The box and nearby statements are built once per shape of their conditions (not per
    request): each shape keeps exactly the units its conditions name, and ``by_ids`` (one
    prepared statement on PostgreSQL) reads each unit's whole row as ``get`` does."""
    points = await scattered(ctx, n=16)
    await unit(ctx, None, None)  # no position: never in a box
    box = (LON0 - 0.006, LAT0 - 0.005, LON0 + 0.008, LAT0 + 0.006)
    held = await Equipment.select(
        Equipment.id,
        Equipment.category,
        Equipment.status,
        Equipment.district_code,
        Equipment.maintenance_company,
        Equipment.longitude,
        Equipment.latitude,
    )
    in_box = [
        r
        for r in held
        if r["longitude"] is not None
        and box[0] <= r["longitude"] <= box[2]
        and box[1] <= r["latitude"] <= box[3]
    ]
    assert 3 < len(in_box) < len(points)
    [category] = {r["category"] for r in in_box}
    [district] = {r["district_code"] for r in in_box}
    company, status = ctx["company_a"], in_box[0]["status"]

    def inspector(*districts: str) -> EquipmentScope:
        return EquipmentScope(
            ScopeKind.JURISDICTION, jurisdiction=Jurisdiction(frozenset(districts))
        )

    cases = [
        (None, {}, lambda r: True),
        (None, {"category": category}, lambda r: True),
        (None, {"category": "2110"}, lambda r: False),
        (None, {"category_prefix": category[:2]}, lambda r: True),
        (None, {"status": Status(status)}, lambda r: r["status"] == status),
        (
            EquipmentScope(ScopeKind.MAINTENANCE_COMPANY, company),
            {},
            lambda r: r["maintenance_company"] == company,
        ),
        (
            EquipmentScope(
                ScopeKind.JURISDICTION, jurisdiction=Jurisdiction(frozenset({district}))
            ),
            {"category": category},
            lambda r: True,
        ),
        (
            EquipmentScope(
                ScopeKind.JURISDICTION, jurisdiction=Jurisdiction(frozenset({"420602"}))
            ),
            {},
            lambda r: r["district_code"] in {"420602", "420607"},
        ),
    ]
    for scope, filters, keep in cases:
        ids, lons, lats = await reads().equipment.located(scope, box, **filters)
        assert sorted(ids.tolist()) == sorted(r["id"] for r in in_box if keep(r)), filters
        by_id = {r["id"]: r for r in in_box}
        for i, lon, lat in zip(ids.tolist(), lons.tolist(), lats.tolist(), strict=True):
            assert (lon, lat) == (by_id[i]["longitude"], by_id[i]["latitude"])
    wanted = [*sorted(points), 10**12]  # an id that does not exist is left out
    found = await reads().equipment.by_ids(wanted)
    assert sorted(found) == sorted(points)
    for unit_id, row in found.items():
        assert row == await reads().equipment.get(unit_id)
        assert isinstance(row.parameters, dict)


async def test_polygon_query_finds_the_units_inside(client, ctx):
    points = await scattered(ctx, n=30)
    shell = [
        [LON0 - 0.008, LAT0 - 0.006],
        [LON0 + 0.006, LAT0 - 0.007],
        [LON0 + 0.009, LAT0 + 0.004],
        [LON0 - 0.002, LAT0 + 0.007],
        [LON0 - 0.008, LAT0 - 0.006],
    ]
    hole = ring(LON0 - 0.002, LAT0 - 0.002, 0.004)[::-1]
    shape = shapely.Polygon(shell, [hole])
    expected = sorted(
        i for i, (lon, lat) in points.items() if shapely.intersects_xy(shape, lon, lat)
    )
    assert 0 < len(expected) < len(points)
    response = await client.post(
        "/api/v1/geo/within?limit=500", json=polygon(shell, hole), headers=ctx["admin"]
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [u["id"] for u in body["items"]] == expected and body["total"] == len(expected)
    assert body["repaired"] is False
    # keyset pages of 4 give the same list
    seen, cursor = [], None
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = await client.post(
            "/api/v1/geo/within", params=params, json=polygon(shell, hole), headers=ctx["admin"]
        )
        seen += [u["id"] for u in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    # as a Feature, in GCJ-02
    gcj_shell = [list(from_wgs84(lon, lat, "gcj02")) for lon, lat in shell]
    gcj_shell[-1] = gcj_shell[0]
    as_feature = await client.post(
        "/api/v1/geo/within?limit=500&crs=gcj02",
        json={"type": "Feature", "geometry": polygon(gcj_shell), "properties": {}},
        headers=ctx["admin"],
    )
    outer = shapely.Polygon(shell)
    assert {u["id"] for u in as_feature.json()["items"]} == {
        i for i, (lon, lat) in points.items() if shapely.intersects_xy(outer, lon, lat)
    }


async def test_missing_coordinates_is_a_scoped_data_quality_list(client, ctx):
    located = await unit(ctx, LON0, LAT0)
    mine = await unit(ctx, None, None)
    theirs = await unit(ctx, None, None, company="b")
    admin = await client.get("/api/v1/geo/missing-coordinates", headers=ctx["admin"])
    assert {u["id"] for u in admin.json()["items"]} == {mine, theirs}
    assert located not in {u["id"] for u in admin.json()["items"]}
    company = await client.get("/api/v1/geo/missing-coordinates", headers=ctx["company_a_token"])
    assert [u["id"] for u in company.json()["items"]] == [mine]


# ---------------------------------------------------------------------------------------
# Per-area summary, due list, scoping


async def raise_alarm(client, ctx, unit_id: int, kind: str = "entrapment") -> int:
    response = await client.post(
        f"/api/v1/equipment/{unit_id}/alarms", json={"kind": kind}, headers=ctx["admin"]
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_area_summary_counts_hand_made_data(client, ctx):
    await import_areas(
        client,
        ctx,
        collection(
            feature("S1", polygon(ring(LON0, LAT0, 0.004))),
            feature("S2", polygon(ring(LON0 + 0.010, LAT0, 0.004))),
            feature("C1", polygon(ring(LON0 - 0.01, LAT0 - 0.01, 0.03)), kind="community"),
        ),
    )
    at = (LON0 + 0.001, LAT0 + 0.001)
    old_a = await unit(ctx, *at, age="old")  # lift > 15 years, overdue inspection + maintenance
    new_a = await unit(ctx, *at, age="new")  # nothing overdue
    old_b = await unit(ctx, *at, age="old", company="b")
    boiler = await unit(
        ctx,
        *at,
        category="1000",
        equipment_code=f.equipment_code("1000"),
        parameters={"rated_pressure_mpa": 1.25, "capacity_t_per_h": 4.0},
    )
    scrapped = await unit(ctx, *at, age="old")
    scrap = await client.post(
        f"/api/v1/equipment/{scrapped}/scrap",
        json={"on": str(f.today()), "reason": "报废"},
        headers=ctx["admin"],
    )
    assert scrap.status_code == 200, scrap.text
    in_s2 = await unit(ctx, LON0 + 0.011, LAT0 + 0.001, age="new")
    first = await raise_alarm(client, ctx, old_a)
    closed = await raise_alarm(client, ctx, old_b, "door_open_fault")
    await client.post(f"/api/v1/alarms/{closed}/close", json={"note": "修复"}, headers=ctx["admin"])
    await raise_alarm(client, ctx, scrapped)  # a scrapped unit counts nowhere
    units = {
        i: (await client.get(f"/api/v1/equipment/{i}", headers=ctx["admin"])).json()
        for i in (old_a, new_a, old_b, boiler, in_s2)
    }
    overdue = {i for i, u in units.items() if u["next_inspection_due"] < str(f.today())}
    assert {old_a, old_b} <= overdue and new_a not in overdue and in_s2 not in overdue

    response = await client.get(
        "/api/v1/areas/summary?kind=old_residential&sort=-overdue_inspections",
        headers=ctx["admin"],
    )
    assert response.status_code == 200, response.text
    rows = {r["key"]: r for r in response.json()}
    assert list(rows) == ["S1", "S2"]  # ranked; communities left out
    s1 = rows["S1"]
    counts = {k: s1[k] for k in areas.SUMMARY_COUNTS}
    assert counts == {
        "units": 4,
        "lifts": 3,
        "lifts_over_15_years": 2,
        "overdue_inspections": len({old_a, new_a, old_b, boiler} & overdue),
        "overdue_maintenance": 2,
        "open_alarms": 1,
        "alarms_last_90_days": 2,
    }
    assert {k: rows["S2"][k] for k in areas.SUMMARY_COUNTS} == dict(
        units=1,
        lifts=1,
        lifts_over_15_years=0,
        overdue_inspections=0,
        overdue_maintenance=0,
        open_alarms=0,
        alarms_last_90_days=0,
    )
    # lifts only, sorted another way, and every kind
    lifts = await client.get(
        "/api/v1/areas/summary?category_prefix=3&sort=units", headers=ctx["admin"]
    )
    by_key = {r["key"]: r for r in lifts.json()}
    assert by_key["S1"]["units"] == 3 and by_key["C1"]["units"] == 4
    assert [r["key"] for r in lifts.json()] == ["S2", "S1", "C1"]

    # The company sees its own units only.
    company = await client.get(
        "/api/v1/areas/summary?kind=old_residential", headers=ctx["company_a_token"]
    )
    mine = {r["key"]: r for r in company.json()}["S1"]
    assert (mine["units"], mine["lifts_over_15_years"], mine["alarms_last_90_days"]) == (3, 1, 1)

    # A change shows at once (the cached answer is dropped when the register changes).
    await client.post(
        f"/api/v1/alarms/{first}/close", json={"note": "已处置"}, headers=ctx["admin"]
    )
    after = await client.get(
        "/api/v1/areas/summary?kind=old_residential&sort=-overdue_inspections",
        headers=ctx["admin"],
    )
    assert {r["key"]: r for r in after.json()}["S1"]["open_alarms"] == 0

    # The area's unit list filters the same conditions (it lists closed units, as the
    # register's list does, unless a status is asked for).
    s1_id = s1["area_id"]
    assert await members(client, ctx["admin"], s1_id, min_age_years=15) == sorted(
        [old_a, old_b, scrapped]
    )
    assert await members(client, ctx["admin"], s1_id, overdue_maintenance="true") == sorted(
        [old_a, old_b]
    )
    overdue_members = await members(client, ctx["admin"], s1_id, overdue_inspection="true")
    assert overdue_members == sorted({old_a, new_a, old_b, boiler} & overdue)
    await raise_alarm(client, ctx, new_a)
    assert await members(client, ctx["admin"], s1_id, open_alarms="true") == [new_a, scrapped]
    assert await members(client, ctx["admin"], s1_id, category_prefix="31", status="in_use") == (
        sorted([old_a, new_a, old_b])
    )
    assert await members(client, ctx["company_a_token"], s1_id) == sorted(
        [old_a, new_a, boiler, scrapped]
    )


async def test_due_list_by_area(client, ctx):
    await import_areas(client, ctx, collection(feature("D", polygon(ring(LON0, LAT0, 0.004)))))
    area_id = (await area_ids(client, ctx))["D"]
    inside = await unit(ctx, LON0 + 0.001, LAT0 + 0.001)
    theirs = await unit(ctx, LON0 + 0.002, LAT0 + 0.002, company="b")
    await unit(ctx, LON0 + 0.05, LAT0 + 0.05)
    everything = await client.get("/api/v1/due?limit=500", headers=ctx["admin"])
    assert len({i["equipment_id"] for i in everything.json()["items"]}) == 3
    by_area = await client.get(f"/api/v1/due?area_id={area_id}&limit=500", headers=ctx["admin"])
    assert {i["equipment_id"] for i in by_area.json()["items"]} == {inside, theirs}
    company = await client.get(
        f"/api/v1/due?area_id={area_id}&limit=500", headers=ctx["company_a_token"]
    )
    assert {i["equipment_id"] for i in company.json()["items"]} == {inside}
    csv = await client.get(f"/api/v1/due/export.csv?area_id={area_id}", headers=ctx["admin"])
    assert csv.status_code == 200 and csv.text.count("\n") == 1 + len(by_area.json()["items"])


async def test_spatial_answers_are_scoped_to_the_callers_units(client, ctx):
    points = await scattered(ctx)
    await import_areas(
        client, ctx, collection(feature("W", polygon(ring(LON0 - 0.02, LAT0 - 0.02, 0.04))))
    )
    area_id = (await area_ids(client, ctx))["W"]
    company = ctx["company_a_token"]
    mine = {
        i
        for i in points
        if (await client.get(f"/api/v1/equipment/{i}", headers=ctx["admin"])).json()[
            "maintenance_company_id"
        ]
        == ctx["company_a"]
    }
    assert 0 < len(mine) < len(points)
    near = await client.get(
        "/api/v1/geo/nearby",
        params={"lon": LON0, "lat": LAT0, "radius_m": 5000, "limit": 500},
        headers=company,
    )
    assert {u["id"] for u in near.json()["items"]} == mine and near.json()["total"] == len(mine)
    box = await client.get(
        "/api/v1/geo/bbox",
        params={"min_lon": LON0 - 0.02, "min_lat": LAT0 - 0.02, "max_lon": LON0 + 0.02,
                "max_lat": LAT0 + 0.02},
        headers=company,
    )  # fmt: skip
    assert {u["id"] for u in box.json()["items"]} == mine
    within = await client.post(
        "/api/v1/geo/within?limit=500", json=polygon(ring(LON0 - 0.02, LAT0 - 0.02, 0.04)),
        headers=company,
    )  # fmt: skip
    assert {u["id"] for u in within.json()["items"]} == mine
    summary = await client.get("/api/v1/areas/summary", headers=company)
    assert {r["key"]: r["units"] for r in summary.json()} == {"W": len(mine)}
    assert set(await members(client, company, area_id)) == mine
    admin_summary = await client.get("/api/v1/areas/summary", headers=ctx["inspector"])
    assert admin_summary.json()[0]["units"] == len(points)


# ---------------------------------------------------------------------------------------
# GeoJSON out, and back in


def assert_feature_collection(body: dict, geometry_types: set[str]) -> list[dict]:
    assert body["type"] == "FeatureCollection" and isinstance(body["features"], list)
    for item in body["features"]:
        assert item["type"] == "Feature" and item["geometry"]["type"] in geometry_types
        assert isinstance(item["properties"], dict)
        shape = shapely.geometry.shape(item["geometry"])
        assert shape.is_valid and not shape.is_empty
    return body["features"]


async def test_geojson_outputs_are_feature_collections(client, ctx):
    points = await scattered(ctx, n=8)
    await import_areas(
        client,
        ctx,
        collection(
            feature(
                "E1", polygon(ring(LON0 - 0.02, LAT0 - 0.02, 0.04)), code="E1", year_built=1990
            ),
            feature("E2", polygon(ring(LON0 + 0.1, LAT0, 0.01)), kind="street"),
        ),
    )
    area_id = (await area_ids(client, ctx))["E1"]
    geojson = "application/geo+json"
    polygons = {"Polygon", "MultiPolygon"}
    responses = {
        "areas": await client.get("/api/v1/areas?format=geojson", headers=ctx["admin"]),
        "export": await client.get("/api/v1/areas/export.geojson", headers=ctx["admin"]),
        "members": await client.get(
            f"/api/v1/areas/{area_id}/equipment?format=geojson&limit=500", headers=ctx["admin"]
        ),
        "nearby": await client.get(
            f"/api/v1/geo/nearby?lon={LON0}&lat={LAT0}&radius_m=3000&format=geojson&limit=500",
            headers=ctx["admin"],
        ),
        "within": await client.post(
            "/api/v1/geo/within?format=geojson&limit=500",
            json=polygon(ring(LON0 - 0.02, LAT0 - 0.02, 0.04)),
            headers=ctx["admin"],
        ),
    }
    for name, response in responses.items():
        assert response.status_code == 200, (name, response.text)
        assert response.headers["content-type"].startswith(geojson), name
    assert len(assert_feature_collection(responses["areas"].json(), polygons)) == 2
    exported = responses["export"].json()
    assert len(assert_feature_collection(exported, polygons)) == 2
    assert "attachment" in responses["export"].headers["content-disposition"]
    for name in ("members", "nearby", "within"):
        features = assert_feature_collection(responses[name].json(), {"Point"})
        assert {feat["id"] for feat in features} == set(points), name
    nearby = responses["nearby"].json()["features"]
    assert [feat["properties"]["distance_m"] for feat in nearby] == sorted(
        feat["properties"]["distance_m"] for feat in nearby
    )
    # The export reads back unchanged; in GCJ-02 it reads back in GCJ-02.
    again = await import_areas(client, ctx, exported)
    assert (again["unchanged"], again["created"], again["updated"]) == (2, 0, 0)
    gcj = await client.get("/api/v1/areas/export.geojson?crs=gcj02", headers=ctx["admin"])
    assert gcj.json()["features"][0]["geometry"] != exported["features"][0]["geometry"]
    back = await import_areas(client, ctx, gcj.json(), crs="gcj02")
    assert back["created"] == 0 and back["unchanged"] + back["updated"] == 2


# ---------------------------------------------------------------------------------------
# Bad input is a 4xx, never a 500


async def test_bad_spatial_input_is_refused_with_its_field(client, ctx):
    nearby = "/api/v1/geo/nearby?lon={lon}&lat={lat}&radius_m={radius}"
    cases = [
        ("GET", nearby.format(lon=2.35, lat=48.85, radius=100), None, "lon"),
        ("GET", nearby.format(lon=112.1, lat=80, radius=100), None, "lat"),
        ("GET", nearby.format(lon=112.1, lat=32, radius=0), None, "radius_m"),
        ("GET", nearby.format(lon=112.1, lat=32, radius=50001), None, "radius_m"),
        ("GET", nearby.format(lon=112.1, lat=32, radius=100) + "&crs=utm", None, "crs"),
        ("GET", nearby.format(lon="x", lat=32, radius=100), None, "lon"),
        ("GET", "/api/v1/geo/nearby?lat=32&radius_m=100", None, "lon"),
        ("GET", "/api/v1/geo/bbox?min_lon=110&min_lat=30&max_lon=114&max_lat=32", None, "bbox"),
        ("GET", "/api/v1/geo/bbox?min_lon=112.2&min_lat=32&max_lon=112.1&max_lat=32.1", None,
         "min_lon"),
        ("GET", "/api/v1/geo/bbox?min_lon=60&min_lat=32&max_lon=61&max_lat=32.1", None, "min_lon"),
        ("GET", "/api/v1/geo/bbox?min_lon=112&min_lat=32&max_lon=112.1&max_lat=32.1&max_points=0",
         None, "max_points"),
        ("POST", "/api/v1/geo/within", {"type": "Point", "coordinates": [112, 32]}, "geometry"),
        ("POST", "/api/v1/geo/within", polygon(ring(112, 32, 0.01)[:-1]), "geometry"),
        ("POST", "/api/v1/geo/within", polygon(ring(2.3, 48.8, 0.01)), "geometry"),
        ("POST", "/api/v1/geo/within", polygon(ring(110, 30, 3.0)), "geometry"),
        ("POST", "/api/v1/geo/within?crs=wgs72", polygon(ring(112, 32, 0.01)), "crs"),
        ("GET", "/api/v1/areas/summary?sort=households", None, "sort"),
        ("GET", "/api/v1/areas/summary?kind=village", None, "kind"),
        ("GET", "/api/v1/areas?cursor=nonsense", None, "cursor"),
    ]  # fmt: skip
    for method, path, body, field in cases:
        response = await client.request(method, path, json=body, headers=ctx["admin"])
        assert 400 <= response.status_code < 500, (path, response.text)
        problem = response.json()
        keys = {e["key"] for e in problem["extra"]}
        assert field in keys or f"'{field}'" in problem["detail"], (path, response.text)
    for raw in (b"[[[", b'{"type": "Polygon", "coordinates": [[[NaN, 32]]]}', b"1e400"):
        for path in ("/api/v1/geo/within", "/api/v1/areas/import"):
            response = await client.post(
                path, content=raw, headers={**ctx["admin"], "Content-Type": "application/json"}
            )
            assert response.status_code in (400, 422), (raw, response.text)
    huge = {"type": "Polygon", "coordinates": [[[1e300, 32.0], [112.0, 1e300], [112.0, 32.0]]]}
    response = await client.post("/api/v1/geo/within", json=huge, headers=ctx["admin"])
    assert response.status_code == 422, response.text
    missing = await client.get("/api/v1/areas/999999", headers=ctx["admin"])
    assert missing.status_code == 404
    missing = await client.get("/api/v1/areas/999999/equipment", headers=ctx["admin"])
    assert missing.status_code == 404


SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.text(max_size=8),
)


@SETTINGS
@given(
    params=st.dictionaries(
        st.sampled_from(
            ["lon", "lat", "radius_m", "crs", "limit", "min_lon", "min_lat", "max_lon", "max_lat",
             "max_points", "format", "category_prefix"]
        ),
        numbers,
        max_size=8,
    )
)  # fmt: skip
async def test_spatial_queries_never_crash(client, ctx, params):
    for path in ("/api/v1/geo/nearby", "/api/v1/geo/bbox"):
        response = await client.get(path, params=params, headers=ctx["admin"])
        assert response.status_code in (200, 400, 422), response.text


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.sampled_from(["type", "coordinates", "features", "geometry",
                                       "properties", "id", "name", "kind"]), children, max_size=4),
    max_leaves=30,
)  # fmt: skip


@SETTINGS
@given(body=json_values)
async def test_geojson_bodies_never_crash(client, ctx, body):
    for path in ("/api/v1/geo/within", "/api/v1/areas/import"):
        response = await client.post(path, json=body, headers=ctx["admin"])
        assert response.status_code in (200, 400, 422), response.text


@SETTINGS
@given(
    rings=st.lists(
        st.lists(
            st.tuples(
                st.floats(min_value=112.0, max_value=112.01),
                st.floats(min_value=32.0, max_value=32.01),
            ),
            min_size=3,
            max_size=7,
        ),
        min_size=1,
        max_size=3,
    )
)
async def test_arbitrary_rings_are_repaired_or_refused(client, ctx, rings):
    closed = [[list(p) for p in r] + [list(r[0])] for r in rings]
    response = await client.post(
        "/api/v1/geo/within", json={"type": "Polygon", "coordinates": closed}, headers=ctx["admin"]
    )
    assert response.status_code in (200, 422), response.text


# ---------------------------------------------------------------------------------------
# The demo city


async def test_demo_city_puts_old_overdue_lifts_in_old_residential_areas(engine):
    await load_demo_city(
        seed=420600, units=600, today=f.today(), now=clock.now(), show_progress=False
    )
    kinds = {r["kind"] for r in await Area.select(Area.kind)}
    assert kinds == {"district", "old_residential"}
    assert await Area.count() == 209
    old_ids = [r["id"] for r in await Area.select(Area.id).where(Area.kind == "old_residential")]
    in_old = await AreaMember.select(AreaMember.equipment).where(AreaMember.area.is_in(old_ids))
    lifts = await Equipment.select(
        Equipment.id, Equipment.commissioning_date, Equipment.category
    ).where(Equipment.id.is_in([r["equipment"] for r in in_old] or [0]))
    assert len(lifts) >= 10
    old_enough = f.today().replace(year=f.today().year - 15)

    def old_lift(u: dict) -> bool:
        return u["category"].startswith("3") and u["commissioning_date"] <= old_enough

    everyone = await Equipment.select(Equipment.commissioning_date, Equipment.category)
    city_share = sum(map(old_lift, everyone)) / len(everyone)
    area_share = sum(map(old_lift, lifts)) / len(lifts)
    assert city_share < 0.2 and area_share > 0.7, (city_share, area_share)
    located = await Equipment.count().where(Equipment.longitude.is_not_null())
    in_district = await AreaMember.select(AreaMember.equipment).where(
        AreaMember.area.is_in(
            [r["id"] for r in await Area.select(Area.id).where(Area.kind == "district")]
        )
    )
    assert len({r["equipment"] for r in in_district}) > 0.95 * located
    rows = await areas.summary(
        SYSTEM,
        kind="old_residential",
        category_prefix=None,
        sort="-overdue_inspections",
        limit=10,
        today=f.today(),
        now=clock.now(),
    )
    assert rows[0]["overdue_inspections"] >= 1
    assert math.isfinite(rows[0]["lifts_over_15_years"])
