"""``sereg import inspections``: an inspection institute's export of reports.

Same steps as the register import (equipment.services.imports): parse the file
(import_files), check every row with the inspection bodies' upload's own check
(``report_sheets.check_report``, read through the profile), then, with ``commit``,
record each accepted report through ``inspections.record_inspection`` — the one path
that validates a report, recomputes its unit's due dates, opens hazards from a failed
one and audits it, in one transaction per report. The report number is the
idempotency key: a number already recorded is skipped (the same file again records
nothing), and within a file the first row with a number wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from equipment.domain import report_sheets
from equipment.domain.access import Permission, Principal
from equipment.domain.errors import DomainError, InvalidValue
from equipment.domain.imports.dates import parse_date
from equipment.domain.imports.profile import MappingProfile, ProfileProblem
from equipment.domain.report_sheets import ReportInput, ReportProblem
from equipment.services import inspections
from equipment.services.import_files import open_table
from equipment.storage import unit_of_work
from equipment.storage.imports import ImportRepository

CHUNK = 1_000
_repository = ImportRepository()


@dataclass
class InspectionImport:
    rows: int = 0
    accepted: int = 0
    recorded: int = 0
    already_recorded: int = 0
    units: set[int] = field(default_factory=set)
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    committed: bool = False


def describe(result: InspectionImport) -> str:
    head = (
        f"{result.rows:,} reports: {result.accepted:,} accepted, {len(result.rejected):,}"
        f" rejected, {result.already_recorded:,} already recorded; "
    )
    if not result.committed:
        return head + (
            f"{result.accepted:,} to record for {len(result.units):,} units"
            " (dry run: --commit writes them)"
        )
    return head + (
        f"{result.recorded:,} recorded, due dates recomputed for {len(result.units):,} units"
    )


def check_report(
    raw: dict[str, object], profile: MappingProfile, today: date
) -> ReportInput | tuple[str, str]:
    """A report row's report, or (rule, detail) when it is rejected: the bodies' upload's
    own check (``report_sheets.check_report``), read with the profile's date formats and
    value maps."""
    formats = tuple(profile.date_formats)
    try:
        return report_sheets.check_report(
            raw,
            today=today,
            read_day=lambda value: parse_date(value, formats),
            values=profile.map_value,
        )
    except ReportProblem as problem:
        return (problem.rule, problem.reason)


async def import_inspections(
    principal: Principal,
    path: Path,
    *,
    profile: MappingProfile,
    today: date,
    now: datetime,
    encoding: str | None = None,
    commit: bool = False,
) -> InspectionImport:
    principal.require(Permission.INSPECTION_RECORD)
    if profile.kind != "inspections":
        raise InvalidValue("the profile is not an inspections profile", field="profile")
    result = InspectionImport(committed=commit)
    seen: set[str] = set()
    with open_table(path, encoding=encoding or profile.encoding) as table:
        try:
            index = profile.header_index(table.headers)
        except ProfileProblem as problem:
            raise InvalidValue(str(problem), field="profile") from None
        chunk: list[tuple[int, ReportInput]] = []
        for row_no, cells in table.rows:
            result.rows += 1
            raw = {f: (cells[i] if i < len(cells) else None) for f, i in index.items()}
            checked = check_report(raw, profile, today)
            if isinstance(checked, tuple):
                result.rejected.append((row_no, *checked))
                continue
            if checked.report_no in seen:
                result.rejected.append((row_no, "duplicate_in_file", checked.report_no))
                continue
            seen.add(checked.report_no)
            chunk.append((row_no, checked))
            if len(chunk) >= CHUNK:
                await _chunk(principal, chunk, result, commit=commit, today=today, now=now)
                chunk = []
        await _chunk(principal, chunk, result, commit=commit, today=today, now=now)
    return result


async def _chunk(
    principal: Principal,
    chunk: list[tuple[int, ReportInput]],
    result: InspectionImport,
    *,
    commit: bool,
    today: date,
    now: datetime,
) -> None:
    if not chunk:
        return
    units = await _repository.unit_ids([c.code for _, c in chunk])
    async with unit_of_work():
        recorded = await _repository.report_numbers([c.report_no for _, c in chunk])
    for row_no, report in chunk:
        unit_id = units.get(report.code)
        if unit_id is None:
            result.rejected.append((row_no, "unknown_unit", report.code))
            continue
        if report.report_no in recorded:
            result.already_recorded += 1
            continue
        result.accepted += 1
        if not commit:
            result.units.add(unit_id)
            continue
        try:
            # Its own transaction (with the due dates it moves): a report refused here
            # does not undo the ones filed before it, and a crash leaves whole reports.
            await inspections.record_inspection(
                principal, unit_id, report.as_inspection(), today=today, now=now
            )
        except DomainError as error:
            result.accepted -= 1
            result.rejected.append((row_no, "invalid_report", error.reason))
            continue
        result.recorded += 1
        result.units.add(unit_id)
