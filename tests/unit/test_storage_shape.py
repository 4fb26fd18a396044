"""The storage layer is the one place of tables and SQL, and no import runs upward.

Services take a unit of work (equipment/storage) and call its repositories; a service that
imports a table or writes a statement puts storage back where issue 18 took it out of.
And the layers stack: sereg (the app, the CLI, the settings) composes equipment and geo,
equipment uses geo, so nothing in equipment or geo imports sereg and geo imports nothing
of equipment.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import get_type_hints

import pytest

from equipment.storage.equipment import EquipmentRow, RegisterRecord
from equipment.storage.imports import COMPARED, RegisteredUnit
from tests.unit.test_domain_purity import imported_modules

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("equipment", "geo", "sereg", "ingest_mqtt")
# Where tables and SQL belong: the storage layer, which holds the tables
# (storage/tables.py), the Piccolo app and its migrations (storage/piccolo_migrations/).
STORAGE_HOME = ("equipment/storage/",)

# The drivers themselves are not listed: the error map names their exception types.
STORAGE_IMPORTS = ("piccolo", "equipment.storage.tables")
# A statement, not a word in a message: upper-case keywords in the order SQL puts them.
SQL = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\s+\S+\s+SET\b|\bDELETE\s+FROM\b"
    r"|\b(?:CREATE|ALTER|DROP)\s+(?:TABLE|INDEX|VIEW)\b|\bON\s+CONFLICT\b"
)

# Imports that still run upward into sereg. Empty since the bootstrap (issue 18) hands the
# services their settings; kept so that an exception, if ever needed, says why.
UPWARD_NOT_YET_FIXED: dict[str, str] = {}


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _product_modules() -> list[Path]:
    return sorted(p for package in PRODUCT for p in (ROOT / package).rglob("*.py"))


def _in_storage(name: str) -> bool:
    return name.startswith(STORAGE_HOME)


def _is(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def storage_offences(source: str) -> list[str]:
    """The table or driver imports and the SQL string literals in ``source``."""
    tree = ast.parse(source)
    found = [
        f"line {line}: imports {module}"
        for line, module in imported_modules(tree)
        if any(_is(module, p) for p in STORAGE_IMPORTS)
    ]
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and SQL.search(node.value)
        ):
            found.append(f"line {node.lineno}: SQL {node.value[:60]!r}")
    return found


def upward_imports(name: str, source: str) -> list[str]:
    tree = ast.parse(source)
    above = ["sereg"] if name.startswith("equipment/") else []
    if name.startswith("geo/"):
        above = ["sereg", "equipment"]
    return [
        f"line {line}: imports {module}"
        for line, module in imported_modules(tree)
        if any(_is(module, a) for a in above)
    ]


def _modules_outside_storage() -> list[Path]:
    return [p for p in _product_modules() if not _in_storage(_name(p))]


# Every module: the last services moved onto the unit of work in issue 18, and the
# allow-list of modules not yet moved went with them.
@pytest.mark.parametrize("path", _modules_outside_storage(), ids=_name)
def test_no_table_and_no_sql_outside_storage(path: Path) -> None:
    name = _name(path)
    offences = storage_offences(path.read_text(encoding="utf-8"))
    assert not offences, f"{name} reaches storage itself (use equipment.storage): {offences}"


@pytest.mark.parametrize("path", _product_modules(), ids=_name)
def test_no_import_runs_upward(path: Path) -> None:
    name = _name(path)
    if name in UPWARD_NOT_YET_FIXED:
        pytest.skip(UPWARD_NOT_YET_FIXED[name])
    offences = upward_imports(name, path.read_text(encoding="utf-8"))
    assert not offences, f"{name} imports a layer above it: {offences}"


def test_the_allow_list_is_current() -> None:
    """An entry whose module is clean (or gone) is removed, so the list only shrinks."""
    stale = [
        name
        for name in UPWARD_NOT_YET_FIXED
        if not (ROOT / name).exists()
        or not upward_imports(name, (ROOT / name).read_text(encoding="utf-8"))
    ]
    assert not stale, f"remove from the allow-list: {stale}"


@pytest.mark.parametrize(
    "source",
    [
        "from equipment.storage.tables import Equipment",
        "import piccolo.columns",
        "from piccolo.columns.combination import WhereRaw",
        'rows = "SELECT id FROM equipment WHERE code = $1"',
        'q = f"UPDATE equipment SET version = {v}"',
        '"INSERT INTO audit_entry (actor) VALUES (?)"',
        'x = "DELETE FROM fill WHERE id = 1"',
        '"... ON CONFLICT (key) DO NOTHING"',
    ],
)
def test_the_scan_sees_storage(source: str) -> None:
    assert storage_offences(source)


@pytest.mark.parametrize(
    "source",
    [
        "from equipment.storage import unit_of_work",
        'msg = "select a unit from the list"',
        'msg = "the update set for version 2"',
        '"选择设备"',
    ],
)
def test_the_scan_leaves_prose_alone(source: str) -> None:
    assert not storage_offences(source)


def test_the_scan_sees_upward_imports() -> None:
    assert upward_imports("equipment/services/x.py", "from sereg.settings import get_settings")
    assert upward_imports("geo/x.py", "from equipment.domain import codes")
    assert upward_imports("geo/x.py", "import sereg")
    assert not upward_imports("sereg/app.py", "from equipment.services import register")
    assert not upward_imports("equipment/services/x.py", "from geo.coords import check_crs")


# A repository takes and returns typed records (issue 18): a method that answers plain
# dicts hands its callers rows nobody typed. Empty since the last seven moved to Structs;
# kept so that an exception, if ever needed, says why.
PLAIN_ROWS_NOT_YET_TYPED: dict[str, str] = {}
PLAIN_ROW = re.compile(r"\b(?:dict|Mapping)\[str, Any\]|\bdict\b(?!\[)")


def plain_row_answers(name: str, source: str) -> list[str]:
    """``name:Class.method`` of each public repository method whose return annotation is
    (or holds) a plain ``dict[str, Any]``."""
    found = []
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.ClassDef) and node.name.endswith("Repository")):
            continue
        for method in node.body:
            if (
                isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef)
                and not method.name.startswith("_")
                and method.returns is not None
                and PLAIN_ROW.search(ast.unparse(method.returns))
            ):
                found.append(f"{name}:{node.name}.{method.name}")
    return found


def _storage_modules() -> list[Path]:
    return [p for p in _product_modules() if _in_storage(_name(p))]


@pytest.mark.parametrize("path", _storage_modules(), ids=_name)
def test_repositories_answer_typed_records(path: Path) -> None:
    name = _name(path)
    found = plain_row_answers(name, path.read_text(encoding="utf-8"))
    untyped = [f for f in found if f not in PLAIN_ROWS_NOT_YET_TYPED]
    assert not untyped, f"answer a Struct, not a plain dict: {untyped}"


def test_the_plain_row_list_is_current() -> None:
    still = {
        f
        for p in _storage_modules()
        for f in plain_row_answers(_name(p), p.read_text(encoding="utf-8"))
    }
    stale = sorted(set(PLAIN_ROWS_NOT_YET_TYPED) - still)
    assert not stale, f"remove from PLAIN_ROWS_NOT_YET_TYPED: {stale}"


@pytest.mark.parametrize(
    ("source", "answers"),
    [
        ("class XRepository:\n async def a(self) -> list[dict[str, Any]]: ...", True),
        ("class XRepository:\n async def a(self) -> Mapping[str, Any] | None: ...", True),
        ("class XRepository:\n def a(self) -> dict: ...", True),
        ("class XRepository:\n async def a(self) -> dict[int, str]: ...", False),
        ("class XRepository:\n async def a(self) -> list[Row]: ...", False),
        ("class XRepository:\n async def _a(self) -> dict[str, Any]: ...", False),
        ("class Helper:\n def a(self) -> dict[str, Any]: ...", False),
    ],
)
def test_the_scan_sees_plain_rows(source: str, answers: bool) -> None:
    assert bool(plain_row_answers("x.py", source)) is answers


def test_the_imports_registered_unit_holds_the_compared_columns() -> None:
    """The commit compares COMPARED by attribute on the units it finds (RegisteredUnit,
    whose fields are the statement's columns): a column added to one is added to both.
    Its fields are the register's (EquipmentRow's), typed alike: most are declared once,
    on the RegisterRecord both extend; the two each declares (status, version) agree."""
    assert RegisteredUnit.__struct_fields__ == ("id", "code", *COMPARED, "version")
    assert issubclass(RegisteredUnit, RegisterRecord) and issubclass(EquipmentRow, RegisterRecord)
    register = get_type_hints(EquipmentRow)
    assert {f: register[f] for f in RegisteredUnit.__struct_fields__} == get_type_hints(
        RegisteredUnit
    )
