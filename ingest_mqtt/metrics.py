"""The ingest worker's Prometheus series, served on ``SEREG_INGEST_METRICS_PORT``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

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
unacked = Gauge(
    "sereg_ingest_unacked", "QoS 1 messages received and not yet acknowledged",
    registry=REGISTRY,
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


def serve(port: int, host: str = "0.0.0.0") -> None:
    start_http_server(port, addr=host, registry=REGISTRY)
