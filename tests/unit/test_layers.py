"""Imports run one way: sereg (bootstrap, app, CLI) → ingest_mqtt → equipment → geo, with
equipment.settings below them all, and no product package imports the tools (bench/,
tools/) or the tests. A module that reached upward (a service reading sereg's settings,
the link importing the composition root) would fail here, naming its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_domain_purity import imported_modules

ROOT = Path(__file__).resolve().parents[2]
# What each package may not import (its upper layers, and everything outside the product).
OUTSIDE = ("bench", "tools", "tests")
FORBIDDEN = {
    "geo": ("equipment", "ingest_mqtt", "sereg", *OUTSIDE),
    "equipment": ("ingest_mqtt", "sereg", *OUTSIDE),
    "ingest_mqtt": ("sereg", *OUTSIDE),
    "sereg": OUTSIDE,
}
# sereg's CLI runs `sereg bench` and `sereg simulate` from a checkout: it imports bench/
# by name at run time (after checking the checkout is there), on purpose.
ALLOWED = {("sereg/cli.py", "bench.run_all"), ("sereg/cli.py", "bench.simulator")}


def _modules(package: str) -> list[Path]:
    return [
        p for p in sorted((ROOT / package).rglob("*.py")) if "piccolo_migrations" not in p.parts
    ]


def _cases() -> list[tuple[str, Path]]:
    return [(package, path) for package in FORBIDDEN for path in _modules(package)]


@pytest.mark.parametrize(
    ("package", "path"),
    _cases(),
    ids=lambda v: str(v.relative_to(ROOT)) if isinstance(v, Path) else v,
)
def test_no_import_runs_upward(package: str, path: Path) -> None:
    import ast

    name = str(path.relative_to(ROOT))
    upward = [
        f"{name}:{line} imports {module}"
        for line, module in imported_modules(ast.parse(path.read_text(encoding="utf-8")))
        if module.split(".")[0] in FORBIDDEN[package] and (name, module) not in ALLOWED
    ]
    assert not upward, upward


def test_the_settings_sit_below_every_package() -> None:
    # equipment.settings may import only the standard library: every layer imports it.
    import ast

    path = ROOT / "equipment" / "settings.py"
    modules = {m.split(".")[0] for _, m in imported_modules(ast.parse(path.read_text()))}
    assert not modules & {"equipment", "geo", "ingest_mqtt", "sereg", "piccolo", "litestar"}
