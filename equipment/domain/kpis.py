"""Response KPIs of entrapments and the drill requirement (pure).

- time to acknowledge and to arrive: median and 90th percentile, in minutes, of the
  entrapments that reached that step (linear interpolation between ranks, as spreadsheets
  compute PERCENTILE.INC, so a bureau can check a figure by hand);
- share late: entrapments marked late (arrived after the response limit, or escalated as
  late with nobody there) among those with a limit;
- entrapments per 1,000 lifts of the group (the lifts on the register now).

Drills: an emergency drill every half year [U] for a lift's user unit and maintenance
company (the Hubei lift entrapment-response rules beside ``lift.entrapment.city``; not yet
a row of the rule table), so a lift needs :data:`LIFT_DRILLS_PER_YEAR` recorded drills in a
calendar year.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

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
            )
        )
    return out
