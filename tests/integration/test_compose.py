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

from sereg.settings import DatabaseSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
SERVICES = ("postgres", "mosquitto", "api", "ingest-1", "ingest-2")
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
    for name in INGEST:
        assert environment(services[name])["DATABASE_URL"] == url


def test_ingest_workers_share_the_broker_as_the_ingest_user(compose: dict) -> None:
    # Two workers, each with its own fixed client id (its persistent session).
    ids = {environment(compose["services"][name])["SEREG_INGEST_CLIENT_ID"] for name in INGEST}
    assert len(ids) == len(INGEST)
    for name in INGEST:
        check_ingest_worker(compose["services"][name])


def check_ingest_worker(ingest: dict) -> None:
    mqtt_url = urlsplit(environment(ingest)["MQTT_URL"])
    assert (mqtt_url.scheme, mqtt_url.hostname, mqtt_url.port) == ("mqtt", "mosquitto", 1883)
    assert mqtt_url.username == "sereg-ingest"  # the user deploy/mosquitto/acl lets read
    assert set(ingest["depends_on"]) >= {"api", "mosquitto"}
    assert ingest["command"] == ["sereg", "ingest"]


def test_broker_runs_the_repository_config(compose: dict) -> None:
    volumes = compose["services"]["mosquitto"]["volumes"]
    assert "./deploy/mosquitto:/mosquitto/config:ro" in volumes
    for name in ("mosquitto.conf", "acl", "passwd.example"):
        assert (ROOT / "deploy" / "mosquitto" / name).is_file()
