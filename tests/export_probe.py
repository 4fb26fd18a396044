"""Exports a worker process can unpickle without importing the API.

``GateExport`` stops at its first row until the test lets it go: it opens a FIFO for
reading, which returns only when the test opens it for writing (the signal that the
export is under way), and reads it to the end, which returns only when the test closes
it (the signal to go on). No sleeps, no timing: tests/integration/test_export_worker.py.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any


class GateExport:
    def __init__(self, gate: str) -> None:
        self.gate = gate
        self.codes: list[str] = []

    def add(self, row: Mapping[str, Any]) -> None:
        if not self.codes:
            # Which process holds the gate: a test kills exactly this worker (other
            # multiprocessing children may live in the same test process).
            with open(self.gate + ".pid", "w") as pid:
                pid.write(str(os.getpid()))
            with open(self.gate, "rb") as gate:
                gate.read()
        self.codes.append(f"{row['code']} {row['kind']}")

    def finish(self) -> bytes:
        return "\n".join([str(os.getpid()), *self.codes]).encode()

    def close(self) -> None:
        """Nothing to release."""
