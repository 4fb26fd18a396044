"""The demo city's special campaign (专项整治) with its 回头看, and post-licence supervision
(证后监管), so the pages are not empty.

A lift campaign in Fancheng (per unit): the first tasks done by supervision checks, a few
with failed items (hazards), one target's hazards closed and a 回头看 checking it again.
Two manufacturers (one reported last year, one missing), an installer whose licence
lapsed and who installed since, the inspection bodies' approvals (one expiring within 90
days). Everything through the services, audited like any act of the bureau.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from equipment.domain import codes
from equipment.domain.access import SYSTEM
from equipment.domain.checks import Answer, Outcome
from equipment.domain.errors import InvalidValue
from equipment.domain.hazards import Action, Assignment
from equipment.services import campaigns, checks, hazards, licences, organisations

DAY = timedelta(days=1)


def _credit_code(n: int) -> str:
    body = f"91420600{77_000_000 + n:08d}M"
    return body + codes.credit_code_check_char(body)


async def _org(kind: str, name: str, n: int, now: datetime) -> int:
    made = await organisations.create_organisation(
        SYSTEM,
        {
            "kind": kind,
            "credit_code": _credit_code(n),
            "name": name,
            "address": "湖北省襄阳市高新区",
        },
        now=now,
    )
    return made.id


async def _close(hazard_id: int, owner: int, today: date, now: datetime) -> None:
    """The loop of one hazard (一单四制) to 销号, as the bureau would record it."""
    assignment = Assignment(owner, "王经理", "按检查意见整改", today + 10 * DAY, "检查员01")
    await hazards.act(SYSTEM, hazard_id, Action.ASSIGN, assignment=assignment, today=today, now=now)
    for action in (Action.START, Action.SUBMIT, Action.VERIFY):
        await hazards.act(SYSTEM, hazard_id, action, today=today, now=now)


WORKED_TASKS = 300


async def add_campaign(*, today: date, now: datetime, seed: int) -> tuple[int, int]:
    """(tasks of the campaign, tasks of its 回头看)."""
    rng = random.Random(seed)
    try:
        campaign, count = await campaigns.create_campaign(
            SYSTEM,
            title=f"{today.year}年电梯安全专项整治（樊城区）",
            per="unit",
            due_on=today + 60 * DAY,
            selection=campaigns.Selection(categories=("3",), districts=("420606",)),
            today=today,
            now=now,
        )
    except InvalidValue:
        return 0, 0  # a demo city without lifts in Fancheng
    items = checks.checklist_items("lift")
    tasks = await campaigns.list_tasks(SYSTEM, campaign.id)
    closed_one = False
    # Half the tasks worked, but never more than a few hundred: each is a check and a task
    # completion, one by one, and a 10^6-unit city's Fancheng holds ~10^5 lifts (hours).
    for n, task in enumerate(tasks[: min(WORKED_TASKS, max(1, len(tasks) // 2))]):
        failed = {items[0].key} if n % 4 == 0 else set()
        if n % 7 == 3:
            failed.add(rng.choice(items).key)
        answers = [
            Answer(i.key, Outcome.FAILED, "现场发现问题")
            if i.key in failed
            else Answer(i.key, Outcome.PASSED)
            for i in items
        ]
        assert task.equipment is not None
        detail = await checks.record(
            SYSTEM,
            checks.Target.equipment(task.equipment),
            None,
            answers,
            inspector="检查员01、检查员02",
            today=today,
            now=now,
        )
        done = await campaigns.complete_task(
            SYSTEM, task.id, check_id=detail.check.id, today=today, now=now
        )
        if done.hazards and not closed_one:
            for hazard_id in done.hazards:
                await _close(hazard_id, done.user_unit, today, now)
            closed_one = True
    if not closed_one:
        return count, 0
    _, looked = await campaigns.follow_up(
        SYSTEM,
        campaign.id,
        title=f"{today.year}年电梯安全专项整治回头看",
        due_on=today + 90 * DAY,
        today=today,
        now=now,
    )
    return count, looked


async def add_licences(
    org_ids: dict[str, list[int]], unit_ids: list[int], *, today: date, now: datetime
) -> int:
    """Returns how many licences were recorded."""
    makers = [
        await _org("manufacturer", "襄阳汉江电梯制造有限公司", 1, now),
        await _org("manufacturer", "湖北隆中锅炉有限公司", 2, now),
    ]
    installer = await _org("installer", "襄阳古隆中电梯安装工程有限公司", 3, now)
    count = 0

    async def licence(org: int, kind: str, number: str, start: date, end: date, scope: str):
        nonlocal count
        await licences.add_licence(
            SYSTEM,
            org,
            kind=kind,
            number=number,
            scope=scope,
            valid_from=start,
            valid_until=end,
            now=now,
        )
        count += 1

    await licence(
        makers[0],
        "manufacture",
        "TS2142001-2027",
        today - 1400 * DAY,
        today + 45 * DAY,
        "曳引驱动乘客电梯 A1",
    )
    await licence(
        makers[1],
        "manufacture",
        "TS2142002-2028",
        today - 700 * DAY,
        today + 700 * DAY,
        "承压蒸汽锅炉 B",
    )
    await licence(
        installer,
        "installation",
        "TS3342003-2026",
        today - 1500 * DAY,
        today - 120 * DAY,
        "电梯安装（含修理）A",
    )
    for n, body in enumerate(org_ids.get("inspection_body", [])[:3]):
        end = today + (60 * DAY if n == 0 else 900 * DAY)
        await licence(
            body,
            "inspection",
            f"TS7142{n:03d}-核准",
            today - 1000 * DAY,
            end,
            "电梯、锅炉、压力容器定期检验",
        )
    # Installed while licensed, and (the flagged one) after the licence lapsed.
    for unit, day in zip(unit_ids[:2], (today - 400 * DAY, today - 30 * DAY), strict=False):
        await licences.record_installation(
            SYSTEM, unit, installer_id=installer, installed_on=day, now=now
        )
    await licences.record_report(
        SYSTEM, makers[0], year=today.year - 1, submitted_on=today - 200 * DAY, now=now
    )
    return count
