"""The running service with its in-process consumer, driven as a user would: the demo
city served, a station's fills and a lift's entrapment sent over the real broker, the
verdicts, fills and alarms read back over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from tests.ingest_support import (
    at,
    encode,
    event_payload,
    events_topic,
    fill_payload,
    fills_topic,
    ingest_url,
)
from tests.service_support import serve_demo

pytestmark = pytest.mark.integration


def wait_for(check: Callable[[], bool], within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_fills_and_alarms_flow_through_the_running_service(
    database_env,
    ingest_broker,
    publisher,
    verdicts,
) -> None:
    env = {
        **database_env,
        "MQTT_URL": ingest_url(ingest_broker, client_id := f"e2e-{time.time_ns()}"),
        "SEREG_INGEST_GROUP": f"e2e{time.time_ns()}",
        "SEREG_INGEST_CLIENT_ID": client_id,
    }
    service = serve_demo(env, "--ingest")
    base, tokens = next(service)
    try:
        station = {"Authorization": f"Bearer {tokens['station']}"}
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        me = httpx.get(f"{base}/api/v1/me", headers=station).json()
        org = httpx.get(f"{base}/api/v1/organisations/{me['organisation_id']}", headers=station)
        code = org.json()["station_code"]
        assert code and code.startswith("XYS")
        cylinders = httpx.get(
            f"{base}/api/v1/equipment?limit=500&status=in_use", headers=station
        ).json()["items"]
        today = str(at().date())
        fit = [
            c
            for c in cylinders
            if c["parameters"].get("medium") == "LPG" and (c["next_inspection_due"] or "") > today
        ]
        assert fit, "the demo station has no fit LPG cylinder"
        cylinder = fit[0]["code"]
        permit = httpx.get(
            f"{base}/api/v1/cylinders/{cylinder}/fill-permit?medium=LPG", headers=station
        ).json()
        good = fill_payload(code, cylinder, filled_mass_kg=1.0)
        wrong = fill_payload(code, fit[-1]["code"], medium="O2", filled_mass_kg=None,
                             final_pressure_mpa=15.0)  # fmt: skip
        lifts = httpx.get(f"{base}/api/v1/equipment?category_prefix=31&limit=1", headers=admin)
        lift = lifts.json()["items"][0]["registration_code"]
        # The consumer connects in the background: publish once it has subscribed.
        time.sleep(2)
        publisher.publish(fills_topic(code), encode(good))
        publisher.publish(fills_topic(code), encode(wrong))
        publisher.publish(events_topic(lift), encode(event_payload("entrapment", at())))

        def fills() -> list[dict]:
            return httpx.get(f"{base}/api/v1/fills", headers=station).json()["items"]

        wait_for(lambda: len(fills()) == 2)
        by_event = {f["event_id"]: f for f in fills()}
        assert by_event[wrong["event_id"]]["verdict"] == "10"
        assert by_event[good["event_id"]]["verdict"] == permit["code"]
        wait_for(lambda: {good["event_id"], wrong["event_id"]} <= set(verdicts.by_event()))
        alarms = httpx.get(f"{base}/api/v1/alarms?state=open", headers=station).json()["items"]
        assert "fill_wrong_medium" in {a["kind"] for a in alarms}

        def entrapments() -> list[dict]:
            url = f"{base}/api/v1/alarms?kind=entrapment&state=open"
            return httpx.get(url, headers=admin).json()["items"]

        wait_for(lambda: len(entrapments()) == 1)
        assert entrapments()[0]["severity"] == "critical"

        # The running service reports how long its event loop was held.
        metrics = httpx.get(f"{base}/metrics").text.splitlines()
        ticks = next(m for m in metrics if m.startswith("sereg_event_loop_lag_seconds_count"))
        assert float(ticks.rsplit(" ", 1)[1]) >= 1
    finally:
        service.close()
