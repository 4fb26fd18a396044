"""The keyset condition of a paged query: rows strictly after the last row's sort key.

The cursor itself (encoding, checking) is a service matter (services/pagination.py); the
condition is SQL, so it lives here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from piccolo.columns.combination import WhereRaw


class Sort(Protocol):
    @property
    def descending(self) -> bool: ...

    @property
    def order_columns(self) -> tuple[str, ...]: ...


def after_cursor(sort: Sort, values: Sequence[object], table: str | None = None) -> WhereRaw:
    """Rows strictly after ``values`` in sort order, as a row comparison the index can use.

    ``table`` qualifies the columns when the query joins another table.
    """
    op = "<" if sort.descending else ">"
    prefix = f'"{table}".' if table else ""
    columns = ", ".join(f'{prefix}"{c}"' for c in sort.order_columns)
    placeholders = ", ".join("{}" for _ in values)
    return WhereRaw(f"({columns}) {op} ({placeholders})", *values)
