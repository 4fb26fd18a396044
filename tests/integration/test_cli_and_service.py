"""The running service driven as a user would: the CLI, the demo city, HTTP over a socket."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    ROOT,
    run_sereg,
    sereg_env,
)
from tests.service_support import PRINTED, free_port

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
    # It prints the public page of a demo lift, the page its QR code opens.
    [line] = [x for x in PRINTED[base] if x.startswith("public page of a demo lift")]
    url = line.split(": ", 1)[1].strip()
    assert url.startswith(f"{base}/p/31")
    shown = httpx.get(url)
    assert shown.status_code == 200 and 'id="safety-state"' in shown.text
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


def test_user_create_list_disable_and_a_bound_token(database_env):
    assert run_sereg("migrate", env=database_env).returncode == 0
    made = run_sereg(
        "user", "create", "--username", "zhang.wei", "--role", "inspector",
        "--jurisdiction", "420602,area:4", env=database_env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    password = re.search(r"^password: (\S+)$", made.stdout, re.MULTILINE).group(1)
    assert len(password) >= 10
    listing = run_sereg("user", "list", env=database_env)
    assert "zhang.wei" in listing.stdout and "420602,area:4" in listing.stdout
    assert password not in listing.stdout
    # Only an inspector is bound to a jurisdiction; a user name is taken once.
    wrong = run_sereg(
        "user", "create", "--username", "li.na", "--role", "admin", "--jurisdiction", "420602",
        env=database_env,
    )  # fmt: skip
    assert wrong.returncode != 0 and "only an inspector" in wrong.stderr
    again = run_sereg("user", "create", "--username", "zhang.wei", "--role", "admin",
                      env=database_env)  # fmt: skip
    assert again.returncode != 0 and "is taken" in again.stderr
    gone = run_sereg("user", "disable", "--username", "zhang.wei", env=database_env)
    assert gone.returncode == 0 and "disabled" in run_sereg("user", "list", env=database_env).stdout
    bound = run_sereg(
        "token", "create", "--role", "inspector", "--jurisdiction", "420606", env=database_env
    )
    assert bound.returncode == 0, bound.stderr


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


def sereg_in(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """The installed ``sereg`` script run from ``cwd`` (not the checkout's root)."""
    script = Path(sys.executable).parent / "sereg"
    return subprocess.run(
        [str(script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


NEEDS_THE_REGISTER = (("token", "list"), ("prune",), ("areas", "reassign"))


def test_commands_refuse_a_database_that_is_not_migrated(database_env, tmp_path: Path):
    # Run from another directory, every command that needs the register says which
    # database it opened and, when that is missing or empty, refuses in one line: no
    # traceback, and no empty SQLite file left behind.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    postgres = "DATABASE_URL" in database_env
    if postgres:
        where = "PostgreSQL postgres@127.0.0.1:5432/" + database_env["DATABASE_URL"].rsplit("/")[-1]
        states = [("has no tables; run `sereg migrate`", None)]
    else:
        where = database_env["SEREG_SQLITE_PATH"]
        states = [
            ("does not exist; run `sereg migrate` to create it", None),
            ("has no tables; run `sereg migrate`", lambda: Path(where).touch()),
        ]
    for expected, make in states:
        if make is not None:
            make()
        # A server on SQLite refuses too; on PostgreSQL it only warns (a deployment may
        # migrate beside it, and /ready says when it is done).
        for args in NEEDS_THE_REGISTER + (
            (("serve", "--port", str(free_port())),) if not postgres else ()
        ):
            done = sereg_in(elsewhere, database_env, *args)
            assert done.returncode == 1, (args, done.stdout, done.stderr)
            said = done.stderr.splitlines()
            assert len(said) == 2 and said[0] == f"sereg: database {where}", (args, said)
            assert said[1].startswith(f"error: database {where} {expected}"), (args, said)
            assert list(elsewhere.iterdir()) == [], args
        if not postgres and make is None:
            assert not Path(where).exists()

    assert sereg_in(elsewhere, database_env, "migrate").returncode == 0
    listed = sereg_in(elsewhere, database_env, "token", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr.splitlines() == [f"sereg: database {where}"]


def test_the_default_database_is_the_checkouts_from_any_directory(tmp_path: Path):
    # Without SEREG_SQLITE_PATH: the checkout's sereg.sqlite3, named, never a new file in
    # the current directory. (Only read: whether it exists depends on the checkout.)
    env = sereg_env(SEREG_SQLITE_PATH=None)
    done = sereg_in(tmp_path, env, "token", "list")
    assert done.stderr.splitlines()[0] == f"sereg: database {ROOT / 'sereg.sqlite3'}"
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []
