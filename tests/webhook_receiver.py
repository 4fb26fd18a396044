"""A webhook receiver on loopback for the tests: checks each request's signature the way
docs/webhooks.md tells receivers to, keeps what it got, and answers as told."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from equipment.domain.notifications import allowance, verify

# The receivers listen on loopback, which webhooks refuse unless the operator allows it
# (SEREG_WEBHOOK_ALLOW_PRIVATE): the tests allow it explicitly, nothing else.
ALLOW = ("127.0.0.1",)
LOOPBACK = allowance(ALLOW)


@dataclass
class Received:
    path: str
    key: str
    body: dict[str, Any]
    signed: bool  # the signature and timestamp checked out
    status: int  # what the receiver answered
    host: str = ""  # the Host header: the URL's host even when sent to its address


@dataclass
class Receiver:
    secrets: dict[str, str] = field(default_factory=dict)  # path -> the endpoint's secret
    fail_first: dict[str, int] = field(default_factory=dict)  # path -> answer 500 N times
    hold: threading.Event | None = None  # set: the first request waits for it to be released
    got: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    held: threading.Event = field(default_factory=threading.Event)

    def accepted_keys(self, path: str | None = None) -> list[str]:
        """The keys answered 2xx, once each (what a receiver that drops repeats keeps)."""
        keys: list[str] = []
        for r in self.got:
            if r.status < 300 and (path is None or r.path == path) and r.key not in keys:
                keys.append(r.key)
        return keys

    def wait_for(self, predicate, *, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; got {self.got!r}")
                self.arrived.wait(left)


def start(receiver: Receiver, address: str = "127.0.0.1") -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if receiver.hold is not None and not receiver.held.is_set():
                receiver.held.set()
                receiver.hold.wait(60)
            secret = receiver.secrets.get(self.path, "")
            stamp = self.headers.get("Sereg-Timestamp", "0")
            signed = stamp.isdigit() and verify(
                secret,
                int(stamp),
                raw,
                self.headers.get("Sereg-Signature", ""),
                at=int(time.time()),
            )
            with receiver.arrived:
                failures = receiver.fail_first.get(self.path, 0)
                if failures:
                    receiver.fail_first[self.path] = failures - 1
                status = 401 if not signed else 500 if failures else 200
                receiver.got.append(
                    Received(
                        self.path,
                        self.headers.get("Sereg-Delivery", ""),
                        json.loads(raw),
                        signed,
                        status,
                        self.headers.get("Host", ""),
                    )
                )
                receiver.arrived.notify_all()
            try:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the worker is gone (killed mid-delivery)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in address else socket.AF_INET

    server = Server((address, 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"[{address}]" if ":" in address else address
    return server, f"http://{host}:{server.server_address[1]}"
