"""Where the broker link connects: the MQTT URL parsed into host, port, TLS and login.

It lives at the bottom of the product (beside the settings) because both the ingest link
(ingest_mqtt.client) and the notification worker's alert publisher
(equipment.services.alerts) connect with it, and neither may import the other's package.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit


@dataclass(frozen=True)
class MqttConnection:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None


def connection_from_url(url: str) -> MqttConnection:
    """``mqtt://[user[:password]@]host[:port]``, or ``mqtts://`` for TLS (``?ca=`` names
    a CA file); anything else is refused, naming ``MQTT_URL``."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"MQTT_URL must start with mqtt:// or mqtts://, got {parts.scheme!r}")
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise ValueError(f"MQTT_URL has an invalid port: {exc}") from exc
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - {"ca"})
    if unknown:
        raise ValueError(f"MQTT_URL option(s) not supported: {', '.join(unknown)}")
    return MqttConnection(
        host=parts.hostname or "127.0.0.1",
        port=port,
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        ca_file=options.get("ca") or None,
    )


# The organisations' alert topics (docs/mqtt-contract.md): the notification worker
# publishes them and the broker's roles (ingest_mqtt.credentials) grant them, so they are
# named here, below both. The prefix is the contract's (ingest_mqtt.topics.PREFIX).
ALERTS_PREFIX = "sereg/v1"


def alerts_topic(organisation_id: int) -> str:
    """Where the notification worker publishes an organisation's alarm events (we publish;
    the organisation's broker user may read its own and no other)."""
    if isinstance(organisation_id, bool) or not isinstance(organisation_id, int):
        raise TypeError("an organisation's alert topic is named by its id")
    return f"{ALERTS_PREFIX}/orgs/{organisation_id}/alerts"


ALERTS_ANY = f"{ALERTS_PREFIX}/orgs/+/alerts"
