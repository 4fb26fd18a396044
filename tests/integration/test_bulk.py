"""The ingest's set-at-a-time insert writes each value as it was given, on both engines:
what goes in through ``Bulk.insert`` comes back out of the table unchanged (PostgreSQL
takes the rows as one JSON document, SQLite as VALUES)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from equipment.storage import db
from equipment.storage.bulk import Bulk
from equipment.storage.tables import DeadLetter, Fill

pytestmark = pytest.mark.integration

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# PostgreSQL text holds no NUL; lone surrogates are not UTF-8.
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
instants = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))]),
)
FILL_COLUMNS = (
    "station", "station_code", "event_id", "cylinder", "cylinder_code", "medium",
    "filled_at", "started_at", "filled_mass_kg", "final_pressure_mpa", "pre_check_passed",
    "post_check_passed", "operator", "verdict", "allowed", "suspicious", "reasons",
    "received_at",
)  # fmt: skip
fill_rows = st.tuples(
    st.integers(-(2**31), 2**31 - 1),
    texts.map(lambda t: t[:32]),
    st.uuids().map(str),
    st.none() | st.integers(-(2**63), 2**63 - 1),
    texts.map(lambda t: t[:64]),
    texts.map(lambda t: t[:32]),
    instants,
    st.none() | instants,
    st.none() | st.floats(allow_nan=False, allow_infinity=False),
    st.none() | st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.booleans(),
    texts.map(lambda t: t[:64]),
    texts.map(lambda t: t[:2]),
    st.booleans(),
    st.booleans(),
    st.lists(st.dictionaries(texts, texts | st.integers(-(2**53), 2**53)), max_size=3).map(
        json.dumps
    ),
    instants,
)


def _same(written: tuple, read: dict, columns: tuple[str, ...]) -> None:
    for column, value in zip(columns, written, strict=True):
        got = read[column]
        if column == "reasons":
            got = json.loads(got) if isinstance(got, str) else got
            value = json.loads(value)
        if isinstance(value, datetime) and isinstance(got, str):
            got = datetime.fromisoformat(got)
        assert got == value, column


@SETTINGS
@given(rows=st.lists(fill_rows, min_size=1, max_size=20, unique_by=lambda r: r[2]))
async def test_fill_rows_come_back_as_written(engine, rows) -> None:
    async with db.transaction() as transaction:
        bulk = Bulk(transaction)
        await bulk.execute("DELETE FROM fill")
        stored = await bulk.insert(Fill, FILL_COLUMNS, rows, returning="id, event_id")
        read = await bulk.fetch(f"SELECT {', '.join(FILL_COLUMNS)} FROM fill")
    assert sorted(r["event_id"] for r in stored) == sorted(r[2] for r in rows)
    by_event = {r["event_id"]: r for r in read}
    for row in rows:
        _same(row, by_event[row[2]], FILL_COLUMNS)


DEAD_COLUMNS = ("received_at", "topic", "unit_code", "reason", "detail", "payload", "payload_size")


@SETTINGS
@given(
    rows=st.lists(
        st.tuples(
            instants,
            texts,
            st.none() | texts.map(lambda t: t[:64]),
            texts.map(lambda t: t[:32]),
            texts,
            st.none() | st.binary(max_size=300),
            st.integers(0, 2**31 - 1),
        ),
        min_size=1,
        max_size=20,
    )
)
async def test_dead_letter_rows_come_back_as_written(engine, rows) -> None:
    async with db.transaction() as transaction:
        bulk = Bulk(transaction)
        await bulk.execute("DELETE FROM dead_letter")
        await bulk.insert(DeadLetter, DEAD_COLUMNS, rows)
        read = await bulk.fetch(f"SELECT id, {', '.join(DEAD_COLUMNS)} FROM dead_letter")
    read.sort(key=lambda r: r["id"])
    assert len(read) == len(rows)
    for row, got in zip(rows, read, strict=True):
        _same(row, {**got, "payload": _bytes(got["payload"])}, DEAD_COLUMNS)


def _bytes(value: object) -> bytes | None:
    return None if value is None else bytes(value)  # type: ignore[arg-type]


async def test_a_varchar_keeps_its_length_and_a_naive_time_is_refused(engine) -> None:
    now = datetime.now(UTC)
    async with db.transaction() as transaction:
        bulk = Bulk(transaction)
        with pytest.raises(ValueError, match="received_at: a timestamptz needs an aware"):
            await bulk.insert(
                DeadLetter, DEAD_COLUMNS, [(now.replace(tzinfo=None), "t", None, "r", "", None, 0)]
            )
        await bulk.insert(
            DeadLetter, DEAD_COLUMNS, [(now, "t", None, "x" * 40, "", b"\x00\xff", 2)]
        )
        [row] = await bulk.fetch("SELECT reason, payload FROM dead_letter")
    # The reason column is varchar(32): PostgreSQL's cast keeps the first 32 characters
    # (as the per-column arrays did); SQLite does not enforce lengths.
    assert row["reason"] == ("x" * 32 if db.is_postgres() else "x" * 40)
    assert bytes(row["payload"]) == b"\x00\xff"
