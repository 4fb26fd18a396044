"""Where the broker link connects: the MQTT URL parsed into host, port, TLS and login.

It lives beside the link (ingest_mqtt.client) that uses it, so neither the link nor the
tools that publish (bench, the simulator) import the application's top package.
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
