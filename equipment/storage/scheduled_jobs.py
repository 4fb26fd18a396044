"""The workers' scheduled jobs (``scheduled_job``): one row a job, holding the day of its
last or current round and where that round has got to, so that several workers share one
round (each batch under the row's lock) and a restarted worker goes on where it stopped."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec

from equipment.storage import db
from equipment.storage.bulk import Bulk


class JobState(msgspec.Struct, frozen=True):
    day: date | None  # the day of the last or current round (None: never run)
    next_id: int | None  # the next unit id the round grades (None: the round is done)


def _bulk() -> Bulk:
    transaction = db.engine().current_transaction.get()
    assert transaction is not None, "a scheduled job's step runs inside a transaction"
    return Bulk(transaction)


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


class ScheduledJobRepository:
    async def claim(self, job: str, *, now: datetime) -> JobState | None:
        """Inside the step's transaction: the job's state, its row locked until the
        transaction ends; None while another worker's step holds it (PostgreSQL: that
        worker is on the round; SQLite's IMMEDIATE transaction waits for it instead)."""
        bulk = _bulk()
        lock = " FOR UPDATE SKIP LOCKED" if bulk.postgres else ""
        sql = f"SELECT day, next_id FROM scheduled_job WHERE job = $1{lock}"
        rows = await bulk.rows(sql, job)
        if not rows:
            await bulk.execute(
                "INSERT INTO scheduled_job (job, day, next_id, updated_at)"
                " VALUES ($1, NULL, NULL, $2) ON CONFLICT (job) DO NOTHING",
                job,
                now,
            )
            rows = await bulk.rows(sql, job)
            if not rows:
                return None
        r = rows[0]
        return JobState(_date(r["day"]), None if r["next_id"] is None else int(r["next_id"]))

    async def save(self, job: str, state: JobState, *, now: datetime) -> None:
        await _bulk().execute(
            "UPDATE scheduled_job SET day = $2, next_id = $3, updated_at = $4 WHERE job = $1",
            job,
            state.day,
            state.next_id,
            now,
        )

    async def state(self, job: str) -> JobState | None:
        """The job's state as committed (None: never run)."""
        async with db.reader() as bulk:
            rows = await bulk.rows("SELECT day, next_id FROM scheduled_job WHERE job = $1", job)
        if not rows:
            return None
        r = rows[0]
        return JobState(_date(r["day"]), None if r["next_id"] is None else int(r["next_id"]))
