"""The random inspection draw (双随机): targets and inspectors, verifiable by anyone.

The city plan sets 「年抽检企业比例不低于3%」 and asks that both the targets and the inspectors
be drawn at random (the city plan 2022-2025 [C]); the ratios per credit class
are the bureau's (``SEREG_DRAW_RATIOS``), each stratum's count rounded up.

The draw is a pure function of its inputs (:class:`DrawInputs`: the seed published before
the draw, the candidate enterprises with their class, the inspector roster and the
conflicts of interest) — no clock, no system randomness — so anyone holding the published
inputs can run it again and get the same result. The algorithm (docs/draw.md):

1. ``rank(seed, label) = HMAC-SHA256(key=seed, msg=label)`` as a hex string;
2. candidates are grouped by class; in each class they are ordered by
   ``rank(seed, "target:<id>")`` (the id breaks a tie) and the first
   ``ceil(n × ratio)`` are the targets;
3. targets are taken in the order of their rank; each gets two inspectors. The inspectors
   who may check it — available, jurisdiction covering the target's district, qualified
   for every category of the target — are ordered by ``rank(seed, "inspector:<id>")``;
   the walk starts at ``int(rank(seed, "inspectors-for:<target id>"), 16) mod n`` and goes
   round the list, skipping those in conflict with the target, and the first two met are
   drawn;
4. a target with fewer than two eligible inspectors keeps those it got and is reported
   as short (``short``), never filled with a conflicted or unqualified one.

:func:`inputs_digest` and :func:`result_digest` are SHA-256 over a canonical JSON form;
the draw stores and publishes both, and :func:`verify` re-runs the draw from stored
inputs and says whether they match.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

from equipment.domain import workdays
from equipment.domain.credit import CLASSES
from equipment.domain.errors import InvalidValue
from equipment.domain.workdays import WEEKDAYS, WorkCalendar

ALGORITHM = "sereg-draw-1"  # changes whenever the steps above change
INSPECTORS_PER_TARGET = 2
# 「年抽检企业比例不低于3%」: the city plan 2022-2025 [C].
MIN_YEARLY_FRACTION = Fraction(3, 100)
# Default ratios per class [U]: the bureau's (SEREG_DRAW_RATIOS); worse classes more often.
DEFAULT_RATIOS: Mapping[str, Fraction] = {
    "A": Fraction(3, 100),
    "B": Fraction(5, 100),
    "C": Fraction(10, 100),
    "D": Fraction(20, 100),
}
MIN_SEED_LENGTH = 8


@dataclass(frozen=True)
class Candidate:
    """An enterprise that may be drawn."""

    id: int
    klass: str
    district: str
    categories: tuple[str, ...] = ()  # top-level category codes of its units in scope

    def as_json(self) -> list[object]:
        return [self.id, self.klass, self.district, list(self.categories)]


@dataclass(frozen=True)
class RosterEntry:
    """An inspector of the roster (检查人员名录库), without any personal data."""

    id: int
    districts: frozenset[str] = frozenset()  # empty: the whole city
    qualifications: frozenset[str] = frozenset()  # top-level category codes
    available: bool = True

    def covers(self, target: Candidate) -> bool:
        return (
            self.available
            and (not self.districts or target.district in self.districts)
            and all(c in self.qualifications for c in target.categories)
        )

    def as_json(self) -> list[object]:
        return [
            self.id,
            sorted(self.districts),
            sorted(self.qualifications),
            self.available,
        ]


@dataclass(frozen=True)
class DrawInputs:
    seed: str
    candidates: tuple[Candidate, ...]
    roster: tuple[RosterEntry, ...]
    conflicts: frozenset[tuple[int, int]]  # (inspector id, enterprise id)
    ratios: Mapping[str, Fraction] = field(default_factory=lambda: dict(DEFAULT_RATIOS))

    def canonical(self) -> dict[str, object]:
        """The published form: sorted, so the digest does not depend on list order."""
        return {
            "algorithm": ALGORITHM,
            "seed": self.seed,
            "ratios": {k: str(v) for k, v in sorted(self.ratios.items())},
            "candidates": [c.as_json() for c in sorted(self.candidates, key=lambda c: c.id)],
            "roster": [r.as_json() for r in sorted(self.roster, key=lambda r: r.id)],
            "conflicts": sorted([i, e] for i, e in self.conflicts),
        }

    @classmethod
    def from_canonical(cls, data: Mapping[str, object]) -> DrawInputs:
        if data.get("algorithm") != ALGORITHM:
            raise InvalidValue(f"unknown draw algorithm {data.get('algorithm')!r}")
        ratios = data["ratios"]
        candidates = data["candidates"]
        roster = data["roster"]
        conflicts = data["conflicts"]
        assert isinstance(ratios, Mapping) and isinstance(candidates, list)
        assert isinstance(roster, list) and isinstance(conflicts, list)
        return cls(
            seed=str(data["seed"]),
            candidates=tuple(
                Candidate(int(i), str(k), str(d), tuple(cs)) for i, k, d, cs in candidates
            ),
            roster=tuple(
                RosterEntry(int(i), frozenset(ds), frozenset(qs), bool(a))
                for i, ds, qs, a in roster
            ),
            conflicts=frozenset((int(i), int(e)) for i, e in conflicts),
            ratios={str(k): Fraction(str(v)) for k, v in ratios.items()},
        )


@dataclass(frozen=True)
class DrawnTarget:
    enterprise_id: int
    klass: str
    rank: str
    inspectors: tuple[int, ...]

    def as_json(self) -> list[object]:
        return [self.enterprise_id, self.klass, self.rank, list(self.inspectors)]


@dataclass(frozen=True)
class DrawResult:
    targets: tuple[DrawnTarget, ...]  # in draw order

    @property
    def short(self) -> tuple[int, ...]:
        """Targets that got fewer than two inspectors."""
        return tuple(
            t.enterprise_id for t in self.targets if len(t.inspectors) < INSPECTORS_PER_TARGET
        )

    def canonical(self) -> dict[str, object]:
        return {"algorithm": ALGORITHM, "targets": [t.as_json() for t in self.targets]}


def canonical_json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def digest(value: object) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def inputs_digest(inputs: DrawInputs) -> str:
    return digest(inputs.canonical())


def result_digest(result: DrawResult) -> str:
    return digest(result.canonical())


def rank(seed: bytes, label: str) -> str:
    return hmac.digest(seed, label.encode(), "sha256").hex()


def check_seed(seed: str) -> str:
    seed = seed.strip()
    if len(seed) < MIN_SEED_LENGTH or len(seed) > 200:
        raise InvalidValue(
            f"a seed holds {MIN_SEED_LENGTH} to 200 characters (announce it before the draw)",
            field="seed",
        )
    return seed


def check_ratios(ratios: Mapping[str, Fraction]) -> dict[str, Fraction]:
    out: dict[str, Fraction] = {}
    for klass in CLASSES:
        ratio = ratios.get(klass, DEFAULT_RATIOS[klass])
        if not 0 <= ratio <= 1:
            raise InvalidValue(f"the ratio of class {klass} lies between 0 and 1", field="ratios")
        out[klass] = Fraction(ratio)
    unknown = set(ratios) - set(CLASSES)
    if unknown:
        raise InvalidValue(f"unknown classes: {', '.join(sorted(unknown))}", field="ratios")
    return out


def stratum_count(size: int, ratio: Fraction) -> int:
    """Each stratum's count, rounded up (a 3 % ratio of 10 enterprises draws 1)."""
    return min(size, math.ceil(size * ratio))


def planned_count(class_sizes: Mapping[str, int], ratios: Mapping[str, Fraction]) -> int:
    return sum(stratum_count(n, ratios.get(k, Fraction(0))) for k, n in class_sizes.items())


def yearly_minimum(enterprises_in_scope: int) -> int:
    """At least 3 % of the enterprises in scope a year, rounded up."""
    return math.ceil(enterprises_in_scope * MIN_YEARLY_FRACTION)


def check_yearly_share(
    class_sizes: Mapping[str, int], ratios: Mapping[str, Fraction], drawn_this_year: int = 0
) -> None:
    """Refuse ratios under which the year's draws in this scope would stay below 3 %."""
    total = sum(class_sizes.values())
    need = yearly_minimum(total)
    planned = planned_count(class_sizes, ratios)
    if drawn_this_year + planned < need:
        raise InvalidValue(
            f"these ratios draw {planned} of {total} enterprises; with {drawn_this_year} "
            f"drawn this year that is under the yearly 3 % ({need})",
            field="ratios",
        )


def run(inputs: DrawInputs) -> DrawResult:
    """The draw itself (docs/draw.md)."""
    key = inputs.seed.encode()
    strata: dict[str, list[tuple[str, Candidate]]] = {k: [] for k in CLASSES}
    for candidate in inputs.candidates:
        if candidate.klass not in strata:
            raise InvalidValue(f"candidate {candidate.id} has no class A-D", field="candidates")
        strata[candidate.klass].append((rank(key, f"target:{candidate.id}"), candidate))
    chosen: list[tuple[str, Candidate]] = []
    for klass in CLASSES:
        members = sorted(strata[klass], key=lambda rc: (rc[0], rc[1].id))
        chosen.extend(members[: stratum_count(len(members), inputs.ratios.get(klass, Fraction(0)))])
    chosen.sort(key=lambda rc: (rc[0], rc[1].id))

    conflicts: dict[int, set[int]] = {}
    for inspector, enterprise in inputs.conflicts:
        conflicts.setdefault(enterprise, set()).add(inspector)
    roster = sorted(inputs.roster, key=lambda r: (rank(key, f"inspector:{r.id}"), r.id))
    # Who covers a (district, categories) pair does not depend on the target: computed
    # once per pair, so 10^5 candidates × 500 inspectors stays well under a second.
    covering: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    targets = []
    for target_rank, target in chosen:
        pair = (target.district, target.categories)
        if pair not in covering:
            covering[pair] = [r.id for r in roster if r.covers(target)]
        ring = covering[pair]
        barred = conflicts.get(target.id, ())
        picked: list[int] = []
        if ring:
            start = int(rank(key, f"inspectors-for:{target.id}"), 16) % len(ring)
            for step in range(len(ring)):
                inspector = ring[(start + step) % len(ring)]
                if inspector not in barred:
                    picked.append(inspector)
                    if len(picked) == INSPECTORS_PER_TARGET:
                        break
        targets.append(DrawnTarget(target.id, target.klass, target_rank, tuple(picked)))
    return DrawResult(tuple(targets))


@dataclass(frozen=True)
class Verification:
    matches: bool
    inputs_match: bool
    result_match: bool
    recomputed_result_digest: str

    @property
    def verdict(self) -> str:
        return "match" if self.matches else "mismatch"


def verify(
    inputs: DrawInputs,
    *,
    published_inputs_digest: str,
    stored_result: DrawResult,
    published_result_digest: str,
) -> Verification:
    """Re-run the draw from its stored inputs: the inputs must still hash to what was
    published, and the re-run must give the stored (and published) result."""
    inputs_ok = inputs_digest(inputs) == published_inputs_digest
    again = run(inputs)
    again_digest = result_digest(again)
    result_ok = again == stored_result and again_digest == published_result_digest
    return Verification(inputs_ok and result_ok, inputs_ok, result_ok, again_digest)


def conflicts_of(
    roster: Iterable[tuple[int, int | None]],
    bodies_inspecting: Mapping[int, Iterable[int]],
    last_checkers: Mapping[int, Iterable[int]],
) -> frozenset[tuple[int, int]]:
    """(inspector, enterprise) pairs barred from being drawn together.

    ``roster`` is (inspector id, his inspection body); ``bodies_inspecting`` maps an
    enterprise to the bodies that inspected its units in the last N months;
    ``last_checkers`` maps an enterprise to the inspectors who checked it last time.
    """
    by_body: dict[int, list[int]] = {}
    for inspector, body in roster:
        if body is not None:
            by_body.setdefault(body, []).append(inspector)
    pairs: set[tuple[int, int]] = set()
    for enterprise, bodies in bodies_inspecting.items():
        for body in bodies:
            pairs.update((i, enterprise) for i in by_body.get(body, ()))
    for enterprise, inspectors in last_checkers.items():
        pairs.update((i, enterprise) for i in inspectors)
    return frozenset(pairs)


def result_from_canonical(data: Mapping[str, object]) -> DrawResult:
    targets = data.get("targets", [])
    assert isinstance(targets, list)
    return DrawResult(
        tuple(
            DrawnTarget(int(e), str(k), str(r), tuple(int(i) for i in ins))
            for e, k, r, ins in targets
        )
    )


def parse_ratios(text: str) -> dict[str, Fraction]:
    """``"A=3%,B=5%,C=10%,D=20%"`` (settings and forms); a missing class keeps its default."""
    out: dict[str, Fraction] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        klass, _, value = part.partition("=")
        klass = klass.strip().upper()
        value = value.strip()
        try:
            ratio = Fraction(value[:-1].strip()) / 100 if value.endswith("%") else Fraction(value)
        except (ValueError, ZeroDivisionError):
            raise InvalidValue(f"{part!r} is not a ratio like B=5%", field="ratios") from None
        out[klass] = ratio
    return check_ratios(out)


def working_days_after(start: date, days: int, calendar: WorkCalendar = WEEKDAYS) -> date:
    """The day ``days`` working days after ``start`` (weekdays, less the calendar's public
    holidays, plus its 调休 working weekends): the publication deadline of a result."""
    return workdays.working_days_after(start, days, calendar)


def working_days_late(deadline: date, today: date, calendar: WorkCalendar = WEEKDAYS) -> int:
    """Working days from the day after ``deadline`` up to ``today`` (0 when not past it):
    how late an unpublished result is; the inverse of :func:`working_days_after`."""
    return workdays.working_days_late(deadline, today, calendar)
