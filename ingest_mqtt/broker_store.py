"""The broker side of overload: Mosquitto's stored-message count and bytes from ``$SYS``,
as metrics, with an alarm before the queue limits drop messages.

Mosquitto 2.0 has no per-client queue depth in ``$SYS``; the broker-wide store holds every
queued and in-flight message (and retained ones), so it reaches a threshold no later than
any one session's queue reaches the same number. The alarm is therefore early, never
late, for the ingest sessions' ``max_queued_messages`` / ``max_queued_bytes``.
"""

from __future__ import annotations

import logging

from ingest_mqtt import metrics

log = logging.getLogger("sereg.ingest")

COUNT_TOPIC = "$SYS/broker/store/messages/count"
BYTES_TOPIC = "$SYS/broker/store/messages/bytes"
TOPICS = (COUNT_TOPIC, BYTES_TOPIC)
# The alarm clears below this share of its threshold, so a store hovering at the line
# does not log on every $SYS update.
_CLEAR_AT = 0.9


class BrokerStoreWatch:
    """Turns the broker's ``$SYS`` store figures into gauges and an alarm (0: unwatched)."""

    def __init__(self, alarm_messages: int, alarm_bytes: int) -> None:
        self.thresholds = {COUNT_TOPIC: alarm_messages, BYTES_TOPIC: alarm_bytes}
        self.values: dict[str, int] = {}
        self.alarmed: set[str] = set()

    @property
    def enabled(self) -> bool:
        return any(self.thresholds.values())

    def observe(self, topic: str, payload: bytes) -> None:
        if topic not in self.thresholds:
            return
        try:
            value = int(payload.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            log.warning("unreadable %s from the broker: %r", topic, payload[:40])
            return
        self.values[topic] = value
        gauge = (
            metrics.broker_stored_messages if topic == COUNT_TOPIC else metrics.broker_stored_bytes
        )
        gauge.set(value)
        threshold = self.thresholds[topic]
        if not threshold:
            return
        if value >= threshold and topic not in self.alarmed:
            self.alarmed.add(topic)
            log.error(
                "broker store at %d (%s), past the alarm threshold %d: the broker's queue "
                "limits drop QoS 1 messages once reached; add ingest workers or find the "
                "stalled one",
                value, topic, threshold,
            )  # fmt: skip
        elif value < threshold * _CLEAR_AT and topic in self.alarmed:
            self.alarmed.discard(topic)
            log.warning("broker store back to %d (%s), under the alarm threshold", value, topic)
        metrics.broker_store_alarm.set(1 if self.alarmed else 0)
