#!/usr/bin/env python3
"""Run sereg from a fresh clone with nothing but Python 3.11+.

    python3 quickstart.py serve   # install, migrate, load the demo city, serve on :8000
    python3 quickstart.py test    # install, run the test suite

The first call makes ``.venv`` and installs the project into it; later calls reinstall
only when pyproject.toml changed. Extra arguments go to ``sereg serve`` or ``pytest``,
which then run as this process (its PID and signals are theirs).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
LOCK = "requirements-test.lock"


def ensure_installed() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may be run by an older python3
        sys.exit(f"sereg needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    # Exact versions from the lock file (the ranges stay in pyproject.toml), so a fresh
    # machine, CI and every developer run the same set; reinstalled when either changes.
    wanted = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + (ROOT / LOCK).read_bytes()
    ).hexdigest()
    stamp = VENV / ".sereg-installed"
    if not PYTHON.exists():
        print("creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    if stamp.exists() and stamp.read_text() == wanted:
        return
    print("installing sereg and its dependencies into .venv ...", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-r", str(ROOT / LOCK)], check=True, cwd=ROOT)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True, cwd=ROOT)
    stamp.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("serve", "test"):
        print(__doc__)
        return 2
    ensure_installed()
    command, rest = argv[0], argv[1:]
    if command == "serve":
        args = [str(PYTHON), "-m", "sereg.cli", "serve", "--demo", *rest]
    else:
        args = [str(PYTHON), "-m", "pytest", *rest]
    return run(args)


def run(args: list[str]) -> int:
    """Run ``args`` in the checkout as this very process where the system allows it.

    On POSIX quickstart replaces itself with the command (exec): its PID is the
    server's, so SIGTERM or SIGINT sent to it (kill, a process manager, Ctrl-C) reach the
    server itself, and its exit status is the server's. A child process would have to
    forward each signal, and the server would outlive quickstart when it is killed hard.
    Windows has no exec (its os.execv starts a new process) and no signals to forward
    (Ctrl-C reaches every process of the console), so there it waits for a child.
    """
    if os.name == "posix":
        os.chdir(ROOT)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(args[0], args)  # returns only by raising OSError
    return subprocess.run(args, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
