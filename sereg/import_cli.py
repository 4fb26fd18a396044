"""``sereg import ...``: the register and inspection-history imports on the command line.

Two commands try the import on the demo city (README, "Importing a legacy register")::

    sereg demo legacy-export --out legacy.csv      # a messy export, and its manifest
    sereg import register legacy.csv --report report.xlsx   # the dry run, then --commit
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
from pathlib import Path
from typing import Any

PROFILE_HELP = (
    "a mapping profile (JSON) or the name of a shipped one"
    " (registration_export, inspection_reports); default: the shipped one of the import"
)


def add_parsers(sub: Any) -> None:
    imports = sub.add_parser("import", help="import a legacy register or inspection history")
    import_sub = imports.add_subparsers(dest="action", required=True)

    register = import_sub.add_parser(
        "register",
        help="dry-run a register export (CSV or XLSX) and report; --commit writes it",
    )
    register.add_argument("file")
    register.add_argument("--profile", help=PROFILE_HELP)
    register.add_argument("--encoding", help="utf-8 or gbk (when detection cannot tell)")
    register.add_argument("--report", help="write the data-quality report to this .xlsx")
    register.add_argument(
        "--commit",
        action="store_true",
        help="write the accepted rows (resumes an unfinished import of the same file)",
    )
    register.add_argument("--batch", type=int, default=2000, help="rows per commit batch")
    register.add_argument("--lang", default="zh-CN", choices=["zh-CN", "en"])

    commit = import_sub.add_parser("commit", help="commit (or resume) a staged import by id")
    commit.add_argument("id", type=int)
    commit.add_argument("--batch", type=int, default=2000)

    profile = import_sub.add_parser("profile", help="write a mapping profile from a file's headers")
    profile.add_argument("file")
    profile.add_argument("--out", help="where to write it (default: FILE.profile.json)")
    profile.add_argument("--kind", default="register", choices=["register", "inspections"])
    profile.add_argument("--crs", default="wgs84", choices=["wgs84", "gcj02", "bd09"])
    profile.add_argument("--encoding", help="utf-8 or gbk (when detection cannot tell)")

    inspections = import_sub.add_parser(
        "inspections", help="import an inspection body's export of reports"
    )
    inspections.add_argument("file")
    inspections.add_argument("--profile", help=PROFILE_HELP)
    inspections.add_argument("--encoding", help="utf-8 or gbk")
    inspections.add_argument("--commit", action="store_true", help="write the accepted reports")
    imports.set_defaults(func=cmd_import)


def _profile(name: str | None, default: str) -> Any:
    from equipment.domain.imports.profile import ProfileProblem, load_profile, shipped_profile

    try:
        if name is None:
            return shipped_profile(default)
        path = Path(name)
        if path.is_file():
            return load_profile(path.read_bytes())
        return shipped_profile(name)
    except (ProfileProblem, OSError) as exc:
        raise SystemExit(f"error: profile {name or default}: {exc}") from exc


class _Bar:
    """(done, total) progress on stderr, on one line."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __call__(self, done: int, total: int) -> None:
        if total:
            share = min(1.0, done / total)
            bar = "#" * int(share * 30)
            sys.stderr.write(f"\r{self.label} [{bar:<30}] {done:>9,}/{total:,}")
        else:
            sys.stderr.write(f"\r{self.label} {done:>9,} rows")
        sys.stderr.flush()

    def end(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()


def _print_summary(summary: Any, lang: str) -> None:
    from equipment.services.import_labels import label

    print(
        f"import {summary.id} ({summary.status}): {summary.total_rows:,} rows,"
        f" {summary.accepted_rows:,} accepted, {summary.rejected_rows:,} rejected"
        f" [{summary.encoding}]"
    )
    for rule, severity in summary.rules.items():
        n = summary.counts.get(rule)
        if n:
            print(f"  {severity:<6} {rule:<30} {n:>9,}  {label(lang, rule)}")
    if summary.status in ("committing", "committed"):
        print(
            f"  committed {summary.committed_rows:,} rows in {summary.batches_done} batches:"
            f" {summary.inserted:,} new, {summary.updated:,} updated,"
            f" {summary.unchanged:,} unchanged"
        )


def cmd_import(args: argparse.Namespace) -> None:
    from equipment.domain.access import SYSTEM
    from equipment.domain.errors import DomainError
    from sereg.cli import _with_db, open_database

    if args.action == "profile":
        _write_profile(args)
        return
    open_database()
    try:
        asyncio.run(_with_db(lambda: _run(args, SYSTEM)))
    except DomainError as exc:
        raise SystemExit(f"error: {exc.reason}") from exc


async def _run(args: argparse.Namespace, principal: Any) -> None:
    from equipment.services import clock, import_inspections, imports
    from equipment.services.import_files import file_hash
    from equipment.services.import_labels import detail, label

    today, now = clock.today(), clock.now()
    if args.action == "inspections":
        path = Path(args.file)
        result = await import_inspections.import_inspections(
            principal,
            path,
            profile=_profile(args.profile, "inspection_reports"),
            encoding=args.encoding,
            commit=args.commit,
            today=today,
            now=now,
        )
        print(import_inspections.describe(result))
        for row_no, rule, why in result.rejected[:50]:
            print(f"  row {row_no}: {rule} {why}", file=sys.stderr)
        return
    if args.action == "commit":
        bar = _Bar(f"import {args.id}")
        summary = await imports.commit_register(
            principal, args.id, today=today, now=now, batch_size=args.batch, progress=bar
        )
        bar.end()
        _print_summary(summary, "zh-CN")
        return
    path = Path(args.file)
    if not path.is_file():
        raise SystemExit(f"error: {path}: no such file")
    job_id = None
    if args.commit:
        job_id = await imports.unfinished_job("register", file_hash(path))
        if job_id is not None:
            print(f"resuming import {job_id} of the same file", file=sys.stderr)
    if job_id is None:
        bar = _Bar("dry run")
        summary = await imports.stage_register(
            principal,
            path,
            profile=_profile(args.profile, "registration_export"),
            encoding=args.encoding,
            today=today,
            now=now,
            progress=bar,
        )
        bar.end()
        job_id = summary.id
        _print_summary(summary, args.lang)
        if args.report:
            buffer = io.BytesIO()
            await imports.write_report_xlsx(
                principal,
                job_id,
                buffer,
                labels=lambda text: label(args.lang, text),
                details=lambda text: detail(args.lang, text),
            )
            await asyncio.to_thread(Path(args.report).write_bytes, buffer.getvalue())
            print(f"report: {args.report}")
    if not args.commit:
        print(f"nothing written; to commit: sereg import commit {job_id}")
        return
    bar = _Bar(f"commit {job_id}")
    summary = await imports.commit_register(
        principal, job_id, today=today, now=now, batch_size=args.batch, progress=bar
    )
    bar.end()
    _print_summary(summary, args.lang)


def _write_profile(args: argparse.Namespace) -> None:
    from equipment.domain.errors import DomainError
    from equipment.domain.imports.profile import (
        FIELDS,
        INSPECTION_FIELDS,
        MappingProfile,
        dump_profile,
        guess_columns,
        shipped_profile,
    )
    from equipment.services.import_files import open_table

    path = Path(args.file)
    try:
        with open_table(path, encoding=args.encoding) as table:
            headers = table.headers
            encoding = table.encoding if table.kind == "csv" else None
    except (DomainError, OSError) as exc:
        raise SystemExit(f"error: {path}: {getattr(exc, 'reason', exc)}") from exc
    fields = INSPECTION_FIELDS if args.kind == "inspections" else FIELDS
    columns = guess_columns(headers, fields)
    # The shipped value maps (statuses, categories, kinds, conclusions) as a start.
    shipped = shipped_profile(
        "inspection_reports" if args.kind == "inspections" else "registration_export"
    )
    profile = MappingProfile(
        name=path.stem,
        kind=args.kind,
        columns=columns,
        values=shipped.values,
        date_formats=shipped.date_formats,
        crs=args.crs,
        encoding=None if encoding in (None, "utf-8", "utf-8-sig") else encoding,
    )
    out = Path(args.out) if args.out else path.with_suffix(".profile.json")
    out.write_bytes(dump_profile(profile) + b"\n")
    unmapped = [h for h, f in columns.items() if not f]
    print(f"wrote {out}: {len(columns) - len(unmapped)} of {len(columns)} columns mapped")
    for header in unmapped:
        print(f"  not mapped: {header} (set its field in the profile, or leave it empty)")
