"""The service as its own process: a fresh database of each engine, and ``sereg serve
--demo`` on a free port with the demo tokens it prints."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    ROOT,
    create_pg_database,
    drop_pg_database_later,
    pg_url,
    sereg_env,
    service_missing,
)

TOKEN = re.compile(r"^\s+(\w+)\s.*?(sereg_\S+)$", re.MULTILINE)
ACCOUNT = re.compile(r"^\s+(\w+)\s+user (\S+)\s+password (\S+)$")
# The demo accounts each served process printed (role: (user name, password)), by base URL.
ACCOUNTS: dict[str, dict[str, tuple[str, str]]] = {}
# What each served process printed before it served, by its base URL (for the tests that
# check the quick start's words).
PRINTED: dict[str, list[str]] = {}


@pytest.fixture(params=["sqlite", "postgres"])
async def database_env(request, tmp_path: Path) -> dict[str, str]:
    """Environment for a sereg process on a fresh, empty database of each engine."""
    if request.param == "sqlite":
        yield sereg_env(SEREG_SQLITE_PATH=str(tmp_path / "cli.sqlite3"))
        return
    name = await create_pg_database("sereg_cli")
    if name is None:
        service_missing("PostgreSQL")
    yield sereg_env(DATABASE_URL=pg_url(name))
    drop_pg_database_later(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(database_env) -> Iterator[tuple[str, dict[str, str]]]:
    """``sereg serve --demo`` as the README's quick start runs it, on a free port."""
    yield from serve_demo(database_env)


def serve_demo(env: dict[str, str], *extra: str) -> Iterator[tuple[str, dict[str, str]]]:
    """Run ``sereg serve --demo`` until the generator is closed; yields (url, tokens)."""
    database_env = env
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sereg.cli",
            "serve",
            "--demo",
            "--units",
            "400",
            "--port",
            str(port),
            *extra,
        ],
        cwd=ROOT,
        env=database_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    tokens: dict[str, str] = {}
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            PRINTED[base] = output
            if match := TOKEN.match(line):
                tokens[match.group(1)] = match.group(2)
            elif match := ACCOUNT.match(line):
                ACCOUNTS.setdefault(base, {})[match.group(1)] = (match.group(2), match.group(3))
            if "sereg serving on" in line:
                break
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("service did not come up:\n" + "".join(output))
        yield base, tokens
    finally:
        process.terminate()
        process.wait(timeout=20)
