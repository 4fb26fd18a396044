"""Hazards (隐患) and the 一单四制 loop: listing, assigning, rectifying, verifying (销号).

The rules are equipment.domain.hazards; every table access is equipment.storage.hazards.
A hazard comes from an inspection that failed, a maintenance record's hazards column, a
supervision check, an alarm, a public report or a person entering it; each move is
written to the hazard's history and the audit trail with who and when, in the
transaction of the move. An open major hazard keeps its unit not fit for use (the
register's flag and the public answer) until it is verified closed.

Overdue hazards (past the 交办单's deadline while assigned or being rectified) are
listed by :func:`list_hazards` with ``overdue=True``; :func:`raise_overdue_alarms`,
run by the notify worker on every pass, raises one ``hazard_overdue`` alarm per hazard.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import msgspec

from equipment.domain import hazards as rules
from equipment.domain.access import SYSTEM, OrgKind, Permission, Principal, Role, ScopeKind
from equipment.domain.catalogue import Family, family_of
from equipment.domain.errors import Conflict, Forbidden, InvalidValue, NotFound
from equipment.services import audit, evidence, schedules
from equipment.services.evidence_store import EvidenceStore
from equipment.storage import db
from equipment.storage.hazards import (
    EvidenceRecord,
    HazardChangeRecord,
    HazardRecord,
    HazardRepository,
    LedgerCount,
    UnitFacts,
)

_repo = HazardRepository()

MAX_DESCRIPTION = 2000
# Hazards a maintenance upload or an inspection opens at once (a sheet's hazards column
# holds a handful per record; more is a wrong column, not a list of hazards).
MAX_FROM_ONE_RECORD = 20


@dataclass(frozen=True)
class NewHazard:
    """A hazard to list: of a unit (``equipment_id``) or of a user unit only."""

    description: str
    source: rules.Source
    equipment_id: int | None = None
    user_unit_id: int | None = None
    criterion: str | None = None
    source_ref: str = ""
    found_on: date | None = None


def _family(unit: UnitFacts | None) -> Family | None:
    return None if unit is None else family_of(unit.category)


def _values(
    new: NewHazard, unit: UnitFacts | None, user_unit: int, actor: str, today: date, now: datetime
) -> dict[str, Any]:
    description = new.description.strip()
    if not description:
        raise InvalidValue("a hazard needs a description", field="description")
    if len(description) > MAX_DESCRIPTION:
        raise InvalidValue(
            f"a description holds at most {MAX_DESCRIPTION} characters", field="description"
        )
    found_on = new.found_on or today
    if found_on > today:
        raise InvalidValue(f"{found_on.isoformat()} is in the future", field="found_on")
    grade = rules.classify(new.criterion, _family(unit))
    return {
        "equipment": None if unit is None else unit.id,
        "user_unit": user_unit,
        "district_code": "" if unit is None else unit.district_code,
        "source": new.source.value,
        "source_ref": new.source_ref[:80],
        "description": description,
        "grade": grade.value,
        "criterion": new.criterion or None,
        "state": rules.State.LISTED.value,
        "found_on": found_on,
        "created_by": actor,
        "created_at": now,
        "updated_at": now,
    }


async def _unit_in_scope(principal: Principal, equipment_id: int) -> UnitFacts:
    """The unit, when the caller can see it (404 otherwise, as for the register)."""
    from equipment.services.register import get_equipment

    await get_equipment(principal, equipment_id)
    unit = await _repo.unit_facts(equipment_id)
    if unit is None:  # pragma: no cover - get_equipment found it in this transaction
        raise NotFound(f"equipment {equipment_id} not found")
    return unit


async def _check_user_unit(principal: Principal, user_unit_id: int) -> None:
    """A management hazard of ``user_unit_id``: a user unit lists its own, the regulator
    any; nobody else sees the organisation (404)."""
    scope = principal.equipment_scope()
    if scope.kind is ScopeKind.USER_UNIT:
        if scope.org_id != user_unit_id:
            raise NotFound(f"user unit {user_unit_id} not found")
    elif principal.role not in (Role.ADMIN, Role.INSPECTOR):
        raise NotFound(f"user unit {user_unit_id} not found")
    if await _repo.organisation_kind(user_unit_id) != OrgKind.USER_UNIT:
        raise NotFound(f"user unit {user_unit_id} not found")


async def _after_listing(rows: Sequence[HazardRecord]) -> None:
    """An open major hazard makes its unit not fit for use (GB 45067-2024)."""
    for unit_id in {r.equipment for r in rows if r.grade == rules.Grade.MAJOR and r.equipment}:
        await _repo.set_not_fit_for_use(unit_id)


async def report(
    principal: Principal, new: NewHazard, *, today: date, now: datetime
) -> HazardRecord:
    """List one hazard (by hand, from a public report or an alarm...)."""
    principal.require(Permission.HAZARD_REPORT)
    if (new.equipment_id is None) == (new.user_unit_id is None):
        raise InvalidValue(
            "a hazard belongs to a unit (equipment_id) or, for a management hazard, to a "
            "user unit (user_unit_id): name exactly one",
            field="equipment_id",
        )
    if new.criterion and principal.role not in (Role.ADMIN, Role.INSPECTOR):
        # Grading a hazard major takes the unit out of use: the regulator's judgement.
        raise Forbidden("only an inspector classifies a hazard as major", field="criterion")
    async with db.transaction():
        unit: UnitFacts | None = None
        if new.equipment_id is not None:
            unit = await _unit_in_scope(principal, new.equipment_id)
            user_unit = unit.user_unit
        else:
            assert new.user_unit_id is not None
            await _check_user_unit(principal, new.user_unit_id)
            user_unit = new.user_unit_id
        row = await _repo.insert(_values(new, unit, user_unit, principal.actor, today, now))
        await _after_listing([row])
        await _audit(principal, row, "list", None, now)
    return row


async def open_from(
    principal: Principal,
    unit_id: int,
    descriptions: Iterable[str],
    *,
    source: rules.Source,
    source_ref: str,
    found_on: date,
    today: date,
    now: datetime,
) -> list[HazardRecord]:
    """General hazards of one unit from a record that names them (a maintenance record's
    hazards column, a failed inspection's findings, a check's failed items). Call inside
    the transaction that stores the record; the caller checked its scope."""
    unit = await _repo.unit_facts(unit_id)
    if unit is None:
        raise NotFound(f"equipment {unit_id} not found")
    texts = [t.strip() for t in descriptions if t.strip()][:MAX_FROM_ONE_RECORD]
    values = [
        _values(
            NewHazard(
                t[:MAX_DESCRIPTION], source, unit_id, source_ref=source_ref, found_on=found_on
            ),
            unit,
            unit.user_unit,
            principal.actor,
            today,
            now,
        )
        for t in texts
    ]
    rows = await _repo.insert_many(values)
    for row in rows:
        await _audit(principal, row, "list", None, now)
    return rows


async def open_listed(
    principal: Principal, new: Sequence[NewHazard], *, today: date, now: datetime
) -> list[HazardRecord]:
    """Hazards from a record the caller stores and whose scope it checked (a supervision
    check's failed items): each of a unit or of a user unit, major when it names a
    GB 45067-2024 criterion (its unit is then not fit for use). Call inside the
    transaction that stores the record."""
    values: list[dict[str, Any]] = []
    for item in new[: MAX_FROM_ONE_RECORD * 3]:
        unit: UnitFacts | None = None
        if item.equipment_id is not None:
            unit = await _repo.unit_facts(item.equipment_id)
            if unit is None:
                raise NotFound(f"equipment {item.equipment_id} not found")
            user_unit = unit.user_unit
        else:
            assert item.user_unit_id is not None
            user_unit = item.user_unit_id
        values.append(_values(item, unit, user_unit, principal.actor, today, now))
    rows = await _repo.insert_many(values)
    await _after_listing(rows)
    for row in rows:
        await _audit(principal, row, "list", None, now)
    return rows


def inspection_findings(findings: str) -> list[str]:
    """The hazards a failed inspection names: one per line of its findings (the report's
    不合格项), or one saying the inspection failed when it lists none."""
    lines = [line.strip(" \t-•·;；") for line in findings.splitlines()]
    return [line for line in lines if line] or ["定期检验结论为不合格"]


async def get_hazard(principal: Principal, hazard_id: int) -> HazardRecord:
    principal.require(Permission.HAZARD_READ)
    row = await _repo.get(hazard_id, principal.equipment_scope())
    if row is None:
        raise NotFound(f"hazard {hazard_id} not found")
    return row


async def history(principal: Principal, hazard_id: int) -> list[HazardChangeRecord]:
    await get_hazard(principal, hazard_id)
    return await _repo.changes(hazard_id)


@dataclass(frozen=True)
class HazardPage:
    items: list[HazardRecord]
    next_after_id: int | None


async def list_hazards(
    principal: Principal,
    *,
    equipment_id: int | None = None,
    state: str | None = None,
    grade: str | None = None,
    overdue: bool = False,
    after_id: int | None = None,
    limit: int = 100,
    today: date,
) -> HazardPage:
    """The hazards in the caller's scope by id; ``overdue``: the 通报 list (past their
    deadline while assigned or being rectified)."""
    principal.require(Permission.HAZARD_READ)
    if state is not None and state not in set(rules.State):
        raise InvalidValue(f"{state} is not a hazard state", field="state")
    if grade is not None and grade not in set(rules.Grade):
        raise InvalidValue(f"{grade} is not a hazard grade", field="grade")
    rows = await _repo.page(
        principal.equipment_scope(),
        equipment_id=equipment_id,
        state=state,
        grade=grade,
        overdue_on=today if overdue else None,
        after_id=after_id,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return HazardPage(rows, rows[-1].id if more and rows else None)


def _may_act(principal: Principal, action: rules.Action) -> None:
    if action in rules.REGULATOR_ACTIONS:
        principal.require(Permission.HAZARD_MANAGE)
    else:
        principal.require(Permission.HAZARD_RECTIFY)


async def act(
    principal: Principal,
    hazard_id: int,
    action: rules.Action,
    *,
    note: str = "",
    assignment: rules.Assignment | None = None,
    today: date,
    now: datetime,
) -> HazardRecord:
    """Move a hazard one step through the loop (domain.hazards.TRANSITIONS)."""
    _may_act(principal, action)
    async with db.transaction():
        before = await get_hazard(principal, hazard_id)
        to = rules.transition(rules.State(before.state), action)
        changes: dict[str, Any] = {"state": to.value, "updated_at": now}
        if action is rules.Action.ASSIGN:
            if assignment is None:
                raise InvalidValue(
                    "assigning a hazard needs its 交办单: responsible_org_id, "
                    "responsible_person, measures, deadline and supervising_inspector",
                    field="deadline",
                )
            assignment.check(today)
            if await _repo.organisation_kind(assignment.responsible_org_id) is None:
                raise InvalidValue(
                    f"organisation {assignment.responsible_org_id} does not exist",
                    field="responsible_org_id",
                )
            changes.update(
                responsible_org=assignment.responsible_org_id,
                responsible_person=assignment.responsible_person.strip(),
                measures=assignment.measures.strip(),
                deadline=assignment.deadline,
                supervising_inspector=assignment.supervising_inspector.strip(),
            )
        if to is rules.State.VERIFIED:
            changes["closed_on"] = today
        after = await _repo.update_if_version(hazard_id, before.version, changes)
        if after is None:
            raise Conflict(f"hazard {hazard_id} was changed meanwhile; reload it and retry")
        await _repo.add_change(
            {
                "hazard": hazard_id,
                "action": action.value,
                "from_state": before.state,
                "to_state": to.value,
                "note": note.strip()[:2000],
                "actor": principal.actor,
                "at": now,
            }
        )
        await _audit(principal, after, action.value, before, now)
        if to is rules.State.VERIFIED and after.grade == rules.Grade.MAJOR and after.equipment:
            # Closed: the unit's fitness is the rules' again, unless another major hazard
            # is still open (schedules.recompute reads them).
            await schedules.recompute(after.equipment, today)
    return after


async def _audit(
    principal: Principal,
    row: HazardRecord,
    action: str,
    before: HazardRecord | None,
    now: datetime,
) -> None:
    await audit.record(
        principal,
        entity="hazard",
        entity_id=row.id,
        action=action,
        at=now,
        before=None if before is None else msgspec.structs.asdict(before),
        after=msgspec.structs.asdict(row),
    )


# ---- evidence files -------------------------------------------------------------------


async def add_evidence(
    principal: Principal,
    hazard_id: int,
    data: bytes,
    *,
    store: EvidenceStore,
    max_bytes: int,
    now: datetime,
) -> EvidenceRecord:
    """Keep one photo or document of a hazard in scope: its type told by its content
    (JPEG, PNG, PDF), at most ``max_bytes``, stored under a key made here."""
    principal.require(Permission.HAZARD_REPORT)
    hazard = await get_hazard(principal, hazard_id)  # out of scope: 404 before anything
    file = evidence.accept(data, max_bytes=max_bytes)
    if hazard.state == rules.State.VERIFIED:
        raise Conflict(f"hazard {hazard_id} is closed; its evidence is final")
    return await evidence.attach(
        principal,
        evidence.Owner("hazard", hazard_id, entity="hazard"),
        file,
        store=store,
        now=now,
        insert=lambda fields: _repo.add_evidence({"hazard": hazard_id, **fields}),
    )


async def list_evidence(principal: Principal, hazard_id: int) -> list[EvidenceRecord]:
    await get_hazard(principal, hazard_id)
    return await _repo.evidence_of(hazard_id)


async def read_evidence(
    principal: Principal, hazard_id: int, evidence_id: int, *, store: EvidenceStore
) -> tuple[EvidenceRecord, bytes]:
    """One evidence file of a hazard in the caller's scope (404 otherwise)."""
    for row in await list_evidence(principal, hazard_id):
        if row.id == evidence_id:
            return row, await store.get(row.key)
    raise NotFound(f"evidence {evidence_id} of hazard {hazard_id} not found")


# ---- what other services read ---------------------------------------------------------


async def open_hazard_counts(unit_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """Per unit: (open general hazards, open major hazards); units with none are absent
    (the risk grade reads it: a major hazard forces 红)."""
    return await _repo.open_counts(unit_ids)


async def major_hazard_since(equipment_id: int) -> date | None:
    """The day the unit's oldest open major hazard was found; None when none is open."""
    return await _repo.open_major_since(equipment_id)


async def raise_overdue_alarms(*, today: date, now: datetime, limit: int = 200) -> int:
    """One ``hazard_overdue`` alarm per hazard whose deadline passed (时限制): raised
    once, noted on the hazard in the same transaction, so concurrent workers and later
    passes never raise it again. Answers how many it raised."""
    from equipment.services import alarms
    from equipment.services.register import get_equipment

    raised = 0
    for hazard in await _repo.overdue_without_alarm(today, limit):
        assert hazard.equipment is not None
        try:
            async with db.transaction():
                unit = await get_equipment(SYSTEM, hazard.equipment)
                alarm = await alarms.open_or_count(
                    unit,
                    kind="hazard_overdue",
                    raised_at=now,
                    source="hazard",
                    note=f"hazard {hazard.id}: deadline {hazard.deadline}",
                    actor=SYSTEM,
                    now=now,
                )
                if not await _repo.mark_alarmed(hazard.id, alarm.id):
                    raise _AlreadyRaised  # another worker won: roll this one's count back
        except _AlreadyRaised:
            continue
        raised += 1
    return raised


class _AlreadyRaised(Exception):
    pass


# ---- 台账 ---------------------------------------------------------------------------

LEDGER_GROUPS = ("user_unit", "maintenance_company", "district", "area")


async def ledger(principal: Principal, by: str, *, today: date) -> list[rules.LedgerLine]:
    """Counts per group (user unit, maintenance company, area or district) by state, with
    the open major hazards and the overdue ones, within the caller's scope."""
    principal.require(Permission.HAZARD_READ)
    if by not in LEDGER_GROUPS:
        raise InvalidValue(f"by is one of {', '.join(LEDGER_GROUPS)}", field="by")
    counts: list[LedgerCount] = await _repo.ledger(principal.equipment_scope(), by, today)
    lines: dict[str, dict[str, Any]] = {}
    for c in counts:
        line = lines.setdefault(
            c.key, {"by_state": dict.fromkeys(rules.State, 0), "major": 0, "overdue": 0}
        )
        line["by_state"][rules.State(c.state)] += c.count
        line["overdue"] += c.overdue
        if c.grade == rules.Grade.MAJOR and c.state != rules.State.VERIFIED:
            line["major"] += c.count
    return [
        rules.LedgerLine(
            key=key,
            by_state={s.value: n for s, n in v["by_state"].items()},
            major_open=v["major"],
            overdue=v["overdue"],
        )
        for key, v in lines.items()
    ]


# The two lists the plan names beside the ledger (问题隐患清单, 制度措施清单) are read
# here in pages; an export stops at this many hazards (a city's open list is far below).
MAX_LISTED = 50_000


@dataclass(frozen=True)
class LedgerBook:
    """The ledger and its two lists, within one caller's scope."""

    by: str
    lines: list[rules.LedgerLine]
    names: dict[str, str]  # group key → name (organisation, area or district)
    hazards: list[HazardRecord]  # 问题隐患清单: every hazard in scope, open first
    unit_codes: dict[int, str]
    org_names: dict[int, str]  # responsible organisations of the 制度措施清单


async def ledger_book(principal: Principal, by: str, *, today: date) -> LedgerBook:
    """The ledger (台账) grouped ``by``, the 问题隐患清单 (the hazards) and what the
    制度措施清单 reads (their 交办单: responsible party, measures, deadline)."""
    from equipment.domain.regions import is_known_region, region

    lines = await ledger(principal, by, today=today)
    if by == "district":
        names = {
            line.key: region(line.key).name
            for line in lines
            if line.key and is_known_region(line.key)
        }
    else:
        names = await _repo.group_names(by, (line.key for line in lines))
    found: list[HazardRecord] = []
    after: int | None = None
    while len(found) < MAX_LISTED:
        page = await list_hazards(principal, after_id=after, limit=500, today=today)
        found.extend(page.items)
        if page.next_after_id is None:
            break
        after = page.next_after_id
    found.sort(key=lambda h: (h.state == rules.State.VERIFIED, h.id))
    codes = await _repo.unit_codes(h.equipment for h in found if h.equipment is not None)
    orgs = await _repo.group_names(
        "user_unit", (str(h.responsible_org) for h in found if h.responsible_org)
    )
    return LedgerBook(
        by, lines, names, found[:MAX_LISTED], codes, {int(k): v for k, v in orgs.items()}
    )
