"""Broker credentials: the Mosquitto dynamic-security plugin's configuration.

Who may connect and what each may do is one JSON document, the plugin's own format
(Mosquitto 2.0, plugins/dynamic-security): clients (username, salted password hash,
optional bound client id, roles), roles (ACLs) and the default access. sereg writes it
here, in one place, from the register (``sereg broker-users``):

- the ingest workers: one client per worker (each its own username, because the broker
  runs ``use_username_as_clientid``: the username *is* the session's client id), all with
  the role ``sereg-ingest``, and beside each its side connection's client
  ``<worker>-out`` with the same password (the worker publishes verdicts and reads $SYS on
  a second connection, which needs a client id, so a username, of its own);
- one client per filling station (username = station code) and per lift (username =
  registration code), each with a role of its own that names its own topics;
- the notification workers (``sereg notify``), role ``sereg-notify``: publish to every
  organisation's alert topic, read nothing;
- one client per organisation told of alarms (username ``org-<id>``), with a role that
  lets it subscribe to its own alert topic ``sereg/v1/orgs/<id>/alerts`` only. Mosquitto
  2.0's plugin has no %u substitution (it arrives with 2.1), so a role per device is how
  a device is held to its own topics.

Why the plugin and not ``acl_file``: Mosquitto 2.0 never checks an acl_file at SUBSCRIBE
time, it grants every subscription and filters at delivery. A device could therefore
join the ingest workers' shared subscription and be handed (and then lose) a share of
every fill. The plugin checks ``subscribeLiteral``/``subscribePattern`` when the SUBSCRIBE
arrives and, with ``subscribe`` denied by default, answers "Not authorized" in the SUBACK.

Passwords are random, shown once, and stored as PBKDF2-SHA512 with a 12-byte salt and
101 iterations: what the plugin computes at each CONNECT (``dynsec_auth__pw_hash``) and
what ``mosquitto_passwd`` writes, so the file is made without the broker's tools.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from equipment import broker
from ingest_mqtt import topics

# What Mosquitto 2.0 uses: 101 iterations, a 12-byte salt (the plugin refuses any other
# salt length), a 64-byte digest.
ITERATIONS = 101
SALT_BYTES = 12

INGEST_ROLE = "sereg-ingest"
NOTIFY_ROLE = "sereg-notify"
ADMIN_ROLE = "sereg-broker-admin"
# What the ingest workers may read of $SYS and nothing else of it: the broker-wide queue
# (issue 26 turns it into a metric and an alarm before the queue limit) and connections.
BROKER_METRICS = (
    "$SYS/broker/store/messages/count",
    "$SYS/broker/store/messages/bytes",
    "$SYS/broker/clients/connected",
)
CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
CONTROL_RESPONSE = "$CONTROL/dynamic-security/v1/response"
# Everything not granted by a role is refused. Unsubscribing is harmless and allowed.
DEFAULT_ACCESS = {
    "publishClientSend": False,
    "publishClientReceive": False,
    "subscribe": False,
    "unsubscribe": True,
}


SIDE_SUFFIX = "-out"


def side_username(worker: str) -> str:
    """The username of an ingest worker's second (publishing) connection."""
    return f"{worker}{SIDE_SUFFIX}"


def pbkdf2(password: str, salt: bytes, iterations: int = ITERATIONS) -> bytes:
    return hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, dklen=64)


def password_hash(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The ``mosquitto_passwd`` line format, ``$7$<iterations>$<salt>$<hash>`` (base64)."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = pbkdf2(password, salt, iterations)
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


def check_username(user: str) -> str:
    """A username that can also be a topic level and a client id: no wildcard, no
    separator, nothing invisible (codes are letters and digits; workers add '-')."""
    if (
        not user
        or len(user) > 64
        or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in user)
    ):
        raise ValueError(f"{user!r} cannot be a broker username")
    return user


def _acl(acltype: str, topic: str) -> dict[str, Any]:
    return {"acltype": acltype, "topic": topic, "priority": 0, "allow": True}


def ingest_role(group: str) -> dict[str, Any]:
    """The workers: join the ingest group's shared subscriptions (and no other
    subscription), receive what those deliver, publish verdicts, read the broker's
    queue metrics."""
    acls = []
    for subscription in topics.SUBSCRIPTIONS:
        acls.append(_acl("subscribeLiteral", topics.shared(subscription, group)))
        acls.append(_acl("publishClientReceive", subscription))
    acls.append(_acl("publishClientSend", topics.topic_for(topics.TopicKind.VERDICTS, "+")))
    for metric in BROKER_METRICS:
        acls.append(_acl("subscribeLiteral", metric))
        acls.append(_acl("publishClientReceive", metric))
    return {"rolename": INGEST_ROLE, "textname": "sereg ingest workers", "acls": acls}


def station_role(code: str) -> dict[str, Any]:
    """A filling station publishes its own fills and reads its own verdicts only."""
    verdicts = topics.topic_for(topics.TopicKind.VERDICTS, check_username(code))
    return {
        "rolename": f"station-{code}",
        "acls": [
            _acl("publishClientSend", topics.topic_for(topics.TopicKind.FILLS, code)),
            _acl("subscribeLiteral", verdicts),
            _acl("publishClientReceive", verdicts),
        ],
    }


def lift_role(code: str) -> dict[str, Any]:
    """A lift's IoT device publishes its own status and events only, and reads nothing."""
    check_username(code)
    return {
        "rolename": f"lift-{code}",
        "acls": [
            _acl("publishClientSend", topics.topic_for(topics.TopicKind.STATUS, code)),
            _acl("publishClientSend", topics.topic_for(topics.TopicKind.EVENTS, code)),
        ],
    }


def notify_role() -> dict[str, Any]:
    """The notification workers publish organisations' alerts and subscribe to nothing."""
    return {
        "rolename": NOTIFY_ROLE,
        "textname": "sereg notification workers",
        "acls": [_acl("publishClientSend", broker.ALERTS_ANY)],
    }


def organisation_username(organisation_id: int) -> str:
    return f"org-{organisation_id}"


def organisation_role(organisation_id: int) -> dict[str, Any]:
    """An organisation (its apps, its dispatch screen) reads its own alert topic only."""
    alerts = broker.alerts_topic(organisation_id)
    return {
        "rolename": f"org-{organisation_id}",
        "acls": [_acl("subscribeLiteral", alerts), _acl("publishClientReceive", alerts)],
    }


def admin_role() -> dict[str, Any]:
    """For mosquitto_ctrl: send commands to the plugin and read its answers."""
    return {
        "rolename": ADMIN_ROLE,
        "textname": "changes the broker's clients and roles at run time (mosquitto_ctrl)",
        "acls": [
            _acl("publishClientSend", CONTROL_TOPIC),
            _acl("subscribeLiteral", CONTROL_RESPONSE),
            _acl("publishClientReceive", CONTROL_RESPONSE),
        ],
    }


@dataclass(frozen=True)
class Users:
    """Who the broker lets in, by kind."""

    stations: Iterable[str] = ()
    lifts: Iterable[str] = ()
    workers: Iterable[str] = ()
    admins: Iterable[str] = ()
    notifiers: Iterable[str] = ()
    organisations: Iterable[int] = ()
    # Test and benchmark roles beyond the shipped ones ({rolename: role}) and who has
    # them ({username: [rolename, ...]}): never written by ``sereg broker-users``.
    extra_roles: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    extra_grants: Mapping[str, list[str]] = field(default_factory=dict)


def client_entry(
    username: str,
    roles: Iterable[str],
    *,
    password: str | None = None,
    stored: Mapping | None = None,
) -> dict[str, Any]:
    """One plugin client: the hash of ``password``, or the ``stored`` hash kept."""
    entry: dict[str, Any] = {"username": check_username(username)}
    if stored is not None:
        entry.update({k: stored[k] for k in ("password", "salt", "iterations")})
    else:
        assert password is not None
        salt = secrets.token_bytes(SALT_BYTES)
        entry.update(
            password=base64.b64encode(pbkdf2(password, salt)).decode(),
            salt=base64.b64encode(salt).decode(),
            iterations=ITERATIONS,
        )
    entry["roles"] = [{"rolename": name, "priority": 0} for name in roles]
    return entry


def dynamic_security(
    users: Users,
    *,
    group: str,
    existing: Mapping[str, Mapping[str, Any]] | None = None,
    passwords: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The plugin's configuration for ``users``; returns (document, {user: new password}).

    A user already in ``existing`` (username -> its client entry, see
    :func:`parse_clients`) keeps its password hash, so issuing credentials for new
    devices does not lock out the installed ones. ``passwords`` sets chosen passwords
    (tests); everyone else new gets a random one.
    """
    existing = existing or {}
    passwords = passwords or {}
    roles: dict[str, dict[str, Any]] = {INGEST_ROLE: ingest_role(group)}
    granted: dict[str, list[str]] = {}

    def grant(user: str, role: dict[str, Any]) -> None:
        if user in granted:
            raise ValueError(f"{user!r} is listed twice (a username names one device)")
        roles.setdefault(role["rolename"], role)
        granted[user] = [role["rolename"]]

    sides: dict[str, str] = {}
    for worker in users.workers:
        grant(worker, roles[INGEST_ROLE])
        grant(side_username(worker), roles[INGEST_ROLE])
        sides[side_username(worker)] = worker
    for code in users.stations:
        grant(code, station_role(code))
    for code in users.lifts:
        grant(code, lift_role(code))
    for admin in users.admins:
        grant(admin, admin_role())
    for notifier in users.notifiers:
        grant(notifier, notify_role())
    for org in users.organisations:
        grant(organisation_username(org), organisation_role(org))
    roles.update(users.extra_roles)
    for user, names in users.extra_grants.items():
        granted.setdefault(user, [])
        granted[user] = granted[user] + [n for n in names if n not in granted[user]]

    clients = []
    issued: dict[str, str] = {}
    entries: dict[str, dict[str, Any]] = {}
    # Workers first: each side client takes its worker's hash, so one password serves both.
    for user in sorted(granted, key=lambda u: (u in sides, u)):
        if user in sides:
            entry = client_entry(user, granted[user], stored=entries[sides[user]])
        elif user in passwords:
            entry = client_entry(user, granted[user], password=passwords[user])
        elif user in existing:
            entry = client_entry(user, granted[user], stored=existing[user])
        else:
            issued[user] = new_password()
            entry = client_entry(user, granted[user], password=issued[user])
        entries[user] = entry
    clients = [entries[user] for user in sorted(entries)]
    document = {
        "defaultACLAccess": dict(DEFAULT_ACCESS),
        "clients": clients,
        "groups": [],
        "roles": [roles[name] for name in sorted(roles)],
    }
    return document, issued


def parse_clients(text: str) -> dict[str, dict[str, Any]]:
    """The clients of a plugin configuration, by username (to keep their passwords)."""
    return {c["username"]: c for c in json.loads(text).get("clients", []) if "password" in c}


def verify_client(password: str, entry: Mapping[str, Any]) -> bool:
    digest = pbkdf2(password, base64.b64decode(entry["salt"]), int(entry["iterations"]))
    return secrets.compare_digest(base64.b64encode(digest).decode(), entry["password"])
