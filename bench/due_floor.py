"""The due list's floor: the same SQL served by a minimal Litestar handler over asyncpg.

    SEREG_FLOOR_CASES='{"first": [sql, args], ...}' python -m uvicorn bench.due_floor:app

Each ``GET /due/{case}`` runs the statement the benchmark put in ``SEREG_FLOOR_CASES``
(the due list's own page statement with its arguments, dates as ISO text) on a pool that
skips the reset query, and answers the rows as JSON; ``GET /health`` answers a constant.
No authentication, no filter parsing, no labels: what is left of a due-list request when
everything sereg adds is taken away, for the CPU-per-request and p99 ratios.
"""

from __future__ import annotations

import json
import os
from datetime import date
from typing import Any

import asyncpg
from litestar import Litestar, get
from litestar.params import FromPath

from equipment.settings import settings_from_env


def _cases() -> dict[str, tuple[str, list[Any]]]:
    raw = json.loads(os.environ.get("SEREG_FLOOR_CASES", "{}"))
    out = {}
    for name, (sql, args) in raw.items():
        typed = [
            date.fromisoformat(a[5:]) if isinstance(a, str) and a.startswith("date:") else a
            for a in args
        ]
        out[name] = (sql, typed)
    return out


CASES = _cases()
_pool: list[asyncpg.Pool] = []


async def _no_reset(_: asyncpg.Connection) -> None:
    """As the app's pool: no reset query on release."""


async def _start() -> None:
    config = settings_from_env().database.postgres_config()
    _pool.append(await asyncpg.create_pool(**config, min_size=2, max_size=10, reset=_no_reset))


async def _stop() -> None:
    await _pool[0].close()


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/due/{case:str}")
async def due(case: FromPath[str]) -> list[dict[str, Any]]:
    sql, args = CASES[case]
    return [dict(r) for r in await _pool[0].fetch(sql, *args)]


app = Litestar([health, due], on_startup=[_start], on_shutdown=[_stop])


def encode_cases(cases: dict[str, tuple[str, list[Any]]]) -> str:
    """``SEREG_FLOOR_CASES`` for ``cases`` (dates travel as ``date:YYYY-MM-DD``)."""
    return json.dumps(
        {
            name: [sql, [f"date:{a.isoformat()}" if isinstance(a, date) else a for a in args]]
            for name, (sql, args) in cases.items()
        }
    )
