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
