"""Hazard (and check) evidence files: both stores against real servers (a local directory; moto's
standalone S3 server started here on loopback), and the API's limits and scope."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from equipment.domain.access import Role
from equipment.services import evidence_store
from equipment.settings import EvidenceSettings
from tests import factories as f
from tests.conftest import app_client

pytestmark = pytest.mark.integration
ACCEPT_LANGUAGE = "en"

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"1 0 obj\n<<>>\nendobj\n"
FORGED = b"#!/bin/sh\nrm -rf /\n"  # sent as image/jpeg, named photo.jpg


def _files(root: Path) -> dict[tuple[str, ...], bytes]:
    """Every file under ``root`` (its path parts below it) and its bytes."""
    return {p.relative_to(root).parts: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """moto's standalone S3 server on loopback, ready when it answers."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # Polled like tests.ingest_support.eventually: ready when it answers, not after a
        # fixed wait.
        deadline = time.monotonic() + 60
        with httpx.Client(timeout=2) as http:
            while True:
                try:
                    if http.get(f"{url}/moto-api/").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, "moto's server exited"
                assert time.monotonic() < deadline, "moto's server did not answer in 60 s"
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def s3_settings(url: str, bucket: str) -> EvidenceSettings:
    return EvidenceSettings(
        s3_endpoint=url, s3_bucket=bucket, s3_access_key="test", s3_secret_key="test"
    )


@pytest.fixture
def s3_store(moto_server: str) -> evidence_store.EvidenceStore:
    bucket = f"evidence-{secrets.token_hex(6)}"
    settings = s3_settings(moto_server, bucket)
    evidence_store.s3_client(settings).create_bucket(Bucket=bucket)
    return evidence_store.store_for(settings)


@pytest.mark.parametrize("backend", ["local", "s3"])
async def test_both_stores_keep_and_return_the_bytes(backend, tmp_path: Path, request):
    if backend == "s3":
        store = request.getfixturevalue("s3_store")
    else:
        store = evidence_store.LocalStore(tmp_path)
    keys = {
        media: evidence_store.new_key(7, ext) for media, ext in (("jpg", "jpg"), ("pdf", "pdf"))
    }
    await store.put(keys["jpg"], JPEG, "image/jpeg")
    await store.put(keys["pdf"], PDF, "application/pdf")
    assert await store.get(keys["jpg"]) == JPEG
    assert await store.get(keys["pdf"]) == PDF
    # A key that is not one the service makes is never joined to a path or a bucket.
    for bad in ("../../etc/passwd", "hazard/7/../../x.jpg", "/etc/passwd", "hazard/7/a.exe"):
        with pytest.raises(ValueError):
            await store.get(bad)
    if backend == "local":
        assert set(_files(tmp_path)) == {tuple(k.split("/")) for k in keys.values()}


@pytest.fixture
async def world(engine, configure, tmp_path: Path):
    owner = await f.organisation("user_unit")
    other_owner = await f.organisation("user_unit")
    company = await f.organisation("maintenance_company")
    lift = await f.unit(owner["id"], maintenance_company_id=company["id"])
    boot = configure(evidence=EvidenceSettings(directory=tmp_path / "files", max_bytes=4096))
    async with app_client(boot, language="en") as http:
        yield {
            "http": http,
            "root": tmp_path / "files",
            "lift": lift,
            "inspector": await f.token(
                Role.INSPECTOR, (await f.organisation("inspection_body"))["id"]
            ),
            "owner": await f.token(Role.USER_UNIT, owner["id"]),
            "other_owner": await f.token(Role.USER_UNIT, other_owner["id"]),
            "company": await f.token(Role.MAINTENANCE, company["id"]),
        }


async def _hazard(w) -> int:
    made = await w["http"].post(
        "/api/v1/hazards",
        json={"equipment_id": w["lift"]["id"], "description": "轿厢照明不亮"},
        headers=w["owner"],
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


async def test_upload_is_sniffed_capped_stored_under_its_own_key_and_read_in_scope(world):
    http, hazard = world["http"], await _hazard(world)
    path = f"/api/v1/hazards/{hazard}/evidence"
    photo = await http.post(
        path,
        content=JPEG,
        headers={**world["company"], "Content-Type": "image/png", "X-File-Name": "../../x.sh"},
    )
    assert photo.status_code == 201, photo.text
    assert photo.json()["media_type"] == "image/jpeg"  # its bytes say so, not its header
    forged = await http.post(
        path, content=FORGED, headers={**world["owner"], "Content-Type": "image/jpeg"}
    )
    assert forged.status_code == 422
    assert "told by its content" in forged.json()["detail"]
    too_big = await http.post(
        path,
        content=PDF + b"\x00" * 5000,
        headers={**world["owner"], "Content-Type": "application/pdf"},
    )
    assert too_big.status_code == 422 and "at most 4096 bytes" in too_big.json()["detail"]
    # Only the one accepted file is on disk, under a name the service made.
    [(parts, content)] = _files(world["root"]).items()
    assert content == JPEG and parts[:2] == ("hazard", str(hazard))

    listed = (await http.get(path, headers=world["owner"])).json()
    assert [e["media_type"] for e in listed] == ["image/jpeg"]
    file_path = f"{path}/{listed[0]['id']}"
    got = await http.get(file_path, headers=world["inspector"])
    assert got.status_code == 200 and got.content == JPEG
    assert got.headers["content-type"].startswith("image/jpeg")
    assert got.headers["x-content-type-options"] == "nosniff"
    for outsider in ("other_owner",):
        assert (await http.get(file_path, headers=world[outsider])).status_code == 404
        assert (await http.get(path, headers=world[outsider])).status_code == 404
        refused = await http.post(
            path, content=PNG, headers={**world[outsider], "Content-Type": "image/png"}
        )
        assert refused.status_code == 404


async def test_the_s3_store_serves_the_api(engine, configure, moto_server):
    bucket = f"api-{secrets.token_hex(6)}"  # one per run of the test (each engine)
    settings = s3_settings(moto_server, bucket)
    evidence_store.s3_client(settings).create_bucket(Bucket=bucket)
    owner = await f.organisation("user_unit")
    lift = await f.unit(owner["id"])
    token = await f.token(Role.USER_UNIT, owner["id"])
    async with app_client(configure(evidence=settings), language="en") as http:
        made = await http.post(
            "/api/v1/hazards",
            json={"equipment_id": lift["id"], "description": "x"},
            headers=token,
        )
        path = f"/api/v1/hazards/{made.json()['id']}/evidence"
        sent = await http.post(
            path, content=PDF, headers={**token, "Content-Type": "application/pdf"}
        )
        assert sent.status_code == 201, sent.text
        got = await http.get(f"{path}/{sent.json()['id']}", headers=token)
        assert got.content == PDF

    listing = evidence_store.s3_client(settings).list_objects_v2(Bucket=bucket)
    assert [o["Size"] for o in listing.get("Contents", [])] == [len(PDF)]


async def test_hazards_and_checks_take_evidence_the_same_way(world):
    """One upload path for both owners: the same refusals (in Chinese by default), the
    same limit and the same store, each file under its owner's own key."""
    http, hazard = world["http"], await _hazard(world)
    checklist = await http.get("/api/v1/checks/checklists/lift", headers=world["inspector"])
    items = [{"key": i["key"], "outcome": "passed"} for i in checklist.json()["items"]]
    check = await http.post(
        "/api/v1/checks",
        json={"equipment_id": world["lift"]["id"], "items": items},
        headers=world["inspector"],
    )
    assert check.status_code == 201, check.text
    paths = {
        "hazard": f"/api/v1/hazards/{hazard}/evidence",
        "check": f"/api/v1/checks/{check.json()['id']}/evidence",
    }
    chinese = {**world["inspector"], "Accept-Language": "zh-CN"}
    for bad, reason in ((FORGED, "按文件内容判定"), (PDF + b"\x00" * 5000, "最大 4096 字节")):
        answers = [await http.post(path, content=bad, headers=chinese) for path in paths.values()]
        assert [a.status_code for a in answers] == [422, 422]
        assert answers[0].json()["detail"] == answers[1].json()["detail"]
        assert reason in answers[0].json()["detail"]
    for path in paths.values():
        sent = await http.post(path, content=PNG, headers=world["inspector"])
        assert sent.status_code == 201, sent.text
        got = await http.get(f"{path}/{sent.json()['id']}", headers=world["inspector"])
        assert got.content == PNG and got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-disposition"].endswith(f'-{sent.json()["id"]}.png"')
    kinds = sorted(parts[0] for parts in _files(world["root"]))
    assert kinds == ["check", "hazard"]
