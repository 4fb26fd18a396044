"""The floor of the ingest benchmarks: a bare paho subscriber in a process of its own.

    python -m bench.ingest_bare --port P --username U --password W --client-id C
        --topic '$share/g/sereg/v1/stations/+/fills' --expect N [--persistent]
        [--subscribe-only]

It connects (MQTT v5, the consumer's Receive Maximum), subscribes at QoS 1, prints
``subscribed``, counts messages (paho acknowledges each on receipt; nothing is decoded or
stored) and, when ``--expect`` have come or ``--timeout`` passed, prints one JSON line:
CONNACK, first and last message times on the system's monotonic clock (the same clock in
every process), and the count. ``--subscribe-only`` leaves a persistent session
subscribed and exits, so a backlog can be published into it.

A process of its own, as ``sereg ingest`` is: inside the benchmark's process it would
share one GIL with the publisher's paho thread and measure that contention instead.
"""

from __future__ import annotations

import argparse
import json
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--expect", type=int, default=0)
    parser.add_argument("--receive-maximum", type=int, default=1000)
    parser.add_argument("--persistent", action="store_true")
    parser.add_argument("--subscribe-only", action="store_true")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()

    state = {"connected_at": None, "first_at": None, "last_at": None, "received": 0}
    subscribed, done = threading.Event(), threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=args.client_id, protocol=mqtt.MQTTv5
    )
    client.username_pw_set(args.username, args.password)

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        state["connected_at"] = time.monotonic()
        client.subscribe([(args.topic, SubscribeOptions(qos=1))])

    def on_message(client, userdata, message) -> None:
        now = time.monotonic()
        if state["first_at"] is None:
            state["first_at"] = now
        state["received"] += 1
        state["last_at"] = now
        if state["received"] >= args.expect:
            done.set()

    client.on_connect = on_connect
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_message = on_message
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 3600 if args.persistent else 0
    properties.ReceiveMaximum = args.receive_maximum
    client.connect(args.host, args.port, clean_start=not args.persistent, properties=properties)
    client.loop_start()
    if not subscribed.wait(10):
        raise SystemExit("no SUBACK")
    print("subscribed", flush=True)
    if not args.subscribe_only and args.expect:
        done.wait(args.timeout)
    client.disconnect()
    client.loop_stop()
    print(json.dumps(state), flush=True)


if __name__ == "__main__":
    main()
