"""Rows from the services to response structs: the one place that decides what is shown."""

from __future__ import annotations

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


def public_equipment(row: dict[str, Any]) -> schemas.PublicEquipment:
    return schemas.PublicEquipment(
        code=row["code"],
        category=row["category"],
        category_name=catalogue.category(row["category"]).name_zh,
        address=row["address"],
        status=row["status"],
        registered=row["status"] in (Status.IN_USE, Status.SUSPENDED),
        next_inspection_due=row["next_inspection_due"],
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
