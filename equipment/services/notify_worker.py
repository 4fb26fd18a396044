"""The notification worker's loop: escalation timers, fan-out, webhook and MQTT alert
delivery.

Runs as ``sereg notify`` (one or more processes; the database keeps them from doing the
same work twice). Outgoing calls go through one ``httpx.AsyncClient`` with timeouts, so
a slow receiver never blocks the event loop or the other deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from equipment.services import alerts, clock, escalation, hazards, notifications, risk, schedules
from equipment.settings import NotifySettings
from equipment.storage import db

log = logging.getLogger("sereg.notify")


async def work_once(
    client: httpx.AsyncClient, s: NotifySettings, publisher: alerts.Publisher | None = None
) -> int:
    """One pass; answers how much it did (0: idle, wait before the next pass).

    ``publisher``: the organisations' MQTT alert topics are fed too (none: webhooks only)."""
    now = await clock.shared_now(test_clock=s.test_clock)
    done = await escalation.fire_due(
        now=now,
        unacknowledged_minutes=s.unacknowledged_minutes,
        per_kind=schedules.policy().escalation,
    )
    # 时限制: a hazard past its deadline raises its one alarm (then fanned out like any).
    done += await hazards.raise_overdue_alarms(today=now.astimezone(clock.CHINA).date(), now=now)
    # 风险分级: units whose inputs changed since the last pass are graded again.
    done += await risk.catch_up(now=now)
    # Once a day the whole register, a batch a pass: the calendar moves days overdue.
    if s.risk_daily_hour is not None:
        done += await risk.daily_pass(now=now, hour=s.risk_daily_hour)
    done += await notifications.fan_out(now=now, limit=s.batch, alerts=publisher is not None)
    # 互联互通: the register's changes to the endpoints subscribed to them.
    done += await notifications.fan_out_changes(now=now, limit=s.batch)
    done += await notifications.deliver_due(client, s)
    if publisher is not None:
        done += await alerts.deliver_due(publisher, s)
    return done


def client_for(s: NotifySettings) -> httpx.AsyncClient:
    # No redirects: a receiver's 3xx is an answer to fix, and a redirect could carry the
    # signed body to a host the endpoint's owner did not register.
    return httpx.AsyncClient(timeout=s.timeout_s, follow_redirects=False)


async def run(s: NotifySettings, stop: asyncio.Event) -> None:
    publisher = alerts.Publisher(s.mqtt_url) if s.mqtt_url else None
    if publisher is not None:
        publisher.start()
    try:
        await _loop(s, stop, publisher)
    finally:
        if publisher is not None:
            publisher.stop()


async def _loop(s: NotifySettings, stop: asyncio.Event, publisher: alerts.Publisher | None) -> None:
    async with client_for(s) as client:
        while not stop.is_set():
            try:
                done = await work_once(client, s, publisher)
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
