"""Every benchmark module imports: the benches are not run by the suite (they take minutes
and want a quiet machine), so a name they take from the product that moves would otherwise
only show the next time someone measures (bench/public_page.py once read a statement from
a module it had left)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
MODULES = sorted(p.stem for p in BENCH.glob("*.py") if p.stem != "__init__")


def test_the_benches_are_found() -> None:
    assert len(MODULES) >= 20, MODULES


@pytest.mark.parametrize("name", MODULES)
def test_a_bench_module_imports(name: str) -> None:
    importlib.import_module(f"bench.{name}")
