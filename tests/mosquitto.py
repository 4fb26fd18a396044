"""A real Mosquitto started from the repository's own configuration, for the tests.

The broker runs ``deploy/mosquitto/mosquitto.conf`` itself and the dynamic-security
configuration that ``sereg broker-users`` would write (ingest_mqtt/credentials.py) for
the test's users; only what cannot be the same on a test machine is rewritten (the
listener port, where the persistence file goes, where the plugin and its configuration
are), so a test that passes here passes against the shipped settings (authorisation,
client ids, queue limits, in-flight window, message size, persistence). Without the
broker binary the tests skip on a developer's machine and FAIL in CI.

Every broker also has an admin user (:data:`ADMIN`), so that a test can add a client at
run time (:meth:`Broker.add_client`): the broker uses each username as its client id,
so every connection a test opens at once needs a username of its own.

The benchmarks start the same broker outside pytest: :func:`launch_broker` raises
:class:`BrokerMissing` or :class:`BrokerFailed`, and :func:`start_broker` is the tests'
wrapper that turns those into pytest's skip-locally, fail-in-CI policy.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from ingest_mqtt import credentials

ROOT = Path(__file__).resolve().parents[1]
BROKER_DIR = ROOT / "deploy" / "mosquitto"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Where the dynamic-security plugin is: Debian's package, then the image's place.
PLUGIN_PATHS = (
    "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
)
ADMIN, ADMIN_PASSWORD = "sereg-test-admin", "admin-secret"


class BrokerMissing(RuntimeError):
    """The broker binary (or its dynamic-security plugin) is not installed."""


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


def find_plugin() -> str:
    for path in PLUGIN_PATHS:
        if Path(path).exists():
            return path
    raise BrokerMissing("Mosquitto's dynamic-security plugin is not installed")


def mosquitto_binary() -> str:
    try:
        return find_mosquitto()
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
        "plugin": f"plugin {find_plugin()}",
        "plugin_opt_config_file": f"plugin_opt_config_file {workdir / 'dynamic-security.json'}",
    }
    machine_specific = set(replacements)
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
    missing = machine_specific - seen
    assert not missing, f"mosquitto.conf no longer sets {sorted(missing)}"
    # An override of a setting the shipped file leaves at Mosquitto's default.
    lines.extend(replacements[key] for key in replacements if key not in seen)
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
    config: Path = field(default=Path())
    # Clients added at run time: username -> password.
    added: dict[str, str] = field(default_factory=dict)
    # Roles created at run time.
    roles: set[str] = field(default_factory=set)

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

    def crash(self) -> None:
        """SIGKILL: no final save, as in an OOM kill or a power cut."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=5)

    def restart(self) -> None:
        """The same config, port, persistence file and plugin configuration again."""
        assert self.process.poll() is not None, "stop or crash the broker first"
        self.process = _spawn(self.config, self.log, self.port)

    def add_client(self, username: str, password: str, roles: list[str]) -> None:
        """A plugin client created at run time through the plugin's own control topic
        (what ``mosquitto_ctrl dynsec createClient`` sends), as the admin user."""
        command = {
            "command": "createClient",
            "username": username,
            "password": password,
            "roles": [{"rolename": role} for role in roles],
        }
        _control(self.port, command)

    def ensure_role(self, role: dict) -> str:
        """Create plugin role ``role`` (a role document as ingest_mqtt.credentials writes
        it) at run time, once; answers its name."""
        name = role["rolename"]
        if name not in self.roles:
            _control(self.port, {"command": "createRole", **role})
            self.roles.add(name)
        return name

    def ensure_client(self, username: str, roles: list[str]) -> str:
        """The password of client ``username``, created with ``roles`` on first use (a
        worker that comes back under the same name finds its session again)."""
        if username not in self.added:
            password = uuid.uuid4().hex
            self.add_client(username, password, roles)
            if credentials.INGEST_ROLE in roles:
                # An ingest worker's second connection logs in as its side client.
                self.add_client(credentials.side_username(username), password, roles)
            self.added[username] = password
        return self.added[username]

    def user(self, prefix: str, roles: list[str]) -> tuple[str, str]:
        """A new client with ``roles``: (username, password)."""
        username = f"{prefix}-{uuid.uuid4().hex[:8]}"
        return username, self.ensure_client(username, roles)


def _control(port: int, command: dict) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    answered = threading.Event()
    answers: list[dict] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(ADMIN, ADMIN_PASSWORD)
    subscribed = threading.Event()
    client.on_subscribe = lambda *a: subscribed.set()

    def on_message(_c, _u, message) -> None:
        answers.extend(json.loads(message.payload)["responses"])
        answered.set()

    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.subscribe("$CONTROL/dynamic-security/v1/response", qos=1)
        assert subscribed.wait(5), "no SUBACK for the dynamic-security responses"
        client.publish("$CONTROL/dynamic-security/v1", json.dumps({"commands": [command]}), qos=1)
        assert answered.wait(5), f"no answer to {command['command']} from the plugin"
    finally:
        client.disconnect()
        client.loop_stop()
    assert "error" not in answers[0], answers[0]


def _spawn(config: Path, log: Path, port: int) -> subprocess.Popen:
    binary = find_mosquitto()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [binary, "-c", str(config)], stdout=out, stderr=subprocess.STDOUT, cwd=config.parent
        )
    deadline = time.monotonic() + 10
    while True:
        if process.poll() is not None:
            raise BrokerFailed(
                f"mosquitto exited with {process.returncode}:\n{log.read_text(errors='replace')}"
            )
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                process.wait(timeout=5)
                raise BrokerFailed(
                    f"mosquitto did not listen on {port}:\n{log.read_text(errors='replace')}"
                ) from None
            time.sleep(0.05)


def launch_broker(
    workdir: Path,
    users: credentials.Users,
    passwords: dict[str, str],
    overrides: dict[str, str] | None = None,
    *,
    group: str = "sereg-ingest",
) -> Broker:
    """A broker from the shipped config, listening on a free port of 127.0.0.1, with the
    plugin configuration ``sereg broker-users`` writes for ``users`` (each with its
    password from ``passwords``) plus the test admin.

    Raises :class:`BrokerMissing` without the binaries and :class:`BrokerFailed` when
    the broker does not come up.
    """
    find_mosquitto()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "data").mkdir(exist_ok=True)
    users = credentials.Users(
        stations=users.stations,
        lifts=users.lifts,
        workers=users.workers,
        admins=[*users.admins, ADMIN],
        extra_roles=users.extra_roles,
        extra_grants=users.extra_grants,
    )
    document, issued = credentials.dynamic_security(
        users, group=group, passwords={**passwords, ADMIN: ADMIN_PASSWORD}
    )
    assert not issued, f"no test password given for {sorted(issued)}"
    (workdir / "dynamic-security.json").write_text(json.dumps(document, indent=2))
    port = free_port()
    config = workdir / "mosquitto.conf"
    shipped = (BROKER_DIR / "mosquitto.conf").read_text()
    config.write_text(derive_config(shipped, port=port, workdir=workdir, overrides=overrides))
    log = workdir / "broker.log"
    return Broker(port=port, process=_spawn(config, log, port), log=log, config=config)


def start_broker(
    workdir: Path,
    users: credentials.Users,
    passwords: dict[str, str],
    overrides: dict[str, str] | None = None,
    *,
    group: str = "sereg-ingest",
) -> Broker:
    """:func:`launch_broker` for the tests: a missing binary skips locally and fails in
    CI, a broker that does not come up fails the test."""
    try:
        return launch_broker(workdir, users, passwords, overrides, group=group)
    except BrokerMissing as exc:
        _refuse(str(exc))
    except BrokerFailed as exc:
        import pytest

        pytest.fail(str(exc), pytrace=False)
