"""geo is pure spatial maths: it imports no storage, web or broker library and nothing from
``equipment`` or ``ingest_mqtt`` (dependencies point geo ← equipment ← ingest_mqtt)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.unit.test_domain_purity import FORBIDDEN_IMPORTS, clock_calls, imported_modules

ROOT = Path(__file__).resolve().parents[3]
GEO_MODULES = sorted((ROOT / "geo").rglob("*.py"))
FORBIDDEN = FORBIDDEN_IMPORTS | {"equipment", "ingest_mqtt", "sereg"}


def test_the_scan_finds_geo():
    assert {p.name for p in GEO_MODULES} >= {"areas.py", "assign.py", "crs.py", "distance.py"}


@pytest.mark.parametrize("path", GEO_MODULES, ids=lambda p: p.name)
def test_geo_imports_nothing_outward(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = [
        f"{path.name}:{line} imports {m}"
        for line, m in imported_modules(tree)
        if m.split(".")[0] in FORBIDDEN
    ]
    assert not bad, "\n".join(bad)
    assert not clock_calls(tree)
