"""``quickstart.py serve`` as a newcomer runs it, stopped the way a person or a process
manager stops it: by a signal to the PID they started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, sereg_env
from tests.service_support import free_port

pytestmark = pytest.mark.integration


def start(env: dict[str, str], port: int, log: Path, *extra: str) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "quickstart.py"), "serve", "--port", str(port), *extra],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_ready(process: subprocess.Popen, port: int, log: Path, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"quickstart exited {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)  # poll interval of the wait on /ready, not a wait in itself
    process.kill()
    pytest.fail(f"/ready on port {port} not 200 within {seconds:.0f} s:\n{log.read_text()}")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def processes_with(marker: str) -> dict[int, str]:
    """Processes (any descendant included) whose environment holds ``marker``: pid to
    command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
                found[int(entry.name)] = command.decode(errors="replace").strip()
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def stop(process: subprocess.Popen, sig: signal.Signals, port: int, marker: str) -> int:
    """Send ``sig`` to the PID quickstart was started as; the server must go with it."""
    process.send_signal(sig)
    try:
        code = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"quickstart did not exit within 60 s of {sig.name}")
    still_serving = port_open(port)
    # A helper of the server's (multiprocessing's resource tracker) ends on its own once
    # the pipe to its parent closes, a moment after: wait for that, with a deadline.
    deadline = time.monotonic() + 20
    while (left := processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)  # poll interval of the wait for the processes to end
    for pid in left:  # started by this test: do not leave them to the next one
        os.kill(pid, signal.SIGKILL)
    assert not still_serving, f"port {port} still open after quickstart exited on {sig.name}"
    assert left == {}, f"still running 20 s after quickstart exited on {sig.name}: {left}"
    return code


def test_quickstart_serve_stops_on_a_signal_and_prints_how_to_get_a_token(tmp_path):
    database = tmp_path / "quickstart.sqlite3"  # unique: it marks every process started
    env = sereg_env(SEREG_SQLITE_PATH=str(database), PYTHONUNBUFFERED="1")
    port = free_port()
    first_log = tmp_path / "first.log"
    first = start(env, port, first_log, "--units", "100")
    try:
        wait_ready(first, port, first_log)
        code = stop(first, signal.SIGTERM, port, str(database))
    finally:
        if first.poll() is None:
            first.kill()
    # The server's own status: uvicorn ends a SIGTERM gracefully (0) or re-raises it
    # (the shell's 128 + 15), never quickstart's 241.
    assert code in (0, -signal.SIGTERM), first_log.read_text()
    printed = first_log.read_text()
    assert printed.count("sereg_") == 5, printed  # the demo city's five tokens
    # and one account per role to log in to the pages with, beside them
    accounts = [line.split() for line in printed.splitlines() if " password " in line]
    roles = [words[0] for words in accounts]
    assert roles == ["admin", "inspector", "maintenance", "user_unit", "station", "call_centre"]
    assert all(words[1] == "user" and words[3] == "password" for words in accounts), printed
    assert "staff pages (log in): http://" in printed and f":{port}/login" in printed, printed
    assert f"sereg: database {database}" in printed

    # A second start on the same database loads nothing and shows no tokens: it says
    # how to make one, for each demo account; two workers go down with Ctrl-C's SIGINT.
    second_log = tmp_path / "second.log"
    second = start(env, port, second_log, "--workers", "2")
    try:
        wait_ready(second, port, second_log)
        code = stop(second, signal.SIGINT, port, str(database))
    finally:
        if second.poll() is None:
            second.kill()
    assert code in (0, -signal.SIGINT), second_log.read_text()
    printed = second_log.read_text()
    assert "demo city not loaded" in printed and "sereg_" not in printed, printed
    hints = [line.split()[1:] for line in printed.splitlines() if " token create " in line]
    roles = [words[words.index("--role") + 1] for words in hints]
    assert roles == ["admin", "inspector", "maintenance", "user_unit", "station"], printed
    assert all("--org" in words for words in hints[1:]), printed
