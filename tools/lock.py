#!/usr/bin/env python3
"""Write requirements.lock (runtime) and requirements-test.lock (runtime + tests).

Each is what pip resolves for pyproject.toml's ranges in a fresh virtual environment of
this Python, frozen to exact versions: the quick start and CI install the test lock, the
Dockerfile the runtime one. Run it after changing a dependency range, then run the tests.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADERS = {
    "requirements.lock": "runtime dependencies, the set the Dockerfile installs",
    "requirements-test.lock": "runtime and test dependencies: what quickstart.py (and CI) installs",
}


def frozen(target: str) -> str:
    with tempfile.TemporaryDirectory() as home:
        venv.create(home, with_pip=True)
        python = str(Path(home) / "bin" / "python")
        pip = [python, "-m", "pip", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "install", target], check=True, cwd=ROOT)
        done = subprocess.run(
            [*pip, "freeze", "--exclude", "sereg"], check=True, capture_output=True, text=True
        )
        return done.stdout


def main() -> int:
    for name, target in (("requirements.lock", "."), ("requirements-test.lock", ".[test]")):
        header = (
            f"# Exact versions of sereg's {HEADERS[name]}.\n"
            "# pyproject.toml keeps the ranges; regenerate with 'python3 tools/lock.py'.\n"
        )
        (ROOT / name).write_text(header + frozen(target))
        print(f"wrote {name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
