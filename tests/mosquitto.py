"""A real Mosquitto started from the repository's own configuration, for the tests.

The broker runs ``deploy/mosquitto/mosquitto.conf`` and ``deploy/mosquitto/acl``
themselves; only what cannot be the same on a test machine is rewritten (the listener
port, where the persistence file goes, where the password and ACL files are), so a test
that passes here passes against the shipped settings (queue limits, in-flight window,
message size, persistence). Without the broker binary the tests skip on a developer's
machine and FAIL in CI.

The benchmarks start the same broker outside pytest: :func:`launch_broker` raises
:class:`BrokerMissing` or :class:`BrokerFailed`, and :func:`start_broker` is the tests'
wrapper that turns those into pytest's skip-locally, fail-in-CI policy.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parents[1]
BROKER_DIR = ROOT / "deploy" / "mosquitto"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


class BrokerMissing(RuntimeError):
    """The broker binary (or mosquitto_passwd) is not installed."""


class BrokerFailed(RuntimeError):
    """The broker exited or did not listen; the message carries its log."""


def _refuse(message: str) -> NoReturn:
    # pytest is imported here only: the benchmarks use this module without it.
    import pytest

    if IN_CI:
        pytest.fail(f"{message}; CI must run every integration test", pytrace=False)
    pytest.skip(message)


def find_mosquitto() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if found is None:
        raise BrokerMissing("the mosquitto broker binary is not installed")
    return found


def find_mosquitto_passwd() -> str:
    found = shutil.which("mosquitto_passwd")
    if found is None:
        raise BrokerMissing("mosquitto_passwd is not installed")
    return found


def mosquitto_binary() -> str:
    try:
        return find_mosquitto()
    except BrokerMissing as exc:
        _refuse(str(exc))


def mosquitto_passwd_binary() -> str:
    try:
        return find_mosquitto_passwd()
    except BrokerMissing as exc:
        _refuse(str(exc))


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


def launch_broker(
    workdir: Path,
    passwords: dict[str, str],
    overrides: dict[str, str] | None = None,
    extra_acl: str = "",
) -> Broker:
    """A broker from the shipped config, listening on a free port of 127.0.0.1.

    Raises :class:`BrokerMissing` without the binaries and :class:`BrokerFailed` when
    the broker does not come up.
    """
    binary = find_mosquitto()
    passwd_binary = find_mosquitto_passwd()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "data").mkdir(exist_ok=True)
    # extra_acl grants a test-only user what a test needs beyond the shipped rules.
    (workdir / "acl").write_text((BROKER_DIR / "acl").read_text() + extra_acl)
    passwd = workdir / "passwd"
    for index, (user, password) in enumerate(passwords.items()):
        create = ["-c"] if index == 0 else []
        subprocess.run(
            [passwd_binary, "-b", *create, str(passwd), user, password],
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
            raise BrokerFailed(f"mosquitto exited with {process.returncode}:\n{broker.log_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return broker
        except OSError:
            if time.monotonic() > deadline:
                broker.stop()
                raise BrokerFailed(
                    f"mosquitto did not listen on {port}:\n{broker.log_text()}"
                ) from None
            time.sleep(0.05)


def start_broker(
    workdir: Path,
    passwords: dict[str, str],
    overrides: dict[str, str] | None = None,
    extra_acl: str = "",
) -> Broker:
    """:func:`launch_broker` for the tests: a missing binary skips locally and fails in
    CI, a broker that does not come up fails the test."""
    try:
        return launch_broker(workdir, passwords, overrides, extra_acl)
    except BrokerMissing as exc:
        _refuse(str(exc))
    except BrokerFailed as exc:
        import pytest

        pytest.fail(str(exc), pytrace=False)
