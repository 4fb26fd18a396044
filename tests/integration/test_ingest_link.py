"""The consumer's broker link against the real broker: what it promises on the way out."""

from __future__ import annotations

import json
import uuid

import pytest

from equipment.broker import connection_from_url
from ingest_mqtt.client import BrokerLink
from tests.ingest_support import Listener, eventually, ingest_url

pytestmark = pytest.mark.integration


async def _true(value: bool) -> bool:
    return value


async def test_stop_waits_until_the_broker_has_every_verdict(ingest_broker) -> None:
    # A verdict answers a fill that is acknowledged already, so the broker never sends
    # that fill again: a verdict still in the link's memory when the process exits is
    # gone for good. Enough of them (20 MB) that the socket cannot take them in one go.
    station = f"S{uuid.uuid4().hex[:6]}"
    listener = Listener(ingest_broker, f"sereg/v1/stations/{station}/verdicts")
    client_id = f"link-{uuid.uuid4().hex[:8]}"
    link = BrokerLink(
        connection_from_url(ingest_url(ingest_broker, client_id)),
        client_id=client_id,
        subscriptions=[],
        session_expiry_s=60,
        receive_maximum=100,
    )
    try:
        link.start()
        await eventually(lambda: _true(link.connected.is_set()), within=10)
        padding = "x" * 4000
        sent = [f"e{i}" for i in range(5000)]
        for event_id in sent:
            body = {"event_id": event_id, "code": "00", "padding": padding}
            link.publish(f"sereg/v1/stations/{station}/verdicts", json.dumps(body).encode())
        await link.stop()
        assert link.outstanding_publishes() == 0
        await eventually(lambda: _true(len(listener.by_event()) == len(sent)), within=20)
        assert set(listener.by_event()) == set(sent)
    finally:
        listener.close()
