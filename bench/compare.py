"""Every benchmark of ``sereg bench`` run on two checkouts, before and after, side by side.

    python -m bench.compare --before ../sereg-before --quick
    python -m bench.compare --before ../sereg-before --units 100000 --rounds 2

``--before`` is a checkout of the older revision with its own ``.venv`` (made by its
``quickstart.py``); this checkout is "after". Each side reads its own register (``--units``
demo units in a database of its own, built by that side's ``sereg bench``), since the two
revisions' schemas differ. For each benchmark both revisions have, the runs alternate
(before, after, before, after … ``--rounds`` times), so a load that comes and goes on the
machine falls on both sides alike; each run's output, with the load average before and
after it, is kept whole. Nothing is judged here: every benchmark prints its figures beside
the floor it measured in the same run, and the reader compares those.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import machine

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Side:
    name: str
    root: Path
    database: str

    @property
    def python(self) -> str:
        return str(self.root / ".venv" / "bin" / "python")


@dataclass(frozen=True)
class Run:
    side: str
    module: str
    seconds: float
    code: int
    output: str
    load_before: str
    load_after: str


def _modules(side: Side) -> list[str]:
    """The benchmark modules ``sereg bench`` runs on this side, in its order."""
    done = subprocess.run(
        [side.python, "-c", "import bench.run_all as r; print(*[b.module for b in r.BENCHMARKS])"],
        cwd=side.root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _run(side: Side, module: str, *, units: int, quick: bool, scratch: Path) -> Run:
    command = [
        side.python, "-m", "bench.run_all", "--only", module.split(".")[-1],
        "--units", str(units), "--database", side.database, "--out", str(scratch),
    ]  # fmt: skip
    if quick:
        command.append("--quick")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VIRTUAL_ENV")}
    print(f"--- {side.name}: {module}", flush=True)
    before = _load()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=side.root, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = _load()
    # run_all prints the migration chatter first; keep from the benchmark's own header on.
    out = done.stdout
    start = out.find("\n=== ")
    body = out[start + 1 :] if start >= 0 else out
    body = body.split("\nwrote ", 1)[0]
    if done.returncode:
        body += "\n" + done.stderr[-2000:]
    return Run(side.name, module, seconds, done.returncode, body.strip(), before, after)


def report(runs: list[Run], *, command: str, sides: tuple[Side, Side], units: int) -> str:
    lines = [
        "# Benchmarks before and after",
        "",
        "Written by `python -m bench.compare` (`bench/compare.py`): every benchmark of",
        "`sereg bench` that both revisions have, run alternately on each, on one machine.",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine()}",
        f"- Command: `{command}`",
        f"- Register: {units:,} demo units on each side, in its own database "
        f"({sides[0].name}: `{sides[0].database}`, {sides[1].name}: `{sides[1].database}`)",
        "",
    ]
    for module in dict.fromkeys(r.module for r in runs):
        lines += [f"## {module}", ""]
        for run in (r for r in runs if r.module == module):
            status = "" if run.code == 0 else f", FAILED (exit {run.code})"
            lines += [
                f"### {run.side}: {run.seconds:.0f} s{status}; load average "
                f"{run.load_before} before, {run.load_after} after",
                "",
                *("    " + line if line else "" for line in run.output.splitlines()),
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, type=Path, help="older checkout with .venv")
    parser.add_argument("--units", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="each benchmark's short arguments")
    parser.add_argument("--only", action="append", default=[], help="module name, repeatable")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks-before-after.md")
    args = parser.parse_args(argv)
    before = Side("before", args.before.resolve(), "sereg_cmp_before")
    after = Side("after", ROOT, "sereg_cmp_after")
    theirs = set(_modules(before))
    common = [m for m in _modules(after) if m in theirs]
    if args.only:
        common = [m for m in common if m.split(".")[-1] in args.only]
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-compare-{os.getpid()}.md"
    runs: list[Run] = []
    for module in common:
        for _ in range(args.rounds):
            for side in (before, after):
                runs.append(_run(side, module, units=args.units, quick=args.quick, scratch=scratch))
                print(runs[-1].output, flush=True)
    scratch.unlink(missing_ok=True)
    command = " ".join(["python -m bench.compare", *(argv if argv is not None else sys.argv[1:])])
    args.out.write_text(report(runs, command=command, sides=(before, after), units=args.units))
    print(f"\nwrote {args.out}")
    return 1 if any(r.code for r in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
