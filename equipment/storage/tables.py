"""Storage model of the register. API schemas live in ``equipment.api.schemas``.

The register tables stay small and indexed for the list and due-list queries; the
category-specific parameters are one JSON column validated per category in
``equipment.domain.parameters``, so a new category needs no schema change.
"""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    BigInt,
    BigSerial,
    Boolean,
    Bytea,
    Date,
    DoublePrecision,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table


class Organisation(Table, tablename="organisation"):
    """A user unit, maintenance company, inspection body or filling station."""

    id: Serial  # the primary key Piccolo adds, named for the type checker

    kind = Varchar(length=24, index=True)
    credit_code = Varchar(length=18, unique=True)
    name = Varchar(length=200)
    # Contact data is personal: only admins, inspectors and the organisation itself see it.
    contact_name = Varchar(length=100, default="")
    contact_phone = Varchar(length=32, default="")
    # The organisation's published service line (a maintenance company's hotline): public,
    # shown on the page a QR code opens. Never a person's number.
    public_phone = Varchar(length=32, default="")
    address = Text(default="")
    licence_no = Varchar(length=64, null=True, default=None)
    licence_valid_until = Date(null=True, default=None)
    # The credit and risk class in force (信用风险分类), A (best) to D: the override when
    # one is set, else the computed class (equipment.services.credit keeps it so; nothing
    # else writes it). On-demand maintenance reads it (docs/rules.md, lift maintenance).
    supervision_class = Varchar(length=1, null=True, default=None)
    credit_computed = Varchar(length=1, null=True, default=None)
    credit_override = Varchar(length=1, null=True, default=None)
    credit_override_reason = Text(default="")
    # Filling stations: the code they publish fills under (sereg/v1/stations/{code}/...,
    # also their broker username) and where they are (WGS-84), for the cloned-label check.
    station_code = Varchar(length=32, null=True, default=None)  # unique: an index
    longitude = DoublePrecision(null=True, default=None)
    latitude = DoublePrecision(null=True, default=None)
    # A user unit whose site handles hazardous chemicals (危化品相关): its units weigh
    # heavier in the risk grade (equipment.domain.risk).
    hazardous_chemicals = Boolean(default=False)
    version = Integer(default=1)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Equipment(Table, tablename="equipment"):
    """One unit of special equipment, the register's row."""

    id = BigSerial(primary_key=True)
    # Filter columns (category, district, status, the three organisations) are indexed
    # together with id in a migration, so a filtered keyset page is one index range scan.
    # The code people read off the unit: the registration code once registered,
    # the manufacturer's equipment code before that. Unique, so it keys keyset pages.
    code = Varchar(length=20, unique=True)
    registration_code = Varchar(length=20, null=True, default=None, unique=True)
    equipment_code = Varchar(length=18, null=True, default=None, unique=True)
    category = Varchar(length=4)
    certificate_no = Varchar(length=32, null=True, default=None)
    manufacturer = Varchar(length=200, default="")
    model = Varchar(length=100, default="")
    serial_no = Varchar(length=64, default="")
    manufacture_date = Date(null=True, default=None)
    commissioning_date = Date(null=True, default=None)
    registered_on = Date(null=True, default=None)
    address = Text(default="")
    district_code = Varchar(length=6)
    longitude = DoublePrecision(null=True, default=None)
    latitude = DoublePrecision(null=True, default=None)
    user_unit = ForeignKey(references=Organisation, on_delete=OnDelete.restrict)
    maintenance_company = ForeignKey(
        references=Organisation, on_delete=OnDelete.restrict, null=True
    )
    owning_station = ForeignKey(references=Organisation, on_delete=OnDelete.restrict, null=True)
    status = Varchar(length=16)
    status_since = Date()
    late_registration = Boolean(default=False)
    late_suspension_notice = Boolean(default=False)
    needs_inspection_before_resume = Boolean(default=False)
    parameters = JSON(default="{}")
    # Gas cylinders: what the cylinder is used for (catalogue.CYLINDER_USES: general,
    # vehicle, taxi, diving); the inspection interval, the service life and the fill
    # checks depend on it (TSG 23-2021). None for other units and unset cylinders.
    cylinder_use = Varchar(length=16, null=True, default=None)
    # Derived by the inspection rules (equipment.services.schedules) on every change.
    next_inspection_due = Date(null=True, default=None, index=True)
    not_fit_for_use = Boolean(default=False)
    last_maintenance_on = Date(null=True, default=None)
    # The risk grade (equipment.domain.risk), derived like next_inspection_due: 0 蓝 to
    # 3 红 (0 also before the first grading). Indexed (rank, id) in a migration so lists
    # by grade are one range scan. Its points, explanation and time are in RiskGrade.
    risk_rank = Integer(default=0)
    version = Integer(default=1)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class StatusChange(Table, tablename="status_change"):
    """The registration workflow's history: one row per transition, never edited."""

    id = BigSerial(primary_key=True)
    equipment = ForeignKey(references=Equipment, on_delete=OnDelete.restrict, index=True)
    action = Varchar(length=24)
    from_status = Varchar(length=16)
    to_status = Varchar(length=16)
    effective_on = Date()
    details = JSON(default="{}")
    actor = Varchar(length=80)
    recorded_at = Timestamptz()


class Inspection(Table, tablename="inspection"):
    """One inspection report as recorded; never edited. A correction is a new row that
    names the row it corrects, and the rules read only rows nobody corrected."""

    id = BigSerial(primary_key=True)
    equipment = ForeignKey(references=Equipment, on_delete=OnDelete.restrict, index=True)
    kind = Varchar(length=16)
    inspected_on = Date()
    conclusion = Varchar(length=20)
    reason = Varchar(length=16, default="")
    inspection_body = ForeignKey(references=Organisation, on_delete=OnDelete.restrict, null=True)
    report_no = Varchar(length=64, default="")
    findings = Text(default="")
    next_due_stated = Date(null=True, default=None)
    safety_grade = Integer(null=True, default=None)
    # The due date this inspection answered, and whether it came in time: the 应检必检
    # coverage figure counts these.
    answered_due_on = Date(null=True, default=None)
    on_time = Boolean(null=True, default=None)
    corrects = BigInt(null=True, default=None, index=True)
    actor = Varchar(length=80)
    recorded_at = Timestamptz()


class DueDate(Table, tablename="due_date"):
    """The obligations a unit has now, one row per kind, rewritten whenever it changes.

    Register columns the due lists filter on are copied here so a due-list page is one
    index range scan on (due_on, id) without a join.
    """

    id = BigSerial(primary_key=True)
    equipment = ForeignKey(references=Equipment, on_delete=OnDelete.restrict)
    kind = Varchar(length=24)
    due_on = Date()
    statutory = Boolean(default=True)
    rule_key = Varchar(length=48)
    source = Varchar(length=200)
    base_date = Date()
    explanation = Text(default="")
    from_report = Boolean(default=False)
    category = Varchar(length=4)
    district_code = Varchar(length=6)
    user_unit = Integer()
    maintenance_company = Integer(null=True, default=None)
    owning_station = Integer(null=True, default=None)
    # The unit's risk rank, copied like the columns above (kept by the risk recompute).
    risk_rank = Integer(default=0)


class MaintenanceContract(Table, tablename="maintenance_contract"):
    """A user unit's contract with a maintenance company for a set of units."""

    id = BigSerial(primary_key=True)
    user_unit = ForeignKey(references=Organisation, on_delete=OnDelete.restrict)
    maintenance_company = ForeignKey(references=Organisation, on_delete=OnDelete.restrict)
    starts_on = Date()
    ends_on = Date()
    cycle_days = Integer(default=15)
    on_demand = Boolean(default=False)
    liability_insured = Boolean(default=False)
    licence_no = Varchar(length=64, default="")
    terminated_on = Date(null=True, default=None)
    actor = Varchar(length=80)
    created_at = Timestamptz()


class ContractUnit(Table, tablename="contract_unit"):
    """A unit covered by a contract, with its own start and end within it."""

    id = BigSerial(primary_key=True)
    contract = ForeignKey(references=MaintenanceContract, on_delete=OnDelete.restrict)
    equipment = ForeignKey(references=Equipment, on_delete=OnDelete.restrict)
    starts_on = Date()
    ends_on = Date()


class MaintenanceRecord(Table, tablename="maintenance_record"):
    """One maintenance visit as the company reported it; (company, record_id) is unique."""

    id = BigSerial(primary_key=True)
    equipment = ForeignKey(references=Equipment, on_delete=OnDelete.restrict)
    contract = ForeignKey(references=MaintenanceContract, on_delete=OnDelete.restrict)
    maintenance_company = Integer()
    record_id = Varchar(length=64)
    maintained_on = Date()
    level = Varchar(length=16)
    items = JSON(default="[]")
    technicians = JSON(default="[]")
    findings = Text(default="")
    hazards = JSON(default="[]")
    signed_off_by = Varchar(length=100, default="")
    # Set when telemetry contradicts the record (a lift that ran normally all day).
    suspicious_reason = Text(default="")
    recorded_at = Timestamptz()


class Alarm(Table, tablename="alarm"):
    """An open or closed condition of a unit: an entrapment, a fault, a refused fill.

    At most one open alarm per unit and kind: repeats raise ``count``.
    """

    id = BigSerial(primary_key=True)
    equipment = ForeignKey(references=Equipment, on_delete=OnDelete.restrict)
    kind = Varchar(length=32)
    severity = Varchar(length=16)
    state = Varchar(length=12, default="open")
    source = Varchar(length=16)
    # How many times the alarm was raised while open. The column's name hides Table.count()
    # on this table (use a select); renaming it would change the stored schema and the API.
    count = Integer(default=1)  # type: ignore[assignment]
    raised_at = Timestamptz()
    last_raised_at = Timestamptz()
    maintenance_company = Integer(null=True, default=None)
    district_code = Varchar(length=6)
    response_limit_minutes = Integer(null=True, default=None)
    acknowledged_at = Timestamptz(null=True, default=None)
    arrived_at = Timestamptz(null=True, default=None)
    arrived_late = Boolean(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    note = Text(default="")
    # Fill alarms: the station that filled and the fill that raised it. A fill of a
    # cylinder not on file has no equipment: such alarms are one per station and kind.
    station = Integer(null=True, default=None)
    fill = BigInt(null=True, default=None)
    # Why it was raised, in words (the fill verdict's reasons, the device's raw code).
    detail = Text(default="")


class AlarmChange(Table, tablename="alarm_change"):
    """One change of an alarm that the live board shows: raised, acknowledged, arrived,
    finished, closed, escalated, reassigned. Written by database triggers (every path that
    changes an alarm, the ingest's set-at-a-time SQL included, in its own transaction).

    ``seq`` is the public, commit-ordered number a stream resumes from (Last-Event-ID).
    On SQLite it is ``id`` (one writer at a time: ids are taken in commit order). On
    PostgreSQL ids are taken before commit, in another order than commits happen, so the
    feed stamps ``seq`` on committed rows under one lock (services/alarm_feed.py): a
    reader that saw seq N never later finds a new row below N.
    """

    id = BigSerial(primary_key=True)
    seq = BigInt(null=True, default=None)
    alarm = BigInt()
    event = Varchar(length=24)
    # When the row was written, set by the database (the pruning's age: retention.py).
    changed_at = Timestamptz(null=True, default=None)


class AuditEntry(Table, tablename="audit_entry"):
    """Append-only trail of every change (a database trigger refuses UPDATE and DELETE)."""

    id = BigSerial(primary_key=True)
    recorded_at = Timestamptz()
    actor = Varchar(length=80)
    entity = Varchar(length=32, index=True)
    entity_id = BigInt(index=True)
    action = Varchar(length=32)
    before = JSON(null=True, default=None)
    after = JSON(null=True, default=None)
    # PostgreSQL: the writing transaction's id (a BEFORE INSERT trigger sets it, whoever
    # inserts), so the changes feed reads in an order no later commit can slip behind;
    # SQLite leaves it NULL (one writer at a time: the id is that order already).
    txid = BigInt(null=True, default=None)


class ApiToken(Table, tablename="api_token"):
    """A bearer token; only its SHA-256 is stored."""

    id: Serial  # the primary key Piccolo adds, named for the type checker

    token_hash = Varchar(length=64, unique=True)
    prefix = Varchar(length=16)
    role = Varchar(length=24)
    organisation = ForeignKey(
        references=Organisation, on_delete=OnDelete.restrict, null=True, index=True
    )
    label = Varchar(length=100, default="")
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    # An inspector token's districts and areas (access.Jurisdiction, as text); "" none.
    jurisdiction = Varchar(length=500, default="")


class Account(Table, tablename="account"):
    """A person who logs in to the pages: one role and organisation, like a token, and an
    inspector's jurisdiction. The password is kept only as an argon2id hash."""

    id: Serial  # the primary key Piccolo adds, named for the type checker

    username = Varchar(length=64, unique=True)
    password_hash = Varchar(length=200)
    role = Varchar(length=24)
    organisation = ForeignKey(
        references=Organisation, on_delete=OnDelete.restrict, null=True, index=True
    )
    jurisdiction = Varchar(length=500, default="")
    created_at = Timestamptz()
    disabled_at = Timestamptz(null=True, default=None)


class CalendarFeed(Table, tablename="calendar_feed"):
    """A person's calendar subscription: a secret URL a calendar app fetches without any
    header. Only the secret's SHA-256 is kept; a new secret revokes the old one, and the
    feed answers only while its account is enabled, with that account's scope."""

    secret_hash = Varchar(length=64, unique=True)
    account = ForeignKey(references=Account, on_delete=OnDelete.restrict, index=True)
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)


class WebSession(Table, tablename="web_session"):
    """A logged-in browser. Kept in the database so every worker knows it and a restart
    loses none; the cookie holds a random id whose SHA-256 is stored here. ``csrf`` is the
    session's form token (synchroniser token: a form must send it back)."""

    id_hash = Varchar(length=64, unique=True)
    account = ForeignKey(references=Account, on_delete=OnDelete.restrict, index=True)
    csrf = Varchar(length=64)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    ended_at = Timestamptz(null=True, default=None)


class LoginFailure(Table, tablename="login_failure"):
    """A failed login: what the throttle counts, per user name and per client address,
    across workers. Rows older than the throttle's window are deleted as new ones come."""

    id = BigSerial(primary_key=True)
    username = Varchar(length=64, index=True)
    client = Varchar(length=64, index=True)
    at = Timestamptz(index=True)


class Area(Table, tablename="area"):
    """A named area (district, street, community, old residential area) from a GeoJSON import.

    The geometry is the GeoJSON geometry in WGS-84, kept valid by ``geo.areas``; its bounding
    box is stored beside it so "which areas can contain this point" is a range test in SQL.
    """

    id: Serial  # the primary key Piccolo adds, named for the type checker

    # The feature's id (else its code), or a digest of its content when it has neither:
    # a re-import of the same key updates the area instead of adding another.
    key = Varchar(length=64, unique=True)
    kind = Varchar(length=24, index=True)
    name = Varchar(length=200)
    code = Varchar(length=64, null=True, default=None)
    year_built = Integer(null=True, default=None)
    households = Integer(null=True, default=None)
    renovation_programme = Varchar(length=200, null=True, default=None)
    renovation_year = Integer(null=True, default=None)
    geometry = JSON()
    min_lon = DoublePrecision()
    min_lat = DoublePrecision()
    max_lon = DoublePrecision()
    max_lat = DoublePrecision()
    version = Integer(default=1)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class AreaMember(Table, tablename="area_member"):
    """A unit whose location lies in or on an area (``geo.assign.EDGE_RULE``).

    Derived from the unit's coordinates and the areas, never edited by hand: rewritten for a
    unit when it is created or moved, and for every unit when the areas change, always in a
    transaction that read the ids it writes. Like the copied columns of ``DueDate`` the two
    ids are plain columns, not foreign keys: the per-row foreign-key checks cost three
    quarters of a whole reassignment's writing (≈ 11 s of ≈ 14 s per million rows, measured
    on PostgreSQL 15). Units are never deleted; an area delete must delete its rows.
    (area, equipment) is unique and equipment is indexed, both in a migration.
    """

    id = BigSerial(primary_key=True)
    area = Integer()
    equipment = BigInt()


class Fill(Table, tablename="fill"):
    """One finished fill as a station reported it, with sereg's verdict; never edited.

    (station_code, event_id) is unique: a redelivered event is stored once. Station and
    cylinder are plain ids, like ``AreaMember``'s, so the ingest's bulk insert pays no
    per-row foreign-key check; the ingest resolves both before writing. ``filled_at`` is
    the time-partition key once the table is partitioned (docs/scaling.md). Kept at least
    2 years (traceability records, docs/rules.md "Gas cylinders" [S]).
    """

    id = BigSerial(primary_key=True)
    station = Integer()
    station_code = Varchar(length=32)
    event_id = Varchar(length=64)
    cylinder = BigInt(null=True, default=None)  # None: the code is not on file (verdict 07)
    cylinder_code = Varchar(length=64)
    medium = Varchar(length=32)
    filled_at = Timestamptz()
    started_at = Timestamptz(null=True, default=None)
    filled_mass_kg = DoublePrecision(null=True, default=None)
    final_pressure_mpa = DoublePrecision(null=True, default=None)
    pre_check_passed = Boolean()
    post_check_passed = Boolean()
    operator = Varchar(length=64)
    verdict = Varchar(length=2)
    allowed = Boolean()
    suspicious = Boolean(default=False)
    reasons = JSON(default="[]")
    received_at = Timestamptz()


class CylinderFillState(Table, tablename="cylinder_fill_state"):
    """A cylinder's latest fill and fill count, kept current by the ingest."""

    id: Serial  # the primary key Piccolo adds, named for the type checker

    equipment = BigInt(unique=True)
    last_fill = BigInt()
    last_filled_at = Timestamptz()
    last_station = Integer()
    last_station_code = Varchar(length=32)
    fill_count = Integer(default=0)


class JointFilling(Table, tablename="joint_filling"):
    """An agreement that lets ``filling_station`` fill ``owner_station``'s cylinders
    (interlock code 09, joint operation: allowed)."""

    id: Serial  # the primary key Piccolo adds, named for the type checker

    owner_station = ForeignKey(references=Organisation, on_delete=OnDelete.restrict)
    filling_station = ForeignKey(references=Organisation, on_delete=OnDelete.restrict)
    valid_from = Date()
    valid_until = Date()
    actor = Varchar(length=80)
    created_at = Timestamptz()


class CylinderEntrustment(Table, tablename="cylinder_entrustment"):
    """An agreement by which ``owner`` entrusts its cylinders (托管) to ``filling_station``:
    the station may fill them as its own (TSG 23-2021: a station fills its own and
    entrusted cylinders [S]); the interlock answers 00 with the reason "entrusted"."""

    id: Serial  # the primary key Piccolo adds, named for the type checker

    owner = ForeignKey(references=Organisation, on_delete=OnDelete.restrict)
    filling_station = ForeignKey(references=Organisation, on_delete=OnDelete.restrict)
    valid_from = Date()
    valid_until = Date()
    actor = Varchar(length=80)
    created_at = Timestamptz()


class LiftState(Table, tablename="lift_state"):
    """A lift's live state from its latest heartbeat: one row per lift, updated in place
    so the register table is never written per heartbeat."""

    id: Serial  # the primary key Piccolo adds, named for the type checker

    equipment = BigInt(unique=True)
    ts = Timestamptz()  # the device's time of the latest status
    last_seen_at = Timestamptz()  # when sereg last heard from it (status or event)
    running = Boolean(default=False)
    direction = Integer(default=0)
    door_zone = Boolean(default=False)
    floor = Integer(default=0)
    doors_closed = Boolean(default=True)
    occupied = Boolean(default=False)
    service_mode = Integer(default=7)
    total_runs = BigInt(null=True, default=None)
    total_hours = DoublePrecision(null=True, default=None)
    door_cycles = BigInt(null=True, default=None)
    offline = Boolean(default=False)
    offline_since = Timestamptz(null=True, default=None)


class LiftHeartbeat(Table, tablename="lift_heartbeat"):
    """Heartbeat history, bounded: pruned by age (``sereg prune``). (equipment, ts) is
    unique, so a redelivered heartbeat is stored once; ``ts`` is the partition key."""

    id = BigSerial(primary_key=True)
    equipment = BigInt()
    ts = Timestamptz()
    running = Boolean()
    direction = Integer()
    door_zone = Boolean()
    floor = Integer()
    doors_closed = Boolean()
    occupied = Boolean()
    service_mode = Integer()
    total_runs = BigInt(null=True, default=None)
    total_hours = DoublePrecision(null=True, default=None)
    door_cycles = BigInt(null=True, default=None)
    received_at = Timestamptz()


class LiftEvent(Table, tablename="lift_event"):
    """A fault or alarm event as the lift sent it; (equipment, event_id) is unique."""

    id = BigSerial(primary_key=True)
    equipment = BigInt()
    event_id = Varchar(length=64)
    ts = Timestamptz()
    kind = Varchar(length=32)
    raw_code = Varchar(length=64, null=True, default=None)
    floor = Integer(null=True, default=None)
    cleared = Boolean(default=False)
    received_at = Timestamptz()


class DeadLetter(Table, tablename="dead_letter"):
    """An MQTT message the ingest could not accept, with why. Pruned by age."""

    id = BigSerial(primary_key=True)
    received_at = Timestamptz()
    topic = Text()
    # The unit code in the topic, when it has one: unknown codes are counted per code
    # so the register can be cleaned up.
    unit_code = Varchar(length=64, null=True, default=None)
    reason = Varchar(length=32)
    detail = Text(default="")
    payload = Bytea(null=True, default=None)  # the first bytes only (DEAD_LETTER_KEPT_BYTES)
    payload_size = Integer()
    # sha256 of topic and whole payload (unique, migration 2026-12-06T07:00:30): a message
    # redelivered after a crash between commit and acknowledgement is stored once, and
    # counted in ``deliveries`` instead.
    delivery_key = Varchar(length=64, null=True, default=None)
    deliveries = Integer(default=1)


class WebhookEndpoint(Table, tablename="webhook_endpoint"):
    """Where an organisation (or the bureau's duty desk) is told of alarms over HTTP."""

    id = BigSerial(primary_key=True)
    # None: the bureau's duty desk, for ``district_code`` ("" the city-wide desk).
    organisation = Integer(null=True, default=None, index=True)
    tier = Varchar(length=12, default="primary")  # primary | second (escalation contact)
    district_code = Varchar(length=6, default="")
    url = Text()
    # Kept in clear: sereg must sign with it (a hash cannot sign). Shown once, at creation;
    # no listing shows it.
    secret = Varchar(length=80)
    label = Varchar(length=100, default="")
    active = Boolean(default=True)
    created_at = Timestamptz()
    # Told of alarms (the emergency linkage); an endpoint may take only the changes feed.
    alarms = Boolean(default=True)
    # The change kinds it subscribes to, comma-separated ("" none): register,
    # inspection, hazard, status; and where its feed stands (the changes feed's cursor).
    changes = Varchar(length=64, default="")
    change_cursor = Varchar(length=48, default="")


class Notification(Table, tablename="notification"):
    """The outbox: one row per thing to tell, written in the transaction that caused it
    (an alarm raised, an escalation fired) and fanned out to endpoints by the worker.
    Unique on (event, alarm, step): an alarm is announced once per event and step."""

    id = BigSerial(primary_key=True)
    event = Varchar(length=32)
    alarm = BigInt()
    step = Varchar(length=24, default="")
    created_at = Timestamptz()
    fanned_out = Boolean(default=False)


class WebhookDelivery(Table, tablename="webhook_delivery"):
    """One notification to one endpoint: its fixed body, attempts and lease.

    ``lease`` names the worker's claim: a result is recorded only under the claim it was
    made with, so a worker that stalled past its lease cannot overwrite a newer attempt.
    """

    id = BigSerial(primary_key=True)
    notification = BigInt()
    endpoint = BigInt(index=True)
    idempotency_key = Varchar(length=64, unique=True)
    body = Text()
    state = Varchar(length=12, default="pending")  # pending | delivered | dead
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz()
    leased_until = Timestamptz(null=True, default=None)
    lease = Varchar(length=32, null=True, default=None)
    last_error = Text(default="")
    last_status = Integer(null=True, default=None)
    delivered_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    # A change of the feed (its audit entry id) instead of an alarm's notification (0).
    change = BigInt(null=True, default=None)


class AlertDelivery(Table, tablename="alert_delivery"):
    """One notification to one organisation's MQTT alert topic
    (``sereg/v1/orgs/{organisation}/alerts``): its fixed payload, attempts and lease,
    drained like :class:`WebhookDelivery` (at least once, the same key on a repeat)."""

    id = BigSerial(primary_key=True)
    notification = BigInt()
    organisation = BigInt(index=True)
    idempotency_key = Varchar(length=64, unique=True)
    body = Text()
    state = Varchar(length=12, default="pending")  # pending | delivered | dead
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz()
    leased_until = Timestamptz(null=True, default=None)
    lease = Varchar(length=32, null=True, default=None)
    last_error = Text(default="")
    delivered_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


class EscalationFired(Table, tablename="escalation_fired"):
    """An escalation step that fired; unique on (alarm, step), so it fires once however
    many workers watch the clock."""

    id = BigSerial(primary_key=True)
    alarm = BigInt()
    step = Varchar(length=24)
    fired_at = Timestamptz()


class ClockOffset(Table, tablename="clock_offset"):
    """Test-only: seconds every worker adds to its clock when SEREG_TEST_CLOCK is set, so a
    test moves time for every process at once. Production never reads it."""

    id: Serial  # the primary key Piccolo adds, named for the type checker

    seconds = DoublePrecision(default=0)


class EmergencyCall(Table, tablename="emergency_call"):
    """A call to the 96333 lift-emergency line, taken by a call-centre operator. The caller's
    callback number is personal: only the responders and the bureau see it."""

    id = BigSerial(primary_key=True)
    alarm = BigInt(index=True)
    equipment = BigInt()
    callback_number = Varchar(length=32)
    note = Text(default="")
    received_at = Timestamptz()
    joined = Boolean(default=False)  # the call joined an alarm already open
    actor = Varchar(length=80)
    recorded_at = Timestamptz()


class CitizenReport(Table, tablename="citizen_report"):
    """A problem a member of the public reported from a unit's page (举报/投诉).

    Read by inspectors and admins only, never shown publicly. ``client_key`` is a keyed
    digest of the sender's address, not the address: it is what the per-client rate limit
    counts (stored here, so the limit holds across API workers). The phone is optional
    and personal: only the report list shows it.
    """

    id = BigSerial(primary_key=True)
    equipment = ForeignKey(references=Equipment, on_delete=OnDelete.restrict)
    category = Varchar(length=24)
    text = Text(default="")
    phone = Varchar(length=32, default="")
    lang = Varchar(length=8, default="zh-CN")
    client_key = Varchar(length=64)
    received_at = Timestamptz()
    # The bureau's finding once it looked into the report: "" (not decided yet), "upheld"
    # (查实: found true, against the enterprise ``against``) or "not_upheld". An upheld
    # report counts against that enterprise's credit class.
    finding = Varchar(length=12, default="")
    against = Integer(null=True, default=None, index=True)
    decided_on = Date(null=True, default=None)
    decision_note = Text(default="")
    decided_by = Varchar(length=80, default="")


class SiteSecret(Table, tablename="site_secret"):
    """A random key the service made for itself (the public form's signing key), shared by
    every worker through the database unless SEREG_FORM_SECRET sets one."""

    id: Serial  # the primary key Piccolo adds, named for the type checker

    name = Varchar(length=32, unique=True)
    value = Varchar(length=128)
    created_at = Timestamptz()


class Drill(Table, tablename="drill"):
    """An emergency drill (应急演练) held on a unit: when, who took part, what was drilled."""

    id = BigSerial(primary_key=True)
    equipment = BigInt(index=True)
    held_on = Date()
    participants = JSON(default="[]")  # names (and roles) as the drill's record lists them
    scenario = Varchar(length=100, default="")
    note = Text(default="")
    organisation = Integer(null=True, default=None)  # who recorded it
    actor = Varchar(length=80)
    recorded_at = Timestamptz()


class RescueOutcome(Table, tablename="rescue_outcome"):
    """How a finished entrapment rescue ended (issue 24): recording it closes the alarm.
    One per alarm (unique)."""

    id = BigSerial(primary_key=True)
    alarm = BigInt(unique=True)
    equipment = BigInt(index=True)
    people_released = Integer()
    injuries = Integer(default=0)
    fatalities = Integer(default=0)
    release_method = Varchar(length=32)
    cause = Varchar(length=32)
    rescuers = JSON(default="[]")  # who released them, as the rescue's record names them
    note = Text(default="")
    organisation = Integer(null=True, default=None)  # who recorded it
    actor = Varchar(length=80)
    recorded_at = Timestamptz()


class Hazard(Table, tablename="hazard"):
    """A hazard (隐患) of a unit, or of a user unit (a management hazard: ``equipment`` is
    None), and where it stands in the 一单四制 loop (equipment.domain.hazards).

    ``user_unit`` and ``district_code`` are copied from the unit when the hazard is
    listed, so ledgers group without a join; a maintenance company's scope follows the
    unit's current maintainer (a join), since the hazard goes with the unit."""

    id = BigSerial(primary_key=True)
    equipment = BigInt(null=True, default=None, index=True)
    user_unit = Integer(index=True)
    district_code = Varchar(length=6, default="")
    source = Varchar(length=24)
    source_ref = Varchar(length=80, default="")  # the record, inspection, alarm... it came from
    description = Text()
    grade = Varchar(length=8)
    criterion = Varchar(length=48, null=True, default=None)  # the GB 45067-2024 item, if major
    state = Varchar(length=12, index=True)
    found_on = Date()
    # The 交办单 (一单四制), filled when the hazard is assigned.
    responsible_org = Integer(null=True, default=None)
    responsible_person = Varchar(length=100, default="")
    measures = Text(default="")
    deadline = Date(null=True, default=None)
    supervising_inspector = Varchar(length=100, default="")
    overdue_alarm = BigInt(null=True, default=None)  # the one alarm its passed deadline raised
    closed_on = Date(null=True, default=None)
    version = Integer(default=1)
    created_by = Varchar(length=80)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class HazardChange(Table, tablename="hazard_change"):
    """One move of a hazard through the loop: who, when, from what to what, and why."""

    id = BigSerial(primary_key=True)
    hazard = BigInt(index=True)
    action = Varchar(length=16)
    from_state = Varchar(length=12)
    to_state = Varchar(length=12)
    note = Text(default="")
    actor = Varchar(length=80)
    at = Timestamptz()


class HazardEvidence(Table, tablename="hazard_evidence"):
    """A photo or document of a hazard, kept in the evidence store under ``key`` (made
    by the service, never a client's file name)."""

    id = BigSerial(primary_key=True)
    hazard = BigInt(index=True)
    key = Varchar(length=120, unique=True)
    media_type = Varchar(length=40)
    size = BigInt()
    sha256 = Varchar(length=64)
    uploaded_by = Varchar(length=80)
    uploaded_at = Timestamptz()


class RiskChange(Table, tablename="risk_change"):
    """A unit's risk grade changed: one row per change, never edited, so "units that
    became 红 this month" is a range scan on (to_rank, changed_at)."""

    id = BigSerial(primary_key=True)
    equipment = BigInt(index=True)
    from_rank = Integer(null=True, default=None)  # None: the first grade it got
    to_rank = Integer()
    points = DoublePrecision()
    changed_at = Timestamptz()


class RiskGrade(Table, tablename="risk_grade"):
    """A unit's risk grade as last computed: its points, each factor's (value, points)
    and when it last changed; no row: never graded. Apart from ``equipment`` (whose
    ``risk_rank`` the lists sort by) so that a grade whose points or explanation move
    without its rank rewrites this narrow row, not the unit's row and its fifteen
    indexes. No foreign key: the recompute writes up to a row per unit and a unit is
    never deleted (scrapped and cancelled units keep their rows)."""

    equipment = BigInt(primary_key=True)
    points = DoublePrecision()
    # JSON [[value, points], ...] in the order of equipment.domain.risk.FACTORS, as the
    # policy in force at ``graded_at`` scored them (risk.result_of reads it back).
    factors = Text()
    graded_at = Timestamptz()


class ScheduledJob(Table, tablename="scheduled_job"):
    """A job the workers run on a schedule (the daily risk grading), shared through its row:
    the day of its last or current round and the next unit id that round grades (None: the
    day's round is done). Several workers share a round batch by batch, locking the row; a
    restarted worker goes on where the round stopped."""

    id: Serial  # the primary key Piccolo adds, named for the type checker

    job = Varchar(length=40, unique=True)
    day = Date(null=True, default=None)
    next_id = BigInt(null=True, default=None)
    updated_at = Timestamptz()


class CreditClassChange(Table, tablename="credit_class_change"):
    """The history of an enterprise's credit class: each computation that changed it and
    each override set or cleared, with its explanation; append-only."""

    id = BigSerial(primary_key=True)
    organisation = Integer(index=True)
    kind = Varchar(length=24)
    action = Varchar(length=16)  # computed | override | cleared | imported
    computed = Varchar(length=1, null=True, default=None)
    override = Varchar(length=1, null=True, default=None)
    effective = Varchar(length=1, null=True, default=None)
    points = Integer(null=True, default=None)
    explanation = JSON(default="{}")
    reason = Text(default="")
    assessed_on = Date()
    actor = Varchar(length=80)
    recorded_at = Timestamptz()


class RosterInspector(Table, tablename="roster_inspector"):
    """The inspector roster (检查人员名录库): who may be drawn, where, for what."""

    id: Serial

    name = Varchar(length=100)
    account = Integer(null=True, default=None, index=True)  # his log-in: "my tasks"
    token = Integer(null=True, default=None, index=True)  # or his API token (mobile app)
    inspection_body = Integer(null=True, default=None)
    districts = Varchar(length=500, default="")  # comma-separated codes; empty: the city
    qualifications = Varchar(length=200, default="")  # comma-separated top-level categories
    available = Boolean(default=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class WorkCalendarDay(Table, tablename="work_calendar_day"):
    """The bureau's working-day calendar: a public holiday on a weekday (``holiday``) or a
    weekend day worked in its place (``workday``, 调休). Days not listed: Monday-Friday."""

    id = BigSerial(primary_key=True)
    day = Date(unique=True)
    kind = Varchar(length=8)
    note = Varchar(length=100, default="")


class DrawPlan(Table, tablename="draw_plan"):
    """A random-inspection plan: scope, checklist, period, ratios, and its seed (announced
    before any draw and never changed after)."""

    id: Serial

    title = Varchar(length=200)
    year = Integer()
    categories = Varchar(length=200, default="")  # comma-separated top-level codes
    districts = Varchar(length=500, default="")  # empty: the whole city
    enterprise_kinds = Varchar(length=100)  # comma-separated organisation kinds
    checklist = Varchar(length=64, default="")
    # Working days within which a task's result is published (一公开): the bureau's
    # default (SEREG_DRAW_PUBLISH_DAYS) when the plan was made, unless the plan set one.
    publish_working_days = Integer(default=20)
    period_start = Date()
    period_end = Date()
    ratios = JSON(default="{}")
    seed = Varchar(length=200, default="")
    seed_announced_at = Timestamptz(null=True, default=None)
    published_at = Timestamptz(null=True, default=None)
    actor = Varchar(length=80)
    created_at = Timestamptz()


class RandomDraw(Table, tablename="random_draw"):
    """One run of a plan's draw with everything needed to run it again (``inputs``)."""

    id = BigSerial(primary_key=True)
    plan = Integer(index=True)
    number = Integer(default=1)  # 1, then 2... for an audited re-draw
    reason = Text(default="")
    algorithm = Varchar(length=32)
    seed = Varchar(length=200)
    inputs = JSON(default="{}")
    inputs_digest = Varchar(length=64)
    result = JSON(default="{}")
    result_digest = Varchar(length=64)
    superseded_by = BigInt(null=True, default=None)
    actor = Varchar(length=80)
    drawn_at = Timestamptz()


class DrawTask(Table, tablename="draw_task"):
    """A drawn target: the check its inspectors owe, and its published result."""

    id = BigSerial(primary_key=True)
    draw = BigInt(index=True)
    plan = Integer(index=True)
    enterprise = Integer(index=True)
    enterprise_kind = Varchar(length=24)
    klass = Varchar(length=1)
    district_code = Varchar(length=6, default="")
    due_on = Date()
    state = Varchar(length=12, default="open")  # open | done | cancelled
    check_id = BigInt(null=True, default=None)  # the supervision check that did it
    conclusion = Varchar(length=24, default="")
    findings = Text(default="")
    done_on = Date(null=True, default=None)
    publish_by = Date(null=True, default=None)
    published_at = Timestamptz(null=True, default=None)
    actor = Varchar(length=80, default="")
    created_at = Timestamptz()


class DrawTaskInspector(Table, tablename="draw_task_inspector"):
    id = BigSerial(primary_key=True)
    task = BigInt(index=True)
    inspector = Integer(index=True)


class Campaign(Table, tablename="campaign"):
    """A special campaign (专项整治) or its follow-up (回头看, ``parent`` the campaign it
    looks back on): the units it selected became its tasks."""

    id = Serial(primary_key=True)
    title = Varchar(length=200)
    kind = Varchar(length=12, default="campaign")  # campaign | follow_up
    parent = Integer(null=True, default=None)
    per = Varchar(length=12, default="unit")  # unit | enterprise
    filters = JSON(default="{}")
    due_on = Date()
    actor = Varchar(length=80)
    created_at = Timestamptz()


class CampaignTask(Table, tablename="campaign_task"):
    """One unit (or one user unit) a campaign checks; done by the supervision check that
    checked it, whose failed items opened ``hazards`` (their ids)."""

    id = BigSerial(primary_key=True)
    campaign = Integer(index=True)
    equipment = BigInt(null=True, default=None)
    user_unit = Integer(index=True)
    district_code = Varchar(length=6, default="", index=True)
    state = Varchar(length=12, default="open")  # open | done
    check_id = BigInt(null=True, default=None)
    failed = Integer(default=0)
    hazards = JSON(default="[]")
    done_on = Date(null=True, default=None)
    actor = Varchar(length=80, default="")


class Licence(Table, tablename="licence"):
    """A manufacturer's or installer's licence (许可证) or an inspection body's approval
    (核准证): what it covers and for how long (证后监管)."""

    id = Serial(primary_key=True)
    organisation = Integer(index=True)
    kind = Varchar(length=16)  # manufacture | installation | inspection
    scope = Text(default="")
    number = Varchar(length=64)
    valid_from = Date()
    valid_until = Date()
    actor = Varchar(length=80)
    created_at = Timestamptz()


class Installation(Table, tablename="installation"):
    """Who installed a unit and when (the installer's licence is checked at that date)."""

    id = BigSerial(primary_key=True)
    equipment = BigInt(index=True)
    installer = Integer(index=True)
    installed_on = Date()
    actor = Varchar(length=80)


class AnnualReport(Table, tablename="annual_report"):
    """A manufacturer's annual report (年报) for one year."""

    id = Serial(primary_key=True)
    organisation = Integer(index=True)
    year = Integer()
    submitted_on = Date()
    actor = Varchar(length=80)


class Violation(Table, tablename="violation"):
    """A violation recorded against an enterprise (违法违规记录): an administrative penalty
    decision (行政处罚决定书: its number, date and the clause applied), or a random
    inspection concluded non-compliant (``task_id``; a penalty decided on that task later
    fills in the same row, so one case counts once). Counted by the credit class."""

    id = BigSerial(primary_key=True)
    organisation = Integer(index=True)
    source = Varchar(length=12)  # penalty | draw_task
    decision_no = Varchar(length=64, default="")
    decided_on = Date()
    clause = Text(default="")  # the legal provision applied, as the decision cites it
    note = Text(default="")
    task_id = BigInt(null=True, default=None, unique=True)
    actor = Varchar(length=80)
    created_at = Timestamptz()


class SupervisionCheck(Table, tablename="supervision_check"):
    """An on-site supervision check (监督检查) of a user unit or of one unit, against a
    checklist (equipment.domain.checks). ``user_unit`` and ``district_code`` are copied
    from the unit (or, for a user-unit check, the district of most of its units) so scope
    and ledgers need no join; ``task_id`` names the random-inspection task it answers."""

    id = BigSerial(primary_key=True)
    target_kind = Varchar(length=12)
    user_unit = Integer(index=True)
    equipment = BigInt(null=True, default=None, index=True)
    district_code = Varchar(length=6, default="")
    checklist = Varchar(length=32)
    checked_on = Date()
    inspector = Varchar(length=100)  # the person who checked, as entered
    inspector_org = Integer(null=True, default=None)
    task_id = BigInt(null=True, default=None, index=True)
    note = Text(default="")
    failed = Integer(default=0)
    created_by = Varchar(length=80)
    created_at = Timestamptz()


class CheckItem(Table, tablename="check_item"):
    """One item's outcome in a check; ``hazard``: the hazard a failed item opened."""

    id = BigSerial(primary_key=True)
    check_id = BigInt(index=True)
    key = Varchar(length=48)
    text = Text()
    source = Varchar(length=200)
    criterion = Varchar(length=48, null=True, default=None)
    outcome = Varchar(length=16)
    note = Text(default="")
    hazard = BigInt(null=True, default=None)


class CheckEvidence(Table, tablename="check_evidence"):
    """A photo or document of a check (of one item when ``item_key`` is set), kept in the
    evidence store under ``key`` (made by the service)."""

    id = BigSerial(primary_key=True)
    check_id = BigInt(index=True)
    item_key = Varchar(length=48, default="")
    key = Varchar(length=120, unique=True)
    media_type = Varchar(length=40)
    size = BigInt()
    sha256 = Varchar(length=64)
    uploaded_by = Varchar(length=80)
    uploaded_at = Timestamptz()


class RoutineRecord(Table, tablename="routine_record"):
    """A user unit's own routine record of a unit (日管控、周排查、月调度, SAMR Order 74):
    one per unit, kind and period (``period_start``: the day, the week's Monday or the
    month's first day)."""

    id = BigSerial(primary_key=True)
    equipment = BigInt(index=True)
    user_unit = Integer(index=True)
    kind = Varchar(length=8)
    period_start = Date()
    recorded_on = Date()
    all_clear = Boolean(default=True)
    findings = Text(default="")
    recorded_by = Varchar(length=80)
    created_at = Timestamptz()


class InspectionCleanup(Table, tablename="inspection_cleanup"):
    """A report an inspection body uploaded for a unit the register does not hold (归集
    检验数据): kept for the registration office to resolve (file it under the right unit,
    or dismiss it), never dropped. One row per report number: a re-upload updates it."""

    id = BigSerial(primary_key=True)
    report_no = Varchar(length=64, unique=True)
    unit_code = Varchar(length=40)  # the code as the body wrote it
    inspection_body = Integer(null=True, default=None, index=True)
    report = JSON()  # the report as received, to file it once the unit is known
    reason = Varchar(length=40)  # a stable code: unit_not_found
    state = Varchar(length=12, default="open")  # open | resolved | dismissed
    received_at = Timestamptz()
    actor = Varchar(length=80)
    resolved_at = Timestamptz(null=True, default=None)
    resolved_by = Varchar(length=80, default="")
    equipment = BigInt(null=True, default=None)  # the unit it was filed under
    note = Varchar(length=200, default="")  # why it was dismissed


REGISTER_TABLES: tuple[type[Table], ...] = (
    Organisation,
    Equipment,
    StatusChange,
    Inspection,
    DueDate,
    MaintenanceContract,
    ContractUnit,
    MaintenanceRecord,
    Alarm,
    AlarmChange,
    AuditEntry,
    ApiToken,
    Account,
    WebSession,
    CalendarFeed,
    LoginFailure,
    Area,
    AreaMember,
    Fill,
    CylinderFillState,
    JointFilling,
    CylinderEntrustment,
    LiftState,
    LiftHeartbeat,
    LiftEvent,
    DeadLetter,
    WebhookEndpoint,
    Notification,
    WebhookDelivery,
    AlertDelivery,
    EscalationFired,
    ClockOffset,
    EmergencyCall,
    Drill,
    RescueOutcome,
    CitizenReport,
    SiteSecret,
    Hazard,
    HazardChange,
    HazardEvidence,
    RiskChange,
    RiskGrade,
    ScheduledJob,
    CreditClassChange,
    RosterInspector,
    DrawPlan,
    RandomDraw,
    DrawTask,
    DrawTaskInspector,
    SupervisionCheck,
    CheckItem,
    CheckEvidence,
    RoutineRecord,
    InspectionCleanup,
    Campaign,
    CampaignTask,
    Licence,
    Installation,
    AnnualReport,
    Violation,
    WorkCalendarDay,
)
