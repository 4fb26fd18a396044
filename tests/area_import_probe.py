"""A stand-in for the area import's worker function (equipment.services.areas.parse_worker)
that says when the worker process has the body and waits to be told to go on: a test
holds an import inside the worker process and checks what the server does meanwhile."""

from __future__ import annotations

import os
import time
from pathlib import Path

from equipment.services import areas


def parse(signals: str, body: bytes, crs: str) -> areas.ParsedBody:
    Path(signals, "started").write_text(str(os.getpid()))
    deadline = time.monotonic() + 60
    # Polls a file the test creates: the worker process shares no event with the test.
    while not Path(signals, "go").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the test never said go")
        time.sleep(0.01)
    return areas.parse_body(body, crs)
