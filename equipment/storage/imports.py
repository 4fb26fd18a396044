"""The import's tables (``import_job``, ``import_row``, ``import_finding``,
``import_batch``) and the set-at-a-time writes of a commit batch.

Staged rows and findings go in with COPY on PostgreSQL (executemany on SQLite); a commit
batch's new units go through COPY into a scratch table, then one INSERT ... SELECT that
returns their ids. Everything runs in the caller's transaction, except the reads marked
as such.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any, TypedDict, cast

import asyncpg
import msgspec

from equipment.storage import db
from equipment.storage.bulk import Bulk
from equipment.storage.equipment import RegisterRecord
from equipment.storage.tables import DueDate, Inspection

# The register columns an import sets, compared to tell a changed unit from an unchanged.
COMPARED = (
    "registration_code",
    "equipment_code",
    "category",
    "certificate_no",
    "manufacturer",
    "model",
    "serial_no",
    "manufacture_date",
    "commissioning_date",
    "registered_on",
    "address",
    "district_code",
    "longitude",
    "latitude",
    "user_unit",
    "status",
)
NEW_UNIT_COLUMNS = (
    "code",
    *COMPARED,
    "status_since",
    "late_registration",
    "late_suspension_notice",
    "needs_inspection_before_resume",
    "parameters",
    "next_inspection_due",
    "not_fit_for_use",
    "version",
    "created_at",
    "updated_at",
)
DUE_COLUMNS = (
    "equipment",
    "kind",
    "due_on",
    "statutory",
    "rule_key",
    "source",
    "base_date",
    "explanation",
    "from_report",
    "category",
    "district_code",
    "user_unit",
    "maintenance_company",
    "owning_station",
)
INSPECTION_COLUMNS = (
    "equipment",
    "kind",
    "inspected_on",
    "conclusion",
    "reason",
    "inspection_body",
    "report_no",
    "findings",
    "next_due_stated",
    "actor",
    "recorded_at",
)
JOB_COLUMNS = (
    "id",
    "kind",
    "file_name",
    "file_hash",
    "encoding",
    "profile",
    "status",
    "total_rows",
    "accepted_rows",
    "committed_rows",
    "batches_done",
    "inserted",
    "updated",
    "unchanged",
    "counts",
    "error",
    "actor",
    "staged_on",
    "created_at",
    "updated_at",
)
_JOB_SETTABLE = frozenset(JOB_COLUMNS) - {"id", "kind", "file_hash", "actor", "created_at"}


class RegisteredUnit(RegisterRecord, frozen=True):
    """A unit the import finds in the register: RegisterRecord's fields (its id, code and
    the COMPARED columns but the last), then its status (the last) and its version, typed
    as EquipmentRow types them. Built positionally from the driver's rows, the statement
    naming these fields in this order."""

    status: str
    version: int


_REGISTERED_UNIT_SELECT = f"SELECT {', '.join(RegisteredUnit.__struct_fields__)} FROM equipment"


class ImportJobRow(TypedDict):
    id: int
    kind: str
    file_name: str
    file_hash: str
    encoding: str
    profile: str
    status: str
    total_rows: int
    accepted_rows: int
    committed_rows: int
    batches_done: int
    inserted: int
    updated: int
    unchanged: int
    counts: str
    error: str
    actor: str
    staged_on: date
    created_at: datetime
    updated_at: datetime


class OrganisationKey(TypedDict):
    id: int
    name: str
    credit_code: str


def _in_transaction() -> Bulk:
    transaction = db.engine().current_transaction.get()
    assert transaction is not None, "import writes run inside a unit of work"
    return Bulk(transaction)


@asynccontextmanager
async def _reader() -> AsyncIterator[Bulk]:
    transaction = db.engine().current_transaction.get()
    if transaction is not None:
        yield Bulk(transaction)
        return
    async with db.reading() as bulk:
        yield bulk


def _date(value: Any) -> Any:
    # SQLite hands back what it stored for a DATE written through a raw statement.
    return date.fromisoformat(value) if isinstance(value, str) else value


async def _copy_or_insert(
    table: type[DueDate] | type[Inspection], columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    bulk = _in_transaction()
    if not rows:
        return
    if bulk.postgres:
        await bulk.connection.copy_records_to_table(
            table._meta.tablename, records=rows, columns=list(columns)
        )
        return
    await bulk.insert(table, columns, rows)


class ImportRepository:
    def concurrent_writers(self) -> bool:
        """Whether transactions on several connections can write at once (PostgreSQL;
        SQLite has one writer)."""
        return db.is_postgres()

    # --- jobs -------------------------------------------------------------------------
    async def create_job(self, values: Mapping[str, Any]) -> int:
        bulk = _in_transaction()
        columns = [c for c in JOB_COLUMNS if c in values]
        marks = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        [row] = await bulk.fetch(
            f"INSERT INTO import_job ({', '.join(columns)}) VALUES ({marks}) RETURNING id",
            *[values[c] for c in columns],
        )
        return int(row["id"])

    async def job(self, job_id: int) -> ImportJobRow | None:
        async with _reader() as bulk:
            rows = await bulk.fetch(
                f"SELECT {', '.join(JOB_COLUMNS)} FROM import_job WHERE id = $1", job_id
            )
        if not rows:
            return None
        row = rows[0]
        row["staged_on"] = _date(row["staged_on"])
        return cast(ImportJobRow, row)

    async def unfinished(self, kind: str, file_hash: str) -> int | None:
        """The latest import of this file that was staged and not yet fully committed."""
        async with _reader() as bulk:
            rows = await bulk.fetch(
                "SELECT id FROM import_job WHERE kind = $1 AND file_hash = $2"
                " AND status IN ('staged', 'committing') ORDER BY id DESC LIMIT 1",
                kind,
                file_hash,
            )
        return int(rows[0]["id"]) if rows else None

    async def update_job(self, job_id: int, fields: Mapping[str, Any]) -> None:
        unknown = set(fields) - _JOB_SETTABLE
        if unknown:
            raise ValueError(f"not settable: {sorted(unknown)}")
        names = list(fields)
        sets = ", ".join(f"{n} = ${i}" for i, n in enumerate(names, start=2))
        await _in_transaction().execute(
            f"UPDATE import_job SET {sets} WHERE id = $1", job_id, *[fields[n] for n in names]
        )

    # --- staging ----------------------------------------------------------------------
    async def stage(
        self,
        job_id: int,
        rows: Sequence[tuple[int, str | None, bool, str]],
        findings: Sequence[tuple[int, str, str, str]],
    ) -> None:
        """Staged rows (row_no, code, accepted, payload JSON) and their findings (row_no,
        rule, severity, detail)."""
        bulk = _in_transaction()
        staged = [(job_id, *r) for r in rows]
        found = [(job_id, *f) for f in findings]
        if bulk.postgres:
            if staged:
                await bulk.connection.copy_records_to_table(
                    "import_row",
                    records=staged,
                    columns=["import_job", "row_no", "code", "accepted", "payload"],
                )
            if found:
                await bulk.connection.copy_records_to_table(
                    "import_finding",
                    records=found,
                    columns=["import_job", "row_no", "rule", "severity", "detail"],
                )
            return
        await bulk.executemany(
            "INSERT INTO import_row (import_job, row_no, code, accepted, payload)"
            " VALUES ($1, $2, $3, $4, $5)",
            staged,
        )
        await bulk.executemany(
            "INSERT INTO import_finding (import_job, row_no, rule, severity, detail)"
            " VALUES ($1, $2, $3, $4, $5)",
            found,
        )

    async def cross_row_rules(self, job_id: int, *, in_register_rule: str) -> None:
        """``duplicate_in_file``: a code an earlier row of the file already has (the first
        row keeps it, the later are rejected); then ``in_register``: an accepted row whose
        unit the register already holds (the commit updates it if it changed)."""
        bulk = _in_transaction()
        await bulk.execute(
            "INSERT INTO import_finding (import_job, row_no, rule, severity, detail)"
            " SELECT r.import_job, r.row_no, 'duplicate_in_file', 'reject',"
            " 'row ' || CAST(f.first_row AS TEXT)"
            " FROM import_row r JOIN (SELECT code, MIN(row_no) AS first_row FROM import_row"
            "  WHERE import_job = $1 AND code IS NOT NULL GROUP BY code HAVING COUNT(*) > 1) f"
            "  ON f.code = r.code"
            " WHERE r.import_job = $1 AND r.row_no > f.first_row",
            job_id,
        )
        await bulk.execute(
            "UPDATE import_row SET accepted = FALSE WHERE import_job = $1 AND row_no IN"
            " (SELECT row_no FROM import_finding WHERE import_job = $1"
            "  AND rule = 'duplicate_in_file')",
            job_id,
        )
        await bulk.execute(
            "INSERT INTO import_finding (import_job, row_no, rule, severity, detail)"
            f" SELECT r.import_job, r.row_no, '{in_register_rule}', 'info',"
            " 'unit ' || CAST(e.id AS TEXT)"
            " FROM import_row r JOIN equipment e ON e.code = r.code"
            " WHERE r.import_job = $1 AND r.accepted",
            job_id,
        )

    async def rule_counts(self, job_id: int) -> dict[str, int]:
        async with _reader() as bulk:
            rows = await bulk.fetch(
                "SELECT rule, COUNT(*) AS n FROM import_finding WHERE import_job = $1"
                " GROUP BY rule",
                job_id,
            )
        return {r["rule"]: int(r["n"]) for r in rows}

    async def accepted_count(self, job_id: int) -> int:
        async with _reader() as bulk:
            rows = await bulk.fetch(
                "SELECT COUNT(*) AS n FROM import_row WHERE import_job = $1 AND accepted", job_id
            )
        return int(rows[0]["n"])

    async def findings(
        self, job_id: int, rule: str, *, after_row: int, limit: int
    ) -> list[tuple[int, str]]:
        """A page of one rule's findings in row order (the report's sheets)."""
        async with _reader() as bulk:
            rows = await bulk.rows(
                "SELECT row_no, detail FROM import_finding WHERE import_job = $1 AND rule = $2"
                " AND row_no > $3 ORDER BY row_no LIMIT $4",
                job_id,
                rule,
                after_row,
                limit,
            )
        return [(int(r["row_no"]), str(r["detail"])) for r in rows]

    async def accepted_rows(
        self, job_id: int, *, after_row: int, limit: int
    ) -> list[tuple[int, str]]:
        """The next accepted staged rows (row_no, payload JSON) after ``after_row``."""
        async with _reader() as bulk:
            rows = await bulk.rows(
                "SELECT row_no, payload FROM import_row WHERE import_job = $1 AND accepted"
                " AND row_no > $2 ORDER BY row_no LIMIT $3",
                job_id,
                after_row,
                limit,
            )
        return [(int(r["row_no"]), str(r["payload"])) for r in rows]

    async def last_batch(self, job_id: int) -> tuple[int, int] | None:
        """(batch_no, last_row) of the last committed batch, if any."""
        async with _reader() as bulk:
            rows = await bulk.fetch(
                "SELECT batch_no, last_row FROM import_batch WHERE import_job = $1"
                " ORDER BY batch_no DESC LIMIT 1",
                job_id,
            )
        return (int(rows[0]["batch_no"]), int(rows[0]["last_row"])) if rows else None

    async def mark_batch(
        self,
        job_id: int,
        batch_no: int,
        *,
        first_row: int,
        last_row: int,
        rows: int,
        inserted: int,
        updated: int,
        unchanged: int,
        at: datetime,
    ) -> None:
        """The batch's commit marker, in the batch's transaction: a batch is committed
        exactly when its marker is (a rerun skips it). The primary key refuses a second."""
        bulk = _in_transaction()
        await bulk.execute(
            "INSERT INTO import_batch (import_job, batch_no, first_row, last_row, inserted,"
            " updated, unchanged, committed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            job_id,
            batch_no,
            first_row,
            last_row,
            inserted,
            updated,
            unchanged,
            at,
        )
        await bulk.execute(
            "UPDATE import_job SET batches_done = batches_done + 1,"
            " committed_rows = committed_rows + $2, inserted = inserted + $3,"
            " updated = updated + $4, unchanged = unchanged + $5, updated_at = $6"
            " WHERE id = $1",
            job_id,
            rows,
            inserted,
            updated,
            unchanged,
            at,
        )

    # --- the register side --------------------------------------------------------------
    async def organisation_keys(self, kinds: Sequence[str]) -> list[OrganisationKey]:
        async with _reader() as bulk:
            rows = await bulk.fetch(
                "SELECT id, name, credit_code FROM organisation WHERE " + bulk.any_of("kind", 1),
                list(kinds),
            )
        return cast(list[OrganisationKey], rows)

    async def units_by_code(self, codes: Sequence[str]) -> list[RegisteredUnit]:
        """id, code, the compared columns and what the schedule needs, of the units with
        these codes."""
        bulk = _in_transaction()
        rows = await bulk.rows(
            _REGISTERED_UNIT_SELECT + " WHERE " + bulk.any_of("code", 1), list(codes)
        )
        if bulk.postgres:
            # asyncpg's Records, columns in the Struct's order: no dict copy, no validation.
            return [RegisteredUnit(*r.values()) for r in rows]
        # SQLite hands back what it stored for a DATE written through a raw statement.
        return [msgspec.convert(r, RegisteredUnit, strict=False) for r in rows]

    async def insert_units(self, rows: Sequence[Sequence[Any]]) -> dict[str, int]:
        """New units (NEW_UNIT_COLUMNS order); code → id. PostgreSQL: COPY into a scratch
        table dropped at commit, then one INSERT ... SELECT returning the ids. A code some
        other writer registered meanwhile is skipped (and not returned)."""
        bulk = _in_transaction()
        if not rows:
            return {}
        columns = ", ".join(NEW_UNIT_COLUMNS)
        if bulk.postgres:
            codes = [row[0] for row in rows]
            # Straight into the register by COPY (half the cost of a scratch table and an
            # INSERT ... SELECT): a code another writer registered meanwhile makes the COPY
            # fail as a whole, and only then, back at the savepoint, the scratch table's
            # ON CONFLICT path skips it.
            try:
                async with bulk.connection.transaction():  # a savepoint inside the batch's
                    await bulk.connection.copy_records_to_table(
                        "equipment", records=list(rows), columns=list(NEW_UNIT_COLUMNS)
                    )
            except asyncpg.UniqueViolationError:
                pass
            else:
                found = await bulk.connection.fetch(
                    "SELECT id, code FROM equipment WHERE code = ANY($1::text[])", codes
                )
                return {r["code"]: int(r["id"]) for r in found}
            # The register's column types, none of its constraints or defaults.
            await bulk.connection.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS import_new_unit ON COMMIT DELETE ROWS"
                f" AS SELECT {columns} FROM equipment WITH NO DATA"
            )
            await bulk.connection.copy_records_to_table(
                "import_new_unit", records=list(rows), columns=list(NEW_UNIT_COLUMNS)
            )
            found = await bulk.connection.fetch(
                f"INSERT INTO equipment ({columns}) SELECT {columns} FROM import_new_unit"
                " ON CONFLICT (code) DO NOTHING RETURNING id, code"
            )
            return {r["code"]: int(r["id"]) for r in found}
        marks = ", ".join(f"${i}" for i in range(1, len(NEW_UNIT_COLUMNS) + 1))
        out: dict[str, int] = {}
        for row in rows:
            got = await bulk.fetch(
                f"INSERT INTO equipment ({columns}) VALUES ({marks})"
                " ON CONFLICT (code) DO NOTHING RETURNING id, code",
                *row,
            )
            out.update({r["code"]: int(r["id"]) for r in got})
        return out

    async def update_units(
        self, changes: Sequence[tuple[int, Mapping[str, Any]]], at: datetime
    ) -> None:
        """Changed units: (id, the changed compared columns)."""
        bulk = _in_transaction()
        for unit_id, fields in changes:
            names = list(fields)
            sets = ", ".join(f"{n} = ${i}" for i, n in enumerate(names, start=3))
            await bulk.execute(
                f"UPDATE equipment SET {sets}, version = version + 1, updated_at = $2"
                " WHERE id = $1",
                unit_id,
                at,
                *[fields[n] for n in names],
            )

    async def add_due_rows(self, rows: Sequence[Sequence[Any]]) -> None:
        """Due rows (DUE_COLUMNS order) of new units, which have none yet: nothing can
        conflict, so on PostgreSQL they go in by COPY (a batch's few rows per unit were
        half the commit's time as one JSON-decoding INSERT)."""
        await _copy_or_insert(DueDate, DUE_COLUMNS, rows)

    async def add_inspections(self, rows: Sequence[Sequence[Any]]) -> None:
        await _copy_or_insert(Inspection, INSPECTION_COLUMNS, rows)

    async def has_inspection_on(self, pairs: Sequence[tuple[int, date]]) -> set[tuple[int, date]]:
        """Which of (unit, day) already have an inspection recorded that day."""
        if not pairs:
            return set()
        bulk = _in_transaction()
        rows = await bulk.fetch(
            "SELECT equipment, inspected_on FROM inspection WHERE " + bulk.any_of("equipment", 1),
            sorted({p[0] for p in pairs}),
        )
        have = {(int(r["equipment"]), _date(r["inspected_on"])) for r in rows}
        return have & set(pairs)

    async def report_numbers(self, numbers: Sequence[str]) -> dict[str, int]:
        """report_no → unit, for the report numbers already recorded."""
        if not numbers:
            return {}
        bulk = _in_transaction()
        rows = await bulk.fetch(
            "SELECT report_no, equipment FROM inspection WHERE " + bulk.any_of("report_no", 1),
            list(numbers),
        )
        return {r["report_no"]: int(r["equipment"]) for r in rows}

    async def unit_ids(self, codes: Sequence[str]) -> dict[str, int]:
        """code (or registration or equipment code) → unit id."""
        if not codes:
            return {}
        async with _reader() as bulk:
            rows = await bulk.fetch(
                "SELECT id, code, registration_code, equipment_code FROM equipment WHERE "
                + bulk.any_of("code", 1)
                + " OR "
                + bulk.any_of("registration_code", 1)
                + " OR "
                + bulk.any_of("equipment_code", 1),
                list(codes),
            )
        out: dict[str, int] = {}
        for r in rows:
            for key in ("code", "registration_code", "equipment_code"):
                if r[key]:
                    out[r[key]] = int(r["id"])
        return out
