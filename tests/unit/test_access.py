"""Roles, permissions and the units each principal can see (least privilege)."""

from __future__ import annotations

import pytest

from equipment.domain.access import (
    ROLE_ORG_KIND,
    ROLES_NEEDING_ORG,
    SYSTEM,
    EquipmentScope,
    Jurisdiction,
    OrgKind,
    Permission,
    Principal,
    Role,
    ScopeKind,
    check_jurisdiction,
)
from equipment.domain.errors import Forbidden, InvalidValue

ALL_PERMISSIONS = {
    "org.create",
    "org.read_all",
    "org.update_any",
    "org.update_own_contact",
    "equipment.read",
    "equipment.create",
    "equipment.edit_description",
    "equipment.edit_regulatory",
    "equipment.register",
    "equipment.suspend_resume",
    "equipment.change_maintainer",
    "history.read",
    "inspection.record",
    "due.read",
    "contract.manage",
    "contract.read",
    "maintenance.upload",
    "maintenance.read",
    "alarm.read",
    "alarm.raise",
    "alarm.respond",
    "alarm.close",
    "fill.permit",
    "fill.read",
    "joint_filling.manage",
    "ingest.read",
    "telemetry.read",
    "area.manage",
    "token.manage",
    "webhook.manage",
    "call.intake",
    "call.callback_read",
    "response_kpi.read",
    "drill.record",
    "citizen_report.read",
    "label.print",
    "account.manage",
    "hazard.read",
    "hazard.report",
    "hazard.manage",
    "hazard.rectify",
    "check.record",
    "check.read",
    "routine.record",
    "routine.read",
    "credit.read",
    "credit.manage",
    "draw.manage",
    "draw.read",
    "draw.task",
    "draw.result_own",
    "campaign.manage",
    "campaign.task",
    "licence.manage",
    "licence.read",
}

# Written out by hand: what each role may do. Not derived from PERMISSIONS.
EXPECTED: dict[str, set[str]] = {
    "admin": ALL_PERMISSIONS,
    "inspector": {
        "org.read_all",
        "equipment.read",
        "history.read",
        "inspection.record",
        "due.read",
        "contract.read",
        "maintenance.read",
        "alarm.read",
        "alarm.raise",
        "alarm.close",
        "fill.permit",
        "fill.read",
        "telemetry.read",
        "call.callback_read",
        "response_kpi.read",
        "citizen_report.read",
        "hazard.read",
        "hazard.report",
        "hazard.manage",
        "check.record",
        "check.read",
        "routine.read",
        "credit.read",
        "campaign.task",
        "licence.read",
        "draw.read",
        "draw.task",
    },
    "maintenance": {
        "org.update_own_contact",
        "equipment.read",
        "equipment.edit_description",
        "due.read",
        "contract.read",
        "maintenance.upload",
        "maintenance.read",
        "alarm.read",
        "alarm.raise",
        "alarm.respond",
        "alarm.close",
        "telemetry.read",
        "webhook.manage",
        "call.callback_read",
        "response_kpi.read",
        "drill.record",
        "hazard.read",
        "hazard.report",
        "hazard.rectify",
        "check.read",
        "credit.read",
        "draw.result_own",
    },
    "user_unit": {
        "org.update_own_contact",
        "equipment.read",
        "equipment.create",
        "equipment.edit_description",
        "equipment.suspend_resume",
        "equipment.change_maintainer",
        "history.read",
        "due.read",
        "contract.manage",
        "contract.read",
        "maintenance.read",
        "alarm.read",
        "alarm.raise",
        "telemetry.read",
        "webhook.manage",
        "drill.record",
        "label.print",
        "hazard.read",
        "hazard.report",
        "hazard.rectify",
        "check.read",
        "routine.record",
        "routine.read",
        "credit.read",
        "draw.result_own",
    },
    "station": {
        "org.update_own_contact",
        "equipment.read",
        "due.read",
        "alarm.read",
        "fill.permit",
        "fill.read",
        "webhook.manage",
        "credit.read",
        "draw.result_own",
    },
    "call_centre": {"call.intake", "call.callback_read", "alarm.read", "telemetry.read"},
}

ORG_OF = {
    "admin": None,
    "inspector": 20,
    "maintenance": 10,
    "user_unit": 1,
    "station": 30,
    "call_centre": None,
}


def principal(role: str, token_id: int | None = 7) -> Principal:
    return Principal(Role(role), ORG_OF[role], token_id)


def test_the_permission_list_is_the_documented_one():
    assert {p.value for p in Permission} == ALL_PERMISSIONS


def test_the_role_list_is_the_documented_one():
    assert {r.value for r in Role} == set(EXPECTED)


@pytest.mark.parametrize("role", sorted(EXPECTED))
@pytest.mark.parametrize("permission", sorted(ALL_PERMISSIONS))
def test_role_permission_matrix(role: str, permission: str):
    who = principal(role)
    expected = permission in EXPECTED[role]
    assert who.can(Permission(permission)) is expected
    if expected:
        who.require(Permission(permission))
    else:
        with pytest.raises(Forbidden) as caught:
            who.require(Permission(permission))
        assert role in caught.value.reason
        assert permission in caught.value.reason


def test_admin_can_everything():
    assert all(SYSTEM.can(p) for p in Permission)


def test_inspector_reads_but_does_not_write():
    inspector = principal("inspector")
    assert inspector.can(Permission.EQUIPMENT_READ)
    assert inspector.can(Permission.HISTORY_READ)
    assert inspector.can(Permission.ORG_READ_ALL)
    for write in (
        "org.create",
        "org.update_any",
        "org.update_own_contact",
        "equipment.create",
        "equipment.edit_description",
        "equipment.edit_regulatory",
        "equipment.register",
        "equipment.suspend_resume",
        "equipment.change_maintainer",
        "area.manage",
        "token.manage",
    ):
        assert not inspector.can(Permission(write)), write


def test_maintenance_edits_descriptions_only():
    maintenance = principal("maintenance")
    assert maintenance.can(Permission.EQUIPMENT_EDIT_DESCRIPTION)
    for refused in (
        "equipment.create",
        "equipment.edit_regulatory",
        "equipment.register",
        "equipment.suspend_resume",
        "equipment.change_maintainer",
    ):
        assert not maintenance.can(Permission(refused)), refused


def test_user_unit_runs_its_units_but_the_office_registers_them():
    user = principal("user_unit")
    for allowed in (
        "equipment.create",
        "equipment.suspend_resume",
        "equipment.change_maintainer",
    ):
        assert user.can(Permission(allowed)), allowed
    # register, scrap, cancel and transfer all need equipment.register
    assert not user.can(Permission.EQUIPMENT_REGISTER)
    assert not user.can(Permission.EQUIPMENT_EDIT_REGULATORY)


def test_station_only_reads_equipment():
    station = principal("station")
    equipment = {p for p in ALL_PERMISSIONS if p.startswith("equipment.")}
    assert {p for p in equipment if station.can(Permission(p))} == {"equipment.read"}


@pytest.mark.parametrize(
    ("role", "org", "scope"),
    [
        ("admin", None, EquipmentScope(ScopeKind.ALL)),
        ("inspector", 20, EquipmentScope(ScopeKind.ALL)),
        ("inspector", None, EquipmentScope(ScopeKind.ALL)),
        ("maintenance", 10, EquipmentScope(ScopeKind.MAINTENANCE_COMPANY, 10)),
        ("user_unit", 1, EquipmentScope(ScopeKind.USER_UNIT, 1)),
        ("station", 30, EquipmentScope(ScopeKind.OWNING_STATION, 30)),
    ],
)
def test_equipment_scope(role: str, org: int | None, scope: EquipmentScope):
    assert Principal(Role(role), org).equipment_scope() == scope


def test_scope_all_carries_no_organisation():
    assert Principal(Role.ADMIN, 99).equipment_scope() == EquipmentScope(ScopeKind.ALL, None)


@pytest.mark.parametrize(
    ("role", "sees_all"),
    [
        ("admin", True),
        ("inspector", True),
        ("maintenance", False),
        ("user_unit", False),
        ("station", False),
    ],
)
def test_who_sees_all_organisations(role: str, sees_all: bool):
    assert principal(role).sees_all_organisations() is sees_all


def test_role_org_kinds():
    assert ROLE_ORG_KIND == {
        Role.ADMIN: None,
        Role.INSPECTOR: OrgKind.INSPECTION_BODY,
        Role.MAINTENANCE: OrgKind.MAINTENANCE_COMPANY,
        Role.USER_UNIT: OrgKind.USER_UNIT,
        Role.STATION: OrgKind.FILLING_STATION,
        Role.CALL_CENTRE: None,
    }
    assert {r.value for r in ROLES_NEEDING_ORG} == {"maintenance", "user_unit", "station"}


@pytest.mark.parametrize(
    ("who", "actor"),
    [
        (Principal(Role.ADMIN), "system admin"),
        (Principal(Role.ADMIN, token_id=3), "token:3 admin"),
        (Principal(Role.USER_UNIT, 12, 5), "token:5 user_unit org:12"),
        (Principal(Role.STATION, 30, None), "system station org:30"),
        (Principal(Role.MAINTENANCE, 0, 0), "token:0 maintenance org:0"),  # 0 is an id too
    ],
)
def test_actor_string(who: Principal, actor: str):
    assert who.actor == actor


def test_system_is_the_registration_office():
    assert Principal(Role.ADMIN) == SYSTEM
    assert SYSTEM.actor == "system admin"


# ---- jurisdiction (属地监管): an inspector bound to districts and areas ----


def test_a_jurisdiction_parses_districts_and_areas_and_prints_back_the_same():
    parsed = Jurisdiction.parse(" 420606, area:12 ,420602,area:3,")
    assert parsed == Jurisdiction(frozenset({"420602", "420606"}), frozenset({3, 12}))
    assert str(parsed) == "420602,420606,area:3,area:12"
    assert Jurisdiction.parse(str(parsed)) == parsed


@pytest.mark.parametrize("text", ["", " ", ",", " , "])
def test_no_item_is_no_jurisdiction(text: str):
    assert Jurisdiction.parse(text) is None


@pytest.mark.parametrize("text", ["42060", "4206021", "area:", "area:x", "street:1", "xiangyang"])
def test_a_jurisdiction_item_is_a_district_code_or_an_area_id(text: str):
    with pytest.raises(InvalidValue) as refused:
        Jurisdiction.parse(text)
    assert refused.value.field == "jurisdiction"


def test_a_bound_inspector_has_a_scope_of_its_own_kind_not_all():
    where = Jurisdiction(frozenset({"420602"}))
    scope = Principal(Role.INSPECTOR, 7, jurisdiction=where).equipment_scope()
    assert scope == EquipmentScope(ScopeKind.JURISDICTION, jurisdiction=where)
    assert scope.kind is not ScopeKind.ALL


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.INSPECTOR])
def test_only_an_inspector_can_be_bound(role: Role):
    where = Jurisdiction(frozenset({"420602"}))
    with pytest.raises(InvalidValue):
        check_jurisdiction(role, where)
    with pytest.raises(ValueError):
        Principal(role, 1, jurisdiction=where)


def test_an_account_is_named_in_the_audit_trail():
    assert Principal(Role.INSPECTOR, 5, account_id=9).actor == "account:9 inspector org:5"
