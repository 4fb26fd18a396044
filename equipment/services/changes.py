"""The changes feed (互联互通): the register's, inspections', hazards' and statuses'
changes in commit-safe order, resumable from a cursor, within the caller's scope.

A provincial platform or a data warehouse follows sereg by asking for what came after
the cursor it last got; ``equipment.storage.changes`` says why the order never lets a
late commit slip behind a cursor. The same reads feed the change webhooks
(``equipment.services.notifications``), each endpoint with its own cursor and scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from equipment.domain.access import EquipmentScope, Permission, Principal, Role
from equipment.domain.changes import ChangeKind, format_cursor, kind_of, parse_cursor
from equipment.storage import reads
from equipment.storage.changes import ChangeRecord, Position


@dataclass(frozen=True, slots=True)
class Change:
    cursor: str
    kind: ChangeKind
    record: ChangeRecord


@dataclass(frozen=True, slots=True)
class ChangePage:
    items: list[Change]
    next_cursor: str  # where to read on from, also when the page is empty


def visible_kinds(principal: Principal) -> frozenset[ChangeKind]:
    """A hazard is read by those who may read hazards; the rest by whoever sees the unit."""
    kinds = set(ChangeKind)
    if not principal.can(Permission.HAZARD_READ):
        kinds.discard(ChangeKind.HAZARD)
    return frozenset(kinds)


async def read(
    scope: EquipmentScope, since: str, *, limit: int, kinds: frozenset[ChangeKind]
) -> ChangePage:
    """The changes of ``kinds`` inside ``scope`` after the cursor ``since`` ("" from the
    start). Pages are read in full and filtered by kind here, so the cursor always moves
    past what a reader did not ask for."""
    txid, entry_id = parse_cursor(since)
    records, last = await reads().changes.page(scope, Position(txid, entry_id), limit=limit)
    items = [Change(format_cursor(r.txid, r.id), kind_of(r.entity, r.action), r) for r in records]
    return ChangePage([c for c in items if c.kind in kinds], format_cursor(last.txid, last.id))


async def feed(
    principal: Principal, since: str, *, limit: int, kinds: frozenset[ChangeKind] | None
) -> ChangePage:
    """``GET /api/v1/changes``: the caller's units only (a maintenance company its lifts,
    a bound inspector his districts); never the public."""
    principal.require(Permission.EQUIPMENT_READ)
    allowed = visible_kinds(principal)
    return await read(
        principal.equipment_scope(),
        since,
        limit=limit,
        kinds=allowed if kinds is None else kinds & allowed,
    )


async def head() -> str:
    """The cursor of "now": a new subscriber starts here, not at the beginning of time."""
    top = await reads().changes.head()
    return format_cursor(top.txid, top.id)


def fields(change: Change, *, with_actor: bool) -> dict[str, Any]:
    """A change as the feed and the webhooks carry it. The actor (which token or
    account) is the bureau's to know, not a subscriber's."""
    r = change.record
    return {
        "cursor": change.cursor,
        "kind": change.kind.value,
        "entity": r.entity,
        "entity_id": r.entity_id,
        "action": r.action,
        "recorded_at": r.recorded_at,
        "actor": r.actor if with_actor else None,
        "equipment_id": r.equipment_id,
        "equipment_code": r.equipment_code,
        "registration_code": r.registration_code,
        "district_code": r.district_code,
        "before": r.before,
        "after": r.after,
    }


def as_json(change: Change, *, with_actor: bool) -> dict[str, Any]:
    found = fields(change, with_actor=with_actor)
    found["recorded_at"] = change.record.recorded_at.isoformat()
    return found


def shows_actor(principal: Principal) -> bool:
    return principal.role is Role.ADMIN
