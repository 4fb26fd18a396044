"""The storage layer: every table access and SQL statement of the services lives here.

Services take a unit of work and call its repositories; they import no table and hold
no SQL (tests/unit/test_storage_shape.py holds that). The repositories are stateless:
each statement runs in the Piccolo transaction open in the task, if any, so a unit of
work opened inside another joins it (the outermost one commits)::

    async with unit_of_work() as uow:       # one transaction
        unit = await uow.equipment.get(equipment_id)
        await uow.audit.add(entry)

    unit = await reads().equipment.get(equipment_id)   # a read on its own, no BEGIN

A repository takes and returns typed records, msgspec Structs read by attribute (frozen
where nothing changes them: a caller that needs a changed copy uses
``msgspec.structs.replace``); a hot read builds them positionally from the driver's rows
(a select of the Struct's columns in its order). Not yet moved: the import's rows
(``ImportJobRow``, ``OrganisationKey``) are still TypedDicts read by column name. The
demo's generated units stay dicts until they are written (COPY takes them as they are):
the schedules read them through ``plain_history``, the stored rows through ``history``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from equipment.storage import db
from equipment.storage.accounts import (
    AccountRepository,
    LoginFailureRepository,
    SessionRepository,
)
from equipment.storage.alarm_changes import AlarmChangeRepository
from equipment.storage.alarms import AlarmRepository
from equipment.storage.alert_deliveries import AlertDeliveryRepository
from equipment.storage.area_changes import AreaChangeRepository
from equipment.storage.areas import AreaRepository
from equipment.storage.audit import AuditRepository
from equipment.storage.calendar_feeds import CalendarFeedRepository
from equipment.storage.calls import CallRepository
from equipment.storage.campaigns import CampaignRepository
from equipment.storage.changes import ChangeRepository
from equipment.storage.checks import CheckRepository, RoutineRepository
from equipment.storage.citizen_reports import CitizenReportRepository
from equipment.storage.clock import ClockRepository
from equipment.storage.credit import CreditRepository
from equipment.storage.dead_letters import DeadLetterRepository
from equipment.storage.devices import DeviceRepository
from equipment.storage.draws import DrawRepository
from equipment.storage.due import DueRepository
from equipment.storage.emergency import EmergencyRepository
from equipment.storage.equipment import EquipmentRepository
from equipment.storage.escalation import EscalationRepository
from equipment.storage.fill_facts import FillFactsRepository
from equipment.storage.fill_state import FillStateRepository
from equipment.storage.fills import FillRepository
from equipment.storage.inspection_feed import InspectionFeedRepository
from equipment.storage.inspections import InspectionRepository
from equipment.storage.licences import LicenceRepository
from equipment.storage.lift_signals import LiftSignalRepository
from equipment.storage.maintenance import MaintenanceRepository
from equipment.storage.map import MapRepository
from equipment.storage.membership import MembershipRepository
from equipment.storage.notifications import NotificationRepository
from equipment.storage.organisations import OrganisationRepository
from equipment.storage.public import PublicRepository
from equipment.storage.retention import RetentionRepository
from equipment.storage.simulation import SimulationRepository
from equipment.storage.telemetry import TelemetryRepository
from equipment.storage.tokens import TokenRepository
from equipment.storage.work_calendar import WorkCalendarRepository


class UnitOfWork:
    """The repositories, one attribute per aggregate."""

    def __init__(self) -> None:
        self.alarm_changes = AlarmChangeRepository()
        self.alarms = AlarmRepository()
        self.alert_deliveries = AlertDeliveryRepository()
        self.accounts = AccountRepository()
        self.areas = AreaRepository()
        self.area_changes = AreaChangeRepository()
        self.audit = AuditRepository()
        self.calendar_feeds = CalendarFeedRepository()
        self.calls = CallRepository()
        self.campaigns = CampaignRepository()
        self.checks = CheckRepository()
        self.changes = ChangeRepository()
        self.citizen_reports = CitizenReportRepository()
        self.clock = ClockRepository()
        self.credit = CreditRepository()
        self.dead_letters = DeadLetterRepository()
        self.devices = DeviceRepository()
        self.draws = DrawRepository()
        self.due = DueRepository()
        self.emergency = EmergencyRepository()
        self.equipment = EquipmentRepository()
        self.escalation = EscalationRepository()
        self.fill_facts = FillFactsRepository()
        self.fill_state = FillStateRepository()
        self.fills = FillRepository()
        self.inspections = InspectionRepository()
        self.licences = LicenceRepository()
        self.lift_signals = LiftSignalRepository()
        self.login_failures = LoginFailureRepository()
        self.maintenance = MaintenanceRepository()
        self.inspection_feed = InspectionFeedRepository()
        self.map = MapRepository()
        self.membership = MembershipRepository()
        self.notifications = NotificationRepository()
        self.organisations = OrganisationRepository()
        self.public = PublicRepository()
        self.retention = RetentionRepository()
        self.work_calendar = WorkCalendarRepository()
        self.routines = RoutineRepository()
        self.simulation = SimulationRepository()
        self.sessions = SessionRepository()
        self.telemetry = TelemetryRepository()
        self.tokens = TokenRepository()


_REPOSITORIES = UnitOfWork()


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[UnitOfWork]:
    """One transaction: committed when the block ends, rolled back when it raises."""
    async with db.transaction():
        yield _REPOSITORIES


def reads() -> UnitOfWork:
    """The repositories outside a transaction (each statement on its own, or inside the
    caller's transaction when one is open): for reads that need no snapshot."""
    return _REPOSITORIES
