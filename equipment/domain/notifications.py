"""Who is told about an alarm, how a webhook is signed, and when a failed one is retried.

Pure: the delivery worker (``equipment.services.notifications``) reads the endpoints and
the alarm, asks :func:`recipients` whom to tell, signs with :func:`signature` and, after a
failure, waits :func:`backoff` before the next attempt. Nothing here reads a clock.

Receivers check a delivery so (docs/webhooks.md says the same for their developers):

- ``Sereg-Timestamp``: Unix seconds when the request was signed; refuse one older than
  :data:`REPLAY_WINDOW_S` (a replayed request is otherwise valid);
- ``Sereg-Signature``: ``v1=`` and the hex HMAC-SHA256 under the endpoint's secret of
  ``"{timestamp}.{body}"`` (the body's exact bytes), compared in constant time;
- ``Sereg-Delivery``: the delivery's idempotency key (also ``id`` in the body). A retry
  after a lost answer sends the same key and the same body: store the key, ignore a repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

SIGNATURE_VERSION = "v1"
REPLAY_WINDOW_S = 300
# Five failed attempts, then the delivery waits in its endpoint's dead-letter list until
# someone asks for it again (issue 24 and 23: "dead-lettered after 5 failed attempts").
MAX_ATTEMPTS = 5


class Event(StrEnum):
    ALARM_RAISED = "alarm.raised"
    ALARM_ESCALATED = "alarm.escalated"
    # The response's steps and the end: those told of the raise hear that someone acted,
    # so a dispatch screen can clear it and a desk stops chasing it.
    ALARM_ACKNOWLEDGED = "alarm.acknowledged"
    ALARM_ARRIVED = "alarm.arrived"
    ALARM_FINISHED = "alarm.finished"
    ALARM_CLOSED = "alarm.closed"


# The events that follow a raise: told to whoever the raise was told to.
PROGRESS = frozenset(
    {Event.ALARM_ACKNOWLEDGED, Event.ALARM_ARRIVED, Event.ALARM_FINISHED, Event.ALARM_CLOSED}
)


class Tier(StrEnum):
    """A company's first line (told at once) or its second contact (told on escalation)."""

    PRIMARY = "primary"
    SECOND = "second"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A webhook endpoint as the fan-out sees it.

    ``organisation`` None: the bureau's duty desk; its ``district_code`` names the
    district desk it serves, "" the city-wide desk.
    """

    id: int
    organisation: int | None
    tier: Tier = Tier.PRIMARY
    district_code: str = ""


@dataclass(frozen=True, slots=True)
class AlarmFacts:
    """What decides who hears of an alarm: read when it is fanned out, so the unit's
    *current* maintainer is told (a lift handed to another company takes its alarm along)."""

    severity: str
    district_code: str
    maintenance_company: int | None
    user_unit: int | None
    station: int | None


def recipients(
    event: Event, step: str, alarm: AlarmFacts, endpoints: Iterable[Endpoint]
) -> list[int]:
    """The ids of the endpoints told of ``event`` on ``alarm``, in the order given.

    - raised: the unit's maintenance company and user unit, the station whose fill was
      refused (first line only), and for a critical alarm the duty desks of its district
      and the city-wide desk;
    - acknowledged, arrived, finished, closed: the same as raised (who heard of the
      alarm hears that it was acted on);
    - escalated, step ``unacknowledged``: the company's second contact (its first line
      if it has none: someone must be told) and the district's own duty desk;
    - escalated, step ``late``: the company (both lines) and every duty desk of the
      district and the city: the bureau takes over.
    """
    endpoints = list(endpoints)
    company = [e for e in endpoints if e.organisation == alarm.maintenance_company]
    if alarm.maintenance_company is None:
        company = []
    chosen: list[Endpoint] = []
    if event is Event.ALARM_RAISED or event in PROGRESS:
        chosen += [e for e in company if e.tier is Tier.PRIMARY]
        chosen += [
            e
            for e in endpoints
            if e.tier is Tier.PRIMARY
            and e.organisation is not None
            and e.organisation in (alarm.user_unit, alarm.station)
            and e.organisation != alarm.maintenance_company
        ]
        if alarm.severity == "critical":
            chosen += [e for e in endpoints if _desk(e, alarm, city_wide=True)]
    elif step == "unacknowledged":
        second = [e for e in company if e.tier is Tier.SECOND]
        chosen += second or [e for e in company if e.tier is Tier.PRIMARY]
        chosen += [e for e in endpoints if _desk(e, alarm, city_wide=False)]
    else:
        chosen += company
        chosen += [e for e in endpoints if _desk(e, alarm, city_wide=True)]
    # Each endpoint once, in the order chosen (the first tier first).
    return list(dict.fromkeys(e.id for e in chosen))


def alert_organisations(alarm: AlarmFacts) -> list[int]:
    """The organisations whose MQTT alert topic (``sereg/v1/orgs/{org}/alerts``) carries
    every event of ``alarm``: the unit's current maintenance company, its user unit and
    the station whose fill raised it. The bureau's desks read webhooks, not this topic."""
    found: list[int] = []
    for org in (alarm.maintenance_company, alarm.user_unit, alarm.station):
        if org is not None and org not in found:
            found.append(org)
    return found


def _desk(e: Endpoint, alarm: AlarmFacts, *, city_wide: bool) -> bool:
    if e.organisation is not None:
        return False
    return e.district_code == alarm.district_code or (city_wide and e.district_code == "")


def signed_content(timestamp: int, body: bytes) -> bytes:
    return str(timestamp).encode() + b"." + body


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Sereg-Signature`` header's value for ``body`` signed at ``timestamp``."""
    digest = hmac.new(secret.encode(), signed_content(timestamp, body), hashlib.sha256)
    return f"{SIGNATURE_VERSION}={digest.hexdigest()}"


def verify(secret: str, timestamp: int, body: bytes, header: str, *, at: int) -> bool:
    """A receiver's check (also used by sereg's own tests): the signature matches and the
    timestamp is within :data:`REPLAY_WINDOW_S` of ``at`` (either side: clocks drift)."""
    if abs(at - timestamp) > REPLAY_WINDOW_S:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def backoff(attempts: int, *, base_s: float, cap_s: float) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: base, 2×base, 4×base, …
    up to ``cap_s``; exponential so a receiver that is down is not hammered."""
    if attempts < 1:
        raise ValueError("attempts counts from 1")
    return min(cap_s, base_s * 2.0 ** (attempts - 1))


def dead_after(attempts: int, max_attempts: int = MAX_ATTEMPTS) -> bool:
    """Whether a delivery that has failed ``attempts`` times goes to the dead-letter list."""
    return attempts >= max_attempts


# ------------------------------------------------------------ where a webhook may point
#
# A webhook URL is typed by an organisation's user, and the worker POSTs to it from inside
# the bureau's network: without a check, a URL naming 127.0.0.1, 10.x, the cloud's
# metadata address (169.254.169.254, Alibaba's 100.100.100.200) or an internal host lets
# any company make sereg send requests there (server-side request forgery). So only
# public (globally routed) addresses are allowed unless the operator allows more
# (SEREG_WEBHOOK_ALLOW_PRIVATE), e.g. an SMS gateway on the bureau's own network.


@dataclass(frozen=True, slots=True)
class Allowance:
    """Non-public destinations the operator allows: every one (``everything``), those in
    ``networks``, or any address of a host named in ``hosts`` (lower case, no dot at the
    end)."""

    everything: bool = False
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    hosts: frozenset[str] = frozenset()


NO_PRIVATE = Allowance()


def allowance(entries: Iterable[str]) -> Allowance:
    """The allowance of SEREG_WEBHOOK_ALLOW_PRIVATE's entries: ``*`` (or ``all``, ``1``,
    ``true``) allows every non-public address; an address or CIDR (``10.0.0.0/8``) that
    network; anything else is a host name allowed whatever it resolves to."""
    everything = False
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    hosts: set[str] = set()
    for raw in entries:
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry in ("*", "all", "1", "true", "yes"):
            everything = True
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry.rstrip("."))
    return Allowance(everything, tuple(networks), frozenset(hosts))


def _unmapped(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """``::ffff:127.0.0.1`` and its kin are the IPv4 address they carry: judged as such."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address.teredo is not None:
            return address.teredo[1]
    return address


def public_address(address: str) -> bool:
    """Globally routed unicast: not loopback, private, link-local (the metadata service),
    shared (100.64/10), reserved, unspecified or multicast."""
    ip = _unmapped(ipaddress.ip_address(address.split("%", 1)[0]))
    return ip.is_global and not ip.is_multicast


def destination_allowed(host: str, address: str, allow: Allowance) -> bool:
    """May a webhook for ``host`` be sent to ``address`` (one it resolved to)?"""
    if public_address(address) or allow.everything:
        return True
    if host.lower().rstrip(".") in allow.hosts:
        return True
    ip = _unmapped(ipaddress.ip_address(address.split("%", 1)[0]))
    return any(ip.version == net.version and ip in net for net in allow.networks)
