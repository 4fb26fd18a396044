"""The domain stays pure: no storage, web, broker or network imports, no hidden clock.

A rule that reads the clock itself cannot be tested at a chosen day; a rule that imports
the ORM cannot be tested without a database. Both must come in as arguments.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ROOT / "equipment" / "domain"
PURE_MODULES = [
    *sorted(DOMAIN.rglob("*.py")),
    *sorted((ROOT / "equipment" / "i18n").glob("*.py")),
    ROOT / "geo" / "coords.py",
]

FORBIDDEN_IMPORTS = frozenset(
    {"piccolo", "litestar", "paho", "asyncpg", "sqlite3", "aiosqlite", "httpx", "socket"}
)
CLOCK_TYPES = frozenset({"date", "datetime"})
CLOCK_CALLS = frozenset({"today", "now", "utcnow"})


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr)
            in ("__import__", "import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def clock_calls(tree: ast.AST) -> list[tuple[int, str]]:
    """Calls such as date.today(), datetime.now(), datetime.datetime.now(tz)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in CLOCK_CALLS:
            continue
        owner = node.func.value
        owner_name = (
            owner.id
            if isinstance(owner, ast.Name)
            else owner.attr
            if isinstance(owner, ast.Attribute)
            else None
        )
        if owner_name in CLOCK_TYPES:
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_the_scan_finds_the_domain():
    names = {_name(p) for p in PURE_MODULES}
    assert "equipment/domain/lifecycle.py" in names
    assert "equipment/domain/codes.py" in names
    assert "geo/coords.py" in names


@pytest.mark.parametrize("path", PURE_MODULES, ids=_name)
def test_module_imports_no_io_library(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = [
        f"{_name(path)}:{line} imports {module}"
        for line, module in imported_modules(tree)
        if module.split(".")[0] in FORBIDDEN_IMPORTS
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path", PURE_MODULES, ids=_name)
def test_module_does_not_read_the_clock(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = [f"{_name(path)}:{line} calls {call}" for line, call in clock_calls(tree)]
    assert not bad, "\n".join(bad) + "\n(take `today` as an argument instead)"


# The scanners themselves, on small samples, so a green run means something.


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("import piccolo", "piccolo"),
        ("import paho.mqtt.client as mqtt", "paho.mqtt.client"),
        ("from litestar import get", "litestar"),
        ("from piccolo.columns import Varchar", "piccolo.columns"),
        ("def f():\n    import sqlite3", "sqlite3"),
        ("importlib.import_module('asyncpg')", "asyncpg"),
        ("__import__('socket')", "socket"),
    ],
)
def test_import_scanner_sees(source: str, module: str):
    assert module in [m for _, m in imported_modules(ast.parse(source))]


@pytest.mark.parametrize(
    "source",
    [
        "date.today()",
        "datetime.now()",
        "datetime.now(tz=UTC)",
        "datetime.utcnow()",
        "datetime.datetime.now()",
        "datetime.date.today()",
        "def f():\n    return date.today() + delta",
    ],
)
def test_clock_scanner_sees(source: str):
    assert clock_calls(ast.parse(source))


@pytest.mark.parametrize(
    "source", ["today()", "x.today()", "date(2025, 1, 1)", "datetime.fromisoformat(s)"]
)
def test_clock_scanner_ignores(source: str):
    assert not clock_calls(ast.parse(source))
