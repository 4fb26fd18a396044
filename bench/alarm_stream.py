"""Live alarm stream: from an alarm's commit to its event on the stream, beside idle streams.

    python -m bench.alarm_stream [--samples 50] [--streams 50]

On the register ``DATABASE_URL`` (or ``SEREG_SQLITE_PATH``) names, migrated and holding
at least one lift (``sereg demo --units 1000``): ``sereg serve`` on a free port, ``--streams``
idle streams open beside the measured one (the fan-out is part of the cost). Each sample
raises an alarm on a lift over the API, times from its 201 (the commit is done) to the
event on the measured stream, then closes the alarm. PostgreSQL is told by NOTIFY;
SQLite is polled (``SEREG_STREAM_POLL_MS``, 500 by default: half of it on average).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time

import httpx

from bench.harness import admin_token, free_port, machine, percentile, start_server, wait_until_up


async def _open(http: httpx.AsyncClient, headers: dict[str, str], stack) -> httpx.Response:
    response = await stack.enter_async_context(
        http.stream("GET", "/api/v1/alarms/stream", headers=headers)
    )
    assert response.status_code == 200, response.status_code
    return response


async def main(samples: int, streams: int) -> None:
    token = {"Authorization": f"Bearer {admin_token()}"}
    port = free_port()
    server = start_server(port)
    base = f"http://127.0.0.1:{port}"
    try:
        async with (
            httpx.AsyncClient(base_url=base, timeout=60) as http,
            contextlib.AsyncExitStack() as stack,
        ):
            await wait_until_up(http)
            lifts = await http.get("/api/v1/equipment?category_prefix=3&limit=1", headers=token)
            lift = lifts.json()["items"][0]["id"]
            for _ in range(streams):
                await _open(http, token, stack)
            measured = await _open(http, token, stack)
            lines = measured.aiter_lines()
            latencies: list[float] = []
            for _ in range(samples):
                raised = await http.post(
                    f"/api/v1/equipment/{lift}/alarms",
                    json={"kind": "door_close_fault"},
                    headers=token,
                )
                committed = time.perf_counter()
                alarm = raised.json()["id"]
                async for line in lines:
                    if line.startswith("data: "):
                        data = json.loads(line[6:])
                        if data["alarm"]["id"] == alarm and data["event"] == "raised":
                            break
                latencies.append((time.perf_counter() - committed) * 1000)
                closed = await http.post(
                    f"/api/v1/alarms/{alarm}/close", json={"note": "bench"}, headers=token
                )
                assert closed.status_code == 200, closed.text
            latencies.sort()
            p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
            print(machine())
            print(
                f"commit → event, {samples} samples, {streams} idle streams beside:"
                f" p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms"
            )
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--streams", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.samples, args.streams))
