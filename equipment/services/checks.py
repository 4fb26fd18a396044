"""On-site supervision checks (监督检查): an inspector checks a user unit or a unit against
its checklist (检查事项清单); failed items become hazards in the same step.

Contract (for other services, e.g. the random-inspection draw)::

    from equipment.domain.checks import Answer, Outcome
    from equipment.services import checks

    detail = await checks.record(
        principal,                                  # an inspector (or the admin)
        checks.Target.equipment(unit_id),           # or checks.Target.user_unit(org_id)
        None,                                       # the target's checklist (or its name)
        [Answer("registration", Outcome.PASSED), Answer("signs", Outcome.FAILED, "未张贴")],
        task_id=task.id,                            # the task this check answers (optional)
    )
    detail.check.id, detail.check.failed, [i.hazard for i in detail.items]

    recent = await checks.checks_of(principal, user_unit_id=org_id)   # newest first
    recent = await checks.checks_of(principal, equipment_id=unit_id, task_id=7)

- ``record`` answers every item of the checklist exactly once (``checklist_items`` gives
  them; InvalidValue otherwise), stores the check and its items, and with
  ``open_hazards=True`` (the default) opens one hazard per failed item (source
  ``supervision_check``, ``source_ref`` ``check:<id>``; major when the item names a
  GB 45067-2024 criterion), all in one transaction — joining the caller's when one is
  open, so a task and its check commit together.
- Scope: the target must be inside the principal's (an inspector bound to a
  jurisdiction checks units inside it and user units with a unit inside it; 404
  otherwise); only roles with ``check.record`` record. Reads: a user unit sees checks of
  itself and its units, a maintenance company those of the units it maintains, an
  inspector those inside his jurisdiction; others 403.
- ``today``/``now`` default to the service clock (equipment.services.clock).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import msgspec

from equipment.domain import checks as rules
from equipment.domain.access import OrgKind, Permission, Principal, ScopeKind
from equipment.domain.catalogue import family_of
from equipment.domain.errors import InvalidValue, NotFound
from equipment.domain.hazards import Source
from equipment.services import audit, clock, evidence, hazards, policies
from equipment.services.evidence_store import EvidenceStore
from equipment.storage import unit_of_work
from equipment.storage.checks import (
    CheckEvidenceRecord,
    CheckItemRecord,
    CheckRecord,
    CheckRepository,
)
from equipment.storage.hazards import HazardRecord

_repo = CheckRepository()
MAX_INSPECTOR = 100
MAX_CHECK_NOTE = 2000


@dataclass(frozen=True)
class Target:
    """What is checked: a user unit (its management) or one unit."""

    kind: rules.TargetKind
    id: int

    @classmethod
    def user_unit(cls, org_id: int) -> Target:
        return cls(rules.TargetKind.USER_UNIT, org_id)

    @classmethod
    def equipment(cls, equipment_id: int) -> Target:
        return cls(rules.TargetKind.EQUIPMENT, equipment_id)


@dataclass(frozen=True)
class CheckDetail:
    check: CheckRecord
    items: list[CheckItemRecord]
    evidence: list[CheckEvidenceRecord]


def checklist_items(name: str) -> tuple[rules.Item, ...]:
    """The items of checklist ``name`` under the installed policy (404 when unknown)."""
    items = policies.current().rules.checklists.get(name)
    if items is None:
        raise NotFound(f"checklist {name} not found")
    return items


def checklist_names() -> list[str]:
    return sorted(policies.current().rules.checklists)


@dataclass(frozen=True)
class _Resolved:
    checklist: str
    user_unit: int
    equipment: int | None
    district_code: str


async def _resolve(principal: Principal, target: Target) -> _Resolved:
    """The target inside the principal's scope, with its checklist and scope columns."""
    from equipment.services.register import get_equipment

    if target.kind is rules.TargetKind.EQUIPMENT:
        await get_equipment(principal, target.id)  # 404 outside the scope
        unit = await _repo.unit_facts(target.id)
        if unit is None:  # pragma: no cover - get_equipment found it
            raise NotFound(f"equipment {target.id} not found")
        name = rules.checklist_for(target.kind, family_of(unit.category))
        return _Resolved(name, unit.user_unit, unit.id, unit.district_code)
    not_found = NotFound(f"user unit {target.id} not found")
    if await _repo.organisation_kind(target.id) != OrgKind.USER_UNIT:
        raise not_found
    scope = principal.equipment_scope()
    district = await _repo.user_unit_district(target.id, scope)
    if district is None:
        if scope.kind is not ScopeKind.ALL:
            raise not_found  # no unit of it inside the caller's jurisdiction
        district = ""
    return _Resolved(rules.USER_UNIT_CHECKLIST, target.id, None, district)


async def checklist_of(principal: Principal, target: Target) -> str:
    """The name of the checklist ``target`` is checked against, when the principal may
    check it (403 without check.record; 404 outside the scope, as ``record``)."""
    principal.require(Permission.CHECK_RECORD)
    return (await _resolve(principal, target)).checklist


async def record(
    principal: Principal,
    target: Target,
    checklist: str | None,
    items: Sequence[rules.Answer],
    *,
    task_id: int | None = None,
    inspector: str = "",
    note: str = "",
    checked_on: date | None = None,
    open_hazards: bool = True,
    today: date | None = None,
    now: datetime | None = None,
) -> CheckDetail:
    """Store one check (see the module's contract)."""
    principal.require(Permission.CHECK_RECORD)
    today = today or clock.today()
    now = now or clock.now()
    checked_on = checked_on or today
    if checked_on > today:
        raise InvalidValue(f"{checked_on.isoformat()} is in the future", field="checked_on")
    if len(inspector) > MAX_INSPECTOR or len(note) > MAX_CHECK_NOTE:
        raise InvalidValue("the inspector or the note is too long", field="note")
    async with unit_of_work():
        where = await _resolve(principal, target)
        if checklist is not None and checklist != where.checklist:
            raise InvalidValue(
                f"a {target.kind.value} of this kind is checked against {where.checklist}",
                field="checklist",
            )
        listed = checklist_items(where.checklist)
        answers = rules.check_answers(listed, list(items))
        failed = [a for a in answers if a.outcome is rules.Outcome.FAILED]
        check = await _repo.insert(
            {
                "target_kind": target.kind.value,
                "user_unit": where.user_unit,
                "equipment": where.equipment,
                "district_code": where.district_code,
                "checklist": where.checklist,
                "checked_on": checked_on,
                "inspector": inspector.strip() or principal.actor,
                "inspector_org": principal.organisation_id,
                "task_id": task_id,
                "note": note.strip(),
                "failed": len(failed),
                "created_by": principal.actor,
                "created_at": now,
            }
        )
        by_key = {i.key: i for i in listed}
        stored = await _repo.insert_items(
            [
                {
                    "check_id": check.id,
                    "key": a.key,
                    "text": by_key[a.key].text_zh,
                    "source": by_key[a.key].source[:200],
                    "criterion": by_key[a.key].criterion,
                    "outcome": a.outcome.value,
                    "note": a.note.strip(),
                }
                for a in answers
            ]
        )
        await audit.record(
            principal,
            entity="supervision_check",
            entity_id=check.id,
            action="record",
            at=now,
            before=None,
            after=msgspec.structs.asdict(check),
        )
        if open_hazards and failed:
            stored = await _open_hazards(principal, check, stored, today, now)
    return CheckDetail(check, stored, [])


async def _open_hazards(
    principal: Principal,
    check: CheckRecord,
    items: list[CheckItemRecord],
    today: date,
    now: datetime,
    only: Sequence[str] | None = None,
) -> list[CheckItemRecord]:
    """One hazard per failed item (of ``only``, if given) not yet linked to one; the
    items with their links."""
    failed = {i.key for i in items if i.outcome == rules.Outcome.FAILED}
    for key in only or ():
        if key not in failed:
            raise InvalidValue(f"{key} is not a failed item of check {check.id}", field="items")
    pending = [
        i for i in items if i.key in failed and i.hazard is None and (only is None or i.key in only)
    ]
    if not pending:
        return items
    new = [
        hazards.NewHazard(
            description=rules.hazard_text(
                rules.Item(i.key, i.text, i.text, i.source, i.criterion), i.note
            ),
            source=Source.SUPERVISION_CHECK,
            equipment_id=check.equipment,
            user_unit_id=None if check.equipment is not None else check.user_unit,
            criterion=i.criterion,
            source_ref=f"check:{check.id}",
            found_on=check.checked_on,
        )
        for i in pending
    ]
    opened: list[HazardRecord] = await hazards.open_listed(principal, new, today=today, now=now)
    links = {item.id: row.id for item, row in zip(pending, opened, strict=True)}
    for item_id, hazard_id in links.items():
        await _repo.link_hazard(item_id, hazard_id)
    return [msgspec.structs.replace(i, hazard=links.get(i.id, i.hazard)) for i in items]


async def open_hazards(
    principal: Principal,
    check_id: int,
    *,
    only: Sequence[str] | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> CheckDetail:
    """Turn the failed items of a check recorded without hazards into hazards, in one
    step (items already linked are left alone: calling twice opens nothing more)."""
    principal.require(Permission.CHECK_RECORD)
    principal.require(Permission.HAZARD_REPORT)
    today = today or clock.today()
    now = now or clock.now()
    async with unit_of_work():
        check = await _get(principal, check_id)
        items = await _open_hazards(principal, check, await _repo.items(check_id), today, now, only)
    return CheckDetail(check, items, await _repo.evidence_of(check_id))


async def _get(principal: Principal, check_id: int) -> CheckRecord:
    principal.require(Permission.CHECK_READ)
    row = await _repo.get(check_id, principal.equipment_scope())
    if row is None:
        raise NotFound(f"check {check_id} not found")
    return row


async def get_check(principal: Principal, check_id: int) -> CheckDetail:
    check = await _get(principal, check_id)
    return CheckDetail(check, await _repo.items(check_id), await _repo.evidence_of(check_id))


@dataclass(frozen=True)
class CheckPage:
    items: list[CheckRecord]
    next_before_id: int | None


async def list_checks(
    principal: Principal,
    *,
    user_unit_id: int | None = None,
    equipment_id: int | None = None,
    task_id: int | None = None,
    failed_only: bool = False,
    before_id: int | None = None,
    limit: int = 50,
) -> CheckPage:
    """The checks in the caller's scope, newest first."""
    principal.require(Permission.CHECK_READ)
    rows = await _repo.page(
        principal.equipment_scope(),
        user_unit=user_unit_id,
        equipment=equipment_id,
        task_id=task_id,
        failed_only=failed_only,
        before_id=before_id,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return CheckPage(rows, rows[-1].id if more and rows else None)


async def checks_of(
    principal: Principal,
    *,
    user_unit_id: int | None = None,
    equipment_id: int | None = None,
    task_id: int | None = None,
    limit: int = 50,
) -> list[CheckRecord]:
    """The latest checks of a user unit (all its checks: of itself and of its units) or
    of one unit, in the caller's scope, newest first."""
    if (user_unit_id is None) == (equipment_id is None):
        raise InvalidValue("name a user unit or a unit", field="user_unit_id")
    page = await list_checks(
        principal,
        user_unit_id=user_unit_id,
        equipment_id=equipment_id,
        task_id=task_id,
        limit=limit,
    )
    return page.items


# ---- evidence files -------------------------------------------------------------------


async def add_evidence(
    principal: Principal,
    check_id: int,
    data: bytes,
    *,
    item_key: str = "",
    store: EvidenceStore,
    max_bytes: int,
    now: datetime,
) -> CheckEvidenceRecord:
    """Keep one photo or document of a check (of one of its items when ``item_key``):
    JPEG, PNG or PDF told by its content, at most ``max_bytes``."""
    principal.require(Permission.CHECK_RECORD)
    check = await _get(principal, check_id)
    if item_key and item_key not in {i.key for i in await _repo.items(check.id)}:
        raise InvalidValue(f"{item_key} is not an item of check {check_id}", field="item")
    file = evidence.accept(data, max_bytes=max_bytes)
    return await evidence.attach(
        principal,
        evidence.Owner("check", check_id, entity="supervision_check"),
        file,
        store=store,
        now=now,
        insert=lambda fields: _repo.add_evidence(
            {"check_id": check_id, "item_key": item_key, **fields}
        ),
    )


async def read_evidence(
    principal: Principal, check_id: int, evidence_id: int, *, store: EvidenceStore
) -> tuple[CheckEvidenceRecord, bytes]:
    """One evidence file of a check in the caller's scope (404 otherwise)."""
    await _get(principal, check_id)
    for row in await _repo.evidence_of(check_id):
        if row.id == evidence_id:
            return row, await store.get(row.key)
    raise NotFound(f"evidence {evidence_id} of check {check_id} not found")
