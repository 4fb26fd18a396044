"""Every role against every endpoint, including other organisations' objects.

A role without the permission gets 403; an object outside the caller's scope is 404
(its existence does not leak); no token is 401.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest

from equipment.domain import rescue
from equipment.domain.access import SYSTEM, Jurisdiction, Principal, Role
from equipment.domain.checks import Answer as CheckAnswer
from equipment.domain.checks import Outcome as CheckOutcome
from equipment.domain.citizen_reports import ReportInput
from equipment.domain.errors import InvalidValue
from equipment.domain.hazards import Action, Assignment, Source
from equipment.domain.imports.profile import shipped_profile
from equipment.domain.notifications import allowance
from equipment.domain.report_sheets import ReportRow
from equipment.services import (
    alarms,
    areas,
    campaigns,
    checks,
    citizen_reports,
    clock,
    emergency_records,
    evidence_store,
    hazards,
    imports,
    inspection_feed,
    notifications,
    register,
    tokens,
)
from equipment.settings import EvidenceSettings, PublicSettings
from tests import factories as f

pytestmark = pytest.mark.integration
# These tests read the English message ids (the default answer language is Chinese).
ACCEPT_LANGUAGE = "en"

ROLES = ("admin", "inspector", "company_a", "owner_a", "station_a", "call_centre")


@pytest.fixture(scope="module")
def evidence(tmp_path_factory) -> EvidenceSettings:
    """One evidence directory for the module: the files' names are random, and equal
    settings let the tests share one app (tests/conftest.py ``shared_app``)."""
    return EvidenceSettings(directory=tmp_path_factory.mktemp("evidence"))


@pytest.fixture
def boot(configure, evidence):
    """The default settings, but evidence files under the module's directory."""
    return configure(evidence=evidence)


@pytest.fixture
async def world(engine, evidence):
    w: dict[str, Any] = {"evidence_settings": evidence}
    w["lift_answers"] = [
        {"key": i.key, "outcome": "passed"} for i in checks.checklist_items("lift")
    ]
    for name, kind in (
        ("owner_a", "user_unit"),
        ("owner_b", "user_unit"),
        ("company_a", "maintenance_company"),
        ("company_b", "maintenance_company"),
        ("station_a", "filling_station"),
        ("station_b", "filling_station"),
        ("body", "inspection_body"),
    ):
        w[name] = (await f.organisation(kind))["id"]
    w["tokens"] = {
        "admin": await f.token(Role.ADMIN),
        "inspector": await f.token(Role.INSPECTOR, w["body"]),
        "company_a": await f.token(Role.MAINTENANCE, w["company_a"]),
        "owner_a": await f.token(Role.USER_UNIT, w["owner_a"]),
        "station_a": await f.token(Role.STATION, w["station_a"]),
        "call_centre": await f.token(Role.CALL_CENTRE),
    }
    return w


async def lift(w, side: str = "a", registered: bool = True) -> int:
    unit = await f.unit(
        w[f"owner_{side}"], maintenance_company_id=w[f"company_{side}"], registered=registered
    )
    return unit["id"]


async def refused_lift(w, side: str = "a") -> int:
    """An application the registration office refused (不予登记)."""
    unit_id = await lift(w, side, registered=False)
    now = clock.now()
    await register.refuse(
        SYSTEM,
        unit_id,
        refused_on=clock.today(),
        reason="资料不全",
        expected_version=None,
        today=clock.today(),
        now=now,
    )
    return unit_id


async def call_lift(w) -> int:
    """A lift whose registration code the next 96333 call names (kept in ``w``)."""
    unit = await f.unit(w["owner_a"], maintenance_company_id=w["company_a"])
    w["call_code"] = unit["registration_code"]
    return unit["id"]


async def cylinder(w, side: str = "a") -> int:
    unit = await f.unit(
        w[f"station_{side}"],
        category="2320",
        owning_station_id=w[f"station_{side}"],
        equipment_code=f.equipment_code("2320"),
        parameters={"medium": "LPG", "water_capacity_l": 35.5, "nominal_working_pressure_mpa": 2.1},
    )
    return unit["id"]


AREA = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": "ACCESS-1",
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [112.13, 32.04],
                        [112.14, 32.04],
                        [112.14, 32.05],
                        [112.13, 32.05],
                        [112.13, 32.04],
                    ]
                ],
            },
            "properties": {"kind": "old_residential", "name": "测试小区"},
        }
    ],
}


async def area(w) -> int:
    """An old residential area around the factories' lifts (112.135, 32.045), with a lift."""
    await lift(w)
    await areas.import_feature_collection(SYSTEM, AREA, crs="wgs84", now=clock.now())
    rows = await areas.list_areas(SYSTEM, kind=None, cursor=None, limit=10)
    return rows.items[0].id


async def staged_import(w) -> int:
    """An import staged from an empty export (its header row only)."""
    job = await imports.create_job(
        SYSTEM,
        kind="register",
        file_name="x.csv",
        digest="0" * 64,
        now=clock.now(),
        today=f.today(),
    )
    await imports.stage_rows(
        SYSTEM,
        job,
        ["设备注册代码"],
        [],
        profile=shipped_profile("registration_export"),
        encoding="utf-8",
        today=f.today(),
        now=clock.now(),
    )
    return job


OUTCOME = {
    "people_released": 1,
    "release_method": "door_opened_at_level",
    "cause": "door_system",
    "rescuers": ["王师傅"],
}


async def finished_entrapment(w, side: str, *, recorded: bool = False) -> int:
    """An entrapment on a lift of owner ``side`` maintained by company ``side``, its rescue
    finished (and its outcome recorded, when asked)."""
    unit = await f.unit(w[f"owner_{side}"], maintenance_company_id=w[f"company_{side}"])
    now = clock.now()
    alarm = await alarms.raise_alarm(
        SYSTEM, unit["id"], kind="entrapment", raised_at=now, source="manual", now=now
    )
    for step in ("acknowledge", "arrive", "finish"):
        await alarms.respond(SYSTEM, alarm.id, step, at=now, now=now)
    if recorded:
        await emergency_records.record_outcome(
            SYSTEM,
            alarm.id,
            rescue.Outcome(1, 0, 0, "door_opened_at_level", "door_system", ("王",)),
            note="",
            now=now,
        )
    return alarm.id


async def handed_over_alarm(w, *, to: str) -> int:
    """An open entrapment of owner A's lift, raised while the other company maintained it;
    then the lift is handed to company ``to``. The alarm goes with the lift."""
    before = "b" if to == "a" else "a"
    unit = await f.unit(w["owner_a"], maintenance_company_id=w[f"company_{before}"])
    now = clock.now()
    alarm = await alarms.raise_alarm(
        SYSTEM, unit["id"], kind="entrapment", raised_at=now, source="manual", now=now
    )
    await register.change_maintainer(
        SYSTEM,
        unit["id"],
        maintenance_company_id=w[f"company_{to}"],
        changed_on=f.today(),
        expected_version=None,
        today=f.today(),
        now=now,
    )
    return alarm.id


async def webhook(w, side: str = "a") -> int:
    """A webhook endpoint of company ``side`` (the bureau registers it for the company)."""
    row = await notifications.create_endpoint(
        SYSTEM,
        url="http://127.0.0.1:9/hook",
        organisation_id=w[f"company_{side}"],
        tier="primary",
        district_code="",
        label="",
        now=clock.now(),
        allow=allowance(["127.0.0.1"]),  # never delivered to: the matrix reads the row
    )
    return row.id


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str  # formatted with {id}
    target: Callable[[dict], Awaitable[Any] | Any]
    expected: dict[str, int]
    body: Callable[[dict], dict] | None = None
    if_match: bool = False


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def register_roles(status: int) -> dict[str, int]:
    """Every role that reads the register; the call centre does not (403)."""
    return {**everyone(status), "call_centre": 403}


ME = everyone(200)


READ_OK = {"admin": 200, "inspector": 200, "company_a": 200, "owner_a": 200, "station_a": 404}
ADMIN_ONLY = {"admin": 200, "inspector": 403, "company_a": 403, "owner_a": 403, "station_a": 403}
ADMIN_OWNER = {"admin": 200, "inspector": 403, "company_a": 403, "owner_a": 200, "station_a": 403}
WEBHOOK_OWN = {"admin": 200, "inspector": 403, "company_a": 200, "owner_a": 404, "station_a": 404}
WEBHOOK_OTHERS = {
    "admin": 200,
    "inspector": 403,
    "company_a": 404,
    "owner_a": 404,
    "station_a": 404,
}
ALARM_RESPONSE = {"admin": 200, "inspector": 403, "owner_a": 403, "station_a": 403}
ALARM_CLOSING = {"admin": 200, "inspector": 200, "owner_a": 403, "station_a": 403}

CASES = [
    Case("read own lift", "GET", "/api/v1/equipment/{id}", lift, READ_OK),
    Case(
        "read other's lift",
        "GET",
        "/api/v1/equipment/{id}",
        lambda w: lift(w, "b"),
        {"admin": 200, "inspector": 200, "company_a": 404, "owner_a": 404, "station_a": 404},
    ),
    Case(
        "read own cylinder",
        "GET",
        "/api/v1/equipment/{id}",
        cylinder,
        {"admin": 200, "inspector": 200, "company_a": 404, "owner_a": 404, "station_a": 200},
    ),
    Case(
        "read other's cylinder",
        "GET",
        "/api/v1/equipment/{id}",
        lambda w: cylinder(w, "b"),
        {"admin": 200, "inspector": 200, "company_a": 404, "owner_a": 404, "station_a": 404},
    ),
    Case(
        "status history",
        "GET",
        "/api/v1/equipment/{id}/status-history",
        lift,
        {"admin": 200, "inspector": 200, "company_a": 403, "owner_a": 200, "station_a": 403},
    ),
    Case(
        "other's audit",
        "GET",
        "/api/v1/equipment/{id}/audit",
        lambda w: lift(w, "b"),
        {"admin": 200, "inspector": 200, "company_a": 403, "owner_a": 404, "station_a": 403},
    ),
    Case(
        "edit description",
        "PATCH",
        "/api/v1/equipment/{id}",
        lift,
        {"admin": 200, "inspector": 403, "company_a": 200, "owner_a": 200, "station_a": 403},
        body=lambda w: {"model": "X"},
        if_match=True,
    ),
    Case(
        "edit other's description",
        "PATCH",
        "/api/v1/equipment/{id}",
        lambda w: lift(w, "b"),
        {"admin": 200, "inspector": 403, "company_a": 404, "owner_a": 404, "station_a": 403},
        body=lambda w: {"model": "X"},
        if_match=True,
    ),
    Case(
        "edit regulatory data",
        "PATCH",
        "/api/v1/equipment/{id}",
        lift,
        ADMIN_ONLY,
        body=lambda w: {"district_code": "420602"},
        if_match=True,
    ),
    Case(
        "create for own unit",
        "POST",
        "/api/v1/equipment",
        lambda w: None,
        {"admin": 201, "inspector": 403, "company_a": 403, "owner_a": 201, "station_a": 403},
        body=lambda w: f.unit_body(w["owner_a"]),
    ),
    Case(
        "create for another unit",
        "POST",
        "/api/v1/equipment",
        lambda w: None,
        {"admin": 201, "inspector": 403, "company_a": 403, "owner_a": 403, "station_a": 403},
        body=lambda w: f.unit_body(w["owner_b"]),
    ),
    Case(
        "register",
        "POST",
        "/api/v1/equipment/{id}/register",
        lambda w: lift(w, registered=False),
        ADMIN_ONLY,
        body=lambda w: {
            "registration_code": f.registration_code(),
            "registered_on": str(f.today()),
        },
    ),
    Case(
        "refuse",
        "POST",
        "/api/v1/equipment/{id}/refuse",
        lambda w: lift(w, registered=False),
        ADMIN_ONLY,
        body=lambda w: {"on": str(f.today()), "reason": "资料不全"},
    ),
    Case("reapply own", "POST", "/api/v1/equipment/{id}/reapply", refused_lift, ADMIN_OWNER),
    Case(
        "reapply other's",
        "POST",
        "/api/v1/equipment/{id}/reapply",
        lambda w: refused_lift(w, "b"),
        {"admin": 200, "inspector": 403, "company_a": 403, "owner_a": 404, "station_a": 403},
    ),
    Case(
        "suspend own",
        "POST",
        "/api/v1/equipment/{id}/suspend",
        lift,
        ADMIN_OWNER,
        body=lambda w: {
            "suspended_from": str(f.today()),
            "notified_on": str(f.today()),
            "reason": "装修",
        },
    ),
    Case(
        "suspend other's",
        "POST",
        "/api/v1/equipment/{id}/suspend",
        lambda w: lift(w, "b"),
        {"admin": 200, "inspector": 403, "company_a": 403, "owner_a": 404, "station_a": 403},
        body=lambda w: {
            "suspended_from": str(f.today()),
            "notified_on": str(f.today()),
            "reason": "装修",
        },
    ),
    Case(
        "change maintainer",
        "POST",
        "/api/v1/equipment/{id}/change-maintainer",
        lift,
        ADMIN_OWNER,
        body=lambda w: {"maintenance_company_id": w["company_b"], "on": str(f.today())},
    ),
    Case(
        "transfer",
        "POST",
        "/api/v1/equipment/{id}/transfer",
        lift,
        ADMIN_ONLY,
        body=lambda w: {"user_unit_id": w["owner_b"], "on": str(f.today())},
    ),
    Case(
        "scrap",
        "POST",
        "/api/v1/equipment/{id}/scrap",
        lift,
        ADMIN_ONLY,
        body=lambda w: {"on": str(f.today()), "reason": "报废"},
    ),
    Case(
        "cancel",
        "POST",
        "/api/v1/equipment/{id}/cancel",
        lift,
        ADMIN_ONLY,
        body=lambda w: {"on": str(f.today()), "reason": "迁出"},
    ),
    Case(
        "read own organisation",
        "GET",
        "/api/v1/organisations/{id}",
        lambda w: w["owner_a"],
        {"admin": 200, "inspector": 200, "company_a": 404, "owner_a": 200, "station_a": 404},
    ),
    Case(
        "read other organisation",
        "GET",
        "/api/v1/organisations/{id}",
        lambda w: w["owner_b"],
        {"admin": 200, "inspector": 200, "company_a": 404, "owner_a": 404, "station_a": 404},
    ),
    Case(
        "edit own contact",
        "PATCH",
        "/api/v1/organisations/{id}",
        lambda w: w["owner_a"],
        {"admin": 200, "inspector": 403, "company_a": 404, "owner_a": 200, "station_a": 404},
        body=lambda w: {"contact_phone": "13900000000"},
        if_match=True,
    ),
    Case(
        "rename own organisation",
        "PATCH",
        "/api/v1/organisations/{id}",
        lambda w: w["owner_a"],
        {"admin": 200, "inspector": 403, "company_a": 404, "owner_a": 403, "station_a": 404},
        body=lambda w: {"name": "新名字"},
        if_match=True,
    ),
    Case(
        "create organisation",
        "POST",
        "/api/v1/organisations",
        lambda w: None,
        {"admin": 201, "inspector": 403, "company_a": 403, "owner_a": 403, "station_a": 403},
        body=lambda w: {"kind": "user_unit", "credit_code": f.credit_code(), "name": "新单位"},
    ),
    Case("list tokens", "GET", "/api/v1/tokens", lambda w: None, ADMIN_ONLY),
    Case(
        "create token",
        "POST",
        "/api/v1/tokens",
        lambda w: None,
        {"admin": 201, "inspector": 403, "company_a": 403, "owner_a": 403, "station_a": 403},
        body=lambda w: {"role": "inspector"},
    ),
    Case("me", "GET", "/api/v1/me", lambda w: None, ME),
    Case(
        "list webhooks",
        "GET",
        "/api/v1/webhooks",
        lambda w: None,
        {"admin": 200, "inspector": 403, "company_a": 200, "owner_a": 200, "station_a": 200},
    ),
    Case(
        "create webhook",
        "POST",
        "/api/v1/webhooks",
        lambda w: None,
        {"admin": 201, "inspector": 403, "company_a": 201, "owner_a": 201, "station_a": 201},
        # A public address: no name to resolve in the test, nothing is ever sent there.
        body=lambda w: {"url": "https://223.5.5.5/sereg"},
    ),
    Case("read own webhook", "GET", "/api/v1/webhooks/{id}", webhook, WEBHOOK_OWN),
    Case(
        "read other's webhook",
        "GET",
        "/api/v1/webhooks/{id}",
        lambda w: webhook(w, "b"),
        WEBHOOK_OTHERS,
    ),
    Case(
        "own webhook deliveries",
        "GET",
        "/api/v1/webhooks/{id}/deliveries?state=dead",
        webhook,
        WEBHOOK_OWN,
    ),
    Case(
        "other's webhook deliveries",
        "GET",
        "/api/v1/webhooks/{id}/deliveries",
        lambda w: webhook(w, "b"),
        WEBHOOK_OTHERS,
    ),
    Case(
        "redeliver own",
        "POST",
        "/api/v1/webhooks/{id}/redeliver",
        webhook,
        WEBHOOK_OWN,
        body=lambda w: {},
    ),
    Case(
        "redeliver other's",
        "POST",
        "/api/v1/webhooks/{id}/redeliver",
        lambda w: webhook(w, "b"),
        WEBHOOK_OTHERS,
        body=lambda w: {},
    ),
    Case(
        "redeliver other's delivery",
        "POST",
        "/api/v1/webhooks/{id}/redeliver",
        lambda w: webhook(w, "b"),
        {**WEBHOOK_OTHERS, "admin": 404},  # the delivery does not exist
        body=lambda w: {"delivery_id": 1},
    ),
    Case(
        "delete own webhook",
        "DELETE",
        "/api/v1/webhooks/{id}",
        webhook,
        {**WEBHOOK_OWN, "admin": 204, "company_a": 204},
    ),
    Case(
        "delete other's webhook",
        "DELETE",
        "/api/v1/webhooks/{id}",
        lambda w: webhook(w, "b"),
        {**WEBHOOK_OTHERS, "admin": 204},
    ),
    Case(
        "record inspection",
        "POST",
        "/api/v1/equipment/{id}/inspections",
        lift,
        {"admin": 201, "inspector": 201, "company_a": 403, "owner_a": 403, "station_a": 403},
        body=lambda w: {"kind": "periodic", "inspected_on": str(f.today()), "conclusion": "pass"},
    ),
    Case("list inspections", "GET", "/api/v1/equipment/{id}/inspections", lift, READ_OK),
    Case(
        "other's inspections",
        "GET",
        "/api/v1/equipment/{id}/inspections",
        lambda w: lift(w, "b"),
        {"admin": 200, "inspector": 200, "company_a": 404, "owner_a": 404, "station_a": 404},
    ),
    Case("schedule", "GET", "/api/v1/equipment/{id}/schedule", lift, READ_OK),
    Case("due list", "GET", "/api/v1/due", lambda w: None, register_roles(200)),
    Case("due summary", "GET", "/api/v1/due/summary", lambda w: None, register_roles(200)),
    Case("due export", "GET", "/api/v1/due/export.xlsx", lambda w: None, register_roles(200)),
    Case("reminders", "GET", "/api/v1/reminders", lambda w: None, register_roles(200)),
    Case(
        "import areas",
        "POST",
        "/api/v1/areas/import",
        lambda w: None,
        ADMIN_ONLY,
        body=lambda w: AREA,
    ),
    # The body is empty here: the admin gets as far as reading it (422), the others 403.
    Case(
        "upload an import",
        "POST",
        "/api/v1/imports",
        lambda w: None,
        {**ADMIN_ONLY, "admin": 422},
    ),
    Case("import status", "GET", "/api/v1/imports/{id}", staged_import, ADMIN_ONLY),
    Case("import report", "GET", "/api/v1/imports/{id}/report.xlsx", staged_import, ADMIN_ONLY),
    Case(
        "commit an import",
        "POST",
        "/api/v1/imports/{id}/commit",
        staged_import,
        {**ADMIN_ONLY, "admin": 202},
    ),
    Case("list areas", "GET", "/api/v1/areas", area, register_roles(200)),
    Case("list areas as GeoJSON", "GET", "/api/v1/areas?format=geojson", area, register_roles(200)),
    Case("read area", "GET", "/api/v1/areas/{id}", area, register_roles(200)),
    Case("export areas", "GET", "/api/v1/areas/export.geojson", area, register_roles(200)),
    Case(
        "area summary",
        "GET",
        "/api/v1/areas/summary?kind=old_residential",
        area,
        register_roles(200),
    ),
    Case("units of an area", "GET", "/api/v1/areas/{id}/equipment", area, register_roles(200)),
    Case(
        "units of an area as GeoJSON",
        "GET",
        "/api/v1/areas/{id}/equipment?format=geojson&overdue_inspection=true",
        area,
        register_roles(200),
    ),
    Case("due list by area", "GET", "/api/v1/due?area_id={id}", area, register_roles(200)),
    Case(
        "nearby",
        "GET",
        "/api/v1/geo/nearby?lon=112.135&lat=32.045&radius_m=500&crs=gcj02",
        lift,
        register_roles(200),
    ),
    Case(
        "map box",
        "GET",
        "/api/v1/geo/bbox?min_lon=112.1&min_lat=32.0&max_lon=112.2&max_lat=32.1&max_points=1",
        lift,
        register_roles(200),
    ),
    Case(
        "units in a polygon",
        "POST",
        "/api/v1/geo/within",
        lift,
        register_roles(200),
        body=lambda w: AREA["features"][0]["geometry"],
    ),
    Case(
        "missing coordinates", "GET", "/api/v1/geo/missing-coordinates", lift, register_roles(200)
    ),
    # Alarms belong to the unit's current maintainer, not the one at raise time.
    *(
        Case(
            f"{step} alarm of a lift handed {way}",
            "POST",
            f"/api/v1/alarms/{{id}}/{step}",
            lambda w, to=to: handed_over_alarm(w, to=to),
            {**expected, "company_a": 200 if to == "a" else 404},
            body=body,
        )
        for way, to in (("to company A", "a"), ("away from company A", "b"))
        for step, expected, body in (
            ("acknowledge", ALARM_RESPONSE, lambda w: {}),
            ("close", ALARM_CLOSING, lambda w: {"note": "已处理"}),
        )
    ),
    Case(
        "take a 96333 call",
        "POST",
        "/api/v1/calls",
        call_lift,
        # A lift's first call opens its alarm (201); the calls after it join it (200).
        {
            "admin": 201,
            "inspector": 403,
            "company_a": 403,
            "owner_a": 403,
            "station_a": 403,
            "call_centre": 201,
        },
        body=lambda w: {"callback_number": "13800000000", "registration_code": w["call_code"]},
    ),
    Case(
        "own alarm's timeline",
        "GET",
        "/api/v1/alarms/{id}/timeline",
        lambda w: handed_over_alarm(w, to="a"),
        {
            "admin": 200,
            "inspector": 200,
            "company_a": 200,
            "owner_a": 200,
            "station_a": 404,
            "call_centre": 200,
        },
    ),
    Case(
        "other's alarm's timeline",
        "GET",
        "/api/v1/alarms/{id}/timeline",
        lambda w: handed_over_alarm(w, to="b"),
        {
            "admin": 200,
            "inspector": 200,
            "company_a": 404,
            "owner_a": 200,
            "station_a": 404,
            "call_centre": 200,
        },
    ),
]

CASES += [
    Case(
        "response KPIs",
        "GET",
        "/api/v1/kpis/response?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z",
        lambda w: None,
        {
            "admin": 200,
            "inspector": 200,
            "company_a": 200,
            "owner_a": 403,
            "station_a": 403,
            "call_centre": 403,
        },
    ),
    Case(
        "record a drill",
        "POST",
        "/api/v1/equipment/{id}/drills",
        lift,
        {
            "admin": 201,
            "inspector": 403,
            "company_a": 201,
            "owner_a": 201,
            "station_a": 403,
            "call_centre": 403,
        },
        body=lambda w: {"held_on": str(f.today()), "participants": ["张三"]},
    ),
    Case(
        "record a drill on another's lift",
        "POST",
        "/api/v1/equipment/{id}/drills",
        lambda w: lift(w, "b"),
        {
            "admin": 201,
            "inspector": 403,
            "company_a": 404,
            "owner_a": 404,
            "station_a": 403,
            "call_centre": 403,
        },
        body=lambda w: {"held_on": str(f.today()), "participants": ["张三"]},
    ),
    Case("map config", "GET", "/api/v1/map/config", lambda w: None, register_roles(200)),
    Case("map areas", "GET", "/api/v1/map/areas?kind=old_residential", area, register_roles(200)),
    Case(
        "map lifts",
        "GET",
        "/api/v1/map/lifts?min_lon=112.1&min_lat=32.0&max_lon=112.2&max_lat=32.1",
        lift,
        register_roles(200),
    ),
    Case(
        "record a rescue outcome",
        "POST",
        "/api/v1/alarms/{id}/outcome",
        lambda w: finished_entrapment(w, "a"),
        {"admin": 201, "inspector": 403, "company_a": 201, "owner_a": 403, "station_a": 403},
        body=lambda w: OUTCOME,
    ),
    Case(
        "record a rescue outcome on another's lift",
        "POST",
        "/api/v1/alarms/{id}/outcome",
        lambda w: finished_entrapment(w, "b"),
        {"admin": 201, "inspector": 403, "company_a": 404, "owner_a": 403, "station_a": 403},
        body=lambda w: OUTCOME,
    ),
    Case(
        "read own rescue outcome",
        "GET",
        "/api/v1/alarms/{id}/outcome",
        lambda w: finished_entrapment(w, "a", recorded=True),
        {
            "admin": 200,
            "inspector": 200,
            "company_a": 200,
            "owner_a": 200,
            "station_a": 404,
            "call_centre": 200,
        },
    ),
    Case(
        "read other's rescue outcome",
        "GET",
        "/api/v1/alarms/{id}/outcome",
        lambda w: finished_entrapment(w, "b", recorded=True),
        {
            "admin": 200,
            "inspector": 200,
            "company_a": 404,
            "owner_a": 404,
            "station_a": 404,
            "call_centre": 200,
        },
    ),
    Case(
        "lifts missing drills",
        "GET",
        f"/api/v1/drills/missing?year={f.today().year}",
        lift,
        register_roles(200),
    ),
]


async def hazard_lift(w, side: str = "a") -> int:
    """A lift of owner ``side`` (kept in ``w`` for the body that lists a hazard on it)."""
    w["hazard_lift"] = await lift(w, side)
    return w["hazard_lift"]


async def hazard(w, side: str = "a", *, assigned: bool = False) -> int:
    """A hazard on a lift of owner ``side`` maintained by company ``side``."""
    now = clock.now()
    row = await hazards.report(
        SYSTEM,
        hazards.NewHazard("门锁回路被短接", Source.MANUAL, await lift(w, side)),
        today=f.today(),
        now=now,
    )
    if assigned:
        await hazards.act(
            SYSTEM,
            row.id,
            Action.ASSIGN,
            assignment=Assignment(w[f"owner_{side}"], "王经理", "恢复门锁", f.today(), "李检查员"),
            today=f.today(),
            now=now,
        )
    return row.id


HAZARD_READERS = {
    "admin": 200,
    "inspector": 200,
    "company_a": 200,
    "owner_a": 200,
    "station_a": 403,
}
HAZARD_OTHERS = {**HAZARD_READERS, "company_a": 404, "owner_a": 404}
HAZARD_BODY = {"description": "底坑积水"}
CASES += [
    Case("list hazards", "GET", "/api/v1/hazards", lambda w: hazard(w), HAZARD_READERS),
    Case("hazard criteria", "GET", "/api/v1/hazards/criteria", lambda w: None, HAZARD_READERS),
    Case(
        "hazard ledger",
        "GET",
        "/api/v1/hazards/ledger?by=area",
        lambda w: hazard(w),
        HAZARD_READERS,
    ),
    Case("read own hazard", "GET", "/api/v1/hazards/{id}", lambda w: hazard(w), HAZARD_READERS),
    Case(
        "read other's hazard",
        "GET",
        "/api/v1/hazards/{id}",
        lambda w: hazard(w, "b"),
        HAZARD_OTHERS,
    ),
    Case(
        "own hazard's history",
        "GET",
        "/api/v1/hazards/{id}/history",
        lambda w: hazard(w),
        HAZARD_READERS,
    ),
    Case(
        "other's hazard's history",
        "GET",
        "/api/v1/hazards/{id}/history",
        lambda w: hazard(w, "b"),
        HAZARD_OTHERS,
    ),
    Case(
        "list a hazard",
        "POST",
        "/api/v1/hazards",
        hazard_lift,
        {"admin": 201, "inspector": 201, "company_a": 201, "owner_a": 201, "station_a": 403},
        body=lambda w: {**HAZARD_BODY, "equipment_id": w["hazard_lift"]},
    ),
    Case(
        "list a hazard on another's lift",
        "POST",
        "/api/v1/hazards",
        lambda w: hazard_lift(w, "b"),
        {"admin": 201, "inspector": 201, "company_a": 404, "owner_a": 404, "station_a": 403},
        body=lambda w: {**HAZARD_BODY, "equipment_id": w["hazard_lift"]},
    ),
    Case(
        "list a management hazard of another user unit",
        "POST",
        "/api/v1/hazards",
        lambda w: None,
        {"admin": 201, "inspector": 201, "company_a": 404, "owner_a": 404, "station_a": 403},
        body=lambda w: {**HAZARD_BODY, "user_unit_id": w["owner_b"]},
    ),
    Case(
        "assign a hazard",
        "POST",
        "/api/v1/hazards/{id}/actions",
        lambda w: hazard(w),
        {"admin": 200, "inspector": 200, "company_a": 403, "owner_a": 403, "station_a": 403},
        body=lambda w: {
            "action": "assign",
            "responsible_org_id": w["owner_a"],
            "responsible_person": "王经理",
            "measures": "恢复门锁",
            "deadline": str(f.today()),
            "supervising_inspector": "李检查员",
        },
    ),
    Case(
        "start rectifying own hazard",
        "POST",
        "/api/v1/hazards/{id}/actions",
        lambda w: hazard(w, assigned=True),
        {"admin": 200, "inspector": 403, "company_a": 200, "owner_a": 200, "station_a": 403},
        body=lambda w: {"action": "start"},
    ),
    Case(
        "start rectifying other's hazard",
        "POST",
        "/api/v1/hazards/{id}/actions",
        lambda w: hazard(w, "b", assigned=True),
        {"admin": 200, "inspector": 403, "company_a": 404, "owner_a": 404, "station_a": 403},
        body=lambda w: {"action": "start"},
    ),
]


async def hazard_with_evidence(w, side: str = "a") -> int:
    """A hazard of owner ``side`` with one photo (kept in ``w``: its file's path)."""
    hazard_id = await hazard(w, side)
    store = evidence_store.store_for(w["evidence_settings"])
    await hazards.add_evidence(
        SYSTEM, hazard_id, EVIDENCE_JPEG, store=store, max_bytes=2**20, now=clock.now()
    )
    return hazard_id


async def evidence_file(w, side: str = "a") -> str:
    """``<hazard>/evidence/<file>``: one evidence file of a hazard of owner ``side``."""
    hazard_id = await hazard_with_evidence(w, side)
    [row] = await hazards.list_evidence(SYSTEM, hazard_id)
    return f"{hazard_id}/evidence/{row.id}"


EVIDENCE_JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
CASES += [
    Case(
        "list own hazard's evidence",
        "GET",
        "/api/v1/hazards/{id}/evidence",
        hazard_with_evidence,
        HAZARD_READERS,
    ),
    Case(
        "list other's hazard's evidence",
        "GET",
        "/api/v1/hazards/{id}/evidence",
        lambda w: hazard_with_evidence(w, "b"),
        HAZARD_OTHERS,
    ),
    Case(
        "read own hazard's evidence file",
        "GET",
        "/api/v1/hazards/{id}",
        evidence_file,
        HAZARD_READERS,
    ),
    Case(
        "read other's hazard's evidence file",
        "GET",
        "/api/v1/hazards/{id}",
        lambda w: evidence_file(w, "b"),
        HAZARD_OTHERS,
    ),
    # The body is JSON, not a photo: a caller allowed to see the hazard is told so (422).
    Case(
        "upload evidence to own hazard",
        "POST",
        "/api/v1/hazards/{id}/evidence",
        lambda w: hazard(w),
        {"admin": 422, "inspector": 422, "company_a": 422, "owner_a": 422, "station_a": 403},
        body=lambda w: {"not": "a photo"},
    ),
    Case(
        "upload evidence to other's hazard",
        "POST",
        "/api/v1/hazards/{id}/evidence",
        lambda w: hazard(w, "b"),
        {"admin": 422, "inspector": 422, "company_a": 404, "owner_a": 404, "station_a": 403},
        body=lambda w: {"not": "a photo"},
    ),
]


async def check(w, side: str = "a", *, user_unit: bool = False) -> int:
    """A supervision check of a lift of owner ``side`` (or of the owner itself), with one
    failed item (a hazard) and one photo (kept in ``w``: the file's id)."""
    target = (
        checks.Target.user_unit(w[f"owner_{side}"])
        if user_unit
        else checks.Target.equipment(await lift(w, side))
    )
    name = "user_unit" if user_unit else "lift"
    items = [
        CheckAnswer(i.key, CheckOutcome.FAILED if n == 0 else CheckOutcome.PASSED, "x")
        for n, i in enumerate(checks.checklist_items(name))
    ]
    detail = await checks.record(SYSTEM, target, None, items, today=f.today(), now=clock.now())
    store = evidence_store.store_for(w["evidence_settings"])
    row = await checks.add_evidence(
        SYSTEM, detail.check.id, EVIDENCE_JPEG, store=store, max_bytes=2**20, now=clock.now()
    )
    w["check_evidence"] = row.id
    return detail.check.id


async def check_file(w, side: str = "a") -> str:
    check_id = await check(w, side)
    return f"{check_id}/evidence/{w['check_evidence']}"


CHECK_READERS = {**HAZARD_READERS}
CHECK_OTHERS = {**HAZARD_OTHERS}
CHECK_RECORDERS = {"admin": 201, "inspector": 201, "company_a": 403, "owner_a": 403}
ROUTINE_READERS = {"admin": 200, "inspector": 200, "company_a": 403, "owner_a": 200}
CASES += [
    Case("checklists", "GET", "/api/v1/checks/checklists", lambda w: None, CHECK_READERS),
    Case("a checklist", "GET", "/api/v1/checks/checklists/lift", lambda w: None, CHECK_READERS),
    Case("list checks", "GET", "/api/v1/checks", lambda w: check(w), CHECK_READERS),
    Case("read own check", "GET", "/api/v1/checks/{id}", lambda w: check(w), CHECK_READERS),
    Case("read other's check", "GET", "/api/v1/checks/{id}", lambda w: check(w, "b"), CHECK_OTHERS),
    # A user unit's management check: the user unit and the regulator, no company.
    Case(
        "read own management check",
        "GET",
        "/api/v1/checks/{id}",
        lambda w: check(w, user_unit=True),
        {**CHECK_READERS, "company_a": 404},
    ),
    Case(
        "read own check's file",
        "GET",
        "/api/v1/checks/{id}",
        check_file,
        CHECK_READERS,
    ),
    Case(
        "read other's check's file",
        "GET",
        "/api/v1/checks/{id}",
        lambda w: check_file(w, "b"),
        CHECK_OTHERS,
    ),
    Case(
        "record a check",
        "POST",
        "/api/v1/checks",
        hazard_lift,
        {**CHECK_RECORDERS, "station_a": 403},
        body=lambda w: {"equipment_id": w["hazard_lift"], "items": w["lift_answers"]},
    ),
    Case(
        "record a management check",
        "POST",
        "/api/v1/checks",
        lambda w: None,
        {**CHECK_RECORDERS, "station_a": 403},
        body=lambda w: {
            "user_unit_id": w["owner_b"],
            "items": [
                {"key": i.key, "outcome": "not_applicable"}
                for i in checks.checklist_items("user_unit")
            ],
        },
    ),
    Case(
        "open a check's hazards",
        "POST",
        "/api/v1/checks/{id}/hazards",
        lambda w: check(w),
        {"admin": 200, "inspector": 200, "company_a": 403, "owner_a": 403, "station_a": 403},
        body=lambda w: {},
    ),
    Case(
        "upload evidence to a check",
        "POST",
        "/api/v1/checks/{id}/evidence",
        lambda w: check(w),
        {"admin": 422, "inspector": 422, "company_a": 403, "owner_a": 403, "station_a": 403},
        body=lambda w: {"not": "a photo"},
    ),
    Case(
        "routine records",
        "GET",
        "/api/v1/routine-records",
        lambda w: None,
        {**ROUTINE_READERS, "station_a": 403},
    ),
    Case(
        "units missing routine records",
        "GET",
        "/api/v1/routine-records/missing?kind=weekly",
        lambda w: lift(w),
        {**ROUTINE_READERS, "station_a": 403},
    ),
    Case(
        "record own unit's routine",
        "POST",
        "/api/v1/routine-records",
        hazard_lift,
        {"admin": 201, "inspector": 403, "company_a": 403, "owner_a": 201, "station_a": 403},
        body=lambda w: {"equipment_id": w["hazard_lift"], "kind": "daily"},
    ),
    Case(
        "record another's unit's routine",
        "POST",
        "/api/v1/routine-records",
        lambda w: hazard_lift(w, "b"),
        {"admin": 201, "inspector": 403, "company_a": 403, "owner_a": 404, "station_a": 403},
        body=lambda w: {"equipment_id": w["hazard_lift"], "kind": "daily"},
    ),
]


# The maintenance-record templates: for whoever uploads records.
UPLOADERS = {"admin": 200, "inspector": 403, "company_a": 200, "owner_a": 403, "station_a": 403}
CASES += [
    Case(
        f"maintenance record template ({kind})",
        "GET",
        f"/api/v1/maintenance/records/template.{kind}",
        lambda w: None,
        UPLOADERS,
    )
    for kind in ("xlsx", "csv")
]

# Every role that reads units reads their grades; the call centre reads no unit (403).
RISK_LISTS = {role: 200 for role in ROLES if role != "call_centre"}
CASES += [
    Case("risk grade of own lift", "GET", "/api/v1/risk/units/{id}", lift, READ_OK),
    Case(
        "risk grade of other's lift",
        "GET",
        "/api/v1/risk/units/{id}",
        lambda w: lift(w, "b"),
        {"admin": 200, "inspector": 200, "company_a": 404, "owner_a": 404, "station_a": 404},
    ),
    # Lists by grade: everyone who reads units gets their own units' grades (scope is
    # test_risk.py's), never another's.
    Case("units by risk grade", "GET", "/api/v1/risk/units?grade=red", lift, RISK_LISTS),
    Case(
        "risk grade changes",
        "GET",
        "/api/v1/risk/changes?since=2020-01-01T00:00:00%2B08:00",
        lift,
        RISK_LISTS,
    ),
    Case("user units' risk grades", "GET", "/api/v1/risk/user-units", lift, RISK_LISTS),
    Case("areas' risk grades", "GET", "/api/v1/risk/areas", lift, RISK_LISTS),
]


async def citizen_report(w) -> int:
    """A report the public sent about owner a's lift (one per role: each from its own
    address, under the per-client rate limit)."""
    w["reports_sent"] = w.get("reports_sent", 0) + 1
    got = await citizen_reports.submit(
        await lift(w),
        ReportInput("strange_noise", "异响", ""),
        client_address=f"10.9.8.{w['reports_sent']}",
        lang="zh-CN",
        now=clock.now(),
        limits=PublicSettings(form_secret="access-matrix-form-secret"),
    )
    return got.id


# Credit classes and random inspections (issue 22): the bureau reads any enterprise's
# class and an enterprise its own (another's: 404); only the bureau plans and draws; task
# lists answer each role its own (tests/integration/test_draws.py checks the contents).
CASES += [
    Case(
        "read an enterprise's credit class",
        "GET",
        "/api/v1/credit/{id}",
        lambda w: w["owner_a"],
        {
            "admin": 200,
            "inspector": 200,
            "company_a": 404,
            "owner_a": 200,
            "station_a": 404,
            "call_centre": 403,
        },
    ),
    Case(
        "create a draw plan",
        "POST",
        "/api/v1/draws/plans",
        lambda w: None,
        {**everyone(403), "admin": 201},
        body=lambda w: {
            "title": "抽查计划",
            "enterprise_kinds": ["user_unit"],
            "checklist": "user_unit",
            "period_start": "2026-01-01",
            "period_end": "2026-12-31",
        },
    ),
    Case(
        "list draw tasks",
        "GET",
        "/api/v1/draws/tasks",
        lambda w: None,
        {**everyone(200), "call_centre": 403},
    ),
    Case(
        "results late to publish",
        "GET",
        "/api/v1/draws/tasks/late",
        lambda w: None,
        {**everyone(403), "admin": 200},
    ),
    # What the class counts: only the bureau records a penalty; the bureau and inspectors
    # read any enterprise's violations, an enterprise its own (another's: 404).
    Case(
        "record a penalty decision",
        "POST",
        "/api/v1/credit/{id}/violations",
        lambda w: w["owner_a"],
        {**everyone(403), "admin": 201},
        body=lambda w: {
            "decision_no": "襄市监特罚〔2026〕1号",
            "decided_on": "2026-01-05",
            "clause": "《特种设备安全法》第八十四条",
        },
    ),
    Case(
        "read an enterprise's violations",
        "GET",
        "/api/v1/credit/{id}/violations",
        lambda w: w["owner_a"],
        {
            "admin": 200,
            "inspector": 200,
            "company_a": 404,
            "owner_a": 200,
            "station_a": 404,
            "call_centre": 403,
        },
    ),
    Case(
        "decide a citizen report",
        "POST",
        "/api/v1/citizen-reports/{id}/finding",
        citizen_report,
        {**everyone(403), "admin": 200},
        body=lambda w: {"finding": "upheld"},
    ),
]


async def campaign(w) -> int:
    """A campaign of owner a's lift (its task is the one task)."""
    await lift(w)
    made, _ = await campaigns.create_campaign(
        SYSTEM,
        title="专项整治",
        per="unit",
        due_on=f.today(),
        selection=campaigns.Selection(categories=("3",)),
        today=f.today(),
        now=clock.now(),
    )
    return made.id


# Special campaigns and post-licence supervision (issue 22): the bureau starts campaigns
# and records licences and reports; inspectors read tasks, progress and the licence lists
# (a bound inspector's narrower view: tests/integration/test_campaigns.py); nobody else.
CAMPAIGN_READERS = {**everyone(403), "admin": 200, "inspector": 200}
CASES += [
    Case(
        "start a campaign",
        "POST",
        "/api/v1/campaigns",
        lambda w: lift(w),
        {**everyone(403), "admin": 201},
        body=lambda w: {"title": "电梯专项整治", "due_on": str(f.today()), "categories": ["3"]},
    ),
    Case("a campaign's tasks", "GET", "/api/v1/campaigns/{id}/tasks", campaign, CAMPAIGN_READERS),
    Case(
        "a campaign's progress",
        "GET",
        "/api/v1/campaigns/{id}/progress",
        campaign,
        CAMPAIGN_READERS,
    ),
    Case("the licence lists", "GET", "/api/v1/licences", lambda w: None, CAMPAIGN_READERS),
    Case(
        "record an annual report",
        "POST",
        "/api/v1/licences/reports",
        lambda w: None,
        {**everyone(403), "admin": 404},  # the body names no manufacturer
        body=lambda w: {
            "organisation_id": w["owner_a"],
            "year": 2025,
            "submitted_on": "2026-01-05",
        },
    ),
]


async def cleanup_entry(w) -> int:
    """A report the inspection body uploaded for a unit the register lacks (issue 23)."""
    result = await inspection_feed.upload(
        Principal(Role.INSPECTOR, w["body"]),
        [
            ReportRow(
                1,
                {
                    "report_no": f"JY-{f.credit_code()}",
                    "code": f.registration_code(),
                    "inspected_on": str(f.today()),
                    "conclusion": "合格",
                },
            )
        ],
        today=f.today(),
        now=clock.now(),
    )
    [(_, _, _, entry)] = result.cleanup
    return entry


# The changes feed (互联互通) and the inspection bodies' feed (归集检验数据), issue 23.
INSPECTION_FEED = {"admin": 200, "inspector": 200, "company_a": 403, "owner_a": 403}
CASES += [
    Case("changes feed", "GET", "/api/v1/changes", lambda w: None, register_roles(200)),
    Case(
        "upload inspection reports",
        "POST",
        "/api/v1/inspections/reports",
        lambda w: None,
        {**INSPECTION_FEED, "station_a": 403},
        body=lambda w: [],
    ),
    Case(
        "inspection clean-up list",
        "GET",
        "/api/v1/inspections/cleanup",
        lambda w: None,
        {**INSPECTION_FEED, "station_a": 403},
    ),
    Case(
        "dismiss a clean-up entry",
        "POST",
        "/api/v1/inspections/cleanup/{id}/dismiss",
        cleanup_entry,
        {**INSPECTION_FEED, "station_a": 403},  # the body's own entry
        body=lambda w: {"reason": "重复上传"},
    ),
    Case(
        "match a clean-up entry",
        "POST",
        "/api/v1/inspections/cleanup/{id}/match",
        cleanup_entry,
        # Past permission and scope, no unit has the code (the filing: test_inspection_feed).
        {**INSPECTION_FEED, "admin": 404, "inspector": 404, "station_a": 403},
        body=lambda w: {"code": "NO-SUCH-UNIT"},
    ),
]

# The call centre takes calls and follows alarms, nothing else of the register: every case
# above that does not name it is refused to it (403), written here once rather than in
# each row; an organisation (it has none of its own) is not found, as for anyone else's.
CASES = [
    c
    if "call_centre" in c.expected
    else replace(
        c,
        expected={
            **c.expected,
            "call_centre": 404 if c.path.startswith("/api/v1/organisations/") else 403,
        },
    )
    for c in CASES
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_role_matrix(client, world, case: Case):
    assert set(case.expected) == set(ROLES)
    got: dict[str, int] = {}
    for role in (*ROLES, "anonymous"):
        # A fresh target per role: one role's change cannot mask another's result.
        made = case.target(world)
        target = await made if hasattr(made, "__await__") else made
        path = case.path.format(id=target)
        headers = dict(world["tokens"].get(role, {}))
        if case.if_match:
            version = await client.get(path, headers=world["tokens"]["admin"])
            headers["If-Match"] = version.headers["etag"]
        body = case.body(world) if case.body else None
        response = await client.request(case.method, path, json=body, headers=headers)
        assert response.status_code < 500, response.text
        got[role] = response.status_code
    assert got == {**case.expected, "anonymous": 401}


async def test_lists_show_each_role_only_its_units(client, world):
    ids = {
        "lift_a": await lift(world),
        "lift_b": await lift(world, "b"),
        "cyl_a": await cylinder(world),
        "cyl_b": await cylinder(world, "b"),
    }
    expected = {
        "admin": set(ids),
        "inspector": set(ids),
        "company_a": {"lift_a"},
        "owner_a": {"lift_a"},
        "station_a": {"cyl_a"},
    }
    by_id = {v: k for k, v in ids.items()}
    for role, names in expected.items():
        response = await client.get("/api/v1/equipment", headers=world["tokens"][role])
        assert {by_id[u["id"]] for u in response.json()["items"]} == names, role
        due = await client.get("/api/v1/due?limit=500", headers=world["tokens"][role])
        assert {by_id[i["equipment_id"]] for i in due.json()["items"]} == names, role
        near = await client.get(
            "/api/v1/geo/nearby?lon=112.135&lat=32.045&radius_m=100&limit=500",
            headers=world["tokens"][role],
        )
        assert {by_id[u["id"]] for u in near.json()["items"]} == names, role
        inside = await client.post(
            "/api/v1/geo/within?limit=500",
            json=AREA["features"][0]["geometry"],
            headers=world["tokens"][role],
        )
        assert {by_id[u["id"]] for u in inside.json()["items"]} == names, role
        # A filter naming someone else's organisation narrows, never widens.
        other = await client.get(
            f"/api/v1/equipment?user_unit_id={world['owner_b']}", headers=world["tokens"][role]
        )
        assert {by_id[u["id"]] for u in other.json()["items"]} <= names & {"lift_b"}


async def test_organisation_list_is_scoped(client, world):
    for role, count in (("admin", 7), ("inspector", 7), ("owner_a", 1), ("station_a", 1)):
        response = await client.get("/api/v1/organisations", headers=world["tokens"][role])
        assert len(response.json()["items"]) == count, role


async def test_revoked_token_is_refused(client, world):
    token = await f.token(Role.USER_UNIT, world["owner_a"])
    assert (await client.get("/api/v1/me", headers=token)).status_code == 200
    me = [
        t
        for t in (await client.get("/api/v1/tokens", headers=world["tokens"]["admin"])).json()
        if t["prefix"] == token["Authorization"].split()[1][:12]
    ]
    assert len(me) == 1
    revoked = await client.delete(f"/api/v1/tokens/{me[0]['id']}", headers=world["tokens"]["admin"])
    assert revoked.status_code == 204
    assert (await client.get("/api/v1/me", headers=token)).status_code == 401


async def test_token_listing_never_shows_hashes_or_secrets(client, world):
    listing = (await client.get("/api/v1/tokens", headers=world["tokens"]["admin"])).json()
    assert listing and all("hash" not in key for t in listing for key in t)
    for t in listing:
        assert len(t["prefix"]) <= 12


# Routes whose 200 is a stream that never ends: the client here (the app in this event
# loop) cannot read one, so each is classified here and its access tested where it is
# read from a running server. Every role may follow its own alarms (ALARM_READ); what
# each sees is scoped per event (tests/integration/test_alarm_stream.py).
STREAMED = {"/api/v1/alarms/stream": "tests/integration/test_alarm_stream.py"}


async def test_streams_refuse_a_caller_without_a_token(client, world):
    for path in STREAMED:
        assert (await client.get(path)).status_code == 401
        bad = await client.get(path, headers={**world["tokens"]["admin"], "Last-Event-ID": "x"})
        assert bad.status_code == 422


# ---- jurisdiction (属地监管): an inspector bound to districts or areas ----------------


async def jurisdiction_token(w, jurisdiction: str) -> dict[str, str]:
    secret, _ = await tokens.create_token(
        SYSTEM,
        role=Role.INSPECTOR,
        organisation_id=w["body"],
        label="bound",
        now=clock.now(),
        jurisdiction=Jurisdiction.parse(jurisdiction),
    )
    return {"Authorization": f"Bearer {secret}"}


async def test_an_inspector_bound_to_a_district_or_an_area_sees_only_the_units_inside(
    client, world
):
    # Fancheng (420606) inside the test area; Xiangcheng (420602) inside and outside it.
    inside = await lift(world)  # 420606, in the area
    other_district = await f.unit(
        world["owner_a"], district_code="420602", longitude=112.20, latitude=32.00
    )
    in_area_other_district = await f.unit(world["owner_a"], district_code="420602")
    area_id = await area(world)  # adds one more 420606 lift in the area
    now = clock.now()
    for unit_id in (inside, other_district["id"]):
        await alarms.raise_alarm(
            SYSTEM, unit_id, kind="entrapment", raised_at=now, source="manual", now=now
        )
    cases = {
        "420606": lambda ids: (
            other_district["id"] not in ids
            and in_area_other_district["id"] not in ids
            and inside in ids
        ),
        "420602": lambda ids: ids == {other_district["id"], in_area_other_district["id"]},
        f"area:{area_id}": lambda ids: (
            other_district["id"] not in ids and {inside, in_area_other_district["id"]} <= ids
        ),
    }
    for jurisdiction, sees in cases.items():
        token = await jurisdiction_token(world, jurisdiction)
        listed = await client.get("/api/v1/equipment?limit=500", headers=token)
        ids = {u["id"] for u in listed.json()["items"]}
        assert sees(ids), (jurisdiction, ids)
        due = await client.get("/api/v1/due?limit=500", headers=token)
        assert {i["equipment_id"] for i in due.json()["items"]} <= ids, jurisdiction
        # The summary's inspections query joins the units as ``e``: its scope is written
        # for those columns, not the due dates'.
        summary = await client.get("/api/v1/due/summary", headers=token)
        assert summary.status_code == 200, (jurisdiction, summary.text)
        districts = {u["district_code"] for u in listed.json()["items"]}
        assert {r["district_code"] for r in summary.json()} <= districts, jurisdiction
        raised = await client.get("/api/v1/alarms", headers=token)
        assert {a["equipment_id"] for a in raised.json()["items"]} <= ids, jurisdiction
        near = await client.get(
            "/api/v1/geo/nearby?lon=112.17&lat=32.02&radius_m=10000&limit=500", headers=token
        )
        assert {u["id"] for u in near.json()["items"]} == ids, jurisdiction
        for unit_id in (inside, other_district["id"], in_area_other_district["id"]):
            one = await client.get(f"/api/v1/equipment/{unit_id}", headers=token)
            assert one.status_code == (200 if unit_id in ids else 404), (jurisdiction, unit_id)
            history = await client.get(f"/api/v1/equipment/{unit_id}/status-history", headers=token)
            assert history.status_code == (200 if unit_id in ids else 404), (jurisdiction, unit_id)


async def test_only_an_inspector_token_takes_a_jurisdiction(engine):
    with pytest.raises(InvalidValue):
        await tokens.create_token(
            SYSTEM,
            role=Role.ADMIN,
            organisation_id=None,
            label="",
            now=clock.now(),
            jurisdiction=Jurisdiction.parse("420602"),
        )
