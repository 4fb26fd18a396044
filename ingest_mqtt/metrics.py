"""The ingest worker's Prometheus series, served on ``SEREG_INGEST_METRICS_PORT``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

REGISTRY = CollectorRegistry()

received = Counter(
    "sereg_ingest_messages", "Messages taken from the broker, by topic kind", ["kind"],
    registry=REGISTRY,
)  # fmt: skip
stored = Counter(
    "sereg_ingest_stored", "Rows newly stored, by message kind", ["kind"], registry=REGISTRY
)
duplicates = Counter(
    "sereg_ingest_duplicates", "Redelivered messages absorbed by the idempotency keys", ["kind"],
    registry=REGISTRY,
)  # fmt: skip
verdicts = Counter(
    "sereg_ingest_verdicts", "Fill verdicts of new fills, by code", ["code"], registry=REGISTRY
)
dead_letters = Counter(
    "sereg_ingest_dead_letters", "Messages dead-lettered, by reason", ["reason"],
    registry=REGISTRY,
)  # fmt: skip
batch_size = Histogram(
    "sereg_ingest_batch_size", "Messages per committed batch",
    buckets=(1, 5, 10, 50, 100, 250, 500, 1000), registry=REGISTRY,
)  # fmt: skip
commit_seconds = Histogram(
    "sereg_ingest_commit_seconds", "Time to commit one batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=REGISTRY,
)  # fmt: skip
reconnects = Counter(
    "sereg_ingest_reconnects", "Connections to the broker after the first", registry=REGISTRY
)
db_retries = Counter(
    "sereg_ingest_db_retries", "Batch commits retried because the database was unavailable",
    registry=REGISTRY,
)  # fmt: skip
dropped_qos0 = Counter(
    "sereg_ingest_dropped_qos0", "QoS 0 heartbeats dropped because too many were waiting",
    registry=REGISTRY,
)  # fmt: skip

broker_stored_messages = Gauge(
    "sereg_broker_stored_messages",
    "Messages the broker holds in its store, all clients ($SYS/broker/store/messages/count)",
    registry=REGISTRY,
)
broker_stored_bytes = Gauge(
    "sereg_broker_stored_bytes",
    "Payload bytes the broker holds in its store ($SYS/broker/store/messages/bytes)",
    registry=REGISTRY,
)
broker_store_alarm = Gauge(
    "sereg_broker_store_alarm",
    "1 while the broker's store is past the alarm threshold, ahead of its queue limits",
    registry=REGISTRY,
)


class LinkTotals(Protocol):
    """What the link counts (ingest_mqtt.client.LinkCounters), read at each scrape."""

    received_qos1: int
    acked: int
    discarded: int
    held_peak: int
    disconnects: int
    reads_paused: int

    @property
    def held(self) -> int: ...


class _LinkCollector:
    """The link's own counters, read when scraped: the link counts in plain integers on
    its hot path, and this turns them into series."""

    def __init__(self) -> None:
        self.link: LinkTotals | None = None

    def collect(self) -> Iterator[Metric]:
        c = self.link
        if c is None:
            return
        yield CounterMetricFamily(
            "sereg_ingest_link_received", "QoS 1 deliveries received from the broker",
            value=c.received_qos1,
        )  # fmt: skip
        yield CounterMetricFamily(
            "sereg_ingest_link_acknowledged", "QoS 1 deliveries acknowledged (after commit)",
            value=c.acked,
        )  # fmt: skip
        yield CounterMetricFamily(
            "sereg_ingest_link_discarded",
            "QoS 1 deliveries of a dead connection (or left at stop), never acknowledged: "
            "the broker sends them again",
            value=c.discarded,
        )
        yield GaugeMetricFamily(
            "sereg_ingest_unacked",
            "QoS 1 deliveries held: received, not yet acknowledged or discarded",
            value=c.held,
        )
        yield GaugeMetricFamily(
            "sereg_ingest_unacked_peak", "The most QoS 1 deliveries ever held at once",
            value=c.held_peak,
        )  # fmt: skip
        yield CounterMetricFamily(
            "sereg_ingest_disconnects", "Connections to the broker lost or closed",
            value=c.disconnects,
        )  # fmt: skip
        yield CounterMetricFamily(
            "sereg_ingest_reads_paused",
            "Times the link stopped reading with Receive Maximum deliveries held",
            value=c.reads_paused,
        )


_link = _LinkCollector()
REGISTRY.register(_link)


def watch_link(counters: LinkTotals) -> None:
    """Export this link's counters (the latest link wins: one per process)."""
    _link.link = counters


def serve(port: int, host: str = "0.0.0.0") -> None:
    start_http_server(port, addr=host, registry=REGISTRY)
