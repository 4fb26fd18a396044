"""Response shapes of the public side and citizen reports, and their building from views.

Keys and codes stay stable English (``safety_state: "out_of_service"``); each code has its
label in the request's language beside it (``safety_label: "停止使用"``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct

from equipment.domain import citizen_reports, labels
from equipment.domain.public_safety import Condition, PublicView
from equipment.i18n import gettext
from equipment.storage.citizen_reports import ReportRow


class PublicCondition(Struct):
    state: str
    label: str
    reason: str
    since: date | None


class PublicEquipment(Struct):
    """The public's view of a unit (the QR code on a lift): organisations, never a person."""

    code: str
    category: str
    category_name: str
    address: str
    safety_state: str
    safety_label: str
    safety_reason: str
    safety_since: date | None
    safe_to_use: bool
    conditions: list[PublicCondition]
    status: str
    status_label: str  # the register status in the caller's language
    registered: bool
    next_inspection_due: date | None
    inspection_overdue: bool
    last_inspection_on: date | None
    last_inspection_conclusion: str | None
    last_inspection_conclusion_label: str | None
    user_unit: str | None
    maintenance_company: str | None
    maintenance_company_phone: str | None
    last_maintenance_on: date | None
    filling_station: str | None
    end_of_service_life: date | None
    emergency_number: str
    lang: str


def condition(item: Condition, lang: str) -> PublicCondition:
    return PublicCondition(item.state.value, item.label(lang), item.reason_text(lang), item.since)


def public_equipment(view: PublicView, lang: str) -> PublicEquipment:
    return PublicEquipment(
        code=view.code,
        category=view.category,
        category_name=view.category_name(lang),
        address=view.address,
        safety_state=view.safety.state.value,
        safety_label=view.safety.label(lang),
        safety_reason=view.safety.reason_text(lang),
        safety_since=view.safety.since,
        safe_to_use=view.safe_to_use,
        conditions=[condition(c, lang) for c in view.conditions],
        status=view.status,
        status_label=labels.label(labels.STATUS, view.status, lang),
        registered=view.registered,
        next_inspection_due=view.next_inspection_due,
        inspection_overdue=any(c.state == "inspection_overdue" for c in view.conditions),
        last_inspection_on=view.last_inspection_on,
        last_inspection_conclusion=view.last_inspection_conclusion,
        last_inspection_conclusion_label=view.conclusion_label(lang),
        user_unit=view.user_unit_name,
        maintenance_company=view.maintenance_company_name,
        maintenance_company_phone=view.maintenance_company_phone,
        last_maintenance_on=view.last_maintenance_on,
        filling_station=view.filling_station_name,
        end_of_service_life=view.end_of_service_life,
        emergency_number=view.emergency_number,
        lang=lang,
    )


class CitizenReport(Struct):
    """A report as inspectors read it (the phone is the sender's own, given optionally)."""

    id: int
    equipment_id: int
    code: str
    district_code: str
    category: str
    category_label: str
    text: str
    phone: str
    lang: str
    received_at: datetime
    finding: str  # "" until the bureau decides; upheld | not_upheld
    against_id: int | None  # the enterprise an upheld report is against
    decided_on: date | None


class FindingRequest(Struct, forbid_unknown_fields=True):
    finding: Literal["upheld", "not_upheld"]
    against_id: Annotated[int, Meta(ge=1, le=2**31 - 1)] | None = None
    note: Annotated[str, Meta(max_length=2000)] = ""


class CitizenReportPage(Struct):
    items: list[CitizenReport]
    next_before_id: int | None


class CitizenReportCount(Struct):
    equipment_id: int
    code: str
    reports: int
    last_received_at: datetime


def citizen_report(row: ReportRow, lang: str) -> CitizenReport:
    label = citizen_reports.CATEGORIES.get(row.category, row.category)
    return CitizenReport(
        id=row.id,
        equipment_id=row.equipment_id,
        code=row.code,
        district_code=row.district_code,
        category=row.category,
        category_label=gettext(lang, label),
        text=row.text,
        phone=row.phone,
        lang=row.lang,
        received_at=row.received_at,
        finding=row.finding,
        against_id=row.against,
        decided_on=row.decided_on,
    )
