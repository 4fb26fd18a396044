"""The random-inspection draw (双随机) over a city, and its verification, beside its floor.

    .venv/bin/python -m bench.draw [--enterprises 100000] [--inspectors 500] [--repeat 3]

Synthetic and deterministic: ``--enterprises`` candidates spread over the ten Xiangyang
districts with classes A-D (60/25/10/5 %) and one or two category families; a roster of
``--inspectors`` inspectors (a third city-wide, the rest bound to one or two districts,
qualified for one to three families, 5 % unavailable) and two conflicts per inspector.
Times (median of ``--repeat``):
  (a) the floor: one HMAC-SHA256 per candidate and a sort of the ranks — the least any
      verifiable ranking of the candidates costs in Python;
  (b) ``equipment.domain.draw.run``: the whole draw (strata, ranks, inspectors);
  (c) digesting the inputs and the result (canonical JSON + SHA-256), what is published;
  (d) ``verify``: canonical form → inputs again, re-run, compare.
Target: (b) ≤ 2 s. The ratio (b)/(a) says what the draw adds to the bare ranking.
"""

from __future__ import annotations

import argparse
import hmac
import os
import random
import statistics
import time
from collections.abc import Callable
from fractions import Fraction

from bench.harness import machine
from equipment.domain import draw

DISTRICTS = (
    "420602", "420606", "420607", "420624", "420625",
    "420626", "420682", "420683", "420684", "420600",
)  # fmt: skip
FAMILIES = ("1000", "2000", "3000", "4000", "8000")
TARGET_S = 2.0


def city(n: int, m: int, seed: int = 420600) -> draw.DrawInputs:
    rng = random.Random(seed)
    candidates = tuple(
        draw.Candidate(
            i,
            rng.choices("ABCD", weights=(60, 25, 10, 5))[0],
            rng.choice(DISTRICTS),
            tuple(sorted(set(rng.sample(FAMILIES, rng.choice((1, 1, 2)))))),
        )
        for i in range(1, n + 1)
    )
    roster = tuple(
        draw.RosterEntry(
            100_000_000 + j,
            frozenset() if j % 3 == 0 else frozenset(rng.sample(DISTRICTS, rng.choice((1, 2)))),
            frozenset(rng.sample(FAMILIES, rng.choice((1, 2, 3)))) | {"3000"},
            rng.random() > 0.05,
        )
        for j in range(m)
    )
    conflicts = frozenset((100_000_000 + j, rng.randint(1, n)) for j in range(m) for _ in range(2))
    ratios = {
        "A": Fraction(3, 100),
        "B": Fraction(5, 100),
        "C": Fraction(1, 10),
        "D": Fraction(1, 5),
    }
    return draw.DrawInputs("襄阳市市场监督管理局2026年第1期", candidates, roster, conflicts, ratios)


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    runs = []
    out: object = None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, default=100_000)
    parser.add_argument("--inspectors", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    inputs = city(args.enterprises, args.inspectors)
    key = inputs.seed.encode()

    def floor() -> list[bytes]:
        return sorted(
            hmac.digest(key, f"target:{c.id}".encode(), "sha256") for c in inputs.candidates
        )

    floor_s, _ = timed(floor, args.repeat)
    draw_s, result = timed(lambda: draw.run(inputs), args.repeat)
    assert isinstance(result, draw.DrawResult)

    def publish() -> tuple[str, str]:
        return draw.inputs_digest(inputs), draw.result_digest(result)

    digest_s, (in_digest, out_digest) = timed(publish, args.repeat)  # type: ignore[misc]
    stored = inputs.canonical()
    stored_result = result.canonical()

    def verify() -> bool:
        return draw.verify(
            draw.DrawInputs.from_canonical(stored),
            published_inputs_digest=in_digest,
            stored_result=draw.result_from_canonical(stored_result),
            published_result_digest=out_digest,
        ).matches

    verify_s, ok = timed(verify, args.repeat)
    assert ok, "the draw did not verify"
    short = len(result.short)
    size = len(draw.canonical_json(stored)) / 2**20
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
    print(
        f"{args.enterprises:,} enterprises, {args.inspectors} inspectors:"
        f" {len(result.targets):,} targets drawn ({short} short of two inspectors);"
        f" published inputs {size:.1f} MiB of JSON"
    )
    print(f"(a) floor: HMAC rank + sort     {floor_s * 1000:8.0f} ms")
    print(
        f"(b) draw.run                     {draw_s * 1000:8.0f} ms"
        f"   target ≤ {TARGET_S:.0f} s: {'met' if draw_s <= TARGET_S else 'MISSED'};"
        f" (b)/(a) = {draw_s / floor_s:.1f}"
    )
    print(f"(c) digests (inputs + result)    {digest_s * 1000:8.0f} ms")
    print(f"(d) verify (load, re-run, match) {verify_s * 1000:8.0f} ms   verdict: match")


if __name__ == "__main__":
    main()
