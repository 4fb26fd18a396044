"""Broker password hashes in Mosquitto 2's format, the dynamic-security configuration's
roles, and issuing without locking anyone out."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest_mqtt import credentials

# A line mosquitto_passwd 2.0.11 wrote for alice / secret1 (see test below for a fresh one).
KNOWN = (
    "$7$101$4tcjMQjM9iVcpH4Z$8VOzp5dM4BBcDFh87+zSO6Jha+9cEluq/sIBhwk1HLsysYyLsuOdKMMW7ro1cnCJ"
    "JXbIDOTC5eArsNXFwbwdpQ=="
)


def test_a_hash_mosquitto_passwd_wrote_verifies() -> None:
    assert credentials.verify("secret1", KNOWN)
    assert not credentials.verify("secret2", KNOWN)
    assert not credentials.verify("secret1", "$6$101$abc$def")
    assert not credentials.verify("secret1", "garbage")


@settings(max_examples=25, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_hash_round_trip(password: str) -> None:
    stored = credentials.password_hash(password)
    assert stored.startswith("$7$101$")
    assert credentials.verify(password, stored)
    assert not credentials.verify(password + "x", stored)


def test_salts_differ() -> None:
    assert credentials.password_hash("same") != credentials.password_hash("same")


STATION, LIFT = "XYS0001", "31104206002023050001"


def _issue(**kwargs):
    users = credentials.Users(stations=[STATION], lifts=[LIFT], workers=["sereg-ingest-1"])
    return credentials.dynamic_security(users, group="sereg-ingest", **kwargs)


def test_issuing_keeps_existing_passwords() -> None:
    document, issued = _issue()
    assert set(issued) == {STATION, LIFT, "sereg-ingest-1"}
    existing = credentials.parse_clients(json.dumps(document))
    more = credentials.Users(
        stations=[STATION, "XYS0002"], lifts=[LIFT], workers=["sereg-ingest-1"]
    )
    again, new = credentials.dynamic_security(more, group="sereg-ingest", existing=existing)
    assert set(new) == {"XYS0002"}
    parsed = credentials.parse_clients(json.dumps(again))
    assert parsed[STATION]["password"] == existing[STATION]["password"]
    assert credentials.verify_client(issued[STATION], parsed[STATION])
    assert credentials.verify_client(new["XYS0002"], parsed["XYS0002"])
    assert not credentials.verify_client(new["XYS0002"], parsed[STATION])


def test_the_plugin_hash_is_the_mosquitto_passwd_hash() -> None:
    """The plugin stores salt and digest apart; both are what mosquitto_passwd computes."""
    _, _kind, iterations, salt, digest = KNOWN.split("$")
    entry = {"salt": salt, "password": digest, "iterations": int(iterations)}
    assert credentials.verify_client("secret1", entry)
    assert not credentials.verify_client("secret2", entry)


def test_each_device_has_only_its_own_topics_and_everything_else_is_denied() -> None:
    document, _ = _issue()
    assert document["defaultACLAccess"] == {
        "publishClientSend": False,
        "publishClientReceive": False,
        "subscribe": False,
        "unsubscribe": True,
    }
    roles = {
        r["rolename"]: {(a["acltype"], a["topic"]) for a in r["acls"]} for r in document["roles"]
    }
    assert roles[f"station-{STATION}"] == {
        ("publishClientSend", f"sereg/v1/stations/{STATION}/fills"),
        ("subscribeLiteral", f"sereg/v1/stations/{STATION}/verdicts"),
        ("publishClientReceive", f"sereg/v1/stations/{STATION}/verdicts"),
    }
    assert roles[f"lift-{LIFT}"] == {
        ("publishClientSend", f"sereg/v1/elevators/{LIFT}/status"),
        ("publishClientSend", f"sereg/v1/elevators/{LIFT}/events"),
    }
    ingest = roles[credentials.INGEST_ROLE]
    subscribes = {topic for kind, topic in ingest if kind.startswith("subscribe")}
    assert subscribes == {
        "$share/sereg-ingest/sereg/v1/stations/+/fills",
        "$share/sereg-ingest/sereg/v1/elevators/+/status",
        "$share/sereg-ingest/sereg/v1/elevators/+/events",
        *credentials.BROKER_METRICS,
    }
    assert {t for k, t in ingest if k == "publishClientSend"} == {"sereg/v1/stations/+/verdicts"}
    clients = {c["username"]: [r["rolename"] for r in c["roles"]] for c in document["clients"]}
    assert clients == {
        STATION: [f"station-{STATION}"],
        LIFT: [f"lift-{LIFT}"],
        "sereg-ingest-1": [credentials.INGEST_ROLE],
        "sereg-ingest-1-out": [credentials.INGEST_ROLE],
    }


def test_a_username_names_one_device() -> None:
    users = credentials.Users(stations=["X1"], lifts=["X1"])
    with pytest.raises(ValueError, match="twice"):
        credentials.dynamic_security(users, group="g")


@pytest.mark.parametrize("bad", ["", "a:b", "x+y", "x#", "a/b", "a b", "é", "x" * 65, "a\n"])
def test_usernames_that_would_break_a_topic_or_client_id_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        credentials.dynamic_security(credentials.Users(stations=[bad]), group="g")


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="needs mosquitto_passwd")
def test_mosquitto_passwd_agrees(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "bob", "hunter2"], check=True)
    stored = path.read_text().strip().split(":", 1)[1]
    assert credentials.verify("hunter2", stored)


def test_each_ingest_worker_has_a_side_client_with_its_password():
    # The worker's second connection (verdicts, $SYS) logs in as <worker>-out: the broker
    # binds client ids to usernames, so it cannot share the worker's own username.
    document, issued = credentials.dynamic_security(
        credentials.Users(workers=["sereg-ingest-1"]), group="sereg-ingest"
    )
    clients = {c["username"]: c for c in document["clients"]}
    side = clients[credentials.side_username("sereg-ingest-1")]
    assert credentials.verify_client(issued["sereg-ingest-1"], side)
    assert side["roles"] == clients["sereg-ingest-1"]["roles"]
    assert credentials.side_username("sereg-ingest-1") not in issued


def test_organisations_read_their_own_alert_topic_and_the_notifier_publishes() -> None:
    document, issued = credentials.dynamic_security(
        credentials.Users(organisations=[7, 12], notifiers=["sereg-notify-1"]), group="g"
    )
    assert set(issued) == {"org-7", "org-12", "sereg-notify-1"}
    roles = {r["rolename"]: r for r in document["roles"]}
    clients = {c["username"]: [r["rolename"] for r in c["roles"]] for c in document["clients"]}
    assert clients["org-7"] == ["org-7"]
    assert clients["sereg-notify-1"] == [credentials.NOTIFY_ROLE]
    assert roles["org-7"]["acls"] == [
        {"acltype": kind, "topic": "sereg/v1/orgs/7/alerts", "priority": 0, "allow": True}
        for kind in ("subscribeLiteral", "publishClientReceive")
    ]
    # The notifier publishes to any organisation's topic and subscribes to nothing.
    assert [(a["acltype"], a["topic"]) for a in roles[credentials.NOTIFY_ROLE]["acls"]] == [
        ("publishClientSend", "sereg/v1/orgs/+/alerts")
    ]
