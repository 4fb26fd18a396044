"""Alarm storm: ``--lifts`` lifts raise an entrapment at once over MQTT; how long until
each company's webhook and MQTT alert topic hear of it, and is every one told exactly once.

    python -m bench.alarm_storm [--lifts 1000] [--units 20000 | --template DB] [--rate 0]
        [--batch 50]

A broker from deploy/mosquitto and a scratch PostgreSQL register (``sereg demo``), as in
bench/ingest_throughput.py. One ``sereg ingest`` and one ``sereg notify`` process
(default settings but a 100 ms idle poll; the notify worker publishes the organisations'
alert topics through its own broker user with the shipped ``sereg-notify`` role). Every
maintenance company of the chosen lifts registers one webhook endpoint on a loopback
receiver in this process. Then one publisher sends one entrapment per lift, at QoS 1, as
fast as it can (``--rate 0``) or paced.

Measured from each message's publish (wall clock, one machine):

- **floor**: a bare paho subscriber on the lifts' event topics: the broker's delivery of
  the same storm, in the same run;
- **stored**: the time until all entrapments are alarms in the database (polled every
  10 ms): the ingest alone;
- **webhook**: receipt of the ``alarm.raised`` delivery by the company's endpoint;
- **alert topic**: receipt on ``sereg/v1/orgs/{company}/alerts`` by a subscriber.

Exactly once: every lift's alarm is delivered to its company's webhook and topic, no
idempotency key arrives twice, no alarm's event twice under different keys. Exit status 1 if not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import asyncpg
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.harness import machine, percentile
from bench.ingest_support import (
    ROOT,
    IngestProcess,
    bench_broker,
    bench_conn,
    ingest_conn,
    machine_busy,
    machine_cpu,
    scratch_register,
)
from equipment.broker import ALERTS_ANY
from ingest_mqtt import credentials, topics
from tests.mosquitto import Broker

READER_ROLE = "sereg-bench-reader"
READER = {
    "rolename": READER_ROLE,
    "acls": [
        {"acltype": kind, "topic": "sereg/v1/#", "allow": True}
        for kind in ("subscribePattern", "publishClientReceive")
    ],
}


class Receipts:
    """What arrived, when (wall clock), thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[tuple[float, str, dict]] = []  # (at, key, body)
        self.done = threading.Condition(self.lock)

    def add(self, key: str, body: dict) -> None:
        at = time.time()
        with self.done:
            self.items.append((at, key, body))
            self.done.notify_all()

    def wait(self, predicate, timeout: float) -> bool:
        with self.done:
            return self.done.wait_for(lambda: predicate(self.items), timeout)


def webhook_server(receipts: Receipts) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receipts.add(self.headers["Sereg-Delivery"], json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        # The worker opens up to a batch of connections at once; http.server's backlog of
        # 5 would drop SYNs and turn the storm into connect timeouts and backoffs.
        request_queue_size = 1024

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hook"


def subscriber(broker: Broker, topic: str, receipts: Receipts, *, raw: bool) -> mqtt.Client:
    username, password = broker.user("bench-read", [broker.ensure_role(READER)])
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=username, protocol=mqtt.MQTTv5)
    client.username_pw_set(username, password)
    subscribed = threading.Event()
    client.on_subscribe = lambda *_a: subscribed.set()
    client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)

    def on_message(_c, _u, message) -> None:
        body = json.loads(message.payload)
        key = message.topic if raw else body["id"]
        receipts.add(key, {**body, "_topic": message.topic})

    client.on_message = on_message
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    if not subscribed.wait(10):
        raise RuntimeError(f"no SUBACK for {topic}")
    return client


def notify_process(url: str, broker: Broker, batch: int) -> subprocess.Popen:
    user, password = broker.user("notify", [broker.ensure_role(credentials.notify_role())])
    env = {
        **os.environ,
        "PICCOLO_CONF": "piccolo_conf",
        "DATABASE_URL": url,
        "SEREG_NOTIFY_POLL_MS": "100",
        "SEREG_NOTIFY_BATCH": str(batch),
        "SEREG_NOTIFY_MQTT_URL": f"mqtt://{user}:{password}@127.0.0.1:{broker.port}",
        # The receiver is on loopback, which webhooks refuse by default (SSRF guard).
        "SEREG_WEBHOOK_ALLOW_PRIVATE": "127.0.0.0/8",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "sereg.cli", "notify"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if "sereg notify: running" in line:
            break
    else:
        raise RuntimeError("sereg notify exited before it ran")
    threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
    return process


def process_cpu(pid: int) -> float:
    """User and system CPU seconds a running process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_subscribed(process: IngestProcess, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not any("subscribed:" in line for line in process.log):
        if time.monotonic() > deadline:
            raise RuntimeError("sereg ingest did not subscribe:\n" + "\n".join(process.log[-20:]))
        time.sleep(0.01)


def latencies(sent: dict[str, float], got: dict[str, float]) -> list[float]:
    return sorted((got[code] - sent[code]) * 1000 for code in got if code in sent)


def row(name: str, ms: list[float], span_s: float | None, n: int) -> str:
    if not ms:
        return f"| {name} | – | – | – | – |"
    rate = f"{n / span_s:,.0f}/s" if span_s else "–"
    return (
        f"| {name} | {percentile(ms, 0.5):,.0f} | {percentile(ms, 0.99):,.0f} | {ms[-1]:,.0f} |"
        f" {rate} |"
    )


async def run(args: argparse.Namespace) -> int:
    print(
        f"# Alarm storm: {args.lifts:,} lifts raise an entrapment at once"
        f" (notify batch {args.batch})\n"
    )
    print(f"machine: {machine()}")
    async with scratch_register(args.units, template=args.template) as url:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        lifts = await pool.fetch(
            "SELECT registration_code, maintenance_company FROM equipment"
            " WHERE category LIKE '3%' AND status = 'in_use' AND registration_code IS NOT NULL"
            " AND maintenance_company IS NOT NULL ORDER BY id LIMIT $1",
            args.lifts,
        )
        if len(lifts) < args.lifts:
            print(f"only {len(lifts)} lifts in the register: raise --units")
            return 1
        company_of = {r["registration_code"]: r["maintenance_company"] for r in lifts}
        companies = sorted(set(company_of.values()))
        hooks, floor, alerts = Receipts(), Receipts(), Receipts()
        server, hook_url = webhook_server(hooks)
        await pool.executemany(
            "INSERT INTO webhook_endpoint (organisation, tier, district_code, url, secret,"
            " label, active, created_at) VALUES ($1, 'primary', '', $2, $3, 'bench', true, now())",
            [(c, hook_url, "whsec_" + uuid.uuid4().hex) for c in companies],
        )
        print(f"{len(lifts):,} lifts of {len(companies)} maintenance companies, one endpoint each")
        with bench_broker() as broker:
            readers = [
                subscriber(broker, topics.topic_for(topics.TopicKind.EVENTS, "+"), floor, raw=True),
                subscriber(broker, ALERTS_ANY, alerts, raw=False),
            ]
            ingest = IngestProcess(
                url, ingest_conn(broker, "storm-ingest"), "storm", "storm-ingest"
            )
            ingest.start()
            ingest.wait_connected()
            wait_subscribed(ingest)
            notify = notify_process(url, broker, args.batch)
            conn = bench_conn(broker)
            publisher = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=conn.username or "", protocol=mqtt.MQTTv5
            )
            publisher.username_pw_set(conn.username, conn.password)
            publisher.connect(conn.host, conn.port)
            publisher.loop_start()
            # The register may already hold entrapments (the demo city's 90 days of alarms):
            # only the storm's own count.
            held = await pool.fetchval("SELECT count(*) FROM alarm WHERE kind = 'entrapment'")
            cpu = machine_cpu()
            sent: dict[str, float] = {}
            started = time.time()
            for i, r in enumerate(lifts):
                code = r["registration_code"]
                if args.rate:
                    wait = started + i / args.rate - time.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                body = {
                    "event_id": uuid.uuid4().hex,
                    "ts": datetime.now(UTC).isoformat(),
                    "kind": "entrapment",
                    "floor": 1 + i % 20,
                }
                sent[code] = time.time()
                publisher.publish(
                    topics.topic_for(topics.TopicKind.EVENTS, code), json.dumps(body), qos=1
                )
            published = time.time()

            stored_at = None
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                n = await pool.fetchval("SELECT count(*) FROM alarm WHERE kind = 'entrapment'")
                if n - held >= len(lifts):
                    stored_at = time.time()
                    break
                await asyncio.sleep(0.01)

            def raised(items) -> set[int]:
                return {b["alarm"]["id"] for _, _, b in items if b["event"] == "alarm.raised"}

            hooks.wait(lambda items: len(raised(items)) >= len(lifts), args.timeout)

            def companies_told(items) -> int:
                return len(
                    {
                        b["alarm"]["id"]
                        for _, _, b in items
                        if b["event"] == "alarm.raised"
                        and b["organisation_id"] == company_of[b["alarm"]["registration_code"]]
                    }
                )

            alerts.wait(lambda items: companies_told(items) >= len(lifts), args.timeout)
            done = time.time()
            busy = machine_busy(cpu)
            cpu_s = {"ingest": ingest.cpu_seconds(), "notify": process_cpu(notify.pid)}
            publisher.loop_stop()
            for reader in readers:
                reader.loop_stop()
            notify.terminate()
            notify.wait(30)
            ingest.stop()
            server.shutdown()

        def by_code(items, *, company_topic: bool = False) -> dict[str, float]:
            first: dict[str, float] = {}
            for at, _, body in items:
                if "alarm" not in body:
                    code = body["_topic"].split("/")[3]
                elif body["event"] != "alarm.raised":
                    continue
                else:
                    code = body["alarm"]["registration_code"]
                    if company_topic and body["organisation_id"] != company_of.get(code):
                        continue
                first.setdefault(code, at)
            return first

        floor_at, hook_at = by_code(floor.items), by_code(hooks.items)
        alert_at = by_code(alerts.items, company_topic=True)
        keys = Counter(k for _, k, _ in hooks.items) + Counter(k for _, k, _ in alerts.items)
        repeated_keys = sum(c - 1 for c in keys.values() if c > 1)
        # One event of one alarm told once per channel and organisation. A storm that
        # outlasts the unacknowledged wait (5 minutes) also escalates its alarms: those
        # are further events, counted apart, not repeats.
        per_alarm = Counter(
            (channel, b["alarm"]["id"], b.get("organisation_id"), b["event"], b.get("step"))
            for channel, items in (("webhook", hooks.items), ("topic", alerts.items))
            for _, _, b in items
        )
        twice = sum(1 for c in per_alarm.values() if c > 1)
        escalations = sum(
            1 for _, _, b in hooks.items + alerts.items if b["event"] == "alarm.escalated"
        )
        stored = await pool.fetchval("SELECT count(*) FROM alarm WHERE kind = 'entrapment'") - held
        retried = await pool.fetchval(
            "SELECT count(*) FROM webhook_delivery WHERE attempts > 1"
        ) + await pool.fetchval("SELECT count(*) FROM alert_delivery WHERE attempts > 1")
        await pool.close()

    n = len(lifts)
    print(
        f"\npublished {n:,} entrapments in {published - started:.2f} s; {busy}; CPU seconds:"
        f" sereg ingest {cpu_s['ingest']:.1f}, sereg notify {cpu_s['notify']:.1f}\n"
    )
    print("| from publish to | p50 ms | p99 ms | max ms | throughput |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(row("floor: bare subscriber (broker delivery)", latencies(sent, floor_at), None, n))
    stored_s = (stored_at - started) if stored_at else None
    print(
        f"| ingest alone: all {n:,} stored as alarms | – | – |"
        f" {stored_s * 1000:,.0f} | {n / stored_s:,.0f}/s |"
        if stored_s
        else "| ingest alone | not all stored | | | |"
    )
    hook_ms = latencies(sent, hook_at)
    alert_ms = latencies(sent, alert_at)
    print(row("webhook receipt (company)", hook_ms, (max(hook_at.values()) - started), n))
    print(row("alert topic receipt (company)", alert_ms, (max(alert_at.values()) - started), n))
    floor_ms = latencies(sent, floor_at)
    if floor_ms and hook_ms and stored_s:
        ratio = percentile(hook_ms, 0.5) / percentile(floor_ms, 0.5)
        rates = (n / (max(hook_at.values()) - started)) / (n / stored_s)
        print(
            f"\nwebhook p50 / floor p50: {ratio:,.1f}x;"
            f" webhook throughput / ingest throughput: {rates:.2f}"
        )
    lost_hooks, lost_alerts = n - len(hook_at), n - len(alert_at)
    print(
        f"\nstored {stored:,} of {n:,}; webhooks: {len(hook_at):,} lifts told, {lost_hooks} lost;"
        f" alert topic: {len(alert_at):,} told, {lost_alerts} lost; repeated keys"
        f" {repeated_keys}, alarm events told twice {twice}; escalations told {escalations};"
        f" deliveries retried {retried};"
        f" all done {done - started:.1f} s after the first publish"
    )
    ok = stored == n and not lost_hooks and not lost_alerts and not repeated_keys and not twice
    print("exactly once: yes" if ok else "exactly once: NO")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lifts", type=int, default=1000)
    parser.add_argument("--units", type=int, default=20_000, help="demo register size")
    parser.add_argument(
        "--template",
        help="copy this existing demo database instead of generating --units (e.g. the"
        " 10^6-unit register of bench.public_page)",
    )
    parser.add_argument("--rate", type=float, default=0, help="entrapments a second (0: at once)")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument(
        "--batch", type=int, default=50, help="the notify worker's batch (SEREG_NOTIFY_BATCH)"
    )
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
