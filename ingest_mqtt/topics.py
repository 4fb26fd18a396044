"""The one place that knows the topic layout of MQTT contract v1 (docs/mqtt-contract.md)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

PREFIX = "sereg/v1"
MAX_CODE = 64


class TopicKind(StrEnum):
    FILLS = "fills"  # sereg/v1/stations/{station_code}/fills
    VERDICTS = "verdicts"  # sereg/v1/stations/{station_code}/verdicts (we publish)
    STATUS = "status"  # sereg/v1/elevators/{registration_code}/status
    EVENTS = "events"  # sereg/v1/elevators/{registration_code}/events


_LAYOUT = {
    ("stations", "fills"): TopicKind.FILLS,
    ("stations", "verdicts"): TopicKind.VERDICTS,
    ("elevators", "status"): TopicKind.STATUS,
    ("elevators", "events"): TopicKind.EVENTS,
}


@dataclass(frozen=True)
class Topic:
    kind: TopicKind
    code: str  # the station code or the lift's registration code


class UnknownTopic(ValueError):
    """Not a topic of contract v1; the message is dead-lettered with this reason."""


def parse_topic(topic: str) -> Topic:
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:2]) != PREFIX:
        raise UnknownTopic(f"{topic!r} is not a sereg/v1 topic")
    _, _, family, code, leaf = parts
    kind = _LAYOUT.get((family, leaf))
    if kind is None:
        raise UnknownTopic(f"{topic!r}: no {leaf!r} messages under {family!r}")
    if not code or len(code) > MAX_CODE or any(c in code for c in "+#\x00"):
        raise UnknownTopic(f"{topic!r}: {code!r} is not a unit code")
    return Topic(kind, code)


def topic_for(kind: TopicKind, code: str) -> str:
    family = "stations" if kind in (TopicKind.FILLS, TopicKind.VERDICTS) else "elevators"
    return f"{PREFIX}/{family}/{code}/{kind.value}"


# What the ingest workers subscribe to, through a shared subscription per group.
SUBSCRIPTIONS = (
    f"{PREFIX}/stations/+/fills",
    f"{PREFIX}/elevators/+/status",
    f"{PREFIX}/elevators/+/events",
)


def shared(subscription: str, group: str) -> str:
    return f"$share/{group}/{subscription}"
