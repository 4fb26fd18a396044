"""A real Mosquitto started from the repository's own configuration, for the tests.

The broker runs ``deploy/mosquitto/mosquitto.conf`` and ``deploy/mosquitto/acl``
themselves; only what cannot be the same on a test machine is rewritten (the listener
port, where the persistence file goes, where the password and ACL files are), so a test
that passes here passes against the shipped settings (queue limits, in-flight window,
message size, persistence). Without the broker binary the tests skip on a developer's
machine and FAIL in CI.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BROKER_DIR = ROOT / "deploy" / "mosquitto"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if found is None:
        message = "the mosquitto broker binary is not installed"
        if IN_CI:
            pytest.fail(f"{message}; CI must run every integration test", pytrace=False)
        pytest.skip(message)
    return found


def mosquitto_passwd_binary() -> str:
    found = shutil.which("mosquitto_passwd")
    if found is None:
        message = "mosquitto_passwd is not installed"
        if IN_CI:
            pytest.fail(f"{message}; CI must run every integration test", pytrace=False)
        pytest.skip(message)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def derive_config(
    shipped: str, *, port: int, workdir: Path, overrides: dict[str, str] | None = None
) -> str:
    """The shipped config with only machine-specific lines (and ``overrides``) replaced."""
    replacements = {
        "listener": f"listener {port} 127.0.0.1",
        "persistence_location": f"persistence_location {workdir / 'data'}/",
        "password_file": f"password_file {workdir / 'passwd'}",
        "acl_file": f"acl_file {workdir / 'acl'}",
    }
    replacements.update({key: f"{key} {value}" for key, value in (overrides or {}).items()})
    seen: set[str] = set()
    lines = []
    for line in shipped.splitlines():
        key = line.split(maxsplit=1)[0] if line.strip() else ""
        if key in replacements:
            assert key not in seen, f"{key} appears twice in mosquitto.conf"
            seen.add(key)
            line = replacements[key]
        lines.append(line)
    missing = set(replacements) - seen
    assert not missing, f"mosquitto.conf no longer sets {sorted(missing)}"
    if os.geteuid() == 0:
        # Started as root, Mosquitto drops to the "mosquitto" user, which cannot read
        # pytest's private tmp directory. The image runs it as that user already.
        lines.append("user root")
    return "\n".join(lines) + "\n"


@dataclass
class Broker:
    port: int
    process: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_broker(
    workdir: Path,
    passwords: dict[str, str],
    overrides: dict[str, str] | None = None,
    extra_acl: str = "",
) -> Broker:
    binary = mosquitto_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "data").mkdir(exist_ok=True)
    # extra_acl grants a test-only user what a test needs beyond the shipped rules.
    (workdir / "acl").write_text((BROKER_DIR / "acl").read_text() + extra_acl)
    passwd = workdir / "passwd"
    for index, (user, password) in enumerate(passwords.items()):
        create = ["-c"] if index == 0 else []
        subprocess.run(
            [mosquitto_passwd_binary(), "-b", *create, str(passwd), user, password],
            check=True,
            capture_output=True,
        )
    port = free_port()
    config = workdir / "mosquitto.conf"
    shipped = (BROKER_DIR / "mosquitto.conf").read_text()
    config.write_text(derive_config(shipped, port=port, workdir=workdir, overrides=overrides))
    log = workdir / "broker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "-c", str(config)], stdout=out, stderr=subprocess.STDOUT, cwd=workdir
        )
    broker = Broker(port=port, process=process, log=log)
    deadline = time.monotonic() + 10
    while True:
        if process.poll() is not None:
            pytest.fail(f"mosquitto exited with {process.returncode}:\n{broker.log_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return broker
        except OSError:
            if time.monotonic() > deadline:
                broker.stop()
                pytest.fail(f"mosquitto did not listen on {port}:\n{broker.log_text()}")
            time.sleep(0.05)
