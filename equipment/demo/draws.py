"""The demo city's year of random inspections (双随机、一公开), so the pages are not empty.

Credit classes computed from the register; a roster of twelve inspectors (the demo
inspector's account is the first, so his "my tasks" has work); two plans of this year —
the first half's, drawn, its tasks done by supervision checks and published (but one,
left late to publish: the bureau's list of late results has an entry), one of them
concluded non-compliant with the penalty decision that followed (a violation the credit
class counts), and the second half's, drawn, its tasks open. Everything goes through the
services, audited like any act of the bureau.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from equipment.domain.access import SYSTEM
from equipment.domain.checks import Answer, Outcome
from equipment.services import checks, credit, draws

DISTRICTS = ("420602", "420606", "420607", "420624", "420625", "420626", "420682", "420683")
# Ratios well above the defaults so a small demo city still shows a handful per class.
DEMO_RATIOS = {"A": 0.05, "B": 0.08, "C": 0.15, "D": 0.3}
# The past half's tasks checked and completed, at most: each is a check and a completion
# of their own, so a 10^6-unit register's 3,000-odd drawn enterprises took over ten
# minutes one by one; the demo city (a few dozen) completes every task, as before.
WORKED_TASKS = 300


async def add_random_inspections(
    org_ids: dict[str, list[int]],
    *,
    today: date,
    now: datetime,
    seed: int,
    inspector_account: int | None = None,
) -> int:
    """Returns how many tasks were made."""
    rng = random.Random(seed)
    await credit.assess_all(SYSTEM, today=today, now=now)
    bodies: list[int | None] = [*org_ids.get("inspection_body", [])] or [None]
    for n in range(12):
        await draws.add_inspector(
            SYSTEM,
            {
                "name": f"检查员{n + 1:02d}",
                "account": inspector_account if n == 0 else None,
                "inspection_body": bodies[n % len(bodies)],
                "districts": [] if n < 4 else rng.sample(DISTRICTS, 2),
                "qualifications": ["1000", "2000", "3000", "4000", "8000"],
                "available": n != 11,
            },
            now=now,
        )
    options = draws.DrawOptions()
    year = today.year
    made = 0
    halves = (
        ("上半年", date(year, 1, 1), date(year, 6, 30)),
        ("下半年", date(year, 7, 1), date(year, 12, 31)),
    )
    for index, (half, start, end) in enumerate(halves):
        plan = await draws.create_plan(
            SYSTEM,
            {
                "title": f"{year}年{half}特种设备使用单位双随机抽查",
                "enterprise_kinds": ["user_unit"],
                "categories": ["3000", "1000", "2000"],
                "checklist": "user_unit",
                "period_start": start,
                "period_end": end,
                "ratios": DEMO_RATIOS,
            },
            now=now,
            options=options,
        )
        await draws.announce_seed(
            SYSTEM, plan.id, f"襄阳市市场监管局{year}年{half}抽查公告", now=now - timedelta(hours=2)
        )
        await draws.run_draw(SYSTEM, plan.id, today=today, now=now, options=options)
        tasks = await draws.list_tasks(SYSTEM, plan=plan.id)
        made += len(tasks)
        if index == 1:
            continue  # the current half: tasks still open
        items = checks.checklist_items("user_unit")
        penalised = None
        for task in tasks[:WORKED_TASKS]:
            answers = [
                Answer(i.key, Outcome.FAILED if rng.random() < 0.08 else Outcome.PASSED, "")
                for i in items
            ]
            answers = [
                a if a.outcome is Outcome.PASSED else Answer(a.key, a.outcome, "现场发现问题")
                for a in answers
            ]
            detail = await checks.record(
                SYSTEM,
                checks.Target.user_unit(task.enterprise),
                "user_unit",
                answers,
                task_id=task.id,
                inspector="检查员01、检查员02",
                open_hazards=False,
                today=min(today, end),
                now=now,
            )
            # The first check with a failed item is judged non-compliant (a violation).
            non_compliant = penalised is None and detail.check.failed > 0
            await draws.complete_task(
                SYSTEM,
                task.id,
                check_id=detail.check.id,
                conclusion="non_compliant" if non_compliant else None,
                today=min(today, end),
                now=now,
                options=options,
            )
            if non_compliant:
                penalised = task
        if penalised is not None:
            await credit.record_penalty(
                SYSTEM,
                penalised.enterprise,
                decision_no=f"襄市监特罚〔{year}〕{penalised.id:03d}号",
                decided_on=min(today, end),
                clause="《中华人民共和国特种设备安全法》第八十三条",
                note="双随机抽查发现问题，责令改正并处罚款",
                task_id=penalised.id,
                today=today,
                now=now,
            )
        # All published but the last: a result late to publish for the bureau's list.
        await draws.publish_results(SYSTEM, now=now, task_ids=[t.id for t in tasks[:-1]])
    await credit.assess_all(SYSTEM, today=today, now=now)
    return made
