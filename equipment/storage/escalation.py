"""Escalation rungs held by the database: every statement of equipment.services.escalation.

A rung that fires leaves an ``escalation_fired`` row, unique on (alarm, step): the worker
whose insert wins fires it, in the transaction that announces it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec

from equipment.storage import db

# The columns a rung waits for (domain.escalation.Rung.waits_for): named in the SQL.
_STEP_COLUMNS = frozenset({"acknowledged_at", "arrived_at"})


class EscalationCandidate(msgspec.Struct, frozen=True):
    """An open alarm that may have a rung due: what its ladder is computed from."""

    id: int
    kind: str
    severity: str
    raised_at: datetime
    acknowledged_at: datetime | None
    arrived_at: datetime | None
    response_limit_minutes: int | None


class EscalationRepository:
    async def candidates(
        self, *, now: datetime, laddered: Iterable[str], limit: int
    ) -> tuple[list[EscalationCandidate], dict[int, set[str]]]:
        """Open critical alarms (or of a laddered kind) raised by ``now`` and not yet
        both acknowledged and on site, oldest first, and the steps each already fired:
        two reads on one pooled connection, without a transaction."""
        kinds = ", ".join(f"'{kind}'" for kind in laddered)
        async with db.reading() as bulk:
            rows = await bulk.fetch(
                "SELECT id, kind, severity, raised_at, acknowledged_at, arrived_at,"
                " response_limit_minutes FROM alarm WHERE state = 'open'"
                f" AND (severity = 'critical' OR kind IN ({kinds}))"
                " AND raised_at <= $1 AND (acknowledged_at IS NULL OR arrived_at IS NULL)"
                " ORDER BY raised_at LIMIT $2",
                now,
                limit,
            )
            if not rows:
                return [], {}
            fired_rows = await bulk.fetch(
                f"SELECT alarm, step FROM escalation_fired WHERE {bulk.any_of('alarm', 1)}",
                [r["id"] for r in rows],
            )
        fired: dict[int, set[str]] = {}
        for r in fired_rows:
            fired.setdefault(int(r["alarm"]), set()).add(str(r["step"]))
        candidates = [msgspec.convert(r, EscalationCandidate, strict=False) for r in rows]
        return candidates, fired

    async def claim(self, alarm_id: int, step: str, *, now: datetime) -> bool:
        """Record the rung as fired; False when another worker already did."""
        async with db.reader() as bulk:
            won = await bulk.fetch(
                "INSERT INTO escalation_fired (alarm, step, fired_at) VALUES ($1, $2, $3)"
                " ON CONFLICT (alarm, step) DO NOTHING RETURNING id",
                alarm_id,
                step,
                now,
            )
        return bool(won)

    async def still_waiting(self, alarm_id: int, column: str) -> bool:
        """Whether the alarm is open with ``column`` (the step the rung waits for) unset."""
        if column not in _STEP_COLUMNS:
            raise ValueError(f"not a response step: {column}")
        async with db.reader() as bulk:
            state = await bulk.fetch(
                f"SELECT state, {column} AS taken FROM alarm WHERE id = $1", alarm_id
            )
        return bool(state) and state[0]["state"] == "open" and state[0]["taken"] is None

    async def mark_late(self, alarm_id: int) -> None:
        """The response limit passed with nobody on site: the alarm is late."""
        async with db.reader() as bulk:
            await bulk.execute(
                "UPDATE alarm SET arrived_late = true WHERE id = $1 AND arrived_at IS NULL",
                alarm_id,
            )
