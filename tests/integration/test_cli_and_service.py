"""The running service driven as a user would: the CLI, the demo city, HTTP over a socket."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    run_sereg,
)

pytestmark = pytest.mark.integration


def test_quick_start_serves_the_demo_city(served):
    base, tokens = served
    assert set(tokens) == {"admin", "inspector", "maintenance", "user_unit", "station"}
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    page = httpx.get(f"{base}/api/v1/equipment?limit=50", headers=admin).json()
    assert len(page["items"]) == 50 and page["next_cursor"]
    code = page["items"][0]["code"]
    # The demo's areas are loaded and its units assigned to them.
    ranked = httpx.get(
        f"{base}/api/v1/areas/summary?kind=old_residential&sort=-units&limit=5", headers=admin
    ).json()
    assert len(ranked) == 5 and ranked[0]["units"] >= ranked[-1]["units"] >= 0
    public = httpx.get(f"{base}/api/v1/public/equipment/{code}")
    assert public.status_code == 200 and public.json()["code"] == code
    assert httpx.get(f"{base}/schema").status_code == 200
    # The company token sees only its own lifts, and some of them.
    company = {"Authorization": f"Bearer {tokens['maintenance']}"}
    me = httpx.get(f"{base}/api/v1/me", headers=company).json()
    mine = httpx.get(f"{base}/api/v1/equipment?limit=500", headers=company).json()["items"]
    assert mine and all(u["maintenance_company_id"] == me["organisation_id"] for u in mine)
    # The station sees its cylinders only.
    station = {"Authorization": f"Bearer {tokens['station']}"}
    cylinders = httpx.get(f"{base}/api/v1/equipment?limit=500", headers=station).json()["items"]
    assert cylinders and all(u["category"].startswith("23") for u in cylinders)


def test_token_create_list_revoke(database_env):
    assert run_sereg("migrate", env=database_env).returncode == 0
    created = run_sereg("token", "create", "--role", "admin", "--label", "ops", env=database_env)
    assert created.returncode == 0, created.stderr
    token_id = int(re.search(r"token (\d+)", created.stdout).group(1))
    listing = run_sereg("token", "list", env=database_env)
    assert f"{token_id:>5}" in listing.stdout and "live" in listing.stdout
    secret = created.stdout.split()[-1]
    assert secret.startswith("sereg_") and secret not in listing.stdout
    revoked = run_sereg("token", "revoke", str(token_id), env=database_env)
    assert revoked.returncode == 0
    again = run_sereg("token", "revoke", str(token_id), env=database_env)
    assert again.returncode != 0 and "no live token" in again.stderr
    orphan = run_sereg("token", "create", "--role", "maintenance", env=database_env)
    assert orphan.returncode != 0 and "must name its organisation" in orphan.stderr


def test_demo_refuses_to_load_twice(database_env):
    first = run_sereg("demo", "--units", "50", env=database_env)
    assert first.returncode == 0, first.stderr
    second = run_sereg("demo", "--units", "50", env=database_env)
    assert "already has units" in second.stderr


def test_areas_import_and_reassign(database_env, tmp_path: Path):
    assert run_sereg("migrate", env=database_env).returncode == 0
    square = [[112.13, 32.04], [112.14, 32.04], [112.14, 32.05], [112.13, 32.05], [112.13, 32.04]]
    far = [[2.3, 48.8], [2.4, 48.8], [2.4, 48.9], [2.3, 48.9], [2.3, 48.8]]
    document = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": key,
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"kind": "old_residential", "name": f"小区{key}"},
            }
            for key, ring in (("A", square), ("B", far))
        ],
    }
    path = tmp_path / "areas.geojson"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    done = run_sereg("areas", "import", str(path), "--crs", "gcj02", env=database_env)
    assert done.returncode == 0, done.stderr
    assert "2 features: 1 created, 0 updated, 0 unchanged, 1 rejected" in done.stdout
    assert "feature 1:" in done.stderr and "outside China" in done.stderr
    assert "memberships" in done.stdout
    again = run_sereg("areas", "import", str(path), "--crs", "gcj02", env=database_env)
    assert "0 created, 0 updated, 1 unchanged" in again.stdout
    reassigned = run_sereg("areas", "reassign", env=database_env)
    assert reassigned.returncode == 0, reassigned.stderr
    assert "0 located units in 1 areas" in reassigned.stdout
    missing = run_sereg("areas", "import", str(tmp_path / "none.geojson"), env=database_env)
    assert missing.returncode != 0 and "cannot read" in missing.stderr
    path.write_text('{"type": "Feature"}', encoding="utf-8")
    wrong = run_sereg("areas", "import", str(path), env=database_env)
    assert wrong.returncode != 0 and "FeatureCollection" in wrong.stderr
