"""Broker password hashes in Mosquitto 2's format, and issuing without locking anyone out."""

from __future__ import annotations

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


def test_issuing_keeps_existing_passwords() -> None:
    text, issued = credentials.password_file(["XYS0001", "31104206002023050001"])
    assert set(issued) == {"XYS0001", "31104206002023050001"}
    existing = credentials.parse_password_file(text)
    again, new = credentials.password_file(["XYS0001", "31104206002023050001", "XYS0002"], existing)
    assert set(new) == {"XYS0002"}
    parsed = credentials.parse_password_file(again)
    assert parsed["XYS0001"] == existing["XYS0001"]
    assert credentials.verify(new["XYS0002"], parsed["XYS0002"])


@pytest.mark.parametrize("bad", ["", "a:b", "x+y", "x#", "a/b"])
def test_usernames_that_would_break_the_acl_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        credentials.password_file([bad])


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="needs mosquitto_passwd")
def test_mosquitto_passwd_agrees(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "bob", "hunter2"], check=True)
    stored = credentials.parse_password_file(path.read_text())["bob"]
    assert credentials.verify("hunter2", stored)
