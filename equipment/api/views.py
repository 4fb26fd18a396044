"""Rows from the services to response structs: the one place that decides what is shown."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from equipment.api import schemas
from equipment.domain import catalogue
from equipment.domain.lifecycle import Status


def organisation(row: dict[str, Any]) -> schemas.Organisation:
    return schemas.Organisation(**{f: row[f] for f in schemas.Organisation.__struct_fields__})


def equipment(row: dict[str, Any]) -> schemas.Equipment:
    values = {
        f: row[f]
        for f in schemas.Equipment.__struct_fields__
        if f in row and f not in ("parameters",)
    }
    values.update(
        category_name=catalogue.category(row["category"]).name_zh,
        user_unit_id=row["user_unit"],
        maintenance_company_id=row["maintenance_company"],
        owning_station_id=row["owning_station"],
        parameters=row["parameters"] or {},
    )
    return schemas.Equipment(**values)


def public_equipment(row: dict[str, Any], today: date) -> schemas.PublicEquipment:
    return schemas.PublicEquipment(
        code=row["code"],
        category=row["category"],
        category_name=catalogue.category(row["category"]).name_zh,
        address=row["address"],
        status=row["status"],
        registered=row["status"] in (Status.IN_USE, Status.SUSPENDED),
        next_inspection_due=row["next_inspection_due"],
        inspection_overdue=(
            row["status"] == Status.IN_USE
            and row["next_inspection_due"] is not None
            and row["next_inspection_due"] < today
        ),
        maintenance_company=row["maintenance_company_name"],
        last_maintenance_on=row["last_maintenance_on"],
    )


def status_change(row: dict[str, Any]) -> schemas.StatusChange:
    return schemas.StatusChange(**{f: row[f] for f in schemas.StatusChange.__struct_fields__})


def audit_entry(row: dict[str, Any]) -> schemas.AuditEntry:
    return schemas.AuditEntry(**{f: row[f] for f in schemas.AuditEntry.__struct_fields__})


def token(row: dict[str, Any]) -> schemas.Token:
    return schemas.Token(
        id=row["id"],
        prefix=row["prefix"],
        role=row["role"],
        organisation_id=row["organisation"],
        label=row["label"],
        created_at=row["created_at"],
        revoked_at=row.get("revoked_at"),
    )


def category(cat: catalogue.Category) -> schemas.Category:
    return schemas.Category(
        code=cat.code,
        name_zh=cat.name_zh,
        name_en=cat.name_en,
        family=cat.family.value if cat.family else "",
        parent=cat.parent,
    )


def inspection(row: dict[str, Any]) -> schemas.InspectionRecord:
    values = {f: row[f] for f in schemas.InspectionRecord.__struct_fields__ if f in row}
    values.update(
        equipment_id=row["equipment"],
        inspection_body_id=row["inspection_body"],
        superseded=row.get("superseded", False),
    )
    return schemas.InspectionRecord(**values)


def _due(due: Any) -> schemas.DueExplained:
    return schemas.DueExplained(**asdict(due))


def schedule(s: Any) -> schemas.ScheduleView:
    return schemas.ScheduleView(
        as_of=s.as_of,
        status=s.status,
        due=[_due(d) for d in s.due],
        dormant=[_due(d) for d in s.dormant],
        next_periodic=_due(s.next_periodic) if s.next_periodic else None,
        overdue=list(s.overdue),
        not_fit_for_use=s.not_fit_for_use,
        not_fit_reasons=list(s.not_fit_reasons),
        needs_inspection_before_resume=s.needs_inspection_before_resume,
        notes=list(s.notes),
    )


def due_item(item: dict[str, Any]) -> schemas.DueItem:
    values = {f: item[f] for f in schemas.DueItem.__struct_fields__ if f in item}
    values.update(
        user_unit_id=item["user_unit"], maintenance_company_id=item["maintenance_company"]
    )
    return schemas.DueItem(**values)


RULE_VALUE_FIELDS = (
    "interval_years",
    "first_interval_years",
    "interval_days",
    "months",
    "min_stop_years",
    "max_total_years",
    "life_years",
    "extension_years",
    "max_life_years",
    "legacy_life_years",
    "legacy_before_year",
    "extension_window_months",
    "years",
)


def rules_view(policy: Any) -> schemas.RulesView:
    rows = []
    for row in policy.rows.values():
        values = {f: getattr(row, f) for f in RULE_VALUE_FIELDS if getattr(row, f)}
        rows.append(
            schemas.RuleView(
                key=row.key,
                kind=row.kind,
                regulation=row.regulation,
                clause=row.clause,
                tag=row.tag,
                summary=row.summary,
                values=values,
                applies_to=list(row.applies_to),
                report_date_wins=row.report_date_wins,
                overridable=row.tag != "C" or row.choice is not None,
            )
        )
    return schemas.RulesView(policy.name, rows)


def contract(row: dict[str, Any]) -> schemas.Contract:
    return schemas.Contract(
        id=row["id"],
        user_unit_id=row["user_unit"],
        maintenance_company_id=row["maintenance_company"],
        starts_on=row["starts_on"],
        ends_on=row["ends_on"],
        cycle_days=row["cycle_days"],
        on_demand=row["on_demand"],
        liability_insured=row["liability_insured"],
        licence_no=row["licence_no"],
        terminated_on=row["terminated_on"],
        equipment_ids=row["equipment_ids"],
    )


def upload_report(result: Any) -> schemas.UploadReport:
    return schemas.UploadReport(
        received=result.received,
        stored=result.stored,
        duplicates=result.duplicates,
        rejected=[schemas.Rejected(row, reason, field) for row, reason, field in result.rejected],
    )


def maintenance_record(row: dict[str, Any]) -> schemas.MaintenanceRecordView:
    values = {f: row[f] for f in schemas.MaintenanceRecordView.__struct_fields__ if f in row}
    values["equipment_id"] = row["equipment"]
    return schemas.MaintenanceRecordView(**values)


def alarm(row: dict[str, Any]) -> schemas.AlarmView:
    values = {f: row[f] for f in schemas.AlarmView.__struct_fields__ if f in row}
    values.update(equipment_id=row["equipment"], maintenance_company_id=row["maintenance_company"])
    return schemas.AlarmView(**values)
