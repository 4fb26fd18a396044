"""A server process does its one-time work at startup, not in its first requests: the
catalogues' message index is built before the first request is answered (a new worker's
first due-list page took 102 ms with it built on first use, 13 ms without)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

# In a process of its own: this process's caches are long warm from other tests.
_STARTED = """
import asyncio
from litestar.testing import AsyncTestClient
from equipment.i18n import LANGUAGES, spoken

async def main():
    from sereg.asgi import app  # the app as a server's worker builds it
    before = spoken._index.cache_info().currsize
    async with AsyncTestClient(app) as client:  # its startup hooks run here
        after = spoken._index.cache_info().currsize
        status = (await client.get("/health")).status_code
    print(before, after, len(LANGUAGES), status)

asyncio.run(main())
"""


def test_the_message_index_is_built_at_startup(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["SEREG_SQLITE_PATH"] = str(tmp_path / "start.sqlite3")
    out = subprocess.run(
        [sys.executable, "-c", _STARTED], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    before, after, languages, status = (int(x) for x in out.stdout.split())
    assert (before, after, status) == (0, languages, 200)
