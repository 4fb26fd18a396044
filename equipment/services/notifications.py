"""Webhook endpoints, the notification outbox and its delivery.

Never "send, then commit": what is to be told is written to the ``notification`` outbox
in the transaction that caused it (:func:`enqueue_alarm`, :func:`enqueue_alarms`), and a
worker drains it in three steps, each its own transaction:

1. fan-out: a notification becomes one ``webhook_delivery`` per endpoint told (decided by
   ``equipment.domain.notifications.recipients`` with the unit's current maintainer),
   with its body fixed, so every retry sends the same bytes under the same key;
2. claim: due deliveries are leased to this worker (PostgreSQL ``FOR UPDATE SKIP LOCKED``:
   several workers never take the same one; SQLite's write lock serialises the claim);
3. post, outside any transaction, then record the result under the same lease: delivered,
   retried after an exponential backoff, or dead after five failures (the endpoint's
   dead-letter list, redelivered on request).

A worker killed between 2 and 3 loses nothing: the lease runs out and another worker
posts again, with the same idempotency key; receivers drop the repeat (at-least-once
delivery, exactly-once effect — no HTTP receiver can be told "exactly once" otherwise).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import secrets
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec

from equipment.domain import changes as change_rules
from equipment.domain import notifications as rules
from equipment.domain.access import Jurisdiction, OrgKind, Permission, Principal, Role
from equipment.domain.errors import InvalidValue, NotFound
from equipment.i18n import N_
from equipment.services import alerts as alert_topics
from equipment.services import audit, clock
from equipment.services import changes as change_feed
from equipment.settings import NotifySettings
from equipment.storage import reads, unit_of_work
from equipment.storage.alert_deliveries import NewAlertDelivery
from equipment.storage.bulk import Bulk
from equipment.storage.notifications import (
    AlarmFacts,
    DeliveryRecord,
    EndpointRecord,
    NewChangeDelivery,
    NewEndpoint,
    NewWebhookDelivery,
    PublicEndpoint,
)

log = logging.getLogger("sereg.notify")

_ORG_KINDS_WITH_ENDPOINTS = ("maintenance_company", "user_unit", "filling_station")


# ------------------------------------------------------------------ endpoints (the API)


def _public(row: EndpointRecord) -> dict[str, Any]:
    """An endpoint as audited: never its secret."""
    return {k: v for k, v in msgspec.structs.asdict(row).items() if k != "secret"}


def _everyone(principal: Principal) -> bool:
    """Whether ``principal`` manages every endpoint (the bureau), or only its own."""
    return principal.sees_all_organisations() and principal.organisation_id is None


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidValue("the webhook URL must be an http(s) URL with a host", field="url")
    if len(url) > 2000:
        raise InvalidValue("the webhook URL is longer than 2,000 characters", field="url")
    return url


# Said to the registering user (InvalidValue, translated) and kept as a failed attempt's
# error (in English, like the other errors the worker records).
NOT_RESOLVED = N_("the webhook URL's host does not resolve")
NOT_ALLOWED = N_(
    "the webhook URL points at a private, loopback or link-local address, which is not"
    " allowed (SEREG_WEBHOOK_ALLOW_PRIVATE)"
)


class Refused(Exception):
    """A webhook URL whose host does not resolve, or resolves to an address not allowed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def destination(url: str, allow: rules.Allowance) -> str:
    """The address to send ``url``'s request to: its host resolved now, every address it
    resolves to allowed (``rules.destination_allowed``), else :class:`Refused`.

    Called at registration and again before each delivery: a host may point at a public
    address when registered and at 127.0.0.1 or the metadata service later (DNS
    rebinding), so the worker connects to the address checked here, not to a second
    resolution of the name.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        # An address in the URL is its own answer (no lookup, no resolver thread).
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError) as exc:
            raise Refused(NOT_RESOLVED) from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise Refused(NOT_RESOLVED)
    if not all(rules.destination_allowed(host, a, allow) for a in addresses):
        raise Refused(NOT_ALLOWED)
    return addresses[0]


async def create_endpoint(
    principal: Principal,
    *,
    url: str,
    organisation_id: int | None,
    tier: str,
    district_code: str,
    label: str,
    now: datetime,
    allow: rules.Allowance,
    alarms: bool = True,
    changes: str = "",
) -> EndpointRecord:
    """A new endpoint; the answer carries its signing secret, the only time it is shown.

    ``allow``: the non-public destinations the operator allows (SEREG_WEBHOOK_ALLOW_PRIVATE).

    A scoped role registers endpoints for its own organisation only; the bureau (admin)
    for any organisation, or, with no organisation, a duty desk for ``district_code``.
    """
    principal.require(Permission.WEBHOOK_MANAGE)
    _check_url(url)
    try:
        await destination(url, allow)
    except Refused as exc:
        raise InvalidValue(exc.message, field="url") from exc
    try:
        tier = rules.Tier(tier).value
    except ValueError as exc:
        raise InvalidValue("tier is primary or second", field="tier") from exc
    if not _everyone(principal):
        # Not the bureau: an organisation registers its own endpoints only, and another
        # organisation's id answers like an unknown one.
        if organisation_id not in (None, principal.organisation_id):
            raise NotFound(f"organisation {organisation_id} not found")
        organisation_id = principal.organisation_id
    if organisation_id is not None:
        kind = await reads().notifications.organisation_kind(organisation_id)
        if kind is None:
            raise NotFound(f"organisation {organisation_id} not found")
        if kind not in _ORG_KINDS_WITH_ENDPOINTS:
            raise InvalidValue(
                "only maintenance companies, user units and filling stations are told of alarms",
                field="organisation_id",
            )
        if district_code:
            raise InvalidValue("a district is for the bureau's duty desks", field="district_code")
    elif tier != rules.Tier.PRIMARY:
        raise InvalidValue("a duty desk has no second contact", field="tier")
    kinds = change_rules.parse_kinds(changes)
    if not alarms and not kinds:
        raise InvalidValue(
            "an endpoint told of neither alarms nor changes would never be called",
            field="changes",
        )
    # A new subscriber hears of the changes from now on; the past is in GET /changes.
    cursor = await change_feed.head() if kinds else ""
    secret = "whsec_" + secrets.token_urlsafe(32)
    async with unit_of_work() as uow:
        row = await uow.notifications.add_endpoint(
            NewEndpoint(
                organisation=organisation_id,
                tier=tier,
                district_code=district_code,
                url=url,
                secret=secret,
                label=label,
                created_at=now,
                alarms=alarms,
                changes=change_rules.format_kinds(kinds),
                change_cursor=cursor,
            )
        )
        await audit.record(
            principal,
            entity="webhook_endpoint",
            entity_id=row.id,
            action="create",
            at=now,
            before=None,
            after=_public(row),
        )
    return row


async def list_endpoints(principal: Principal) -> list[PublicEndpoint]:
    principal.require(Permission.WEBHOOK_MANAGE)
    return await reads().notifications.endpoints(
        everyone=_everyone(principal), organisation=principal.organisation_id
    )


async def _endpoint(principal: Principal, endpoint_id: int) -> PublicEndpoint:
    principal.require(Permission.WEBHOOK_MANAGE)
    row = await reads().notifications.endpoint(
        endpoint_id, everyone=_everyone(principal), organisation=principal.organisation_id
    )
    if row is None:
        raise NotFound(f"webhook endpoint {endpoint_id} not found")
    return row


async def get_endpoint(principal: Principal, endpoint_id: int) -> PublicEndpoint:
    return await _endpoint(principal, endpoint_id)


async def delete_endpoint(principal: Principal, endpoint_id: int, *, now: datetime) -> None:
    """Stop telling an endpoint; its pending deliveries are dropped with it (kept, dead)."""
    async with unit_of_work() as uow:
        await _endpoint(principal, endpoint_id)
        await uow.notifications.deactivate(endpoint_id)
        await audit.record(
            principal,
            entity="webhook_endpoint",
            entity_id=endpoint_id,
            action="delete",
            at=now,
            before=None,
            after=None,
        )


async def list_deliveries(
    principal: Principal, endpoint_id: int, *, state: str | None, limit: int
) -> list[DeliveryRecord]:
    """An endpoint's deliveries, newest first; ``state="dead"`` is its dead-letter list."""
    await _endpoint(principal, endpoint_id)
    return await reads().notifications.deliveries(endpoint_id, state=state, limit=limit)


async def redeliver(
    principal: Principal, endpoint_id: int, *, delivery_id: int | None, now: datetime
) -> int:
    """Put dead deliveries (one, or all of the endpoint's) back in the queue with a fresh
    count of attempts; answers how many. Same key, same body: a receiver that did get one
    after all drops the repeat."""
    async with unit_of_work() as uow:
        await _endpoint(principal, endpoint_id)
        rows = await uow.notifications.redeliver(endpoint_id, delivery_id=delivery_id, now=now)
        if delivery_id is not None and not rows:
            raise NotFound(f"no dead delivery {delivery_id} on webhook endpoint {endpoint_id}")
        await audit.record(
            principal,
            entity="webhook_endpoint",
            entity_id=endpoint_id,
            action="redeliver",
            at=now,
            before=None,
            after={"deliveries": rows},
        )
        return len(rows)


# ------------------------------------------------------------------ the outbox


async def enqueue_alarm(alarm_id: int, *, event: str, step: str = "", now: datetime) -> None:
    """Announce an alarm; call inside the transaction that raised it (the outbox)."""
    await reads().notifications.enqueue(alarm_id, event=event, step=step, now=now)


async def enqueue_alarms(
    bulk: Bulk, alarm_ids: list[int], *, now: datetime, event: str = "alarm.raised"
) -> None:
    """:func:`enqueue_alarm` for the ingest's batch, set-at-a-time, in its transaction."""
    if not alarm_ids:
        return
    await reads().notifications.enqueue_many(
        bulk, sorted(set(alarm_ids)), event=rules.Event(event).value, now=now
    )


def _alarm_body(key: str, event: str, step: str, alarm: AlarmFacts, at: datetime) -> dict[str, Any]:
    limit = alarm.response_limit_minutes
    raised = alarm.raised_at
    return {
        "id": key,
        "event": event,
        "step": step or None,
        "created_at": at.isoformat(),
        "alarm": {
            "id": alarm.id,
            "kind": alarm.kind,
            "severity": alarm.severity,
            "state": alarm.state,
            "raised_at": raised.isoformat(),
            "count": alarm.count,
            "response_limit_minutes": limit,
            "respond_by": (raised + timedelta(minutes=limit)).isoformat() if limit else None,
            "acknowledged": alarm.acknowledged_at is not None,
            "arrived": alarm.arrived_at is not None,
            "arrived_late": alarm.arrived_late,
            "district_code": alarm.district_code,
            "equipment_id": alarm.equipment,
            "equipment_code": alarm.code,
            "registration_code": alarm.registration_code,
            "address": alarm.address,
            "station_id": alarm.station,
            "detail": alarm.detail,
        },
    }


async def fan_out(*, now: datetime, limit: int = 100, alerts: bool = False) -> int:
    """Turn pending notifications into deliveries; answers how many notifications.

    ``alerts``: also one delivery per organisation of the alarm to its MQTT alert topic
    (``equipment.services.alerts``); off when no worker publishes them (no broker set)."""

    async with unit_of_work() as uow:
        store = uow.notifications
        pending = await store.pending(limit)
        if not pending:
            return 0
        alarms = await store.alarm_facts(sorted({p.alarm for p in pending}))
        endpoints = [
            rules.Endpoint(
                id=r.id,
                organisation=r.organisation,
                tier=rules.Tier(r.tier),
                district_code=r.district_code,
            )
            for r in await store.alarm_endpoints()
        ]
        rows: list[NewWebhookDelivery] = []
        alert_rows: list[NewAlertDelivery] = []
        for p in pending:
            alarm = alarms.get(p.alarm)
            if alarm is None:
                continue
            facts = rules.AlarmFacts(
                severity=alarm.severity,
                district_code=alarm.district_code,
                # The unit's maintainer now, not the one the alarm was raised under.
                maintenance_company=alarm.current_company,
                user_unit=alarm.user_unit,
                station=alarm.station,
            )
            for endpoint_id in rules.recipients(rules.Event(p.event), p.step, facts, endpoints):
                key = uuid.uuid4().hex
                body = _alarm_body(key, p.event, p.step, alarm, now)
                rows.append(
                    NewWebhookDelivery(
                        notification=p.id,
                        endpoint=endpoint_id,
                        idempotency_key=key,
                        body=json.dumps(body, ensure_ascii=False),
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
            if alerts:
                alert_rows += alert_topics.alert_rows(
                    p.id,
                    _alarm_body("", p.event, p.step, alarm, now),
                    rules.alert_organisations(facts),
                    now=now,
                )
        if rows:
            await store.add_deliveries(rows)
        await uow.alert_deliveries.insert(alert_rows)
        await store.fanned_out([p.id for p in pending])
        return len(pending)


# ------------------------------------------------------------------ the changes feed


_ROLE_OF_KIND = {
    OrgKind.MAINTENANCE_COMPANY.value: Role.MAINTENANCE,
    OrgKind.USER_UNIT.value: Role.USER_UNIT,
    OrgKind.FILLING_STATION.value: Role.STATION,
}


def subscriber(organisation: int | None, kind: str | None, district_code: str) -> Principal | None:
    """Whom an endpoint speaks for, so its changes are scoped as that caller's reads of
    ``GET /changes`` are: an organisation its units, a district desk its district (as a
    bound inspector), the city-wide desk everything. None: an organisation of no kind
    that has endpoints (never told anything, rather than told too much)."""
    if organisation is not None:
        role = _ROLE_OF_KIND.get(kind or "")
        return None if role is None else Principal(role, organisation)
    if district_code:
        return Principal(Role.INSPECTOR, jurisdiction=Jurisdiction(frozenset({district_code})))
    return Principal(Role.ADMIN)


async def fan_out_changes(*, now: datetime, limit: int = 100) -> int:
    """The next changes of each endpoint subscribed to them become deliveries; answers
    how many.

    Per endpoint: its page of the feed is read from its cursor within its scope, then one
    transaction moves the cursor only if it still stands where the page was read from
    (another worker that got there first wins, this one's page is dropped) and inserts
    the deliveries; a unique key on (change, endpoint) is the second guard. A retried
    delivery may overtake a later one: each body carries its change's cursor, by which
    a receiver orders them.
    """
    subscribed = await reads().notifications.change_subscriptions()
    told = 0
    for endpoint in subscribed:
        principal = subscriber(endpoint.organisation, endpoint.kind, endpoint.district_code)
        if principal is None:
            continue
        kinds = change_rules.parse_kinds(endpoint.changes) & change_feed.visible_kinds(principal)
        page = await change_feed.read(
            principal.equipment_scope(), endpoint.change_cursor, limit=limit, kinds=kinds
        )
        if page.next_cursor == endpoint.change_cursor:
            continue
        rows: list[NewChangeDelivery] = []
        for change in page.items:
            key = uuid.uuid4().hex
            body = {
                "id": key,
                "event": f"change.{change.kind.value}",
                "created_at": now.isoformat(),
                "change": change_feed.as_json(change, with_actor=False),
            }
            rows.append(
                NewChangeDelivery(
                    change=change.record.id,
                    endpoint=endpoint.id,
                    idempotency_key=key,
                    body=json.dumps(body, ensure_ascii=False),
                    at=now,
                )
            )
        async with unit_of_work() as uow:
            moved = await uow.notifications.move_cursor(
                endpoint.id, was=endpoint.change_cursor, to=page.next_cursor
            )
            if not moved:
                continue
            if rows:
                await uow.notifications.add_change_deliveries(rows)
        told += len(rows)
    return told


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    lease: str
    attempts: int
    key: str
    body: str
    url: str
    secret: str


async def claim(*, now: datetime, lease_s: int, limit: int) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries to this worker (each to one worker only)."""
    lease = uuid.uuid4().hex
    async with unit_of_work() as uow:
        rows = await uow.notifications.lease(
            now=now, until=now + timedelta(seconds=lease_s), lease=lease, limit=limit
        )
    return [
        Claimed(
            id=r.id,
            lease=lease,
            attempts=r.attempts,
            key=r.idempotency_key,
            body=r.body,
            url=r.url,
            secret=r.secret,
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status: int | None
    error: str


async def post(client: httpx.AsyncClient, delivery: Claimed, allow: rules.Allowance) -> Outcome:
    """One signed POST; any 2xx is delivered, anything else (or no answer) a failure.

    Sent to the address :func:`destination` checked, with the URL's host in ``Host`` and
    in TLS's server name (so the certificate is still verified against the name): a name
    now resolving to a refused address is a failed attempt, retried and dead-lettered
    like any other.
    """
    try:
        address = await destination(delivery.url, allow)
    except Refused as exc:
        return Outcome(False, None, exc.message)
    url = httpx.URL(delivery.url)
    pinned = url.copy_with(host=address)
    body = delivery.body.encode()
    stamp = int(time.time())  # the receiver's replay window is in real time
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "sereg-webhooks/1",
        "Sereg-Delivery": delivery.key,
        "Sereg-Timestamp": str(stamp),
        "Sereg-Signature": rules.signature(delivery.secret, stamp, body),
        "Host": url.netloc.decode("ascii"),
    }
    if url.scheme == "https":
        # The client pools connections by address: a TLS connection verified for one
        # name must not carry another endpoint's request to a host sharing its address.
        headers["Connection"] = "close"
    try:
        response = await client.post(
            pinned,
            content=body,
            headers=headers,
            extensions={"sni_hostname": url.raw_host.decode("ascii")},
        )
    except httpx.HTTPError as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= response.status_code < 300:
        return Outcome(True, response.status_code, "")
    return Outcome(False, response.status_code, f"HTTP {response.status_code}")


async def record(
    results: list[tuple[Claimed, Outcome]], *, now: datetime, s: NotifySettings
) -> None:
    """The attempts' results, each under the lease it was made with (a stale lease is
    ignored), in one transaction: one commit a batch, not one a delivery (an alarm storm
    is otherwise paced by the database's commits)."""
    async with unit_of_work() as uow:
        store = uow.notifications
        for delivery, outcome in results:
            status = outcome.status
            if outcome.ok:
                await store.delivered(delivery.id, delivery.lease, at=now, status=status)
            elif rules.dead_after(delivery.attempts, s.max_attempts):
                await store.dead(delivery.id, delivery.lease, error=outcome.error, status=status)
            else:
                wait = rules.backoff(
                    delivery.attempts, base_s=s.backoff_base_s, cap_s=s.backoff_cap_s
                )
                at = now + timedelta(seconds=wait)
                await store.retry(
                    delivery.id, delivery.lease, at=at, error=outcome.error, status=status
                )


async def deliver_due(client: httpx.AsyncClient, s: NotifySettings) -> int:
    """Claim, post concurrently, record; answers how many deliveries were attempted."""
    claimed = await claim(
        now=await clock.shared_now(test_clock=s.test_clock), lease_s=s.lease_s, limit=s.batch
    )
    if not claimed:
        return 0
    allow = rules.allowance(s.allow_private)
    outcomes = await asyncio.gather(*(post(client, d, allow) for d in claimed))
    now = await clock.shared_now(test_clock=s.test_clock)
    await record(list(zip(claimed, outcomes, strict=True)), now=now, s=s)
    for delivery, outcome in zip(claimed, outcomes, strict=True):
        if not outcome.ok:
            log.warning(
                "webhook delivery %s attempt %s failed: %s",
                delivery.id,
                delivery.attempts,
                outcome.error,
            )
    return len(claimed)
