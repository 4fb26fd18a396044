"""The broker-store watch: Mosquitto's $SYS store figures as gauges, and an alarm that
fires once at its threshold and clears below 90 % of it."""

from __future__ import annotations

import logging

from ingest_mqtt import broker_store, metrics


def _gauge(name: str) -> float | None:
    return metrics.REGISTRY.get_sample_value(name)


def test_figures_become_gauges_and_the_alarm_fires_once_then_clears(caplog) -> None:
    watch = broker_store.BrokerStoreWatch(alarm_messages=1000, alarm_bytes=0)
    caplog.set_level(logging.WARNING, logger="sereg.ingest")
    watch.observe(broker_store.COUNT_TOPIC, b"999")
    watch.observe(broker_store.BYTES_TOPIC, b"123456")
    assert _gauge("sereg_broker_stored_messages") == 999
    assert _gauge("sereg_broker_stored_bytes") == 123456
    assert _gauge("sereg_broker_store_alarm") == 0
    for figure in (b"1000", b"1500"):
        watch.observe(broker_store.COUNT_TOPIC, figure)
    assert _gauge("sereg_broker_store_alarm") == 1
    assert sum("past the alarm threshold" in r.message for r in caplog.records) == 1
    watch.observe(broker_store.COUNT_TOPIC, b"901")  # under the threshold, above 90 %
    assert _gauge("sereg_broker_store_alarm") == 1
    watch.observe(broker_store.COUNT_TOPIC, b"899")
    assert _gauge("sereg_broker_store_alarm") == 0
    # A threshold of 0 watches nothing: bytes never alarm here.
    watch.observe(broker_store.BYTES_TOPIC, str(10**12).encode())
    assert _gauge("sereg_broker_store_alarm") == 0


def test_an_unreadable_figure_is_logged_and_changes_nothing(caplog) -> None:
    watch = broker_store.BrokerStoreWatch(alarm_messages=10, alarm_bytes=10)
    watch.observe(broker_store.COUNT_TOPIC, b"5")
    caplog.set_level(logging.WARNING, logger="sereg.ingest")
    watch.observe(broker_store.COUNT_TOPIC, b"\xffnot a number")
    assert watch.values[broker_store.COUNT_TOPIC] == 5
    assert any("unreadable" in r.message for r in caplog.records)
    watch.observe("$SYS/broker/uptime", b"12 seconds")  # not watched: ignored
    assert broker_store.COUNT_TOPIC in watch.values and len(watch.values) == 1


def test_nothing_is_watched_without_a_threshold() -> None:
    assert not broker_store.BrokerStoreWatch(0, 0).enabled
    assert broker_store.BrokerStoreWatch(1, 0).enabled
