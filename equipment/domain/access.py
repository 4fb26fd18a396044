"""Who may do what: roles, their permissions, and which units each principal can see.

Least privilege: a maintenance company sees the units it maintains, a user unit its own,
a station its own cylinders. Objects outside a principal's scope are reported as not
found, so their existence does not leak.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from equipment.domain.errors import Forbidden, InvalidValue


class Role(StrEnum):
    ADMIN = "admin"  # the regulator's registration office
    INSPECTOR = "inspector"
    MAINTENANCE = "maintenance"
    USER_UNIT = "user_unit"
    STATION = "station"
    CALL_CENTRE = "call_centre"  # the city's 96333 lift-emergency line


class OrgKind(StrEnum):
    USER_UNIT = "user_unit"
    MAINTENANCE_COMPANY = "maintenance_company"
    INSPECTION_BODY = "inspection_body"
    FILLING_STATION = "filling_station"
    # Licensed producers (证后监管): no role logs in as one yet.
    MANUFACTURER = "manufacturer"
    INSTALLER = "installer"


# The organisation kind a role's token must be bound to (None: no organisation needed).
ROLE_ORG_KIND: dict[Role, OrgKind | None] = {
    Role.ADMIN: None,
    Role.INSPECTOR: OrgKind.INSPECTION_BODY,
    Role.MAINTENANCE: OrgKind.MAINTENANCE_COMPANY,
    Role.USER_UNIT: OrgKind.USER_UNIT,
    Role.STATION: OrgKind.FILLING_STATION,
    Role.CALL_CENTRE: None,  # the city's one line, not an organisation of the register
}
ROLES_NEEDING_ORG = frozenset({Role.MAINTENANCE, Role.USER_UNIT, Role.STATION})


class Permission(StrEnum):
    ORG_CREATE = "org.create"
    ORG_READ_ALL = "org.read_all"
    ORG_UPDATE_ANY = "org.update_any"
    ORG_UPDATE_OWN_CONTACT = "org.update_own_contact"
    EQUIPMENT_READ = "equipment.read"
    EQUIPMENT_CREATE = "equipment.create"
    EQUIPMENT_EDIT_DESCRIPTION = "equipment.edit_description"
    EQUIPMENT_EDIT_REGULATORY = "equipment.edit_regulatory"
    EQUIPMENT_REGISTER = "equipment.register"  # register, scrap, cancel, transfer
    EQUIPMENT_SUSPEND_RESUME = "equipment.suspend_resume"
    EQUIPMENT_CHANGE_MAINTAINER = "equipment.change_maintainer"
    HISTORY_READ = "history.read"
    INSPECTION_RECORD = "inspection.record"
    DUE_READ = "due.read"
    CONTRACT_MANAGE = "contract.manage"
    CONTRACT_READ = "contract.read"
    MAINTENANCE_UPLOAD = "maintenance.upload"
    MAINTENANCE_READ = "maintenance.read"
    ALARM_READ = "alarm.read"
    ALARM_RAISE = "alarm.raise"
    ALARM_RESPOND = "alarm.respond"
    ALARM_CLOSE = "alarm.close"
    FILL_PERMIT = "fill.permit"  # ask the interlock before filling
    FILL_READ = "fill.read"  # fills and cylinder traces
    JOINT_FILLING_MANAGE = "joint_filling.manage"
    INGEST_READ = "ingest.read"  # dead letters and unknown codes: the register's clean-up list
    TELEMETRY_READ = "telemetry.read"  # a lift's live state
    AREA_MANAGE = "area.manage"  # import areas (GeoJSON) and reassign units to them
    TOKEN_MANAGE = "token.manage"
    # Webhook endpoints: an organisation its own, the bureau any and its duty desks.
    WEBHOOK_MANAGE = "webhook.manage"
    CALL_INTAKE = "call.intake"  # enter a 96333 call for a lift
    # A caller's callback number: the responders and the bureau only (personal data).
    CALL_CALLBACK_READ = "call.callback_read"
    RESPONSE_KPI_READ = "response_kpi.read"  # entrapment response figures (own, or all)
    DRILL_RECORD = "drill.record"  # record an emergency drill held on a unit
    CITIZEN_REPORT_READ = "citizen_report.read"  # reports the public sent from a unit's page
    LABEL_PRINT = "label.print"  # the printable sheet of 使用标志 with QR codes
    ACCOUNT_MANAGE = "account.manage"  # people's log-in accounts (the admin's page, CLI)
    # Hazards (隐患) and 一单四制: read those in scope, list one, the regulator's steps
    # (assign, verify, send back), the responsible party's (start, submit).
    HAZARD_READ = "hazard.read"
    HAZARD_REPORT = "hazard.report"
    HAZARD_MANAGE = "hazard.manage"
    HAZARD_RECTIFY = "hazard.rectify"
    # Credit classes (信用风险分类): read (the bureau any, an enterprise its own), override.
    CREDIT_READ = "credit.read"
    CREDIT_MANAGE = "credit.manage"
    # 双随机、一公开: plans, the roster and draws (the bureau); tasks (the drawn inspectors);
    # an enterprise's own results (DRAW_RESULT_OWN).
    DRAW_MANAGE = "draw.manage"
    DRAW_READ = "draw.read"
    DRAW_TASK = "draw.task"
    DRAW_RESULT_OWN = "draw.result_own"
    # On-site supervision checks (监督检查): the regulator records them; the checked user
    # unit and the maintenance company of a checked unit read them.
    CHECK_RECORD = "check.record"
    CHECK_READ = "check.read"
    # The user unit's own routine records (日管控、周排查、月调度) and the missing list.
    ROUTINE_RECORD = "routine.record"
    ROUTINE_READ = "routine.read"
    # Special campaigns (专项整治 / 回头看): the bureau starts them; inspectors work their
    # tasks and read the progress (a bound inspector: inside his jurisdiction).
    CAMPAIGN_MANAGE = "campaign.manage"
    CAMPAIGN_TASK = "campaign.task"
    # Post-licence supervision (证后监管): the bureau records licences, installations and
    # annual reports; inspectors read the lists.
    LICENCE_MANAGE = "licence.manage"
    LICENCE_READ = "licence.read"


P = Permission
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.INSPECTOR: frozenset(
        {
            P.ORG_READ_ALL,
            P.EQUIPMENT_READ,
            P.HISTORY_READ,
            P.INSPECTION_RECORD,
            P.DUE_READ,
            P.CONTRACT_READ,
            P.MAINTENANCE_READ,
            P.ALARM_READ,
            P.ALARM_RAISE,
            P.ALARM_CLOSE,
            P.FILL_PERMIT,
            P.FILL_READ,
            P.TELEMETRY_READ,
            P.CALL_CALLBACK_READ,
            P.RESPONSE_KPI_READ,
            P.CITIZEN_REPORT_READ,
            P.HAZARD_READ,
            P.HAZARD_REPORT,
            P.HAZARD_MANAGE,
            P.CREDIT_READ,
            P.DRAW_READ,
            P.DRAW_TASK,
            P.CHECK_RECORD,
            P.CHECK_READ,
            P.ROUTINE_READ,
            P.CAMPAIGN_TASK,
            P.LICENCE_READ,
        }
    ),
    Role.MAINTENANCE: frozenset(
        {
            P.ORG_UPDATE_OWN_CONTACT,
            P.EQUIPMENT_READ,
            P.EQUIPMENT_EDIT_DESCRIPTION,
            P.DUE_READ,
            P.CONTRACT_READ,
            P.MAINTENANCE_UPLOAD,
            P.MAINTENANCE_READ,
            P.ALARM_READ,
            P.ALARM_RAISE,
            P.ALARM_RESPOND,
            P.ALARM_CLOSE,
            P.TELEMETRY_READ,
            P.WEBHOOK_MANAGE,
            P.CALL_CALLBACK_READ,
            P.RESPONSE_KPI_READ,
            P.DRILL_RECORD,
            P.HAZARD_READ,
            P.HAZARD_REPORT,
            P.HAZARD_RECTIFY,
            P.CREDIT_READ,
            P.DRAW_RESULT_OWN,
            P.CHECK_READ,
        }
    ),
    Role.USER_UNIT: frozenset(
        {
            P.ORG_UPDATE_OWN_CONTACT,
            P.EQUIPMENT_READ,
            P.EQUIPMENT_CREATE,
            P.EQUIPMENT_EDIT_DESCRIPTION,
            P.EQUIPMENT_SUSPEND_RESUME,
            P.EQUIPMENT_CHANGE_MAINTAINER,
            P.HISTORY_READ,
            P.DUE_READ,
            P.CONTRACT_MANAGE,
            P.CONTRACT_READ,
            P.MAINTENANCE_READ,
            P.ALARM_READ,
            P.ALARM_RAISE,
            P.TELEMETRY_READ,
            P.WEBHOOK_MANAGE,
            P.DRILL_RECORD,
            P.LABEL_PRINT,
            P.HAZARD_READ,
            P.HAZARD_REPORT,
            P.HAZARD_RECTIFY,
            P.CREDIT_READ,
            P.DRAW_RESULT_OWN,
            P.CHECK_READ,
            P.ROUTINE_RECORD,
            P.ROUTINE_READ,
        }
    ),
    Role.STATION: frozenset(
        {
            P.ORG_UPDATE_OWN_CONTACT,
            P.EQUIPMENT_READ,
            P.DUE_READ,
            P.ALARM_READ,
            P.FILL_PERMIT,
            P.FILL_READ,
            P.WEBHOOK_MANAGE,
            P.CREDIT_READ,
            P.DRAW_RESULT_OWN,
        }
    ),
    # Takes the call, finds the lift, follows the rescue: nothing of the register else.
    Role.CALL_CENTRE: frozenset(
        {P.CALL_INTAKE, P.CALL_CALLBACK_READ, P.ALARM_READ, P.TELEMETRY_READ}
    ),
}


class ScopeKind(StrEnum):
    ALL = "all"
    USER_UNIT = "user_unit"
    MAINTENANCE_COMPANY = "maintenance_company"
    OWNING_STATION = "owning_station"
    # An inspector bound to districts and areas (属地监管): the units in any of them. A kind
    # of its own, not ALL with a filter, so that code which only knows the other kinds
    # answers nothing for it instead of everything.
    JURISDICTION = "jurisdiction"


# The roles that may be bound to a jurisdiction.
ROLES_WITH_JURISDICTION = frozenset({Role.INSPECTOR})
_DISTRICT = re.compile(r"\d{6}")
_AREA = re.compile(r"area:(\d{1,9})")


@dataclass(frozen=True)
class Jurisdiction:
    """Where an inspector works: district codes (GB/T 2260, the register's
    ``district_code``) and area ids (streets, communities, old residential areas of the
    area import; a unit belongs to an area when it lies in it). A unit is inside when it
    is in any of them."""

    districts: frozenset[str] = frozenset()
    areas: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if not self.districts and not self.areas:
            raise ValueError("a jurisdiction names at least one district or area")

    @classmethod
    def parse(cls, text: str) -> Jurisdiction | None:
        """``"420602,420606,area:12"``; the empty text is no jurisdiction (None)."""
        districts: set[str] = set()
        areas: set[int] = set()
        for item in filter(None, (part.strip() for part in text.split(","))):
            if _DISTRICT.fullmatch(item):
                districts.add(item)
            elif match := _AREA.fullmatch(item):
                areas.add(int(match.group(1)))
            else:
                raise InvalidValue(
                    f"{item!r} is neither a 6-digit district code nor area:<id>",
                    field="jurisdiction",
                )
        if not districts and not areas:
            return None
        return cls(frozenset(districts), frozenset(areas))

    def __str__(self) -> str:
        return ",".join([*sorted(self.districts), *(f"area:{a}" for a in sorted(self.areas))])


def check_jurisdiction(role: Role, jurisdiction: Jurisdiction | None) -> None:
    if jurisdiction is not None and role not in ROLES_WITH_JURISDICTION:
        raise InvalidValue(
            f"only an inspector can be bound to a jurisdiction, not a {role.value}",
            field="jurisdiction",
        )


@dataclass(frozen=True)
class EquipmentScope:
    """The units a principal can see: all, those whose ``kind`` column equals ``org_id``,
    or (JURISDICTION) those inside ``jurisdiction``."""

    kind: ScopeKind
    org_id: int | None = None
    jurisdiction: Jurisdiction | None = None


@dataclass(frozen=True)
class Principal:
    role: Role
    organisation_id: int | None = None
    token_id: int | None = None
    jurisdiction: Jurisdiction | None = None
    account_id: int | None = None  # a person logged in to the pages (else a token or system)

    def __post_init__(self) -> None:
        # A scoped role without its organisation would compare the scope column to NULL;
        # refuse to build such a principal rather than risk a scope that widens.
        if self.role in ROLES_NEEDING_ORG and self.organisation_id is None:
            raise ValueError(f"a {self.role.value} principal needs its organisation")
        # A jurisdiction on a role that ignores it would look like a limit and be none.
        if self.jurisdiction is not None and self.role not in ROLES_WITH_JURISDICTION:
            raise ValueError(f"a {self.role.value} principal has no jurisdiction")

    @property
    def actor(self) -> str:
        """How the audit trail names this caller."""
        org = f" org:{self.organisation_id}" if self.organisation_id is not None else ""
        if self.account_id is not None:
            who = f"account:{self.account_id}"
        elif self.token_id is not None:
            who = f"token:{self.token_id}"
        else:
            who = "system"
        return f"{who} {self.role.value}{org}"

    def can(self, permission: Permission) -> bool:
        return permission in PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise Forbidden(f"the {self.role.value} role may not {permission.value}")

    def equipment_scope(self) -> EquipmentScope:
        scope_kind = _SCOPE_KINDS[self.role]
        if self.jurisdiction is not None:
            return EquipmentScope(ScopeKind.JURISDICTION, jurisdiction=self.jurisdiction)
        if scope_kind is ScopeKind.ALL:
            return EquipmentScope(ScopeKind.ALL)
        return EquipmentScope(scope_kind, self.organisation_id)

    def sees_all_organisations(self) -> bool:
        return self.can(Permission.ORG_READ_ALL)


# Which units each role sees (a table, not built per call: every scoped read asks).
_SCOPE_KINDS = {
    Role.ADMIN: ScopeKind.ALL,
    Role.INSPECTOR: ScopeKind.ALL,
    Role.MAINTENANCE: ScopeKind.MAINTENANCE_COMPANY,
    Role.USER_UNIT: ScopeKind.USER_UNIT,
    Role.STATION: ScopeKind.OWNING_STATION,
    # A trapped passenger may call about any lift of the city.
    Role.CALL_CENTRE: ScopeKind.ALL,
}

SYSTEM = Principal(Role.ADMIN)  # the CLI and the demo generator act as the registration office
