"""Object-level scope on every staff page route, generated from the route table.

Every route under ``/ui`` and ``/feeds`` (and any route behind the staff session guard)
must be classified in ``PAGES`` below: a new page without a row fails
``test_every_page_route_is_classified``. Each row is probed with each role's session
in one world (one login per role: password hashing is slow): anonymous is sent to the
login (a feed without its secret is 404), a role without the permission gets 403, and
an object outside the caller's scope (another organisation's unit or alarm, a unit
outside a jurisdiction-bound inspector's districts) is 404, its existence not leaked.

"ok" means the role got through to the handler: a page (200), a redirect after a form
(303), or the form's own refusal of an empty or repeated submission (400, 409, 422).
A form's permission is checked before its fields (``staff.needs``), so a role without
it gets 403 however the form is filled: most forms are probed empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from litestar.routes import HTTPRoute

from equipment.domain.access import SYSTEM, Principal, Role
from equipment.domain.checks import Answer as CheckAnswer
from equipment.domain.checks import Outcome as CheckOutcome
from equipment.domain.report_sheets import ReportRow
from equipment.services import (
    alarms,
    calendar_feeds,
    campaigns,
    checks,
    clock,
    draws,
    inspection_feed,
    maintenance,
)
from equipment.web.staff import require_session
from sereg.app import create_app
from tests import factories as f
from tests.web_support import account, new_client

pytestmark = pytest.mark.integration

OK = "ok"
ROLES = ("admin", "inspector", "bound", "company_a", "owner_a", "station_a", "call_centre")
# The bound inspector works in Fancheng (420606) only; lift_b stands in Xiangcheng.
BOUND_TO = "420606"


def roles(default: int | str, **by_role: int | str) -> dict[str, int | str]:
    unknown = set(by_role) - set(ROLES)
    assert not unknown, unknown
    return {role: by_role.get(role, default) for role in ROLES}


# Who reads the register (every role but the call centre), for a route without an object.
REGISTER = roles(OK, call_centre=403)
ADMIN_ONLY = roles(403, admin=OK)
# A lift of owner A maintained by company A, in Fancheng: the station reads cylinders only.
OWN_LIFT = roles(OK, station_a=404, call_centre=403)
# The same role's view of another organisation's lift, outside the bound inspector's
# districts: only the bureau-wide roles see it.
OTHERS_LIFT = roles(404, admin=OK, inspector=OK, call_centre=403)
OWN_CYLINDER = roles(404, admin=OK, inspector=OK, bound=OK, station_a=OK, call_centre=403)
USER_UNIT_ONLY = roles(403, owner_a=OK)
UPLOADERS = roles(403, admin=OK, company_a=OK)
FILL_READERS = roles(403, admin=OK, inspector=OK, station_a=OK)
# Alarm cards: whoever follows alarms sees the alarms of its scope.
OWN_ALARM = roles(OK, station_a=404)
OTHERS_ALARM = roles(404, admin=OK, inspector=OK, call_centre=OK)


@dataclass(frozen=True)
class Probe:
    """One request of a route: ``target`` names the world's object put in the path (None
    for a route without one), ``expected`` each role's answer."""

    target: str | None
    expected: dict[str, int | str]
    form: dict[str, str] = field(default_factory=dict)
    query: str = ""


INSPECTION = {"kind": "periodic", "inspected_on": "{today}", "conclusion": "pass"}
INSPECTORS_ON_OWN = roles(403, admin=OK, inspector=OK, bound=OK)
# Another organisation's lift: 403 without the permission, 404 outside the scope.
INSPECTORS_ON_OTHERS = roles(403, admin=OK, inspector=OK, bound=404)
# A user unit and its maintainer enter alarms of their own lifts too (as by the API).
ALARM_ON_OWN = roles(OK, station_a=403, call_centre=403)
ALARM_ON_OTHERS = roles(404, admin=OK, inspector=OK, station_a=403, call_centre=403)
# The user unit's own steps (suspend, resume, maintainer, apply again): it and the admin.
OWNER_ON_OWN = roles(403, admin=OK, owner_a=OK)
OWNER_ON_OTHERS = roles(403, admin=OK, owner_a=404)


# Supervision checks: recorded by the regulator; a check or hazard of owner A's lift is
# seen by owner A, its maintainer and the inspectors of its district.
RECORDERS = roles(403, admin=OK, inspector=OK, bound=OK)
OWN_OBJECT = roles(OK, station_a=403, call_centre=403)
OTHERS_OBJECT = roles(404, admin=OK, inspector=OK, station_a=403, call_centre=403)
ROUTINE_READERS = roles(403, admin=OK, inspector=OK, bound=OK, owner_a=OK)


def weekly(unit: str) -> dict[str, str]:
    return {"kind": "weekly", "equipment_id": unit}


# (method, route path as the app registers it) -> its probes.
PAGES: dict[tuple[str, str], tuple[Probe, ...]] = {
    ("GET", "/ui"): (Probe(None, roles(OK)),),
    ("GET", "/ui/accounts"): (Probe(None, ADMIN_ONLY),),
    ("POST", "/ui/accounts"): (Probe(None, ADMIN_ONLY),),
    ("POST", "/ui/accounts/{username:str}/disable"): (Probe("throwaway", ADMIN_ONLY),),
    ("GET", "/ui/due"): (Probe(None, REGISTER),),
    ("GET", "/ui/due/export.csv"): (Probe(None, REGISTER),),
    ("GET", "/ui/due/export.xlsx"): (Probe(None, REGISTER),),
    ("POST", "/ui/due/calendar"): (Probe(None, REGISTER),),
    ("POST", "/ui/due/calendar/revoke"): (Probe(None, REGISTER),),
    ("GET", "/ui/units/{equipment_id:int}"): (
        Probe("lift_a", OWN_LIFT),
        Probe("lift_b", OTHERS_LIFT),
        Probe("cylinder_a", OWN_CYLINDER),
    ),
    ("POST", "/ui/units/{equipment_id:int}/inspections"): (
        Probe("lift_a", INSPECTORS_ON_OWN, form=INSPECTION),
        Probe("lift_b", INSPECTORS_ON_OTHERS, form=INSPECTION),
    ),
    ("POST", "/ui/units/{equipment_id:int}/alarms"): (
        Probe("lift_a", ALARM_ON_OWN, form={"kind": "alarm_button"}),
        Probe("lift_b", ALARM_ON_OTHERS, form={"kind": "alarm_button"}),
    ),
    ("GET", "/ui/map"): (Probe(None, REGISTER),),
    ("GET", "/ui/map/data/config"): (Probe(None, REGISTER),),
    ("GET", "/ui/map/data/areas"): (Probe(None, REGISTER),),
    ("GET", "/ui/map/data/lifts"): (
        Probe(None, REGISTER, query="min_lon=112.0&min_lat=31.9&max_lon=112.3&max_lat=32.2"),
    ),
    ("GET", "/ui/alarms"): (Probe(None, roles(OK)),),
    ("GET", "/ui/alarms/{alarm_id:int}/card"): (
        Probe("alarm_a", OWN_ALARM),
        Probe("alarm_b", OTHERS_ALARM),
    ),
    ("POST", "/ui/alarms/{alarm_id:int}/{step:str}"): (
        # Only responders (ALARM_RESPOND) get past the permission; then the scope.
        Probe("alarm_a", roles(403, admin=OK, company_a=OK)),
        Probe("alarm_b", roles(403, admin=OK, company_a=404)),
    ),
    # ---- the user unit's pages (enterprise client) ----
    ("GET", "/ui/units"): (Probe(None, REGISTER),),
    ("GET", "/ui/units/new"): (Probe(None, USER_UNIT_ONLY),),
    ("POST", "/ui/units/new"): (Probe(None, USER_UNIT_ONLY),),
    ("GET", "/ui/my/reminders"): (Probe(None, REGISTER),),
    ("GET", "/ui/my/units/{equipment_id:int}"): (
        Probe("lift_a", OWN_LIFT),
        Probe("lift_b", OTHERS_LIFT),
    ),
    # Probed empty: the permission answers before the form's own 422 on its fields.
    **{
        ("POST", f"/ui/my/units/{{equipment_id:int}}/{action}"): (
            Probe("lift_a", OWNER_ON_OWN),
            Probe("lift_b", OWNER_ON_OTHERS),
        )
        for action in ("suspend", "resume", "maintainer", "reapply")
    },
    ("GET", "/ui/contracts"): (Probe(None, roles(OK, station_a=403, call_centre=403)),),
    ("POST", "/ui/contracts"): (Probe(None, USER_UNIT_ONLY),),
    ("POST", "/ui/contracts/{contract_id:int}/terminate"): (
        Probe("contract_a", roles(403, admin=OK, owner_a=OK)),
        Probe("contract_b", roles(403, admin=OK, owner_a=404)),
    ),
    # The labels of the caller's own units: a role without an organisation has none.
    ("GET", "/ui/labels"): (Probe(None, roles(403, owner_a=OK, admin=404, call_centre=404)),),
    # ---- the registration office ----
    ("GET", "/ui/registrations"): (Probe(None, ADMIN_ONLY),),
    **{
        ("POST", f"/ui/registrations/{{equipment_id:int}}/{step}"): (
            Probe("pending_a", ADMIN_ONLY),
            Probe("pending_b", ADMIN_ONLY),
        )
        for step in ("register", "refuse")
    },
    ("GET", "/ui/organisations"): (Probe(None, ADMIN_ONLY),),
    ("POST", "/ui/organisations"): (Probe(None, ADMIN_ONLY),),
    # An organisation outside the caller's scope is not found, as by the API.
    ("GET", "/ui/organisations/{org_id:int}"): (
        Probe("owner_a", roles(404, admin=OK, inspector=403, bound=403, owner_a=403)),
        Probe("owner_b", roles(404, admin=OK, inspector=403, bound=403)),
    ),
    ("POST", "/ui/organisations/{org_id:int}"): (
        Probe("owner_a", ADMIN_ONLY),
        Probe("owner_b", ADMIN_ONLY),
    ),
    # ---- the maintenance company ----
    ("GET", "/ui/maint/units"): (Probe(None, REGISTER),),
    ("GET", "/ui/maint/units/{equipment_id:int}"): (
        Probe("lift_a", OWN_LIFT),
        Probe("lift_b", OTHERS_LIFT),
    ),
    ("GET", "/ui/maint/overdue"): (Probe(None, REGISTER),),
    ("GET", "/ui/maint/score"): (Probe(None, roles(403, admin=OK, inspector=OK, company_a=OK)),),
    **{
        (method, path): (Probe(None, UPLOADERS),)
        for method, path in (
            ("GET", "/ui/maint/upload"),
            ("POST", "/ui/maint/upload"),
            ("GET", "/ui/maint/template.csv"),
            ("GET", "/ui/maint/template.xlsx"),
        )
    },
    ("GET", "/ui/maint/alarms"): (Probe(None, REGISTER),),
    ("POST", "/ui/maint/alarms/{alarm_id:int}/{step:str}"): (
        Probe("alarm_a", roles(403, admin=OK, company_a=OK)),
        Probe("alarm_b", roles(403, admin=OK, company_a=404)),
    ),
    # ---- the 96333 call centre (the call form probed empty: its own 422) ----
    ("GET", "/ui/calls"): (Probe(None, roles(403, admin=OK, call_centre=OK)),),
    ("POST", "/ui/calls"): (Probe(None, roles(403, admin=OK, call_centre=OK)),),
    # ---- the filling station (fills are refused to a jurisdiction-bound inspector) ----
    ("GET", "/ui/station/fills"): (Probe(None, FILL_READERS),),
    ("GET", "/ui/station/refused"): (Probe(None, FILL_READERS),),
    ("GET", "/ui/station/cylinders"): (Probe(None, roles(OK)),),
    ("GET", "/ui/station/due"): (Probe(None, REGISTER),),
    # The live stream never ends, so only its guard is probed here; what each session
    # sees on it is tested against a running server in test_map_board_browser.py and
    # its refusal when full in test_page_security.py.
    ("GET", "/ui/alarms/stream"): (),
    # Random inspections: a task is its enterprise's and its drawn inspectors' (none of
    # the world's sessions is on the roster), the bureau's; the call centre has none.
    ("GET", "/ui/draws/tasks"): (Probe(None, roles(OK, call_centre=403)),),
    ("GET", "/ui/draws/tasks/{task_id:int}"): (
        Probe("task_a", roles(404, admin=OK, owner_a=OK, call_centre=403)),
        Probe("task_b", roles(404, admin=OK, call_centre=403)),
    ),
    ("POST", "/ui/draws/tasks/{task_id:int}/complete"): (
        Probe(
            "task_a",
            roles(403, admin=OK, inspector=404, bound=404),
        ),
    ),
    ("GET", "/ui/draws/plans"): (Probe(None, roles(403, admin=OK, inspector=OK, bound=OK)),),
    # Results late to publish (一公开): the bureau's list.
    ("GET", "/ui/draws/late"): (Probe(None, roles(403, admin=OK)),),
    # Special campaigns and post-licence supervision: the bureau and inspectors (a bound
    # one sees the campaign's tasks and progress inside his jurisdiction only).
    ("GET", "/ui/campaigns"): (Probe(None, roles(403, admin=OK, inspector=OK, bound=OK)),),
    ("GET", "/ui/campaigns/{campaign_id:int}"): (
        Probe("campaign", roles(403, admin=OK, inspector=OK, bound=OK)),
    ),
    # Closing a task: permission first (the bureau has it too), then the scope; the
    # world's campaign task is owner b's lift in 420602, outside the bound inspector's.
    ("POST", "/ui/campaigns/tasks/{task_id:int}/complete"): (
        Probe("campaign_task", roles(403, admin=OK, inspector=OK, bound=404)),
    ),
    ("GET", "/ui/licences"): (Probe(None, roles(403, admin=OK, inspector=OK, bound=OK)),),
    # The clean-up list: whoever files reports (its own body's entries; every one for
    # the registration office, test_cleanup_page.py).
    ("GET", "/ui/cleanup"): (Probe(None, roles(403, admin=OK, inspector=OK, bound=OK)),),
    # Its forms, posted so as to be refused on their fields (the entries stay open): the
    # body's own entry for its inspectors, another body's not found but to the office.
    ("POST", "/ui/cleanup/{entry_id:int}/match"): (
        Probe("cleanup_own", INSPECTORS_ON_OWN, form={"code": "NO-SUCH-UNIT"}),
        Probe("cleanup_other", INSPECTORS_ON_OTHERS | {"inspector": 404}, form={"code": "X"}),
    ),
    ("POST", "/ui/cleanup/{entry_id:int}/dismiss"): (
        Probe("cleanup_own", INSPECTORS_ON_OWN, form={"reason": ""}),
        Probe("cleanup_other", INSPECTORS_ON_OTHERS | {"inspector": 404}, form={"reason": ""}),
    ),
    # The calendar feed: the secret in the path is the credential (probed below).
    ("GET", "/feeds/calendar/{name:str}"): (),
    # ---- dual prevention: supervision checks, hazards, routine records ----
    ("GET", "/ui/checks"): (Probe(None, roles(OK, station_a=403, call_centre=403)),),
    ("GET", "/ui/checks/new"): (
        Probe(None, RECORDERS, query="unit={lift_a}"),
        Probe(None, roles(403, admin=OK, inspector=OK, bound=404), query="unit={lift_b}"),
        Probe(None, RECORDERS, query="user_unit_id={owner_a}"),
        Probe(None, roles(403, admin=OK, inspector=OK, bound=404), query="user_unit_id={owner_c}"),
    ),
    # The form is posted without answers: past scope and permission, the service's own
    # refusal (every item must be answered) is the page's 400.
    ("POST", "/ui/checks/new"): (
        Probe(None, RECORDERS, form={"target_kind": "equipment", "target_id": "{lift_a}"}),
        Probe(
            None,
            roles(403, admin=OK, inspector=OK, bound=404),
            form={"target_kind": "equipment", "target_id": "{lift_b}"},
        ),
    ),
    ("GET", "/ui/checks/{check_id:int}"): (
        Probe("check_a", OWN_OBJECT),
        Probe("check_b", OTHERS_OBJECT),
    ),
    ("GET", "/ui/hazards"): (Probe(None, roles(OK, station_a=403, call_centre=403)),),
    ("GET", "/ui/hazards/{hazard_id:int}"): (
        Probe("hazard_a", OWN_OBJECT),
        Probe("hazard_b", OTHERS_OBJECT),
    ),
    # Starting a hazard nobody assigned yet: the responsible party gets past permission
    # and scope to the loop's own refusal (400); the regulator may not rectify (403).
    ("POST", "/ui/hazards/{hazard_id:int}"): (
        Probe("hazard_a", roles(403, admin=OK, company_a=OK, owner_a=OK), form={"action": "start"}),
        Probe(
            "hazard_b", roles(403, admin=OK, company_a=404, owner_a=404), form={"action": "start"}
        ),
    ),
    ("GET", "/ui/routine"): (
        Probe(None, roles(403, admin=OK, inspector=OK, bound=OK, owner_a=OK)),
    ),
    ("POST", "/ui/routine"): (
        Probe(
            None,
            roles(403, admin=OK, owner_a=OK),
            form={"kind": "weekly", "equipment_id": "{lift_a}"},
        ),
        Probe(
            None,
            roles(403, admin=OK, owner_a=404),
            form={"kind": "weekly", "equipment_id": "{lift_b}"},
        ),
    ),
}
FEEDS = {"/feeds/calendar/{name:str}"}


def page_routes() -> set[tuple[str, str]]:
    """(method, path) of every route of the staff pages, read from the app's route table."""
    found = set()
    for route in create_app(manage_db=False).routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            staff = require_session in handler.resolve_guards()
            if staff or route.path.startswith(("/ui", calendar_feeds.PATH)):
                for method in handler.http_methods - {"HEAD", "OPTIONS"}:
                    found.add((method, route.path))
    assert len(found) >= 20, found  # the table was read, not an empty list
    return found


def test_every_page_route_is_classified():
    routes = page_routes()
    assert routes - set(PAGES) == set(), "classify these page routes in PAGES"
    assert set(PAGES) - routes == set(), "these classified routes no longer exist"


def named(text: str, world: dict[str, Any]) -> str:
    """A query or form value naming a world object in braces (``{lift_a}``), filled;
    ``{today}`` is the service's today when the form is sent."""
    values = {**world, "today": f.today()}
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), text)


def fill(path: str, world: dict[str, Any], target: str | None) -> str:
    value = "" if target is None else str(world[target])
    path = re.sub(
        r"\{(equipment_id|alarm_id|username|contract_id|org_id|check_id|hazard_id|task_id|campaign_id|entry_id):(int|str)\}",
        value,
        path,
    )
    return path.replace("{step:str}", "acknowledge")


async def make_world(staff) -> dict[str, Any]:
    w: dict[str, Any] = {}
    for name, kind in (
        ("owner_a", "user_unit"),
        ("owner_b", "user_unit"),
        ("company_a", "maintenance_company"),
        ("company_b", "maintenance_company"),
        ("station_a", "filling_station"),
        ("body", "inspection_body"),
    ):
        w[name] = (await f.organisation(kind))["id"]
    w["lift_a"] = (await f.unit(w["owner_a"], maintenance_company_id=w["company_a"]))["id"]
    w["lift_b"] = (
        await f.unit(
            w["owner_b"],
            maintenance_company_id=w["company_b"],
            district_code="420602",
            longitude=112.20,
            latitude=32.00,
        )
    )["id"]
    w["cylinder_a"] = (
        await f.unit(
            w["station_a"],
            category="2320",
            owning_station_id=w["station_a"],
            equipment_code=f.equipment_code("2320"),
            parameters={
                "medium": "LPG",
                "water_capacity_l": 35.5,
                "nominal_working_pressure_mpa": 2.1,
            },
        )
    )["id"]
    now = clock.now()
    for side in ("a", "b"):
        raised = await alarms.raise_alarm(
            SYSTEM, w[f"lift_{side}"], kind="entrapment", raised_at=now, source="manual", now=now
        )
        w[f"alarm_{side}"] = raised.id
    for side in ("a", "b"):
        w[f"pending_{side}"] = (await f.unit(w[f"owner_{side}"], registered=False))["id"]
        contract = await maintenance.create_contract(
            SYSTEM,
            {
                "user_unit_id": w[f"owner_{side}"],
                "maintenance_company_id": w[f"company_{side}"],
                "starts_on": f.today(),
                "ends_on": f.today() + timedelta(days=365),
                "cycle_days": 15,
                "on_demand": False,
                "liability_insured": True,
                "equipment_ids": [w[f"lift_{side}"]],
            },
            today=f.today(),
            now=now,
        )
        w[f"contract_{side}"] = contract.contract.id
    # A user unit with its only unit outside the bound inspector's district.
    w["owner_c"] = (await f.organisation("user_unit"))["id"]
    await f.unit(w["owner_c"], district_code="420602")
    for side in ("a", "b"):
        answers = [
            CheckAnswer(i.key, CheckOutcome.FAILED if n == 0 else CheckOutcome.PASSED, "x")
            for n, i in enumerate(checks.checklist_items("lift"))
        ]
        detail = await checks.record(
            SYSTEM,
            checks.Target.equipment(w[f"lift_{side}"]),
            None,
            answers,
            today=f.today(),
            now=now,
        )
        w[f"check_{side}"] = detail.check.id
        w[f"hazard_{side}"] = detail.items[0].hazard
    plan = await draws.create_plan(
        SYSTEM,
        {
            "title": "抽查",
            "enterprise_kinds": ["user_unit"],
            "categories": ["3000"],
            "checklist": "user_unit",
            "period_start": f.today(),
            "period_end": f.today() + timedelta(days=30),
            "ratios": {"A": 1, "B": 1, "C": 1, "D": 1},
        },
        now=now,
        options=draws.DrawOptions(),
    )
    await draws.announce_seed(SYSTEM, plan.id, "页面权限测试种子", now=now - timedelta(seconds=1))
    drawn = await draws.run_draw(
        SYSTEM, plan.id, today=f.today(), now=now, options=draws.DrawOptions()
    )
    for task in await draws.list_tasks(SYSTEM, plan=plan.id):
        side = "a" if task.enterprise == w["owner_a"] else "b"
        w[f"task_{side}"] = task.id
    assert drawn.id and "task_a" in w and "task_b" in w
    made, _ = await campaigns.create_campaign(
        SYSTEM,
        title="专项整治",
        per="unit",
        due_on=f.today(),
        selection=campaigns.Selection(categories=("3",)),
        today=f.today(),
        now=now,
    )
    w["campaign"] = made.id
    [w["campaign_task"]] = [
        t.id for t in await campaigns.list_tasks(SYSTEM, made.id) if t.equipment == w["lift_b"]
    ]
    for side, body in (
        ("own", w["body"]),
        ("other", (await f.organisation("inspection_body"))["id"]),
    ):
        kept = await inspection_feed.upload(
            Principal(Role.INSPECTOR, organisation_id=body),
            [
                ReportRow(
                    1,
                    {
                        "report_no": f"JY-PAGES-{side}",
                        "code": f.registration_code(),
                        "inspected_on": str(f.today()),
                        "conclusion": "合格",
                    },
                )
            ],
            today=f.today(),
            now=now,
        )
        [(_, _, _, w[f"cleanup_{side}"])] = kept.cleanup
    w["throwaway"] = await account(Role.INSPECTOR, w["body"])
    w["sessions"] = {
        "admin": await staff(Role.ADMIN),
        "inspector": await staff(Role.INSPECTOR, w["body"]),
        "bound": await staff(Role.INSPECTOR, w["body"], jurisdiction=BOUND_TO),
        "company_a": await staff(Role.MAINTENANCE, w["company_a"]),
        "owner_a": await staff(Role.USER_UNIT, w["owner_a"]),
        "station_a": await staff(Role.STATION, w["station_a"]),
        "call_centre": await staff(Role.CALL_CENTRE),
    }
    return w


def outcome(status: int) -> int | str:
    if status in (401, 403, 404):
        return status
    return OK if 200 <= status < 400 or status in (400, 409, 422) else status


async def test_every_page_route_answers_each_role_within_its_scope(staff):
    world = await make_world(staff)
    # The admin last: its form submissions (disabling an account) change the world.
    order = [r for r in ROLES if r != "admin"] + ["admin"]
    wrong: list[str] = []
    async with new_client() as anonymous:
        for (method, route), probes in PAGES.items():
            if route in FEEDS:
                continue
            # Anonymous: the guard answers before any body is read or any object looked up.
            bare = fill(route, world, probes[0].target if probes else None)
            bare = bare.replace("{", "").replace("}", "")  # an object-less stream path
            answer = await anonymous.request(method, bare)
            if answer.status_code != 303 or not answer.headers["location"].startswith(
                "/login?next="
            ):
                wrong.append(f"anonymous {method} {bare}: {answer.status_code}")
            for probe in probes:
                path = fill(route, world, probe.target)
                if probe.query:
                    path += f"?{named(probe.query, world)}"
                form = {k: named(v, world) for k, v in probe.form.items()}
                got = {}
                for role in order:
                    session = world["sessions"][role]
                    if method == "GET":
                        response = await session.http.get(path)
                    else:
                        response = await session.post(path, form)
                    got[role] = outcome(response.status_code)
                if got != probe.expected:
                    wrong.append(f"{method} {route} on {probe.target}: got {got}")
    assert wrong == [], "\n".join(wrong)


async def test_a_calendar_feed_answers_only_its_live_secret(staff):
    inspector = await staff(Role.INSPECTOR, (await f.organisation("inspection_body"))["id"])
    made = await inspector.post("/ui/due/calendar")
    url = re.search(r"http://sereg\.test(/feeds/calendar/[^\"<\s]+\.ics)", made.text)
    assert url, made.text
    async with new_client() as anonymous:
        assert (await anonymous.get(url.group(1))).status_code == 200
        for wrong in ("/feeds/calendar/guess.ics", url.group(1)[:-4], url.group(1) + "x"):
            assert (await anonymous.get(wrong)).status_code == 404, wrong
        await inspector.post("/ui/due/calendar/revoke")
        assert (await anonymous.get(url.group(1))).status_code == 404
