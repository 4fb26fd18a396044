"""Credit and risk classes of enterprises (信用风险分类): computed, overridden, kept.

The rule is equipment.domain.credit (a pure table); the counts it reads come from the
register (equipment.storage.credit). :func:`assess_all` computes every enterprise's
class and writes a history row where it changed; :func:`set_override` and
:func:`clear_override` are the bureau's manual override (a reason required, audited).
The class in force (the override, else the computed class) is kept on the organisation
(``supervision_class``), which on-demand maintenance and the draw read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from equipment.domain import credit as rules
from equipment.domain.access import OrgKind, Permission, Principal, Role
from equipment.domain.errors import Conflict, InvalidValue, NotFound
from equipment.services import audit
from equipment.storage import reads, unit_of_work
from equipment.storage.credit import (
    ClassChange,
    ClassInForce,
    CreditRepository,
    ViolationRecord,
)

_repo = CreditRepository()

# The organisation kinds graded: the enterprises of the register and the licensed
# producers (证后监管). Inspection bodies are the bureau's agents, not graded here.
GRADED_KINDS: dict[str, rules.EnterpriseKind] = {
    OrgKind.USER_UNIT.value: rules.EnterpriseKind.USER_UNIT,
    OrgKind.MAINTENANCE_COMPANY.value: rules.EnterpriseKind.MAINTENANCE_COMPANY,
    OrgKind.FILLING_STATION.value: rules.EnterpriseKind.FILLING_STATION,
    OrgKind.MANUFACTURER.value: rules.EnterpriseKind.MANUFACTURER,
    OrgKind.INSTALLER.value: rules.EnterpriseKind.INSTALLER,
}


@dataclass(frozen=True)
class CreditView:
    organisation: ClassInForce
    assessment: rules.Assessment | None
    history: list[ClassChange]


def _record(counts: dict[str, int]) -> rules.CreditRecord:
    known = {k: v for k, v in counts.items() if k in rules.CreditRecord.__dataclass_fields__}
    return rules.CreditRecord(**known)


async def _assessments(
    kind: str, today: date, table: rules.ClassTable
) -> dict[int, rules.Assessment]:
    since = today - timedelta(days=table.window_days)
    counts = await _repo.counts(kind, today, since)
    orgs = await _repo.organisations([kind])
    enterprise_kind = GRADED_KINDS[kind]
    return {o.id: rules.assess(enterprise_kind, _record(counts.get(o.id, {})), table) for o in orgs}


async def assess_all(
    principal: Principal,
    *,
    today: date,
    now: datetime,
    table: rules.ClassTable = rules.DEFAULT_TABLE,
) -> dict[str, int]:
    """Compute every graded enterprise's class; a change is written to its history.
    Answers how many classes changed per kind."""
    principal.require(Permission.CREDIT_MANAGE)
    changed: dict[str, int] = {}
    for kind in GRADED_KINDS:
        assessments = await _assessments(kind, today, table)
        current = {o.id: o for o in await _repo.organisations([kind])}
        n = 0
        async with unit_of_work():
            for org_id, got in assessments.items():
                before = current[org_id]
                if before.computed == got.klass:
                    continue
                n += 1
                await _repo.set_in_force(
                    org_id,
                    computed=got.klass,
                    override=before.override,
                    reason=before.override_reason,
                )
                await _repo.add_change(
                    {
                        "organisation": org_id,
                        "kind": kind,
                        "action": "computed",
                        "computed": got.klass,
                        "override": before.override,
                        "effective": rules.effective_class(got.klass, before.override),
                        "points": got.points,
                        "explanation": got.as_json(),
                        "reason": "",
                        "assessed_on": today,
                        "actor": principal.actor,
                        "recorded_at": now,
                    }
                )
        changed[kind] = n
    return changed


def _check_visible(principal: Principal, org_id: int) -> None:
    principal.require(Permission.CREDIT_READ)
    if principal.role not in (Role.ADMIN, Role.INSPECTOR) and principal.organisation_id != org_id:
        raise NotFound(f"organisation {org_id} not found")


async def view(
    principal: Principal,
    org_id: int,
    *,
    today: date,
    table: rules.ClassTable = rules.DEFAULT_TABLE,
) -> CreditView:
    """The class in force, today's computation explained factor by factor, the history."""
    _check_visible(principal, org_id)
    org = await _repo.in_force(org_id)
    if org is None:
        raise NotFound(f"organisation {org_id} not found")
    assessment = None
    if org.kind in GRADED_KINDS:
        assessment = (await _assessments(org.kind, today, table)).get(org_id)
    return CreditView(org, assessment, await _repo.history(org_id))


async def _graded(org_id: int) -> ClassInForce:
    org = await _repo.in_force(org_id)
    if org is None or org.kind not in GRADED_KINDS:
        raise NotFound(f"enterprise {org_id} not found")
    return org


async def set_override(
    principal: Principal, org_id: int, klass: str, reason: str, *, today: date, now: datetime
) -> ClassInForce:
    """The bureau sets the class by hand, with a reason; audited and kept in the history."""
    principal.require(Permission.CREDIT_MANAGE)
    klass, reason = rules.check_override(klass, reason)
    async with unit_of_work():
        before = await _graded(org_id)
        await _repo.set_in_force(org_id, computed=before.computed, override=klass, reason=reason)
        await _change(principal, before, "override", klass, reason, today, now)
        after = await _graded(org_id)
    return after


async def clear_override(
    principal: Principal, org_id: int, reason: str, *, today: date, now: datetime
) -> ClassInForce:
    principal.require(Permission.CREDIT_MANAGE)
    _, reason = rules.check_override("A", reason)
    async with unit_of_work():
        before = await _graded(org_id)
        await _repo.set_in_force(org_id, computed=before.computed, override=None, reason="")
        await _change(principal, before, "cleared", None, reason, today, now)
        after = await _graded(org_id)
    return after


async def _change(
    principal: Principal,
    before: ClassInForce,
    action: str,
    override: str | None,
    reason: str,
    today: date,
    now: datetime,
) -> None:
    effective = rules.effective_class(before.computed, override)
    await _repo.add_change(
        {
            "organisation": before.id,
            "kind": before.kind,
            "action": action,
            "computed": before.computed,
            "override": override,
            "effective": effective,
            "points": None,
            "explanation": {},
            "reason": reason,
            "assessed_on": today,
            "actor": principal.actor,
            "recorded_at": now,
        }
    )
    after: dict[str, Any] = {"credit_override": override, "supervision_class": effective}
    await audit.record(
        principal,
        entity="organisation",
        entity_id=before.id,
        action=f"credit_{action}",
        at=now,
        before={"credit_override": before.override, "supervision_class": before.effective},
        after={**after, "reason": reason},
    )


async def classes(kinds: list[str]) -> dict[int, str | None]:
    """The class in force of every enterprise of ``kinds`` (the draw's strata)."""
    return {o.id: o.effective for o in await reads().credit.organisations(kinds)}


# ---- violations (违法违规记录): what the class's "violations" factor counts ----------------

MAX_DECISION_NO = 64
MAX_TEXT = 2000


async def record_penalty(
    principal: Principal,
    org_id: int,
    *,
    decision_no: str,
    decided_on: date,
    clause: str,
    note: str = "",
    task_id: int | None = None,
    today: date,
    now: datetime,
) -> ViolationRecord:
    """Record an administrative penalty decision (行政处罚决定书) against an enterprise: its
    number, date and the clause applied. Given the random-inspection task it followed
    (``task_id``), it completes that task's violation row instead of adding one, so one
    case counts once."""
    principal.require(Permission.CREDIT_MANAGE)
    decision_no, clause, note = decision_no.strip(), clause.strip(), note.strip()
    if not decision_no or len(decision_no) > MAX_DECISION_NO:
        raise InvalidValue(
            f"a penalty needs its decision number (at most {MAX_DECISION_NO} characters)",
            field="decision_no",
        )
    if not clause or len(clause) > MAX_TEXT:
        raise InvalidValue("a penalty names the clause it applies", field="clause")
    if len(note) > MAX_TEXT:
        raise InvalidValue(f"a note holds at most {MAX_TEXT} characters", field="note")
    if decided_on > today:
        raise InvalidValue("a decision cannot be dated in the future", field="decided_on")
    values: dict[str, Any] = {
        "source": "penalty",
        "decision_no": decision_no,
        "decided_on": decided_on,
        "clause": clause,
        "note": note,
        "actor": principal.actor,
    }
    async with unit_of_work() as uow:
        await _graded(org_id)
        earlier = None if task_id is None else await uow.credit.violation_of_task(task_id)
        if task_id is not None and (earlier is None or earlier.organisation != org_id):
            raise InvalidValue(
                f"task {task_id} was not concluded non-compliant for organisation {org_id}",
                field="task_id",
            )
        if earlier is not None and earlier.source == "penalty":
            # One task, one case: a second decision would overwrite the first one's
            # number and clause, which only the audit trail would then remember.
            raise Conflict(f"task {task_id} already has its penalty {earlier.decision_no}")
        if earlier is not None:
            row = await uow.credit.update_violation(earlier.id, values)
        else:
            row = await uow.credit.add_violation(
                {**values, "organisation": org_id, "created_at": now}
            )
        await audit.record(
            principal,
            entity="violation",
            entity_id=row.id,
            action="penalty",
            at=now,
            before=None if earlier is None else {"source": earlier.source},
            after={**values, "organisation": org_id, "task_id": task_id},
        )
    return row


async def record_task_violation(
    actor: str, org_id: int, task_id: int, *, decided_on: date, findings: str, now: datetime
) -> None:
    """Inside the task's unit of work: a random inspection concluded non-compliant is a
    violation on record (its penalty, if one follows, fills in the same row)."""
    await reads().credit.add_violation(
        {
            "organisation": org_id,
            "source": "draw_task",
            "decision_no": "",
            "decided_on": decided_on,
            "clause": "",
            "note": findings[:MAX_TEXT],
            "task_id": task_id,
            "actor": actor,
            "created_at": now,
        }
    )


async def violations(principal: Principal, org_id: int | None) -> list[ViolationRecord]:
    """The violations on record: the bureau and inspectors all (or one enterprise's); an
    enterprise only its own."""
    principal.require(Permission.CREDIT_READ)
    if principal.role not in (Role.ADMIN, Role.INSPECTOR):
        if org_id is not None and org_id != principal.organisation_id:
            raise NotFound(f"organisation {org_id} not found")
        org_id = principal.organisation_id
        if org_id is None:
            return []
    elif org_id is not None and await _repo.in_force(org_id) is None:
        # An empty list would read as a clean record of an organisation that is not there.
        raise NotFound(f"organisation {org_id} not found")
    return await reads().credit.violations(org_id)
