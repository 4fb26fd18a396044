"""The notification worker's loop: escalation timers, fan-out, webhook delivery.

Runs as ``sereg notify`` (one or more processes; the database keeps them from doing the
same work twice). Outgoing calls go through one ``httpx.AsyncClient`` with timeouts, so
a slow receiver never blocks the event loop or the other deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from equipment.services import clock, escalation, notifications, schedules
from equipment.storage import db
from sereg.settings import NotifySettings

log = logging.getLogger("sereg.notify")


async def work_once(client: httpx.AsyncClient, s: NotifySettings) -> int:
    """One pass; answers how much it did (0: idle, wait before the next pass)."""
    now = await clock.shared_now()
    done = await escalation.fire_due(
        now=now,
        unacknowledged_minutes=s.unacknowledged_minutes,
        per_kind=schedules.policy().escalation,
    )
    done += await notifications.fan_out(now=now, limit=s.batch)
    done += await notifications.deliver_due(client, s)
    return done


def client_for(s: NotifySettings) -> httpx.AsyncClient:
    # No redirects: a receiver's 3xx is an answer to fix, and a redirect could carry the
    # signed body to a host the endpoint's owner did not register.
    return httpx.AsyncClient(timeout=s.timeout_s, follow_redirects=False)


async def run(s: NotifySettings, stop: asyncio.Event) -> None:
    async with client_for(s) as client:
        while not stop.is_set():
            try:
                done = await work_once(client, s)
            except Exception as exc:
                # A database outage must not end the worker: it retries on the next pass.
                if db.is_transient(exc):
                    log.warning("notify: database unavailable (%s); retrying", exc)
                else:
                    log.exception("notify: pass failed")
                done = 0
            if not done:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=s.poll_s)
