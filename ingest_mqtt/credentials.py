"""Broker credentials for devices: one username and password per station and per lift.

The broker's ACL (deploy/mosquitto/acl) ties a username to the topics it may publish
under, so a station's username is its station code and a lift's is its registration
code. Passwords are random, shown once (to hand to the device's installer) and stored
by the broker only as salted PBKDF2-SHA512 hashes, in the format Mosquitto 2's
``mosquitto_passwd`` writes (``$7$<iterations>$<salt>$<hash>``, base64), so the file can
be made without the broker's tools on the machine.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable, Mapping

# What mosquitto_passwd 2.0 uses: 101 iterations, a 12-byte salt, a 64-byte digest.
ITERATIONS = 101
SALT_BYTES = 12


def password_hash(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, dklen=64)
    encoded_salt, encoded_digest = (
        base64.b64encode(salt).decode(),
        base64.b64encode(digest).decode(),
    )
    return f"$7${iterations}${encoded_salt}${encoded_digest}"


def verify(password: str, stored: str) -> bool:
    try:
        _, kind, iterations, salt, _ = stored.split("$")
        if kind != "7":
            return False
        expected = password_hash(password, salt=base64.b64decode(salt), iterations=int(iterations))
    except ValueError:
        return False
    return secrets.compare_digest(expected, stored)


def new_password() -> str:
    return secrets.token_urlsafe(18)


def password_file(
    users: Iterable[str], existing: Mapping[str, str] | None = None
) -> tuple[str, dict[str, str]]:
    """The password file for ``users``; returns (file text, {user: new password}).

    A user already in ``existing`` (username -> stored hash line) keeps its password, so
    issuing credentials for new devices does not lock out the installed ones.
    """
    existing = existing or {}
    lines: list[str] = []
    issued: dict[str, str] = {}
    for user in sorted(set(users)):
        if any(c in user for c in ":+#/\n") or not user:
            raise ValueError(f"{user!r} cannot be a broker username")
        if user in existing:
            lines.append(f"{user}:{existing[user]}")
            continue
        issued[user] = new_password()
        lines.append(f"{user}:{password_hash(issued[user])}")
    return "\n".join(lines) + "\n", issued


def parse_password_file(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#") and ":" in line:
            user, stored = line.split(":", 1)
            found[user] = stored.strip()
    return found
