"""The demo city's dual prevention (双重预防): supervision checks with failed items (their
hazards opened in the same step), hazards in every state of the 一单四制 loop — some past
their deadline, some major with their unit not fit for use — and the user units' routine
records with some missing.

Everything goes through the services (as an inspector's, a user unit's and a
maintenance company's calls would), so the demo's rows are what the product makes.
Deterministic for a seed: the same units, items and states every run.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from equipment.domain import checks as check_rules
from equipment.domain import hazards as hazard_rules
from equipment.domain import routines as routine_rules
from equipment.domain.access import SYSTEM, Principal, Role
from equipment.domain.lifecycle import Status
from equipment.services import checks, hazards, register, routines
from equipment.services.pagination import parse_sort
from equipment.storage.equipment import EquipmentRow

# How many lifts the demo's loop runs on (a city's open list, not the whole register).
LIFTS = 60
DAY = timedelta(days=1)


async def _lifts(limit: int) -> list[EquipmentRow]:
    page = await register.list_equipment(
        SYSTEM,
        register.EquipmentFilter(status=Status.IN_USE, category_prefix="3"),
        parse_sort("id", register.SORTS),
        None,
        limit,
    )
    return list(page.items)


def _answers(items: tuple[check_rules.Item, ...], failed: set[str]) -> list[check_rules.Answer]:
    return [
        check_rules.Answer(
            i.key,
            check_rules.Outcome.FAILED if i.key in failed else check_rules.Outcome.PASSED,
            "现场检查发现" if i.key in failed else "",
        )
        for i in items
    ]


async def _walk(
    hazard: hazards.HazardRecord, steps: int, *, today: date, now: datetime, overdue: bool
) -> None:
    """Move one hazard ``steps`` steps along the loop (assign, start, submit, verify); an
    overdue one is assigned as of 40 days ago with a deadline 10 days past."""
    assigned_on = today - 40 * DAY if overdue else today
    deadline = today - 10 * DAY if overdue else today + 20 * DAY
    actions = (
        hazard_rules.Action.ASSIGN,
        hazard_rules.Action.START,
        hazard_rules.Action.SUBMIT,
        hazard_rules.Action.VERIFY,
    )
    for n, action in enumerate(actions[:steps]):
        await hazards.act(
            SYSTEM,
            hazard.id,
            action,
            note="" if n else "依据监督检查交办",
            assignment=hazard_rules.Assignment(
                responsible_org_id=hazard.user_unit,
                responsible_person="安全管理员",
                measures="立即整改，整改完成后提交验收",
                deadline=deadline,
                supervising_inspector="区局监察员",
            )
            if action is hazard_rules.Action.ASSIGN
            else None,
            today=assigned_on if action is hazard_rules.Action.ASSIGN else today,
            now=now,
        )


async def add_dual_prevention(*, seed: int, today: date, now: datetime) -> dict[str, int]:
    """Checks, hazards across the loop and routine records on the demo's first lifts;
    returns how many of each it made."""
    rng = random.Random(seed * 7919 + 21)
    lifts = await _lifts(LIFTS)
    made = {"checks": 0, "hazards": 0, "routine_records": 0}
    if not lifts:
        return made
    lift_items = checks.checklist_items("lift")
    general = [i.key for i in lift_items if i.criterion is None]
    major = [i.key for i in lift_items if i.criterion is not None]
    opened: list[hazards.HazardRecord] = []
    for n, unit in enumerate(lifts[:30]):
        # One check in three finds a major hazard (the door-lock circuit or the
        # anti-pinch device): the lift is not fit for use until it is verified closed.
        failed = set(rng.sample(general, 1 + n % 2))
        if n % 3 == 0:
            failed.add(major[n % len(major)])
        detail = await checks.record(
            SYSTEM,
            checks.Target.equipment(int(unit.id)),
            None,
            _answers(lift_items, failed),
            inspector="区局监察员",
            checked_on=today - (n % 20) * DAY,
            today=today,
            now=now,
        )
        made["checks"] += 1
        for item in detail.items:
            if item.hazard:
                opened.append(await hazards.get_hazard(SYSTEM, item.hazard))
    # Management checks of the user units of the first lifts.
    for user_unit in sorted({int(u.user_unit) for u in lifts[:30]})[:5]:
        await checks.record(
            SYSTEM,
            checks.Target.user_unit(user_unit),
            None,
            _answers(checks.checklist_items("user_unit"), {"emergency_plan", "routine_records"}),
            inspector="区局监察员",
            today=today,
            now=now,
        )
        made["checks"] += 1
    made["hazards"] = len(opened)
    # Every state of the loop: listed (0 steps) … verified (4); every fifth assigned or
    # being rectified is past its deadline (on the overdue list for 通报).
    for n, hazard in enumerate(opened):
        steps = n % 5
        overdue = steps in (1, 2) and n % 10 < 5
        await _walk(hazard, steps, today=today, now=now, overdue=overdue)
    # The user units' routine: today's daily record for two lifts in three, this week's
    # for half, this month's for most; the rest are on the missing list.
    for n, unit in enumerate(lifts):
        owner = Principal(Role.USER_UNIT, organisation_id=int(unit.user_unit))
        for kind, keep in (
            (routine_rules.Kind.DAILY, n % 3 != 0),
            (routine_rules.Kind.WEEKLY, n % 2 == 0),
            (routine_rules.Kind.MONTHLY, n % 5 != 0),
        ):
            if not keep:
                continue
            trouble = n % 7 == 0
            await routines.record(
                owner,
                int(unit.id),
                kind,
                all_clear=not trouble,
                findings="底坑有积水，已通知维保单位" if trouble else "",
                day=today,
                today=today,
                now=now,
            )
            made["routine_records"] += 1
    return made
