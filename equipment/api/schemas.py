"""The API's request and response shapes. Separate from the tables: no internal column leaks."""

from __future__ import annotations

import typing
from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from equipment.domain import aliases, lift_events

# PostgreSQL cannot store NUL in text; refusing it here gives a 400 instead of a 500.
_NO_NUL = r"^[^\x00]*$"
# A published phone number: digits with the separators people print (0710-1234567, 96333).
_PUBLIC_PHONE = r"^([0-9+][0-9 -]{2,18}[0-9])?$"


def text(max_length: int, min_length: int = 0) -> Meta:
    """The constraint of a text field: its length, and no NUL (``Annotated[str, text(n)]``)."""
    return Meta(min_length=min_length, max_length=max_length, pattern=_NO_NUL)


OrgId = Annotated[int, Meta(ge=1, le=2**31 - 1)]
# A moment a client reports: without an offset it names no instant (and compared with the
# server's aware clock it would fail), so it is refused as a bad value.
Instant = Annotated[datetime, Meta(tz=True)]
# Coordinates are range-checked by the domain, which can say "swapped?" or "outside China".
Longitude = float
Latitude = float
OrgKindName = Literal[
    "user_unit",
    "maintenance_company",
    "inspection_body",
    "filling_station",
    "manufacturer",
    "installer",
]
RoleName = Literal["admin", "inspector", "maintenance", "user_unit", "station", "call_centre"]
StatusName = Literal["pending", "refused", "in_use", "suspended", "scrapped", "cancelled"]
Parameters = dict[str, Any]
# The coordinate system a position is given in: WGS-84 (GPS, stored), GCJ-02 (AMap,
# Tencent), BD-09 (Baidu). See geo.crs.
CrsName = Literal["wgs84", "gcj02", "bd09"]
# What a gas cylinder is used for (equipment.domain.catalogue.CYLINDER_USES).
CylinderUse = Literal["general", "vehicle", "taxi", "diving"]


# Organisations ---------------------------------------------------------------------------


class OrganisationCreate(Struct, forbid_unknown_fields=True):
    kind: OrgKindName
    credit_code: Annotated[str, text(18, 18)]
    name: Annotated[str, text(200, 1)]
    contact_name: Annotated[str, text(100)] = ""
    contact_phone: Annotated[str, text(32)] = ""
    # The organisation's published service line, shown on the public page of its units.
    public_phone: Annotated[str, Meta(max_length=20, pattern=_PUBLIC_PHONE)] = ""
    address: Annotated[str, text(500)] = ""
    licence_no: Annotated[str, text(64, 1)] | None = None
    licence_valid_until: date | None = None
    station_code: Annotated[str, text(32, 1)] | None = None
    longitude: Longitude | None = None
    latitude: Latitude | None = None
    # A user unit that is a hazardous-chemicals enterprise (危化品企业): a GB 45067 risk
    # factor of its units. Admin only; other kinds are refused.
    hazardous_chemicals: bool = False


class OrganisationUpdate(Struct, forbid_unknown_fields=True):
    name: Annotated[str, text(200, 1)] | UnsetType = UNSET
    contact_name: Annotated[str, text(100)] | UnsetType = UNSET
    contact_phone: Annotated[str, text(32)] | UnsetType = UNSET
    public_phone: Annotated[str, Meta(max_length=20, pattern=_PUBLIC_PHONE)] | UnsetType = UNSET
    address: Annotated[str, text(500)] | UnsetType = UNSET
    licence_no: Annotated[str, text(64, 1)] | UnsetType | None = UNSET
    licence_valid_until: date | UnsetType | None = UNSET
    station_code: Annotated[str, text(32, 1)] | UnsetType | None = UNSET
    longitude: Longitude | UnsetType | None = UNSET
    latitude: Latitude | UnsetType | None = UNSET
    # A user unit whose site handles hazardous chemicals (危化品相关), a risk factor of its
    # units: the bureau's to set (its units are graded again at once).
    hazardous_chemicals: bool | UnsetType = UNSET


class Organisation(Struct):
    id: int
    kind: str
    kind_label: str  # in the caller's language, as every *_label field
    credit_code: str
    name: str
    contact_name: str
    contact_phone: str
    public_phone: str
    address: str
    licence_no: str | None
    licence_valid_until: date | None
    supervision_class: str | None
    station_code: str | None
    longitude: float | None
    latitude: float | None
    version: int
    created_at: datetime
    updated_at: datetime
    hazardous_chemicals: bool = False


class OrganisationPage(Struct):
    items: list[Organisation]
    next_after: int | None


# Equipment ---------------------------------------------------------------------------------

# A GB/T 2260 code (420606) or the district's name (樊城区), mapped to the code by
# __post_init__ through equipment/domain/aliases.py; the register checks the code.
DistrictInput = Annotated[
    str, Meta(min_length=2, max_length=20, pattern=r"^[^\x00]*$", examples=["420606", "樊城区"])
]


class EquipmentCreate(Struct, forbid_unknown_fields=True):
    category: Annotated[str, text(4, 4)]
    district_code: DistrictInput
    user_unit_id: OrgId
    registration_code: Annotated[str, text(40)] | None = None
    equipment_code: Annotated[str, text(40)] | None = None
    certificate_no: Annotated[str, text(32, 1)] | None = None
    manufacturer: Annotated[str, text(200)] = ""
    model: Annotated[str, text(100)] = ""
    serial_no: Annotated[str, text(64)] = ""
    manufacture_date: date | None = None
    commissioning_date: date | None = None
    address: Annotated[str, text(500)] = ""
    longitude: Longitude | None = None
    latitude: Latitude | None = None
    maintenance_company_id: OrgId | None = None
    owning_station_id: OrgId | None = None
    parameters: Parameters = {}
    # Gas cylinders: general, vehicle, taxi or diving (sets the interval and service life).
    cylinder_use: CylinderUse | None = None
    # Registration office only: import a unit that is already registered and in use.
    registered_on: date | None = None
    # The system longitude and latitude are given in; they are stored in WGS-84.
    crs: CrsName = "wgs84"

    def __post_init__(self) -> None:
        self.district_code = aliases.district_code(self.district_code)


class EquipmentUpdate(Struct, forbid_unknown_fields=True):
    manufacturer: Annotated[str, text(200)] | UnsetType = UNSET
    model: Annotated[str, text(100)] | UnsetType = UNSET
    serial_no: Annotated[str, text(64)] | UnsetType = UNSET
    manufacture_date: date | UnsetType | None = UNSET
    commissioning_date: date | UnsetType | None = UNSET
    address: Annotated[str, text(500)] | UnsetType = UNSET
    longitude: Longitude | UnsetType | None = UNSET
    latitude: Latitude | UnsetType | None = UNSET
    parameters: Parameters | UnsetType = UNSET
    category: Annotated[str, text(4, 4)] | UnsetType = UNSET
    certificate_no: Annotated[str, text(32, 1)] | UnsetType | None = UNSET
    equipment_code: Annotated[str, text(18, 18)] | UnsetType | None = UNSET
    district_code: DistrictInput | UnsetType = UNSET
    cylinder_use: CylinderUse | UnsetType | None = UNSET
    # The system longitude and latitude are given in; they are stored in WGS-84.
    crs: CrsName | UnsetType = UNSET

    def __post_init__(self) -> None:
        if isinstance(self.district_code, str):
            self.district_code = aliases.district_code(self.district_code)


class Equipment(Struct):
    id: int
    code: str
    registration_code: str | None
    equipment_code: str | None
    category: str
    category_label: str  # the category's name in the caller's language
    category_name: str
    certificate_no: str | None
    manufacturer: str
    model: str
    serial_no: str
    manufacture_date: date | None
    commissioning_date: date | None
    registered_on: date | None
    address: str
    district_code: str
    longitude: float | None
    latitude: float | None
    user_unit_id: int
    maintenance_company_id: int | None
    owning_station_id: int | None
    status: str
    status_label: str
    status_since: date
    late_registration: bool
    late_suspension_notice: bool
    needs_inspection_before_resume: bool
    parameters: Parameters
    next_inspection_due: date | None
    not_fit_for_use: bool
    last_maintenance_on: date | None
    version: int
    created_at: datetime
    updated_at: datetime
    cylinder_use: str | None
    # The stored risk grade (red | orange | yellow | blue; None: not graded yet) and its
    # points; GET /risk/units/{id} explains it factor by factor.
    risk_grade: str | None
    risk_points: float | None


class EquipmentPage(Struct):
    items: list[Equipment]
    next_cursor: str | None


# Workflow ----------------------------------------------------------------------------------


class RegisterRequest(Struct, forbid_unknown_fields=True):
    registration_code: Annotated[str, text(40)]
    registered_on: date
    certificate_no: Annotated[str, text(32, 1)] | None = None


class RefuseRequest(Struct, forbid_unknown_fields=True):
    """不予登记: the day of the decision and the reason the applicant is told."""

    on: date
    reason: Annotated[str, text(500, 1)]


class SuspendRequest(Struct, forbid_unknown_fields=True):
    suspended_from: date
    notified_on: date
    reason: Annotated[str, text(500, 1)]
    planned_until: date | None = None


class ResumeRequest(Struct, forbid_unknown_fields=True):
    resumed_on: date


class CloseRequest(Struct, forbid_unknown_fields=True):
    on: date
    reason: Annotated[str, text(500, 1)]


class TransferRequest(Struct, forbid_unknown_fields=True):
    user_unit_id: OrgId
    on: date


class ChangeMaintainerRequest(Struct, forbid_unknown_fields=True):
    maintenance_company_id: OrgId | None
    on: date


class StatusChange(Struct):
    id: int
    action: str
    action_label: str
    from_status: str
    from_status_label: str
    to_status: str
    to_status_label: str
    effective_on: date
    details: dict[str, Any]
    actor: str
    recorded_at: datetime


class AuditEntry(Struct):
    id: int
    recorded_at: datetime
    actor: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


# Inspections and due dates -------------------------------------------------------------------

InspectionKind = Literal[
    "supervisory", "periodic", "self_test", "external", "internal", "hydrostatic", "annual_check"
]
# The stored codes, or the words inspectors write (合格, 不合格, 复检合格...), which
# __post_init__ maps to the codes through equipment/domain/aliases.py.
Conclusion = Literal["pass", "conditional_pass", "fail"]
if typing.TYPE_CHECKING:
    # Built at run time from the tables (a Literal of every accepted spelling), which a
    # type checker cannot evaluate: to it, the field is text.
    ConclusionInput = str
else:
    ConclusionInput = Literal[(*typing.get_args(Conclusion), *aliases.CONCLUSIONS)]
SupervisoryReason = Literal["", "installation", "modernisation", "major_repair"]


class InspectionCreate(Struct, forbid_unknown_fields=True):
    kind: InspectionKind
    inspected_on: date
    conclusion: ConclusionInput
    report_no: Annotated[str, text(64)] = ""
    findings: Annotated[str, text(4000)] = ""
    reason: SupervisoryReason = ""
    inspection_body_id: OrgId | None = None
    # The next due date the report states: the authority for vessels, piping and
    # power-station boilers (docs/rules.md).
    next_due_stated: date | None = None
    safety_grade: Annotated[int, Meta(ge=1, le=5)] | None = None
    # Id of an earlier record of this unit that this one corrects (nothing is overwritten).
    corrects: Annotated[int, Meta(ge=1, le=2**63 - 1)] | None = None

    def __post_init__(self) -> None:
        self.conclusion = aliases.conclusion_code(self.conclusion)


class InspectionRecord(Struct):
    id: int
    equipment_id: int
    kind: str
    kind_label: str
    inspected_on: date
    conclusion: str
    conclusion_label: str
    reason: str
    inspection_body_id: int | None
    report_no: str
    findings: str
    next_due_stated: date | None
    safety_grade: int | None
    answered_due_on: date | None
    on_time: bool | None
    corrects: int | None
    superseded: bool
    actor: str
    recorded_at: datetime


class DueExplained(Struct):
    kind: str
    kind_label: str  # in the caller's language, as the *_label fields below
    due_on: date
    rule_key: str
    source: str
    tag: str
    base_date: date
    explanation: str
    from_report: bool


class ScheduleView(Struct):
    as_of: date
    status: str
    due: list[DueExplained]
    dormant: list[DueExplained]
    next_periodic: DueExplained | None
    overdue: list[str]
    not_fit_for_use: bool
    not_fit_reasons: list[str]
    needs_inspection_before_resume: bool
    notes: list[str]


class InspectionResult(Struct):
    inspection: InspectionRecord
    schedule: ScheduleView


# gc=False: scalars and text only (no reference cycle possible); 50 per due-list page are
# built and encoded, and untracked they do not count towards the collector's next pass.
class DueItem(Struct, gc=False):
    id: int
    equipment_id: int
    code: str
    category: str
    category_name: str
    kind: str
    kind_label: str
    due_on: date
    reminder_on: date
    state: str
    state_label: str
    days_overdue: int
    district_code: str
    district_name: str | None
    address: str
    status: str
    status_label: str
    user_unit_id: int
    user_unit_name: str | None
    maintenance_company_id: int | None
    maintenance_company_name: str | None
    rule_key: str
    source: str
    base_date: date
    explanation: str
    from_report: bool
    risk_grade: str = "blue"  # the unit's risk grade (GET /risk/units/{id} explains it)


class DuePage(Struct):
    items: list[DueItem]
    next_cursor: str | None


class DueSummaryRow(Struct):
    district_code: str
    category: str
    category_name: str
    overdue: int
    due_30_days: int
    fell_due_12_months: int
    inspected_on_time_12_months: int
    coverage_percent: float | None


# Maintenance ---------------------------------------------------------------------------------


class ContractCreate(Struct, forbid_unknown_fields=True):
    user_unit_id: OrgId
    maintenance_company_id: OrgId
    starts_on: date
    ends_on: date
    equipment_ids: Annotated[
        list[Annotated[int, Meta(ge=1, le=2**63 - 1)]], Meta(min_length=1, max_length=5000)
    ]
    cycle_days: Annotated[int, Meta(ge=1, le=366)] = 15
    on_demand: bool = False
    liability_insured: bool = False


class Contract(Struct):
    id: int
    user_unit_id: int
    maintenance_company_id: int
    starts_on: date
    ends_on: date
    cycle_days: int
    on_demand: bool
    liability_insured: bool
    licence_no: str
    terminated_on: date | None
    equipment_ids: list[int]


class TerminateRequest(Struct, forbid_unknown_fields=True):
    on: date


class Rejected(Struct):
    row: int
    reason: str
    field: str | None


class UploadReport(Struct):
    received: int
    stored: int
    duplicates: int
    rejected: list[Rejected]


class MaintenanceRecordView(Struct):
    id: int
    equipment_id: int
    record_id: str
    maintained_on: date
    level: str
    level_label: str
    items: list[str]
    technicians: list[dict[str, str]]
    findings: str
    hazards: list[str]
    signed_off_by: str
    suspicious_reason: str
    recorded_at: datetime


class CompanyScore(Struct):
    maintenance_company_id: int
    window_days: int
    lifts: int
    maintained_on_time: int
    share_on_time: float | None
    late_equipment_ids: list[int]


# The contract's fault kinds (one list: equipment.domain.lift_events); back_to_normal
# ends a condition, so it is no kind of alarm to enter by hand.
if typing.TYPE_CHECKING:
    AlarmKind = str  # built at run time from the fault table (see ConclusionInput)
else:
    AlarmKind = Literal[tuple(sorted(lift_events.KINDS - {lift_events.BACK_TO_NORMAL}))]


class AlarmCreate(Struct, forbid_unknown_fields=True):
    kind: AlarmKind
    raised_at: Instant | None = None
    note: Annotated[str, text(1000)] = ""


class AlarmStep(Struct, forbid_unknown_fields=True):
    at: Instant | None = None


class AlarmClose(Struct, forbid_unknown_fields=True):
    note: Annotated[str, text(1000, 1)]


class AlarmView(Struct):
    id: int
    equipment_id: int | None  # None: a fill of a cylinder not on file (see station_id)
    kind: str
    severity: str
    state: str
    source: str
    count: int
    raised_at: datetime
    last_raised_at: datetime
    maintenance_company_id: int | None
    district_code: str
    response_limit_minutes: int | None
    acknowledged_at: datetime | None
    arrived_at: datetime | None
    arrived_late: bool | None
    finished_at: datetime | None
    closed_at: datetime | None
    note: str
    station_id: int | None = None
    fill_id: int | None = None
    detail: str = ""


class AlarmPage(Struct):
    items: list[AlarmView]
    next_cursor: str | None


class RuleView(Struct):
    """One row of the inspection-interval table as the bureau's policy has it."""

    key: str
    kind: str
    regulation: str
    clause: str
    tag: str
    summary: str
    values: dict[str, Any]
    applies_to: list[str]
    report_date_wins: bool
    overridable: bool


class RulesView(Struct):
    policy: str
    rules: list[RuleView]


# Areas and spatial queries --------------------------------------------------------------------

AreaKindName = Literal["district", "street", "community", "old_residential"]


class FeatureCollection(Struct, omit_defaults=True):
    """A GeoJSON FeatureCollection (RFC 7946, WGS-84 unless a crs was asked for);
    ``next_cursor`` and ``total`` are foreign members for paged lists."""

    type: Literal["FeatureCollection"]
    features: list[dict[str, Any]]
    next_cursor: str | None = None
    total: int | None = None


class AreaRejection(Struct):
    index: int  # the feature's position in the collection, from 0
    reason: str


class Reassignment(Struct):
    areas: int
    located_units: int
    memberships: int
    added: int
    removed: int
    seconds: float


class AreaImportReport(Struct):
    received: int
    created: int
    updated: int
    unchanged: int
    rejected: list[AreaRejection]
    repaired: list[int]  # indexes of features whose invalid rings were repaired
    reassignment: Reassignment | None  # None when no area changed


class Area(Struct):
    id: int
    key: str
    kind: str
    name: str
    code: str | None
    year_built: int | None
    households: int | None
    renovation_programme: str | None
    renovation_year: int | None
    bbox: list[float]  # min_lon, min_lat, max_lon, max_lat (WGS-84)
    version: int
    created_at: datetime
    updated_at: datetime


class AreaDetail(Area):
    geometry: dict[str, Any]  # GeoJSON Polygon or MultiPolygon, WGS-84


class AreaPage(Struct):
    items: list[Area]
    next_cursor: str | None


class AreaSummaryRow(Struct):
    """Counts over the caller's units in the area that are not scrapped or cancelled."""

    area_id: int
    key: str
    kind: str
    name: str
    code: str | None
    year_built: int | None
    households: int | None
    renovation_year: int | None
    units: int
    lifts: int
    lifts_over_15_years: int
    overdue_inspections: int
    overdue_maintenance: int
    open_alarms: int
    alarms_last_90_days: int
    # Risk grades of its units, and the area's (the worst grade held by at least the risk
    # policy's share of them, 10 % by default); None when it has no units.
    red_units: int
    orange_units: int
    yellow_units: int
    risk_grade: str | None


class NearbyEquipment(Equipment):
    distance_m: float  # geodesic, on the WGS-84 ellipsoid


class NearbyPage(Struct):
    total: int  # units within the radius; items holds the nearest ``limit``
    items: list[NearbyEquipment]


class Cluster(Struct):
    lon: float
    lat: float
    count: int
    bbox: list[float]
    member_id: int  # the lowest unit id in the cluster


class BoxView(Struct):
    total: int
    clustered: bool
    cell_deg: float | None
    items: list[Equipment]  # when not clustered
    clusters: list[Cluster]  # when clustered


class WithinPage(Struct):
    total: int
    repaired: bool  # the polygon sent was invalid and was repaired before use
    items: list[Equipment]
    next_cursor: str | None


# Tokens and catalogue ------------------------------------------------------------------------


class TokenCreate(Struct, forbid_unknown_fields=True):
    role: RoleName
    organisation_id: OrgId | None = None
    label: Annotated[str, text(100)] = ""


class Token(Struct):
    id: int
    prefix: str
    role: str
    organisation_id: int | None
    label: str
    created_at: datetime
    revoked_at: datetime | None = None


class NewToken(Struct):
    """The only time a token's secret is shown."""

    token: str
    id: int
    role: str
    organisation_id: int | None


class Me(Struct):
    role: str
    organisation_id: int | None
    token_id: int | None


class Category(Struct):
    code: str
    name_zh: str
    name_en: str
    family: str
    parent: str | None


def changes_of(update: Struct) -> dict[str, Any]:
    """The fields a PATCH body set, UNSET ones left out."""
    return {
        field: value
        for field in update.__struct_fields__
        if (value := getattr(update, field)) is not UNSET
    }


def to_builtins(value: Any) -> Any:
    return msgspec.to_builtins(value)


# Fills, telemetry and the ingest ----------------------------------------------------------


class VerdictReason(Struct):
    code: str
    name: str
    text: str  # in the caller's language
    text_zh: str  # always Chinese, as the MQTT verdict carries it


class FillPermit(Struct):
    """The interlock's answer: may the station fill this cylinder now?"""

    allowed: bool
    code: str
    name: str
    label: str  # the code's name in the caller's language (已报废 / the cylinder is scrapped)
    suspicious: bool
    reasons: list[VerdictReason]
    cylinder_code: str
    station_code: str
    medium: str
    checked_at: datetime


class FillView(Struct):
    id: int
    station_id: int
    station_code: str
    event_id: str
    cylinder_id: int | None
    cylinder_code: str
    medium: str
    filled_at: datetime
    started_at: datetime | None
    filled_mass_kg: float | None
    final_pressure_mpa: float | None
    pre_check_passed: bool
    post_check_passed: bool
    operator: str
    verdict: str
    verdict_label: str  # in the caller's language
    allowed: bool
    suspicious: bool
    reasons: list[VerdictReason]
    received_at: datetime


class FillPage(Struct):
    items: list[FillView]
    next_before: str | None


class CylinderTrace(Struct):
    cylinder_id: int
    cylinder_code: str
    status: str
    status_label: str
    medium: str | None
    next_periodic_due: date | None
    end_of_service_life: date | None
    fill_count: int
    last_filled_at: datetime | None
    last_station_code: str | None
    fills: list[FillView]


class JointFillingCreate(Struct, forbid_unknown_fields=True):
    owner_station_id: OrgId
    filling_station_id: OrgId
    valid_from: date
    valid_until: date


class JointFilling(Struct):
    id: int
    owner_station_id: int
    filling_station_id: int
    valid_from: date
    valid_until: date
    created_at: datetime


class EntrustmentCreate(Struct, forbid_unknown_fields=True):
    owner_id: OrgId
    filling_station_id: OrgId
    valid_from: date
    valid_until: date


class Entrustment(Struct):
    id: int
    owner_id: int
    filling_station_id: int
    valid_from: date
    valid_until: date
    created_at: datetime


class LiftLiveState(Struct):
    equipment_id: int
    ts: datetime
    last_seen_at: datetime
    running: bool
    direction: int
    door_zone: bool
    floor: int
    doors_closed: bool
    occupied: bool
    service_mode: int
    total_runs: int | None
    total_hours: float | None
    door_cycles: int | None
    offline: bool
    offline_since: datetime | None


class DeadLetterView(Struct):
    id: int
    received_at: datetime
    topic: str
    unit_code: str | None
    reason: str
    detail: str
    payload_size: int
    # The kept bytes (at most 4 KiB) as text where they are UTF-8, else hex.
    payload: str
    payload_encoding: Literal["utf-8", "hex"]
    # How often these very bytes reached sereg (a redelivery after a crash, or a device
    # sending them again): one row, counted.
    deliveries: int = 1


class DeadLetterPage(Struct):
    items: list[DeadLetterView]
    next_before: str | None


class UnknownCode(Struct):
    code: str | None
    count: int


class DeadLetterSummary(Struct):
    by_reason: dict[str, int]
    unknown_codes: list[UnknownCode]


# ------------------------------------------------------------------ webhooks


class WebhookCreate(Struct, forbid_unknown_fields=True):
    url: Annotated[str, text(2000, 8)]
    # The bureau names the organisation (or none: a duty desk); others get their own.
    organisation_id: OrgId | None = None
    tier: Literal["primary", "second"] = "primary"
    district_code: Annotated[str, Meta(pattern=r"^([0-9]{6})?$")] = ""
    label: Annotated[str, text(100)] = ""
    # Told of alarms (the emergency linkage); false: only the changes subscribed to.
    alarms: bool = True
    # The register's changes (GET /changes) to be told of, comma-separated: register,
    # inspection, hazard, status; "" none. Within the endpoint's scope, from now on.
    changes: Annotated[str, Meta(max_length=64, pattern=r"^[a-z,]*$")] = ""


class Webhook(Struct):
    id: int
    url: str
    organisation_id: int | None
    tier: str
    district_code: str
    label: str
    created_at: datetime
    alarms: bool = True
    changes: str = ""


class NewWebhook(Struct):
    """The only time an endpoint's signing secret is shown."""

    secret: str
    endpoint: Webhook


class WebhookDelivery(Struct):
    id: int
    notification_id: int  # 0 for a change
    idempotency_key: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    last_status: int | None
    delivered_at: datetime | None
    created_at: datetime
    change_id: int | None = None  # the change's audit entry, for a change delivery


class Redeliver(Struct, forbid_unknown_fields=True):
    delivery_id: Annotated[int, Meta(ge=1, le=2**63 - 1)] | None = None  # None: every dead one


class Redelivered(Struct):
    redelivered: int


# ------------------------------------------------------------------ 96333 calls


# A number to call the caller back on (the API's field and the call centre's page).
CALLBACK_NUMBER_PATTERN = r"^\+?[0-9][0-9 -]{4,30}$"


class CallCreate(Struct, forbid_unknown_fields=True):
    """A call to 96333: the lift by its registration code (on the car's label) or, when the
    caller cannot read it, by its address; and the number to call the caller back on."""

    callback_number: Annotated[str, Meta(pattern=CALLBACK_NUMBER_PATTERN)]
    registration_code: Annotated[str, text(20, 1)] | None = None
    address: Annotated[str, text(200, 4)] | None = None
    received_at: datetime | None = None  # default: now
    note: Annotated[str, text(500)] = ""


class CallTaken(Struct):
    call_id: int
    joined: bool  # the call joined the entrapment alarm already open
    alarm: AlarmView


class TimelineEvent(Struct):
    at: datetime
    what: str  # raised, call, lift_event, acknowledge, arrive, finish, close, escalate.*, ...
    who: str
    detail: dict[str, Any] | None = None


class Timeline(Struct):
    alarm: AlarmView
    events: list[TimelineEvent]


# ------------------------------------------------------------------ response KPIs and drills


class ResponseKpi(Struct):
    group: str  # the maintenance company's id or the district code
    entrapments: int
    acknowledge_median: float | None  # minutes
    acknowledge_p90: float | None
    arrive_median: float | None
    arrive_p90: float | None
    late: int
    share_late: float | None
    lifts: int
    per_1000_lifts: float | None
    # From the rescue outcomes recorded for the period's entrapments.
    outcomes: int
    without_outcome: int
    people_released: int
    injuries: int
    fatalities: int
    causes: dict[str, int]  # cause code (equipment.domain.rescue.CAUSES) -> entrapments


class DrillCreate(Struct, forbid_unknown_fields=True):
    held_on: date
    participants: Annotated[list[Annotated[str, text(100, 1)]], Meta(min_length=1, max_length=200)]
    scenario: Annotated[str, text(100)] = "困人救援"
    note: Annotated[str, text(2000)] = ""


class Drill(Struct):
    id: int
    equipment_id: int
    held_on: date
    participants: list[str]
    scenario: str
    note: str


class RescueOutcomeCreate(Struct, forbid_unknown_fields=True):
    people_released: Annotated[int, Meta(ge=0, le=100)]
    release_method: Annotated[str, text(32, 1)]
    cause: Annotated[str, text(32, 1)]
    rescuers: Annotated[list[Annotated[str, text(100)]], Meta(max_length=20)] = []
    injuries: Annotated[int, Meta(ge=0, le=100)] = 0
    fatalities: Annotated[int, Meta(ge=0, le=100)] = 0
    note: Annotated[str, text(2000)] = ""


class RescueOutcome(Struct):
    alarm_id: int
    equipment_id: int
    people_released: int
    injuries: int
    fatalities: int
    release_method: str
    release_method_label: str  # in the caller's language
    cause: str
    cause_label: str
    rescuers: list[str]
    note: str
    recorded_by_organisation_id: int | None
    recorded_at: datetime


class MissingDrill(Struct):
    equipment_id: int
    code: str
    address: str
    district_code: str
    drills: int
    required: int
