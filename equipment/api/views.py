"""Rows from the services to response structs: the one place that decides what is shown."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, Literal

from litestar import Response

from equipment.api import schemas
from equipment.domain import catalogue, labels
from equipment.domain.fills import VerdictCode, verdict_label
from equipment.domain.risk import GRADE_ORDER as RISK_GRADES
from equipment.i18n import DEFAULT
from equipment.i18n.spoken import speak
from equipment.storage.alarms import AlarmRecord
from equipment.storage.areas import AreaRow
from equipment.storage.audit import AuditRow
from equipment.storage.dead_letters import DeadLetterRow
from equipment.storage.equipment import EquipmentRow, StatusChangeRow
from equipment.storage.inspections import InspectionRow
from equipment.storage.maintenance import Contract, MaintenanceRecordRow
from equipment.storage.organisations import OrganisationRow
from equipment.storage.telemetry import LiftStateRecord
from equipment.storage.tokens import TokenRecord
from geo.areas import feature_collection, geometry_to_geojson, parse_polygonal, point_feature
from geo.crs import check_crs

if TYPE_CHECKING:  # the rows the services hand over, named for the type checker
    from equipment.services.fills import CylinderTrace
    from equipment.storage.fills import EntrustmentRow, FillRow, JointFillingRow

# The *_label fields: a stable code's words in the caller's language (zh-CN unless asked
# otherwise), from the domain's label tables; the code itself stays the JSON value.


def organisation(row: OrganisationRow, lang: str) -> schemas.Organisation:
    values = {f: getattr(row, f) for f in schemas.Organisation.__struct_fields__ if hasattr(row, f)}
    values["kind_label"] = labels.label(labels.ORG_KIND, row.kind, lang)
    values["hazardous_chemicals"] = bool(row.hazardous_chemicals)  # SQLite: 0/1
    return schemas.Organisation(**values)


def _category_label(found: catalogue.Category, lang: str) -> str:
    return found.name_en if lang == "en" and found.name_en else found.name_zh


# The order of Equipment's fields, which _unit_fields gives positionally: a Struct of 37
# fields built from a dict of keywords (and, for nearby, copied field by field into a
# second one) was most of a nearby page's view (issue 19).
_EQUIPMENT_FIELDS = (
    "id",
    "code",
    "registration_code",
    "equipment_code",
    "category",
    "category_label",
    "category_name",
    "certificate_no",
    "manufacturer",
    "model",
    "serial_no",
    "manufacture_date",
    "commissioning_date",
    "registered_on",
    "address",
    "district_code",
    "longitude",
    "latitude",
    "user_unit_id",
    "maintenance_company_id",
    "owning_station_id",
    "status",
    "status_label",
    "status_since",
    "late_registration",
    "late_suspension_notice",
    "needs_inspection_before_resume",
    "parameters",
    "next_inspection_due",
    "not_fit_for_use",
    "last_maintenance_on",
    "version",
    "created_at",
    "updated_at",
    "cylinder_use",
    "risk_grade",
    "risk_points",
)
if (
    schemas.Equipment.__struct_fields__ != _EQUIPMENT_FIELDS
    or schemas.NearbyEquipment.__struct_fields__ != (*_EQUIPMENT_FIELDS, "distance_m")
):  # a reordered schema fails here, not in a response
    raise ImportError("schemas.Equipment's fields moved: update views._unit_fields to match")


@lru_cache(maxsize=16)
def _unit_words(lang: str) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """Per language, the statuses' words, and each category code's (label, Chinese name)
    as rows bring it: looked up once, not once per unit of a page."""
    return {code: labels.label(labels.STATUS, code, lang) for code in labels.STATUS}, {}


def _name_category(named: dict[str, tuple[str, str]], code: str, lang: str) -> tuple[str, str]:
    cat = catalogue.category(code)  # InvalidValue for a code not in the catalogue
    words = named[code] = (_category_label(cat, lang), cat.name_zh)
    return words


def _unit_fields(row: EquipmentRow, lang: str) -> tuple[Any, ...]:
    """A register row as Equipment's field values, in _EQUIPMENT_FIELDS' order."""
    statuses, categories = _unit_words(lang)
    category_label, category_name = categories.get(row.category) or _name_category(
        categories, row.category, lang
    )
    status = row.status
    graded = row.risk_graded_at is not None
    return (
        row.id,
        row.code,
        row.registration_code,
        row.equipment_code,
        row.category,
        category_label,
        category_name,
        row.certificate_no,
        row.manufacturer,
        row.model,
        row.serial_no,
        row.manufacture_date,
        row.commissioning_date,
        row.registered_on,
        row.address,
        row.district_code,
        row.longitude,
        row.latitude,
        row.user_unit,
        row.maintenance_company,
        row.owning_station,
        status,
        statuses.get(status, status),
        row.status_since,
        row.late_registration,
        row.late_suspension_notice,
        row.needs_inspection_before_resume,
        row.parameters or {},
        row.next_inspection_due,
        row.not_fit_for_use,
        row.last_maintenance_on,
        row.version,
        row.created_at,
        row.updated_at,
        row.cylinder_use,
        RISK_GRADES[int(row.risk_rank)].value if graded else None,
        row.risk_points if graded else None,
    )


def equipment(row: EquipmentRow, lang: str) -> schemas.Equipment:
    return schemas.Equipment(*_unit_fields(row, lang))


# The API's fields a status change holds under the same name (the rest are labels).
_STATUS_CHANGE_SAME = tuple(
    f for f in schemas.StatusChange.__struct_fields__ if f in StatusChangeRow.__struct_fields__
)


def status_change(row: StatusChangeRow, lang: str) -> schemas.StatusChange:
    values = {f: getattr(row, f) for f in _STATUS_CHANGE_SAME}
    values.update(
        action_label=labels.label(labels.STATUS_ACTION, row.action, lang),
        from_status_label=labels.label(labels.STATUS, row.from_status, lang),
        to_status_label=labels.label(labels.STATUS, row.to_status, lang),
    )
    return schemas.StatusChange(**values)


def audit_entry(row: AuditRow) -> schemas.AuditEntry:
    return schemas.AuditEntry(**{f: getattr(row, f) for f in schemas.AuditEntry.__struct_fields__})


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


# The API's fields an inspection row holds under the same name (the rest are derived).
_INSPECTION_SAME = tuple(
    f for f in schemas.InspectionRecord.__struct_fields__ if f in InspectionRow.__struct_fields__
)


def inspection(
    row: InspectionRow, lang: str, *, superseded: bool = False
) -> schemas.InspectionRecord:
    values = {f: getattr(row, f) for f in _INSPECTION_SAME}
    values.update(
        kind_label=labels.label(labels.DUE_KIND, row.kind, lang),
        conclusion_label=labels.label(labels.CONCLUSION, row.conclusion, lang),
        equipment_id=row.equipment,
        inspection_body_id=row.inspection_body,
        superseded=superseded,
    )
    return schemas.InspectionRecord(**values)


def _due(due: Any, lang: str) -> schemas.DueExplained:
    # Field by field: dataclasses.asdict deep-copied every date (a unit page explains ~10).
    return schemas.DueExplained(
        kind=due.kind,
        kind_label=labels.label(labels.DUE_KIND, due.kind, lang),
        due_on=due.due_on,
        rule_key=due.rule_key,
        source=due.source,
        tag=due.tag,
        base_date=due.base_date,
        explanation=speak(lang, due.explanation),
        from_report=due.from_report,
    )


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


@lru_cache(maxsize=16)
def _due_labels(lang: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The due kinds', due states' and unit statuses' words in ``lang``, looked up once
    per language: a due-list page labels 50 items three times each."""
    return (
        {code: labels.label(labels.DUE_KIND, code, lang) for code in labels.DUE_KIND},
        {code: labels.label(labels.DUE_STATE, code, lang) for code in labels.DUE_STATE},
        {code: labels.label(labels.STATUS, code, lang) for code in labels.STATUS},
    )


# The order of DueItem's fields, which due_items passes positionally: a Struct built from
# 27 keywords cost 3.6x the positional call (measured: 379 against 103 µs a page of 50).
_DUE_ITEM_FIELDS = (
    "id",
    "equipment_id",
    "code",
    "category",
    "category_name",
    "kind",
    "kind_label",
    "due_on",
    "reminder_on",
    "state",
    "state_label",
    "days_overdue",
    "district_code",
    "district_name",
    "address",
    "status",
    "status_label",
    "user_unit_id",
    "user_unit_name",
    "maintenance_company_id",
    "maintenance_company_name",
    "rule_key",
    "source",
    "base_date",
    "explanation",
    "from_report",
    "risk_grade",
)
if schemas.DueItem.__struct_fields__ != _DUE_ITEM_FIELDS:  # a reordered schema fails here
    raise ImportError("schemas.DueItem's fields moved: update views.due_items to match")


@cache
def _spoken_explanations(lang: str) -> dict[str, str]:
    """Per language, the due rows' explanations already spoken (``speak``): a dict lookup
    a row instead of a call through speak's own cache."""
    return {}


def _speak_into(spoken: dict[str, str], lang: str, explanation: str) -> str:
    text = spoken[explanation] = speak(lang, explanation)
    return text


def due_items(page: Any, lang: str) -> list[schemas.DueItem]:
    """A due-list page (services.due.DueRows) as the API's items, each built straight from
    the statement's row and the service's derived values: the due list's hot path."""
    kinds, states, statuses = _due_labels(lang)
    spoken = _spoken_explanations(lang)
    if len(spoken) > 8192:  # explanations carry dates: keep the memo bounded
        spoken.clear()
    items = []
    for row, (reminder, state, late, category_name, district_name, grade) in zip(
        page.rows, page.derived, strict=True
    ):
        kind, status, explanation = row.kind, row.status, row.explanation
        items.append(
            schemas.DueItem(
                row.id,
                row.equipment,
                row.code,
                row.category,
                category_name,
                kind,
                kinds.get(kind, kind),
                row.due_on,
                reminder,
                state,
                states.get(state, state),
                late,
                row.district_code,
                district_name,
                row.address,
                status,
                statuses.get(status, status),
                row.user_unit,
                row.user_unit_name,
                row.maintenance_company,
                row.maintenance_company_name,
                row.rule_key,
                row.source,
                row.base_date,
                (spoken.get(explanation) or _speak_into(spoken, lang, explanation))
                if isinstance(explanation, str)
                else explanation,
                row.from_report,
                grade,
            )
        )
    return items


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


def rules_view(policy: Any, lang: str) -> schemas.RulesView:
    """The policy's rows, each summary said in ``lang`` (the regulation and clause are
    quoted as published)."""
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
                summary=speak(lang, row.summary),
                values=values,
                applies_to=list(row.applies_to),
                report_date_wins=row.report_date_wins,
                overridable=row.tag != "C" or row.choice is not None,
            )
        )
    return schemas.RulesView(policy.name, rows)


def contract(found: Contract) -> schemas.Contract:
    row = found.contract
    return schemas.Contract(
        id=row.id,
        user_unit_id=row.user_unit,
        maintenance_company_id=row.maintenance_company,
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        cycle_days=row.cycle_days,
        on_demand=row.on_demand,
        liability_insured=row.liability_insured,
        licence_no=row.licence_no,
        terminated_on=row.terminated_on,
        equipment_ids=found.equipment_ids,
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


def maintenance_record(row: MaintenanceRecordRow, lang: str) -> schemas.MaintenanceRecordView:
    return schemas.MaintenanceRecordView(
        id=row.id,
        equipment_id=row.equipment,
        record_id=row.record_id,
        maintained_on=row.maintained_on,
        level=row.level,
        level_label=labels.label(labels.MAINTENANCE_LEVEL, row.level, lang),
        items=row.items,
        technicians=row.technicians,
        findings=row.findings,
        hazards=row.hazards,
        signed_off_by=row.signed_off_by,
        suspicious_reason=row.suspicious_reason,
        recorded_at=row.recorded_at,
    )


def alarm(row: AlarmRecord) -> schemas.AlarmView:
    return schemas.AlarmView(
        id=row.id,
        equipment_id=row.equipment,
        kind=row.kind,
        severity=row.severity,
        state=row.state,
        source=row.source,
        count=row.count,
        raised_at=row.raised_at,
        last_raised_at=row.last_raised_at,
        maintenance_company_id=row.maintenance_company,
        district_code=row.district_code,
        response_limit_minutes=row.response_limit_minutes,
        acknowledged_at=row.acknowledged_at,
        arrived_at=row.arrived_at,
        arrived_late=row.arrived_late,
        finished_at=row.finished_at,
        closed_at=row.closed_at,
        note=row.note,
        station_id=row.station,
        fill_id=row.fill,
        detail=row.detail,
    )


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


def fill(row: FillRow, lang: str) -> schemas.FillView:
    values = {f: getattr(row, f) for f in schemas.FillView.__struct_fields__ if hasattr(row, f)}
    values.update(
        station_id=row.station,
        cylinder_id=row.cylinder,
        verdict_label=verdict_label(VerdictCode(row.verdict), lang),
        reasons=verdict_reasons(row.reasons, lang),
    )
    return schemas.FillView(**values)


def fill_permit(answer: dict[str, Any], lang: str) -> schemas.FillPermit:
    fields = schemas.FillPermit.__struct_fields__
    return schemas.FillPermit(
        **{k: v for k, v in answer.items() if k in fields and k != "reasons"},
        label=verdict_label(answer["code"], lang),
        reasons=verdict_reasons(answer["reasons"], lang),
    )


def cylinder_trace(trace: CylinderTrace, lang: str) -> schemas.CylinderTrace:
    facts, state = trace.cylinder, trace.state
    return schemas.CylinderTrace(
        cylinder_id=facts.id,
        cylinder_code=facts.code,
        status=facts.status,
        status_label=labels.label(labels.STATUS, facts.status, lang),
        medium=facts.medium,
        next_periodic_due=facts.next_periodic_due,
        end_of_service_life=facts.end_of_service_life,
        fill_count=state.fill_count if state else 0,
        last_filled_at=state.last_filled_at if state else None,
        last_station_code=state.last_station_code if state else None,
        fills=[fill(r, lang) for r in trace.fills],
    )


def joint_filling(row: JointFillingRow) -> schemas.JointFilling:
    return schemas.JointFilling(
        id=row.id,
        owner_station_id=row.owner_station,
        filling_station_id=row.filling_station,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        created_at=row.created_at,
    )


def entrustment(row: EntrustmentRow) -> schemas.Entrustment:
    return schemas.Entrustment(
        id=row.id,
        owner_id=row.owner,
        filling_station_id=row.filling_station,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        created_at=row.created_at,
    )


def lift_state(row: LiftStateRecord) -> schemas.LiftLiveState:
    return schemas.LiftLiveState(
        equipment_id=row.equipment,
        ts=row.ts,
        last_seen_at=row.last_seen_at,
        running=row.running,
        direction=row.direction,
        door_zone=row.door_zone,
        floor=row.floor,
        doors_closed=row.doors_closed,
        occupied=row.occupied,
        service_mode=row.service_mode,
        total_runs=row.total_runs,
        total_hours=row.total_hours,
        door_cycles=row.door_cycles,
        offline=row.offline,
        offline_since=row.offline_since,
    )


def dead_letter(row: DeadLetterRow) -> schemas.DeadLetterView:
    raw = bytes(row.payload or b"")
    encoding: Literal["utf-8", "hex"]
    try:
        payload, encoding = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        payload, encoding = raw.hex(), "hex"
    return schemas.DeadLetterView(
        id=row.id,
        received_at=row.received_at,
        topic=row.topic,
        unit_code=row.unit_code,
        reason=row.reason,
        detail=row.detail,
        payload_size=row.payload_size,
        payload=payload,
        payload_encoding=encoding,
        deliveries=row.deliveries,
    )


def area(row: AreaRow) -> schemas.Area:
    return schemas.Area(
        id=row.id,
        key=row.key,
        kind=row.kind,
        name=row.name,
        code=row.code,
        year_built=row.year_built,
        households=row.households,
        renovation_programme=row.renovation_programme,
        renovation_year=row.renovation_year,
        bbox=[row.min_lon, row.min_lat, row.max_lon, row.max_lat],
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _geometry(row: AreaRow, crs: str = "wgs84") -> dict[str, Any]:
    """The stored GeoJSON geometry (WGS-84), or the same shape in ``crs`` for map widgets."""
    assert row.geometry is not None, "the area was read without its geometry"
    geometry: dict[str, Any] = json.loads(row.geometry)
    if crs == "wgs84":
        return geometry
    shape, _ = parse_polygonal(geometry)
    return geometry_to_geojson(shape, check_crs(crs))


def area_detail(row: AreaRow) -> schemas.AreaDetail:
    base = area(row)
    values = {f: getattr(base, f) for f in schemas.Area.__struct_fields__}
    return schemas.AreaDetail(**values, geometry=_geometry(row))


AREA_PROPERTIES = ("code", "year_built", "households", "renovation_programme", "renovation_year")


def area_feature(row: AreaRow, crs: str = "wgs84") -> dict[str, Any]:
    """An area as a GeoJSON Feature that the import reads back (``id`` is its key)."""
    properties: dict[str, Any] = {"area_id": row.id, "kind": row.kind, "name": row.name}
    for p in AREA_PROPERTIES:
        value = getattr(row, p)
        if value is not None:
            properties[p] = value
    return {
        "type": "Feature",
        "id": row.key,
        "geometry": _geometry(row, crs),
        "properties": properties,
    }


def area_collection(
    rows: Sequence[AreaRow], crs: str = "wgs84", next_cursor: str | None = None
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


def unit_feature(row: EquipmentRow, **extra: Any) -> dict[str, Any]:
    # Only units with a position are mapped (the geo queries select them).
    assert row.longitude is not None and row.latitude is not None
    properties = _unit_properties(row)
    properties.update(extra)
    return point_feature(row.longitude, row.latitude, properties, feature_id=row.id)


def _unit_properties(row: EquipmentRow) -> dict[str, Any]:
    """A unit's map point properties: ``id``, then UNIT_FEATURE_FIELDS' values in that
    order (a point carries no label), straight from the row."""
    _, categories = _unit_words(DEFAULT)
    named = categories.get(row.category) or _name_category(categories, row.category, DEFAULT)
    return {
        "id": row.id,
        "code": row.code,
        "category": row.category,
        "category_name": named[1],
        "status": row.status,
        "address": row.address,
        "district_code": row.district_code,
        "commissioning_date": row.commissioning_date,
        "next_inspection_due": row.next_inspection_due,
        "not_fit_for_use": row.not_fit_for_use,
        "last_maintenance_on": row.last_maintenance_on,
        "user_unit_id": row.user_unit,
        "maintenance_company_id": row.maintenance_company,
    }


def unit_collection(
    rows: Sequence[EquipmentRow], *, next_cursor: str | None = None, total: int | None = None
) -> schemas.FeatureCollection:
    """Units as GeoJSON points; a unit without a location cannot be a point and is left out."""
    features = [unit_feature(r) for r in rows if r.longitude is not None]
    return schemas.FeatureCollection("FeatureCollection", features, next_cursor, total)


def nearby(result: Any, lang: str) -> schemas.NearbyPage:
    items = [
        schemas.NearbyEquipment(*(*_unit_fields(row, lang), round(distance, 3)))
        for row, distance in result.items
    ]
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


def evidence_download(data: bytes, media_type: str, name: str) -> Response[bytes]:
    """An evidence file (of a hazard or a check) as a download: the media type its content
    was taken as, never sniffed by the browser."""
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
