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

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from equipment.domain.errors import InvalidValue
from equipment.storage import db

LOADED_TABLES = ("equipment", "inspection", "due_date", "cylinder_fill_state")

# The statement-level trigger that logs the areas a due-date change touches: the province
# register has no areas, so it would spool 2×10^7 transition rows to log nothing.
_AREA_TRIGGER = "due_date_area_change_insert"

# One place derives a unit from g; every INSERT below selects FROM this. $1 n, $2 number of
# districts, $3 months of registrations, $4 today.
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
FROM generate_series(1, $1::bigint) AS g
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
        "SELECT c.conrelid::regclass::text AS tab, c.conname, c.contype,"
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
    ] + [r["def"] for r in indexes]
    make_fk = [
        f'ALTER TABLE {r["tab"]} ADD CONSTRAINT "{r["conname"]}" {r["def"]}'
        for r in constraints
        if r["contype"] == "f"
    ]
    return drop_fk, drop_rest, make_rest, make_fk


async def register_is_empty() -> bool:
    async with _pool().acquire() as conn:
        return not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM equipment)")


async def generate(plan: Plan, step: Step) -> dict[str, int]:
    """Write the province's cylinders, their inspections, due dates and fill states in
    one statement each, build the indexes once, VACUUM ANALYZE; ``step`` hears each
    step's name and wall seconds. Rows written per table."""
    require_postgres()
    district_count = len(plan.district_codes)
    common = [plan.units, district_count, plan.months, plan.today]
    stations = [list(plan.station_ids), plan.per_district]
    async with _pool().acquire() as conn:

        async def run(name: str, sql: str, *args: Any) -> int:
            started = time.perf_counter()
            status = await conn.execute(sql, *args)
            step(name, time.perf_counter() - started)
            tail = status.rsplit(" ", 1)[-1]
            return int(tail) if tail.isdigit() else 0

        await conn.execute("SET maintenance_work_mem = '1GB'")
        await conn.execute("SET work_mem = '256MB'")
        first = await conn.fetchval("SELECT coalesce(max(id), 0) FROM equipment")
        await conn.execute(
            "CREATE TEMP TABLE province_schedule (made_on date, variant int, inspected_on date,"
            " answered_due_on date, next_due date, not_fit boolean,"
            " PRIMARY KEY (made_on, variant))"
        )
        await conn.execute(
            "CREATE TEMP TABLE province_due (made_on date, variant int, kind text, due_on date,"
            " statutory boolean, rule_key text, source text, base_date date,"
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
            written["equipment"] = await run(
                "equipment",
                _EQUIPMENT,
                *common,
                first,
                *stations,
                list(plan.district_names),
                list(plan.district_codes),
                list(plan.makers),
                list(plan.streets),
                plan.parameters_json,
                plan.now,
            )
            written["inspection"] = await run(
                "inspection", _INSPECTION, *common, first, plan.actor, plan.now
            )
            written["due_date"] = await run(
                "due_date", _DUE_DATE, *common, first, *stations, list(plan.district_codes)
            )
            written["cylinder_fill_state"] = await run(
                "cylinder_fill_state",
                _FILL_STATE,
                *common,
                first,
                *stations,
                list(plan.station_codes),
                plan.now,
            )
        finally:
            await conn.execute(f"ALTER TABLE due_date ENABLE TRIGGER {_AREA_TRIGGER}")
            await conn.execute(
                "SELECT setval(pg_get_serial_sequence('equipment', 'id'),"
                " greatest((SELECT max(id) FROM equipment), 1))"
            )
            for sql in (*make_rest, *make_fk):
                await run(f"index: {_index_label(sql)}", sql)
        for table in LOADED_TABLES:
            await run(f"VACUUM (ANALYZE) {table}", f"VACUUM (ANALYZE) {table}")
        await run("ANALYZE organisation", "ANALYZE organisation")
    return written


def _index_label(sql: str) -> str:
    """A short name for an index or constraint statement (the progress lines)."""
    words = sql.split()
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
