"""The fill rules' inputs assembled once, for the permit and the ingest alike.

The register's side (stations, cylinders with their last fill, agreements) is read by
equipment.storage.fill_facts, the same readers for a batch of the ingest (hundreds of
fills per query) and for a permit (one), so a station's interlock and the recorded
verdict can never disagree; what is decided from it is decided here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from equipment.domain import fills as rules
from equipment.storage import reads
from equipment.storage.bulk import Bulk
from equipment.storage.fill_facts import Cylinder, Periods

__all__ = ["Agreements", "Cylinder", "agreements", "entrusted", "joint_allowed", "judge"]


@dataclass(frozen=True, slots=True)
class Agreements:
    """(filling station, owner) -> validity periods of the joint-operation (联营) and the
    entrustment (托管) agreements that may let a station fill another owner's cylinder."""

    joint: Periods = field(default_factory=dict)
    entrusted: Periods = field(default_factory=dict)


def _another_owners(facts: rules.CylinderFacts, station: rules.StationFacts) -> bool:
    # The ownership rule's own test (rules.check_ownership): a vehicle cylinder is not
    # asked about, so neither are its agreements.
    return facts.owning_station_id != station.id and not facts.vehicle


async def agreements(
    bulk: Bulk, fills: Iterable[tuple[rules.StationFacts, Cylinder | None]]
) -> Agreements:
    """The agreements of the stations that fill another owner's cylinder among ``fills``
    (station, cylinder): none read when each is the station's own or a vehicle's, which
    spares the permit and most ingest batches two statements."""
    stations = {s.id for s, c in fills if c is not None and _another_owners(c.facts, s)}
    if not stations:
        return Agreements()
    repository = reads().fill_facts
    return Agreements(
        await repository.joint_operations(bulk, stations),
        await repository.entrustments(bulk, stations),
    )


def judge(
    attempt: rules.FillAttempt,
    station: rules.StationFacts,
    cylinder: Cylinder | None,
    agreed: Agreements,
    *,
    previous: rules.PreviousFill | None,
    received_at: datetime | None,
    policy: rules.FillPolicy,
) -> rules.FillVerdict:
    """The fill rules' inputs assembled once, for the permit and the ingest alike: the
    cylinder's facts, its neighbouring fill, whether an agreement lets this station fill
    it on the fill's day. Raises as rules.judge_fill does (and OverflowError for a
    moment at the calendar's edge)."""
    facts = cylinder.facts if cylinder else None
    return rules.judge_fill(
        attempt,
        station,
        facts,
        previous=previous,
        joint_operation=facts is not None
        and joint_allowed(agreed.joint, facts, station, attempt.at, policy.local_tz),
        entrusted=facts is not None
        and entrusted(agreed.entrusted, facts, station, attempt.at, policy.local_tz),
        received_at=received_at,
        policy=policy,
    )


def joint_allowed(
    agreements: Periods,
    cylinder: rules.CylinderFacts,
    station: rules.StationFacts,
    at: datetime,
    local_tz: Any = rules.DEFAULT_FILL_POLICY.local_tz,
) -> bool:
    if cylinder.owning_station_id is None or cylinder.owning_station_id == station.id:
        return False
    try:
        day = at.astimezone(local_tz).date()
    except OverflowError:  # at the calendar's edge (9999-12-31T23:59Z): its own day
        day = at.date()
    periods = agreements.get((station.id, cylinder.owning_station_id), [])
    return any(start <= day <= end for start, end in periods)


def entrusted(
    agreements: Periods,
    cylinder: rules.CylinderFacts,
    station: rules.StationFacts,
    at: datetime,
    local_tz: Any = rules.DEFAULT_FILL_POLICY.local_tz,
) -> bool:
    """True when the cylinder's owner (its owning station, else its user unit) has
    entrusted its cylinders to ``station`` on the day of ``at``."""
    owner = cylinder.owning_station_id or cylinder.user_unit_id
    if owner is None or owner == station.id:
        return False
    day: date = at.astimezone(local_tz).date()
    return any(start <= day <= end for start, end in agreements.get((station.id, owner), []))
