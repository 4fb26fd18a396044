"""Rows from the services to response structs: the one place that decides what is shown."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from equipment.api import schemas
from equipment.domain import catalogue, labels
from equipment.domain.fills import verdict_label
from equipment.domain.risk import GRADE_ORDER as RISK_GRADES
from equipment.i18n import DEFAULT
from equipment.i18n.spoken import speak
from equipment.storage.tokens import TokenRecord
from geo.areas import feature_collection, geometry_to_geojson, parse_polygonal, point_feature
from geo.crs import check_crs

# The *_label fields: a stable code's words in the caller's language (zh-CN unless asked
# otherwise), from the domain's label tables; the code itself stays the JSON value.


def organisation(row: Mapping[str, Any], lang: str) -> schemas.Organisation:
    values = {f: row[f] for f in schemas.Organisation.__struct_fields__ if f in row}
    values["kind_label"] = labels.label(labels.ORG_KIND, row["kind"], lang)
    return schemas.Organisation(**values)


def _category_label(found: catalogue.Category, lang: str) -> str:
    return found.name_en if lang == "en" and found.name_en else found.name_zh


def equipment(row: Mapping[str, Any], lang: str) -> schemas.Equipment:
    values = {
        f: row[f]
        for f in schemas.Equipment.__struct_fields__
        if f in row and f not in ("parameters",)
    }
    cat = catalogue.category(row["category"])
    values.update(
        status_label=labels.label(labels.STATUS, row["status"], lang),
        category_label=_category_label(cat, lang),
        category_name=cat.name_zh,
        user_unit_id=row["user_unit"],
        maintenance_company_id=row["maintenance_company"],
        owning_station_id=row["owning_station"],
        parameters=row["parameters"] or {},
        cylinder_use=row.get("cylinder_use"),
    )
    graded = row.get("risk_graded_at") is not None
    values.update(
        risk_grade=RISK_GRADES[int(row["risk_rank"])].value if graded else None,
        risk_points=row["risk_points"] if graded else None,
    )
    return schemas.Equipment(**values)


def status_change(row: Mapping[str, Any], lang: str) -> schemas.StatusChange:
    values = {f: row[f] for f in schemas.StatusChange.__struct_fields__ if f in row}
    values.update(
        action_label=labels.label(labels.STATUS_ACTION, row["action"], lang),
        from_status_label=labels.label(labels.STATUS, row["from_status"], lang),
        to_status_label=labels.label(labels.STATUS, row["to_status"], lang),
    )
    return schemas.StatusChange(**values)


def audit_entry(row: Mapping[str, Any]) -> schemas.AuditEntry:
    return schemas.AuditEntry(**{f: row[f] for f in schemas.AuditEntry.__struct_fields__})


def token(row: TokenRecord) -> schemas.Token:
    return schemas.Token(
        id=row.id,
        prefix=row.prefix,
        role=row.role,
        organisation_id=row.organisation,
        label=row.label,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def category(cat: catalogue.Category) -> schemas.Category:
    return schemas.Category(
        code=cat.code,
        name_zh=cat.name_zh,
        name_en=cat.name_en,
        family=cat.family.value if cat.family else "",
        parent=cat.parent,
    )


def inspection(row: Mapping[str, Any], lang: str) -> schemas.InspectionRecord:
    values = {f: row[f] for f in schemas.InspectionRecord.__struct_fields__ if f in row}
    values.update(
        kind_label=labels.label(labels.DUE_KIND, row["kind"], lang),
        conclusion_label=labels.label(labels.CONCLUSION, row["conclusion"], lang),
        equipment_id=row["equipment"],
        inspection_body_id=row["inspection_body"],
        superseded=row.get("superseded", False),
    )
    return schemas.InspectionRecord(**values)


def _due(due: Any, lang: str) -> schemas.DueExplained:
    values = asdict(due)
    values["explanation"] = speak(lang, values["explanation"])
    values["kind_label"] = labels.label(labels.DUE_KIND, values["kind"], lang)
    return schemas.DueExplained(**values)


def schedule(s: Any, lang: str) -> schemas.ScheduleView:
    """A unit's schedule; explanations, reasons and notes in the caller's language."""
    return schemas.ScheduleView(
        as_of=s.as_of,
        status=s.status,
        due=[_due(d, lang) for d in s.due],
        dormant=[_due(d, lang) for d in s.dormant],
        next_periodic=_due(s.next_periodic, lang) if s.next_periodic else None,
        overdue=list(s.overdue),
        not_fit_for_use=s.not_fit_for_use,
        not_fit_reasons=[speak(lang, r) for r in s.not_fit_reasons],
        needs_inspection_before_resume=s.needs_inspection_before_resume,
        notes=[speak(lang, n) for n in s.notes],
    )


def due_item(item: Mapping[str, Any], lang: str) -> schemas.DueItem:
    values = {f: item[f] for f in schemas.DueItem.__struct_fields__ if f in item}
    values.update(
        user_unit_id=item["user_unit"], maintenance_company_id=item["maintenance_company"]
    )
    if isinstance(values.get("explanation"), str):
        values["explanation"] = speak(lang, values["explanation"])
    values.update(
        kind_label=labels.label(labels.DUE_KIND, item["kind"], lang),
        state_label=labels.label(labels.DUE_STATE, item["state"], lang),
        status_label=labels.label(labels.STATUS, item["status"], lang),
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
    "minutes",
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


def upload_report(result: Any, lang: str) -> schemas.UploadReport:
    """An upload's report; each rejected row's reason in the caller's language."""
    return schemas.UploadReport(
        received=result.received,
        stored=result.stored,
        duplicates=result.duplicates,
        rejected=[
            schemas.Rejected(row, speak(lang, reason), field)
            for row, reason, field in result.rejected
        ],
    )


def maintenance_record(row: dict[str, Any], lang: str) -> schemas.MaintenanceRecordView:
    values = {f: row[f] for f in schemas.MaintenanceRecordView.__struct_fields__ if f in row}
    values["equipment_id"] = row["equipment"]
    values["level_label"] = labels.label(labels.MAINTENANCE_LEVEL, row["level"], lang)
    return schemas.MaintenanceRecordView(**values)


def alarm(row: Mapping[str, Any]) -> schemas.AlarmView:
    values = {f: row[f] for f in schemas.AlarmView.__struct_fields__ if f in row}
    values.update(
        equipment_id=row["equipment"],
        maintenance_company_id=row["maintenance_company"],
        station_id=row.get("station"),
        fill_id=row.get("fill"),
    )
    return schemas.AlarmView(**values)


def verdict_reasons(reasons: list[dict[str, Any]], lang: str) -> list[schemas.VerdictReason]:
    """A verdict's reasons with ``text`` in the caller's language (codes stay)."""
    return [
        schemas.VerdictReason(
            code=r["code"],
            name=r["name"],
            text=speak(lang, r["text"]),
            text_zh=r.get("text_zh") or speak("zh-CN", r["text"]),
        )
        for r in reasons
    ]


def fill(row: Mapping[str, Any], lang: str) -> schemas.FillView:
    values = {f: row[f] for f in schemas.FillView.__struct_fields__ if f in row}
    reasons = row["reasons"]
    if isinstance(reasons, str):
        reasons = json.loads(reasons)
    values.update(
        station_id=row["station"],
        cylinder_id=row["cylinder"],
        verdict_label=verdict_label(row["verdict"], lang),
        reasons=verdict_reasons(reasons or [], lang),
    )
    return schemas.FillView(**values)


def fill_permit(answer: dict[str, Any], lang: str) -> schemas.FillPermit:
    fields = schemas.FillPermit.__struct_fields__
    return schemas.FillPermit(
        **{k: v for k, v in answer.items() if k in fields and k != "reasons"},
        label=verdict_label(answer["code"], lang),
        reasons=verdict_reasons(answer["reasons"], lang),
    )


def cylinder_trace(trace: dict[str, Any], lang: str) -> schemas.CylinderTrace:
    facts, state = trace["cylinder"], trace["state"] or {}
    return schemas.CylinderTrace(
        cylinder_id=facts.id,
        cylinder_code=facts.code,
        status=facts.status,
        status_label=labels.label(labels.STATUS, facts.status, lang),
        medium=facts.medium,
        next_periodic_due=facts.next_periodic_due,
        end_of_service_life=facts.end_of_service_life,
        fill_count=state.get("fill_count", 0),
        last_filled_at=state.get("last_filled_at"),
        last_station_code=state.get("last_station_code"),
        fills=[fill(r, lang) for r in trace["fills"]],
    )


def joint_filling(row: dict[str, Any]) -> schemas.JointFilling:
    return schemas.JointFilling(
        id=row["id"],
        owner_station_id=row["owner_station"],
        filling_station_id=row["filling_station"],
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        created_at=row["created_at"],
    )


def entrustment(row: dict[str, Any]) -> schemas.Entrustment:
    return schemas.Entrustment(
        id=row["id"],
        owner_id=row["owner"],
        filling_station_id=row["filling_station"],
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        created_at=row["created_at"],
    )


def lift_state(row: dict[str, Any]) -> schemas.LiftLiveState:
    values = {f: row[f] for f in schemas.LiftLiveState.__struct_fields__ if f in row}
    return schemas.LiftLiveState(**values, equipment_id=row["equipment"])


def dead_letter(row: Mapping[str, Any]) -> schemas.DeadLetterView:
    raw = bytes(row["payload"] or b"")
    try:
        payload, encoding = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        payload, encoding = raw.hex(), "hex"
    values = {f: row[f] for f in schemas.DeadLetterView.__struct_fields__ if f in row}
    values.update(payload=payload, payload_encoding=encoding)
    return schemas.DeadLetterView(**values)


def area(row: Mapping[str, Any]) -> schemas.Area:
    values = {f: row[f] for f in schemas.Area.__struct_fields__ if f in row}
    values["bbox"] = [row["min_lon"], row["min_lat"], row["max_lon"], row["max_lat"]]
    return schemas.Area(**values)


def _geometry(row: Mapping[str, Any], crs: str = "wgs84") -> dict[str, Any]:
    """The stored GeoJSON geometry (WGS-84), or the same shape in ``crs`` for map widgets."""
    stored = row["geometry"]
    geometry = json.loads(stored) if isinstance(stored, str) else stored
    if crs == "wgs84":
        return geometry
    shape, _ = parse_polygonal(geometry)
    return geometry_to_geojson(shape, check_crs(crs))


def area_detail(row: dict[str, Any]) -> schemas.AreaDetail:
    base = area(row)
    values = {f: getattr(base, f) for f in schemas.Area.__struct_fields__}
    return schemas.AreaDetail(**values, geometry=_geometry(row))


AREA_PROPERTIES = ("code", "year_built", "households", "renovation_programme", "renovation_year")


def area_feature(row: Mapping[str, Any], crs: str = "wgs84") -> dict[str, Any]:
    """An area as a GeoJSON Feature that the import reads back (``id`` is its key)."""
    properties: dict[str, Any] = {"area_id": row["id"], "kind": row["kind"], "name": row["name"]}
    properties.update({p: row[p] for p in AREA_PROPERTIES if row[p] is not None})
    return {
        "type": "Feature",
        "id": row["key"],
        "geometry": _geometry(row, crs),
        "properties": properties,
    }


def area_collection(
    rows: Sequence[Mapping[str, Any]], crs: str = "wgs84", next_cursor: str | None = None
) -> schemas.FeatureCollection:
    return schemas.FeatureCollection(
        "FeatureCollection", [area_feature(r, crs) for r in rows], next_cursor
    )


def import_report(report: Any) -> schemas.AreaImportReport:
    moved = report.reassignment
    return schemas.AreaImportReport(
        received=report.received,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        rejected=[schemas.AreaRejection(r.index, r.reason) for r in report.rejected],
        repaired=list(report.repaired),
        reassignment=reassignment(moved) if moved is not None else None,
    )


def reassignment(result: Any) -> schemas.Reassignment:
    return schemas.Reassignment(
        areas=result.areas,
        located_units=result.located_units,
        memberships=result.memberships,
        added=result.added,
        removed=result.removed,
        seconds=round(result.seconds, 3),
    )


def area_summary(row: dict[str, Any]) -> schemas.AreaSummaryRow:
    values = {f: row[f] for f in schemas.AreaSummaryRow.__struct_fields__ if f in row}
    rank = int(row["risk_rank"])
    values["risk_grade"] = RISK_GRADES[rank].value if rank >= 0 else None
    return schemas.AreaSummaryRow(**values, area_id=row["id"])


# What a unit's map point carries: enough to label and filter it, nothing personal.
UNIT_FEATURE_FIELDS = (
    "code",
    "category",
    "category_name",
    "status",
    "address",
    "district_code",
    "commissioning_date",
    "next_inspection_due",
    "not_fit_for_use",
    "last_maintenance_on",
    "user_unit_id",
    "maintenance_company_id",
)


def unit_feature(row: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    unit = equipment(row, DEFAULT)  # a point's properties carry no label
    properties = {"id": unit.id, **{f: getattr(unit, f) for f in UNIT_FEATURE_FIELDS}, **extra}
    # Only units with a position are mapped (the geo queries select them).
    assert unit.longitude is not None and unit.latitude is not None
    return point_feature(unit.longitude, unit.latitude, properties, feature_id=unit.id)


def unit_collection(
    rows: Sequence[Mapping[str, Any]], *, next_cursor: str | None = None, total: int | None = None
) -> schemas.FeatureCollection:
    """Units as GeoJSON points; a unit without a location cannot be a point and is left out."""
    features = [unit_feature(r) for r in rows if r["longitude"] is not None]
    return schemas.FeatureCollection("FeatureCollection", features, next_cursor, total)


def nearby(result: Any, lang: str) -> schemas.NearbyPage:
    items = []
    for row, distance in result.items:
        base = equipment(row, lang)
        values = {f: getattr(base, f) for f in schemas.Equipment.__struct_fields__}
        items.append(schemas.NearbyEquipment(**values, distance_m=round(distance, 3)))
    return schemas.NearbyPage(result.total, items)


def nearby_collection(result: Any) -> schemas.FeatureCollection:
    features = [unit_feature(row, distance_m=round(d, 3)) for row, d in result.items]
    return schemas.FeatureCollection("FeatureCollection", features, total=result.total)


def box_view(view: Any, lang: str) -> schemas.BoxView:
    return schemas.BoxView(
        total=view.total,
        clustered=view.cell_deg is not None,
        cell_deg=view.cell_deg,
        items=[equipment(r, lang) for r in view.units],
        clusters=[
            schemas.Cluster(c.lon, c.lat, c.count, list(c.bbox), member_id)
            for c, member_id in view.clusters
        ],
    )


def box_collection(view: Any) -> schemas.FeatureCollection:
    """Unit points, or cluster points (properties ``cluster``, ``count``, ``member_id``)."""
    if view.cell_deg is None:
        return unit_collection(view.units, total=view.total)
    features = []
    for cluster, member_id in view.clusters:
        feature = cluster.feature()
        feature["properties"]["member_id"] = member_id
        features.append(feature)
    return schemas.FeatureCollection(**feature_collection(features), total=view.total)
