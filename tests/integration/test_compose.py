"""compose.yaml is a valid Compose file and wires the services the way sereg needs.

No Docker engine runs here, so the file is checked against the Compose specification's
JSON schema (vendored by check-jsonschema) and then read for what the schema cannot
know: the services exist, and they point at each other.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from ruamel.yaml import YAML

from equipment.settings import DatabaseSettings
from ingest_mqtt import credentials

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
SERVICES = ("postgres", "mosquitto", "api", "ingest-1", "ingest-2", "notify")
INGEST = ("ingest-1", "ingest-2")

# ${NAME}, ${NAME:-default} and ${NAME-default}, as Compose interpolates them.
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\}")


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", path],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def interpolate(value: str, env: dict[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name, op, default = match["name"], match["op"], match["default"] or ""
        if op == ":-" and not env.get(name):
            return default
        if op == "-" and name not in env:
            return default
        return env.get(name, "")

    return _VARIABLE.sub(substitute, value)


@pytest.fixture(scope="module")
def compose() -> dict:
    return YAML(typ="safe").load(COMPOSE_FILE.read_text())


def environment(service: dict) -> dict[str, str]:
    """A service's environment as Compose sees it when no variable is set (the defaults)."""
    raw = service.get("environment", {})
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {key: interpolate(str(value), {}) for key, value in raw.items()}


def test_compose_file_follows_the_compose_specification() -> None:
    done = validate(Path("compose.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "broken",
    [
        "services:\n  api:\n    image: sereg:local\n    ports: 12\n",
        "services:\n  api:\n    image: sereg:local\nservces:\n  db:\n    image: postgres:16\n",
        "services:\n  api:\n    image: sereg:local\n    depends_on:\n      db:\n"
        "        condition: when_it_feels_like_it\n",
    ],
    ids=["ports-not-a-list", "unknown-top-level-key", "unknown-depends-on-condition"],
)
def test_the_validator_rejects_a_broken_compose_file(tmp_path: Path, broken: str) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(broken)
    done = validate(path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Schema validation errors were encountered" in done.stdout + done.stderr


def test_every_service_of_the_stack_exists(compose: dict) -> None:
    assert set(SERVICES) <= set(compose["services"])


def test_api_uses_the_postgres_service(compose: dict) -> None:
    services = compose["services"]
    url = environment(services["api"])["DATABASE_URL"]
    config = DatabaseSettings(url=url).postgres_config()
    assert config["host"] == "postgres"
    assert config["port"] == 5432
    postgres = environment(services["postgres"])
    assert config["user"] == postgres["POSTGRES_USER"]
    assert config["password"] == postgres["POSTGRES_PASSWORD"]
    assert config["database"] == postgres["POSTGRES_DB"]
    assert services["api"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in (*INGEST, "notify"):
        assert environment(services[name])["DATABASE_URL"] == url


def test_each_ingest_worker_has_a_broker_user_of_its_own(compose: dict) -> None:
    # The broker uses the username as the client id (use_username_as_clientid): two
    # workers under one user would take each other's persistent session.
    users = [check_ingest_worker(compose["services"][name]) for name in INGEST]
    assert len(set(users)) == len(INGEST)


def check_ingest_worker(ingest: dict) -> str:
    mqtt_url = urlsplit(environment(ingest)["MQTT_URL"])
    assert (mqtt_url.scheme, mqtt_url.hostname, mqtt_url.port) == ("mqtt", "mosquitto", 1883)
    # A user `sereg broker-users --ingest-worker` issues, whose name is its client id.
    assert mqtt_url.username is not None and mqtt_url.username.startswith("sereg-ingest-")
    assert environment(ingest)["SEREG_INGEST_CLIENT_ID"] == mqtt_url.username
    assert set(ingest["depends_on"]) >= {"api", "mosquitto"}
    assert ingest["command"] == ["sereg", "ingest"]
    return mqtt_url.username


def test_broker_runs_the_repository_config(compose: dict) -> None:
    volumes = compose["services"]["mosquitto"]["volumes"]
    assert "./deploy/mosquitto:/mosquitto/config:ro" in volumes
    assert (ROOT / "deploy" / "mosquitto" / "mosquitto.conf").is_file()
    # The image's own path of the dynamic-security plugin (Debian's differs; the tests
    # rewrite it), and its configuration beside mosquitto.conf in the mounted directory.
    conf = (ROOT / "deploy" / "mosquitto" / "mosquitto.conf").read_text().splitlines()
    assert "plugin /usr/lib/mosquitto_dynamic_security.so" in conf
    assert "plugin_opt_config_file /mosquitto/config/dynamic-security.json" in conf


def test_the_notify_worker_publishes_alerts_as_a_notify_user(compose: dict) -> None:
    """The notify service publishes the alert topics through the broker user that
    ``sereg broker-users --notify-worker`` issues: the sereg-notify role, which may
    publish sereg/v1/orgs/+/alerts and nothing else."""
    notify = compose["services"]["notify"]
    assert notify["command"] == ["sereg", "notify"]
    env = environment(notify)
    url = urlsplit(env["SEREG_NOTIFY_MQTT_URL"])
    assert (url.scheme, url.hostname, url.port) == ("mqtt", "mosquitto", 1883)
    assert url.username == "sereg-notify-1" and url.password
    assert set(notify["depends_on"]) >= {"api", "mosquitto"}
    # Private webhook destinations stay refused unless the operator lists some.
    assert env["SEREG_WEBHOOK_ALLOW_PRIVATE"] == ""
    document, issued = credentials.dynamic_security(
        credentials.Users(notifiers=[url.username]), group="sereg-ingest"
    )
    [client] = [c for c in document["clients"] if c["username"] == url.username]
    assert [r["rolename"] for r in client["roles"]] == [credentials.NOTIFY_ROLE]
    [role] = [r for r in document["roles"] if r["rolename"] == credentials.NOTIFY_ROLE]
    assert [(a["acltype"], a["topic"]) for a in role["acls"]] == [
        ("publishClientSend", "sereg/v1/orgs/+/alerts")
    ]
    assert url.username in issued
    # Its password comes from the environment, like the ingest workers'.
    assert "MQTT_NOTIFY_1_PASSWORD" in (ROOT / "compose.yaml").read_text()
