"""A province's cylinder register written set-at-a-time (``sereg demo --province``,
equipment/demo/province.py): PostgreSQL only.

Every unit is a function of its number g in ``generate_series(1, n)``: its district, its
registration month and sequence, its dates and its station come from g by integer
arithmetic (no random state), so each table is one ``INSERT … SELECT`` that derives the
same unit from the same g, and no statement reads the 10^7-row tables back. The rules
engine's answers arrive as two small tables keyed by what the rules read of these
cylinders (manufacture date, and which periodic inspection the unit had): the due dates are
the engine's, joined in SQL, not a second implementation of the rules.

The loaded tables' secondary indexes, unique and foreign-key constraints are dropped first
and built once after the rows are in (a B-tree built from sorted input is faster and
smaller than one grown by 10^7 random inserts; a foreign key checked per row costs a
lookup per row). Primary keys stay: ids are given in ascending order, so the key grows at
its right edge.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from equipment.domain.errors import InvalidValue
from equipment.storage import db

LOADED_TABLES = ("equipment", "inspection", "due_date", "cylinder_fill_state")

# With ``defer``, the load builds only the keys the due list and the fill permit read (and
# the unique keys), adds the foreign keys NOT VALID (the rows are correct by construction,
# tests/integration/test_province.py), and keeps the other statements in
# ``province_deferred`` for ``finish`` (``sereg demo --province-finish``): a measurement
# at 10^7 need not wait for the 18 indexes it does not use.
NEEDED = frozenset(
    {
        "equipment_code_key",
        "equipment_registration_code_key",
        "equipment_equipment_code_key",
        "equipment_owning_station_id",
        "due_date_district_code_statutory_due",
        "due_date_statutory_due",
        "due_date_equipment_kind",
        "inspection_equipment",
        # The permit leaves out corrected inspections: an anti join on this key.
        "inspection_corrects",
        "cylinder_fill_state_equipment_key",
    }
)

# The statement-level trigger that logs the areas a due-date change touches: the province
# register has no areas, so it would spool 2×10^7 transition rows to log nothing.
_AREA_TRIGGER = "due_date_area_change_insert"

# One place derives a unit from g; every INSERT below selects FROM this. $1 the range of g
# this statement writes ([first, last]: a load is split in ranges written side by side),
# $2 number of districts, $3 months of registrations, $4 today.
# - district d = (g-1) mod districts; k = (g-1) div districts is the unit's place in it;
# - registration month m = 37 k mod months (back from this month; 37 is prime to the 108
#   months, so m runs over every month from the first units on, not only the latest),
#   sequence k div months + 1: (district, month, sequence) is unique, so the code is;
# - h, a multiplicative hash of g (Knuth's constant, mod 2^32), draws the day in the
#   month, the days from commissioning to registration (0-19: never late, TSG 08-2017
#   allows 30), from manufacture to commissioning (30-229), the station and which
#   periodic inspection the cylinder had (variant 0-2: on its due date, 30 or 60 days
#   early; 3, one cylinder in twenty: none on record).
_UNITS = """
FROM generate_series(($1::bigint[])[1], ($1::bigint[])[2]) AS g
CROSS JOIN LATERAL (SELECT ((g - 1) % $2)::int AS d, (g - 1) / $2 AS k,
                           (g * 2654435761) % 4294967296 AS h) AS a
CROSS JOIN LATERAL (SELECT (k / $3 + 1)::int AS seq,
                           (date_trunc('month', $4::date)
                            - make_interval(months => (k * 37 % $3)::int))::date
                             AS month_start) AS b
CROSS JOIN LATERAL (SELECT least($4::date, month_start + (h % 28)::int) AS registered_on) AS c
CROSS JOIN LATERAL (SELECT registered_on - ((h / 28) % 20)::int AS commissioned) AS c2
CROSS JOIN LATERAL (SELECT commissioned - (30 + (h / 560) % 200)::int AS made,
                           CASE WHEN h % 20 = 0 THEN 3 ELSE ((h / 20) % 3)::int END
                             AS variant) AS c3
"""


def _station(array: str, per_district: str) -> str:
    """The unit's station from an array of stations given district-major (the k-th station
    of district d at d * per + k + 1): its id or its code, by the array passed."""
    return f"({array})[d * {per_district} + (h / 112000 % {per_district})::int + 1]"


# $5 is the first id - 1 in every statement below; $6 the station ids, $7 stations per
# district.
_STATION = _station("$6::int[]", "$7")

_EQUIPMENT = f"""
INSERT INTO equipment (id, code, registration_code, equipment_code, category, certificate_no,
  manufacturer, model, serial_no, manufacture_date, commissioning_date, registered_on,
  address, district_code, longitude, latitude, user_unit, maintenance_company,
  owning_station, status, status_since, late_registration, late_suspension_notice,
  needs_inspection_before_resume, parameters, cylinder_use, next_inspection_due,
  not_fit_for_use, last_maintenance_on, risk_rank, version, created_at, updated_at)
SELECT $5::bigint + g, reg, reg, eq, '2320',
  '瓶' || (10 + h % 89) || '鄂' || lpad(((g - 1) % 100000)::text, 5, '0')
    || '(' || to_char(registered_on, 'YY') || ')',
  ($10::text[])[((g - 1) % 100 % array_length($10::text[], 1))::int + 1],
  'D-' || (100 + h % 900), to_char(made, 'YYYY') || lpad((h % 1000000)::text, 6, '0'),
  made, commissioned, registered_on,
  '湖北省' || ($8::text[])[d + 1] || ($11::text[])[(h % array_length($11::text[], 1))::int + 1]
    || (1 + h % 600) || '号',
  ($9::text[])[d + 1], NULL, NULL, {_STATION}, NULL, {_STATION}, 'in_use', registered_on,
  FALSE, FALSE, FALSE, $12::json, NULL, s.next_due, s.not_fit, NULL, 0, 1, $13, $13
{_UNITS}
CROSS JOIN LATERAL (SELECT '2320' || ($9::text[])[d + 1] || to_char(month_start, 'YYYYMM')
                           || lpad(seq::text, 4, '0') AS reg,
                           '2320D30' || lpad(((g - 1) % 100)::text, 2, '0')
                           || to_char(made, 'YYYY')
                           || lpad((((g - 1) / 100) % 100000)::text, 5, '0') AS eq) AS codes
JOIN province_schedule s ON s.made_on = c3.made AND s.variant = c3.variant
"""

_INSPECTION = f"""
INSERT INTO inspection (equipment, kind, inspected_on, conclusion, reason, report_no, findings,
  next_due_stated, safety_grade, answered_due_on, on_time, actor, recorded_at)
SELECT $5::bigint + g, 'periodic', s.inspected_on, 'pass', '',
  'HB' || to_char(s.inspected_on, 'YYYY') || '-' || ($5::bigint + g), '', NULL, NULL,
  s.answered_due_on, TRUE, $6, $7
{_UNITS}
JOIN province_schedule s ON s.made_on = c3.made AND s.variant = c3.variant
WHERE s.inspected_on IS NOT NULL
"""

_DUE_DATE = f"""
INSERT INTO due_date (equipment, kind, due_on, statutory, rule_key, source, base_date,
  explanation, from_report, category, district_code, user_unit, maintenance_company,
  owning_station, risk_rank)
SELECT $5::bigint + g, s.kind, s.due_on, s.statutory, s.rule_key, s.source, s.base_date,
  s.explanation, s.from_report, '2320', ($8::text[])[d + 1], {_STATION}, NULL, {_STATION}, 0
{_UNITS}
JOIN province_due s ON s.made_on = c3.made AND s.variant = c3.variant
"""

# Last filled 1-29 days ago at its own station; the fill row itself is not kept (the
# permit reads this state, one row per cylinder, not the fill history).
_FILL_STATE = f"""
INSERT INTO cylinder_fill_state (equipment, last_fill, last_filled_at, last_station,
  last_station_code, fill_count)
SELECT $5::bigint + g, 0, $9::timestamptz - make_interval(days => (1 + h % 29)::int,
  secs => (h % 86400)::int), {_STATION},
  {_station("$8::text[]", "$7")}, 1 + (h % 40)::int
{_UNITS}
"""


@dataclass(frozen=True)
class Plan:
    """What the generator needs besides n: the districts (codes and Chinese names), the
    stations (ids and codes, district-major) and the rules engine's answers."""

    units: int
    months: int
    today: date
    now: datetime
    district_codes: Sequence[str]
    district_names: Sequence[str]
    station_ids: Sequence[int]
    station_codes: Sequence[str]
    makers: Sequence[str]
    streets: Sequence[str]
    parameters_json: str
    actor: str
    # (made, variant, inspected_on, answered_due_on, next_due, not_fit)
    schedules: Sequence[tuple[Any, ...]]
    # (made, variant, kind, due_on, statutory, rule_key, source, base_date, explanation,
    #  from_report)
    dues: Sequence[tuple[Any, ...]]

    @property
    def per_district(self) -> int:
        return len(self.station_ids) // len(self.district_codes)


Step = Callable[[str, float], None]


def require_postgres() -> None:
    if not db.is_postgres():
        raise InvalidValue(
            "the province register (sereg demo --province) is generated in PostgreSQL with"
            " INSERT … SELECT over generate_series; SQLite is not supported: set DATABASE_URL"
            " to a PostgreSQL database"
        )


def _pool() -> Any:
    engine = db.engine()
    assert isinstance(engine, PostgresEngine)
    return engine.pool


async def _saved_definitions(conn: Any) -> tuple[list[str], list[str], list[str], list[str]]:
    """The loaded tables' secondary indexes, unique and foreign-key constraints: the
    statements that drop them and the ones that make them again (unique and indexes
    first, then foreign keys, which use the referenced keys)."""
    tables = list(LOADED_TABLES)
    constraints = await conn.fetch(
        "SELECT c.conrelid::regclass::text AS tab, c.conname, c.contype::text AS contype,"
        " pg_get_constraintdef(c.oid) AS def FROM pg_constraint c"
        " WHERE c.conrelid = ANY($1::regclass[]) AND c.contype IN ('u', 'f')"
        " ORDER BY c.contype DESC, c.conrelid::regclass::text, c.conname",
        tables,
    )
    indexes = await conn.fetch(
        "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def"
        " FROM pg_index i WHERE i.indrelid = ANY($1::regclass[]) AND NOT EXISTS ("
        "  SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid"
        "  AND c.conrelid = i.indrelid)"
        " ORDER BY i.indrelid::regclass::text, name",
        tables,
    )
    drop_fk = [
        f'ALTER TABLE {r["tab"]} DROP CONSTRAINT "{r["conname"]}"'
        for r in constraints
        if r["contype"] == "f"
    ]
    drop_rest = [
        f'ALTER TABLE {r["tab"]} DROP CONSTRAINT "{r["conname"]}"'
        for r in constraints
        if r["contype"] == "u"
    ] + [f"DROP INDEX {r['name']}" for r in indexes]
    make_rest = [
        f'ALTER TABLE {r["tab"]} ADD CONSTRAINT "{r["conname"]}" {r["def"]}'
        for r in constraints
        if r["contype"] == "u"
    ] + [str(r["def"]) for r in indexes]
    make_fk = [
        f'ALTER TABLE {r["tab"]} ADD CONSTRAINT "{r["conname"]}" {r["def"]}'
        for r in constraints
        if r["contype"] == "f"
    ]
    return drop_fk, drop_rest, make_rest, make_fk


async def register_is_empty() -> bool:
    async with _pool().acquire() as conn:
        return not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM equipment)")


def _name_of(sql: str) -> str:
    """The index or constraint a statement makes."""
    words = sql.split()
    name = words[5] if words[0] == "ALTER" else words[words.index("INDEX") + 1]
    return name.strip('"')


async def generate(plan: Plan, step: Step, *, jobs: int = 2, defer: bool = False) -> dict[str, int]:
    """Write the province's cylinders, their inspections, due dates and fill states, one
    statement per table and range of units (``jobs`` ranges written side by side, one
    connection each), build the indexes once (``jobs`` at a time), VACUUM ANALYZE;
    ``step`` hears each step's name and wall seconds. Rows written per table."""
    require_postgres()
    district_count = len(plan.district_codes)
    jobs = max(1, min(jobs, 8))
    stations = [list(plan.station_ids), plan.per_district]
    bounds = [plan.units * j // jobs for j in range(jobs + 1)]
    ranges = [[lo + 1, hi] for lo, hi in itertools.pairwise(bounds) if hi > lo]
    async with contextlib.AsyncExitStack() as stack:
        conns = [await stack.enter_async_context(_pool().acquire()) for _ in range(jobs)]
        conn = conns[0]
        for each in conns:
            await each.execute("SET maintenance_work_mem = '1GB'")

        async def timed(name: str, work: Any) -> Any:
            started = time.perf_counter()
            result = await work
            step(name, time.perf_counter() - started)
            return result

        async def table(name: str, sql: str, *args: Any) -> int:
            """One statement per range, side by side: the rows written."""
            statuses = await timed(
                name,
                asyncio.gather(
                    *(
                        c.execute(sql, part, district_count, plan.months, plan.today, *args)
                        for c, part in zip(conns, ranges, strict=False)
                    )
                ),
            )
            return sum(int(s.rsplit(" ", 1)[-1]) for s in statuses)

        async def in_turn(name: str, statements: Sequence[str]) -> None:
            """``statements`` on the connections, each taking the next when it is done."""
            queue = list(statements)

            async def worker(c: Any) -> None:
                while queue:
                    sql = queue.pop(0)
                    started = time.perf_counter()
                    await c.execute(sql)
                    step(f"{name}: {_index_label(sql)}", time.perf_counter() - started)

            await timed(f"{name} (all)", asyncio.gather(*(worker(c) for c in conns)))

        first = await conn.fetchval("SELECT coalesce(max(id), 0) FROM equipment")
        await conn.execute("DROP TABLE IF EXISTS province_schedule, province_due")
        await conn.execute(
            "CREATE UNLOGGED TABLE province_schedule (made_on date, variant int,"
            " inspected_on date, answered_due_on date, next_due date, not_fit boolean,"
            " PRIMARY KEY (made_on, variant))"
        )
        await conn.execute(
            "CREATE UNLOGGED TABLE province_due (made_on date, variant int, kind text,"
            " due_on date, statutory boolean, rule_key text, source text, base_date date,"
            " explanation text, from_report boolean)"
        )
        await conn.copy_records_to_table("province_schedule", records=list(plan.schedules))
        await conn.copy_records_to_table("province_due", records=list(plan.dues))
        await conn.execute("ANALYZE province_schedule; ANALYZE province_due")
        drop_fk, drop_rest, make_rest, make_fk = await _saved_definitions(conn)
        for sql in (*drop_fk, *drop_rest):
            await conn.execute(sql)
        await conn.execute(f"ALTER TABLE due_date DISABLE TRIGGER {_AREA_TRIGGER}")
        written: dict[str, int] = {}
        try:
            written["equipment"] = await table(
                "equipment",
                _EQUIPMENT,
                first,
                *stations,
                list(plan.district_names),
                list(plan.district_codes),
                list(plan.makers),
                list(plan.streets),
                plan.parameters_json,
                plan.now,
            )
            written["inspection"] = await table(
                "inspection", _INSPECTION, first, plan.actor, plan.now
            )
            written["due_date"] = await table(
                "due_date", _DUE_DATE, first, *stations, list(plan.district_codes)
            )
            written["cylinder_fill_state"] = await table(
                "cylinder_fill_state",
                _FILL_STATE,
                first,
                *stations,
                list(plan.station_codes),
                plan.now,
            )
        finally:
            await conn.execute(f"ALTER TABLE due_date ENABLE TRIGGER {_AREA_TRIGGER}")
            await conn.execute("DROP TABLE IF EXISTS province_schedule, province_due")
            await conn.execute(
                "SELECT setval(pg_get_serial_sequence('equipment', 'id'),"
                " greatest((SELECT max(id) FROM equipment), 1))"
            )
            deferred: list[str] = []
            if defer:
                deferred = [sql for sql in make_rest if _name_of(sql) not in NEEDED]
                deferred += [
                    f"ALTER TABLE {sql.split()[2]} VALIDATE CONSTRAINT {sql.split()[5]}"
                    for sql in make_fk
                ]
                make_rest = [sql for sql in make_rest if _name_of(sql) in NEEDED]
                make_fk = [f"{sql} NOT VALID" for sql in make_fk]
            # Unique keys and indexes side by side; the foreign keys after them, one at a
            # time (each locks its table and the one it references).
            await in_turn("index", make_rest)
            for sql in make_fk:
                await timed(f"foreign key: {_index_label(sql)}", conn.execute(sql))
            if deferred:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS province_deferred (n int PRIMARY KEY, sql text)"
                )
                await conn.executemany(
                    "INSERT INTO province_deferred VALUES ($1, $2)", list(enumerate(deferred))
                )
        await in_turn("VACUUM", [f"VACUUM (ANALYZE) {t}" for t in LOADED_TABLES])
        await timed("ANALYZE organisation", conn.execute("ANALYZE organisation"))
    return written


async def finish(step: Step, *, jobs: int = 2) -> int:
    """Build what a deferred load left out (``province_deferred``): the indexes side by
    side, then the foreign keys validated one at a time; the statements run."""
    require_postgres()
    async with contextlib.AsyncExitStack() as stack:
        conns = [await stack.enter_async_context(_pool().acquire()) for _ in range(jobs)]
        exists = await conns[0].fetchval("SELECT to_regclass('province_deferred') IS NOT NULL")
        if not exists:
            return 0
        statements = [
            r["sql"] for r in await conns[0].fetch("SELECT sql FROM province_deferred ORDER BY n")
        ]
        for each in conns:
            await each.execute("SET maintenance_work_mem = '1GB'")
        queue = [s for s in statements if "VALIDATE" not in s]

        async def worker(c: Any) -> None:
            while queue:
                sql = queue.pop(0)
                started = time.perf_counter()
                await c.execute(sql)
                step(f"index: {_index_label(sql)}", time.perf_counter() - started)

        await asyncio.gather(*(worker(c) for c in conns))
        for sql in (s for s in statements if "VALIDATE" in s):
            started = time.perf_counter()
            await conns[0].execute(sql)
            step(f"foreign key: {sql.split()[2]}.{sql.split()[5]}", time.perf_counter() - started)
        await conns[0].execute("DROP TABLE province_deferred")
        return len(statements)


def _index_label(sql: str) -> str:
    """A short name for an index, constraint or VACUUM statement (the progress lines)."""
    words = sql.split()
    if words[0] == "VACUUM":
        return words[-1]
    if words[0] == "ALTER":
        return f"{words[2]}.{words[5].strip(chr(34))} ({words[6].lower()})"
    table = words[words.index("ON") + 1].removeprefix("public.")
    return f"{table}.{words[words.index('INDEX') + 1]}"


async def sizes() -> list[tuple[str, int, int, int]]:
    """(table, rows estimated, heap bytes, index bytes) of the loaded tables."""
    async with _pool().acquire() as conn:
        rows = await conn.fetch(
            "SELECT relname, reltuples::bigint AS n, pg_table_size(oid) AS heap,"
            " pg_indexes_size(oid) AS idx FROM pg_class"
            " WHERE relname = ANY($1::text[]) AND relkind = 'r' ORDER BY relname",
            list(LOADED_TABLES),
        )
        return [(r["relname"], r["n"], r["heap"], r["idx"]) for r in rows]


async def database_size() -> int:
    async with _pool().acquire() as conn:
        return int(await conn.fetchval("SELECT pg_database_size(current_database())"))
