"""Response KPIs of entrapments and the drill requirement (pure).

- time to acknowledge and to arrive: median and 90th percentile, in minutes, of the
  entrapments that reached that step (linear interpolation between ranks, as spreadsheets
  compute PERCENTILE.INC, so a bureau can check a figure by hand);
- share late: entrapments marked late (arrived after the response limit, or escalated as
  late with nobody there) among those with a limit;
- entrapments per 1,000 lifts of the group (the lifts on the register now);
- what the rescue outcomes (救援结果, ``equipment.domain.rescue``) say of them: how many
  have one, the people released, injured and killed, and the entrapments per cause (the
  categories the 96333 platforms count); an entrapment without an outcome yet counts in
  ``without_outcome``, never as "no injuries".

Drills: an emergency drill every half year [U] for a lift's user unit and maintenance
company (the Hubei lift entrapment-response rules beside ``lift.entrapment.city``; not yet
a row of the rule table), so a lift needs :data:`LIFT_DRILLS_PER_YEAR` recorded drills in a
calendar year.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

LIFT_DRILLS_PER_YEAR = 2  # an emergency drill every half year [U]


def percentile(values: Sequence[float], p: float) -> float | None:
    """The ``p``-th percentile (0-100) by linear interpolation; None for no values."""
    if not 0 <= p <= 100:
        raise ValueError("p is a percentage")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class Response:
    """One entrapment as the KPIs see it: minutes to each step (None: not reached)."""

    group: object
    acknowledge_minutes: float | None
    arrive_minutes: float | None
    has_limit: bool
    late: bool
    # The rescue outcome, when one is recorded (cause None: not recorded yet).
    cause: str | None = None
    people_released: int = 0
    injuries: int = 0
    fatalities: int = 0


@dataclass(frozen=True, slots=True)
class Kpi:
    group: object
    entrapments: int
    acknowledge_median: float | None
    acknowledge_p90: float | None
    arrive_median: float | None
    arrive_p90: float | None
    late: int
    share_late: float | None
    lifts: int
    per_1000_lifts: float | None
    outcomes: int = 0
    without_outcome: int = 0
    people_released: int = 0
    injuries: int = 0
    fatalities: int = 0
    # Entrapments per cause of their outcome, in the cause codes' order.
    causes: dict[str, int] = field(default_factory=dict)


def response_kpis(responses: Iterable[Response], lifts: Mapping[object, int]) -> list[Kpi]:
    """One row per group that had an entrapment or has lifts, in the groups' order."""
    by_group: dict[object, list[Response]] = {}
    for r in responses:
        by_group.setdefault(r.group, []).append(r)
    groups = sorted(set(by_group) | set(lifts), key=lambda g: (g is None, str(g)))
    out = []
    for group in groups:
        rows = by_group.get(group, [])
        ack = [r.acknowledge_minutes for r in rows if r.acknowledge_minutes is not None]
        arrive = [r.arrive_minutes for r in rows if r.arrive_minutes is not None]
        limited = [r for r in rows if r.has_limit]
        late = sum(1 for r in limited if r.late)
        count = lifts.get(group, 0)
        told = [r for r in rows if r.cause is not None]
        causes: dict[str, int] = {}
        for r in sorted(told, key=lambda r: str(r.cause)):
            causes[str(r.cause)] = causes.get(str(r.cause), 0) + 1
        out.append(
            Kpi(
                group=group,
                entrapments=len(rows),
                acknowledge_median=percentile(ack, 50),
                acknowledge_p90=percentile(ack, 90),
                arrive_median=percentile(arrive, 50),
                arrive_p90=percentile(arrive, 90),
                late=late,
                share_late=late / len(limited) if limited else None,
                lifts=count,
                per_1000_lifts=1000 * len(rows) / count if count else None,
                outcomes=len(told),
                without_outcome=len(rows) - len(told),
                people_released=sum(r.people_released for r in told),
                injuries=sum(r.injuries for r in told),
                fatalities=sum(r.fatalities for r in told),
                causes=causes,
            )
        )
    return out
