"""An export that a worker process can unpickle without importing the API: the rows'
numbers and the id of the process that formatted them (tests/unit/test_downloads.py)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any


class PidExport:
    def __init__(self) -> None:
        self.rows: list[int] = []

    def add(self, row: Mapping[str, Any]) -> None:
        self.rows.append(row["n"])

    def finish(self) -> bytes:
        return f"{os.getpid()}:{self.rows}".encode()
