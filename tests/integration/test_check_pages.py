"""The staff pages of dual prevention, as people use them: an inspector records a check
on the single-column form and finds its hazard, acts on it; the user unit records its
routine and watches the missing list shrink."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from equipment.domain.access import Role
from equipment.services import checks
from equipment.settings import ClockSettings
from tests import factories as f

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "clock_settings",
    [
        ClockSettings(),
        # Either side of China's midnight (16:00 UTC): the form's deadline "today" is the
        # service's today.
        ClockSettings(pinned_at=datetime(2030, 3, 31, 15, 59, 59, 900_000, tzinfo=UTC)),
        ClockSettings(pinned_at=datetime(2030, 3, 31, 16, 0, 0, 100_000, tzinfo=UTC)),
    ],
    ids=["real", "pinned-before-midnight", "pinned-after-midnight"],
)
async def test_a_check_from_the_form_to_the_hazard_and_the_routine_page(staff):
    owner = (await f.organisation("user_unit"))["id"]
    body = (await f.organisation("inspection_body"))["id"]
    lift = (await f.unit(owner))["id"]
    second = (await f.unit(owner))["id"]
    inspector = await staff(Role.INSPECTOR, body)
    form = await inspector.http.get(f"/ui/checks/new?unit={lift}")
    assert form.status_code == 200, form.text
    keys = [i.key for i in checks.checklist_items("lift")]
    for key in keys:  # every item, one under the other, with its source
        assert f'name="outcome:{key}"' in form.text
    assert "TSG 08-2017" in form.text
    answers = {f"outcome:{k}": "passed" for k in keys}
    answers |= {"outcome:signs": "failed", "note:signs": "使用标志未张贴"}
    saved = await inspector.post(
        "/ui/checks/new", {"target_kind": "equipment", "target_id": str(lift), **answers}
    )
    assert saved.status_code == 303, saved.text
    detail = await inspector.http.get(saved.headers["location"])
    [hazard_id] = re.findall(r'href="/ui/hazards/(\d+)"', detail.text)
    assert "使用标志未张贴" in detail.text
    hazard = await inspector.http.get(f"/ui/hazards/{hazard_id}")
    assert 'id="step-assign"' in hazard.text and 'id="step-start"' not in hazard.text
    assigned = await inspector.post(
        f"/ui/hazards/{hazard_id}",
        {
            "action": "assign",
            "responsible_org_id": str(owner),
            "responsible_person": "王经理",
            "measures": "张贴使用标志",
            "deadline": str(f.today()),
            "supervising_inspector": "李检查员",
        },
    )
    assert assigned.status_code == 303, assigned.text
    listed = await inspector.http.get("/ui/hazards?state=assigned")
    assert f'href="/ui/hazards/{hazard_id}"' in listed.text

    user = await staff(Role.USER_UNIT, owner)
    # The owner takes the next step of its hazard.
    own = await user.http.get(f"/ui/hazards/{hazard_id}")
    assert 'id="step-start"' in own.text and 'id="step-assign"' not in own.text
    routine = await user.http.get("/ui/routine?kind=daily")
    assert f"<td>{lift}</td>" in routine.text and f"<td>{second}</td>" in routine.text
    done = await user.post("/ui/routine", {"kind": "daily", "equipment_id": str(lift)})
    assert done.status_code == 303, done.text
    after = await user.http.get(done.headers["location"])
    assert f"<td>{lift}</td><td>" not in after.text.split('id="h-recent"')[0]
    assert f"<td>{second}</td>" in after.text
    again = await user.post("/ui/routine", {"kind": "daily", "equipment_id": str(lift)})
    assert again.status_code == 400  # one record per unit and day
