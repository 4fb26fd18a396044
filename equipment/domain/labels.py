"""The words a person reads for the stable codes the API answers with.

JSON keys and values stay the English codes (``status: "in_use"``), so clients do not
break; beside a code a response may carry its ``*_label`` in the caller's language, from
these tables through the catalogue (zh-CN first). The fill verdicts have their own table
(``fills.verdict_label``), the public safety states theirs (``public_safety.LABELS``).

Pure: no I/O. An unknown code (a value added to the data before its label) is shown as
the code itself rather than failing the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from equipment.domain import lift_events
from equipment.i18n import N_, gettext

# Equipment register status (TSG 08-2017 使用登记: 未登记/不予登记/在用/停用/报废/注销).
STATUS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "pending": N_("Not registered for use"),
        "refused": N_("Registration refused"),
        "in_use": N_("In use"),
        "suspended": N_("Suspended"),
        "scrapped": N_("Scrapped"),
        "cancelled": N_("Registration cancelled"),
    }
)

# A step of the registration workflow (equipment.domain.lifecycle.Action), as the status
# history lists it.
STATUS_ACTION: Final[Mapping[str, str]] = MappingProxyType(
    {
        "register": N_("Registered"),
        "refuse": N_("Registration refused"),
        "reapply": N_("Applied again"),
        "suspend": N_("Suspended"),
        "resume": N_("Resumed"),
        "scrap": N_("Scrapped"),
        "cancel": N_("Registration cancelled"),
        "transfer": N_("Transferred to another user unit"),
        "change_maintainer": N_("Maintenance company changed"),
    }
)

# An organisation's kind (equipment.domain.access.OrgKind).
ORG_KIND: Final[Mapping[str, str]] = MappingProxyType(
    {
        "user_unit": N_("User unit"),
        "maintenance_company": N_("Maintenance company"),
        "inspection_body": N_("Inspection body"),
        "filling_station": N_("Filling station"),
    }
)

# An inspection's conclusion (合格 / 基本符合要求 / 不合格).
CONCLUSION: Final[Mapping[str, str]] = MappingProxyType(
    {
        "pass": N_("Passed"),
        "conditional_pass": N_("Passed with conditions"),
        "fail": N_("Failed"),
    }
)

# A maintenance visit's level (TSG T5002-2017: 半月/季度/半年/年度维保).
MAINTENANCE_LEVEL: Final[Mapping[str, str]] = MappingProxyType(
    {
        "half_monthly": N_("Half-monthly maintenance"),
        "quarterly": N_("Quarterly maintenance"),
        "half_yearly": N_("Half-yearly maintenance"),
        "yearly": N_("Yearly maintenance"),
    }
)

# What a due date is for: the inspection kinds of TSG rules and the user unit's own duties
# (an inspection record's kind is one of them).
DUE_KIND: Final[Mapping[str, str]] = MappingProxyType(
    {
        "supervisory": N_("Supervisory inspection"),
        "periodic": N_("Periodic inspection"),
        "self_test": N_("Self-test"),
        "external": N_("External inspection"),
        "internal": N_("Internal inspection"),
        "hydrostatic": N_("Pressure test"),
        "annual_check": N_("Annual check"),
        "maintenance": N_("Maintenance"),
        "end_of_service_life": N_("End of design service life"),
        "change_registration": N_("Change registration"),
    }
)

# Where a due date stands today (equipment.domain.reminders.DueState).
DUE_STATE: Final[Mapping[str, str]] = MappingProxyType(
    {
        "upcoming": N_("Upcoming"),
        "reminder": N_("Due this month: apply now"),
        "overdue": N_("Overdue"),
    }
)

# An alarm's kind (the lift events of docs/mqtt-contract.md and sereg's own offline); a
# refused fill's alarm kinds (fill_*) are not listed: pages name them as one, with the detail.
ALARM_KIND: Final[Mapping[str, str]] = MappingProxyType(
    {
        "entrapment": N_("Entrapment"),
        "safety_circuit_open": N_("Safety circuit open"),
        "door_close_fault": N_("Door does not close"),
        "door_open_fault": N_("Door does not open"),
        "stopped_outside_door_zone": N_("Stopped outside the door zone"),
        "unintended_movement": N_("Unintended car movement"),
        "motor_runtime_limiter": N_("Motor run-time limiter tripped"),
        "floor_position_lost": N_("Floor position lost"),
        "restart_prevented": N_("Restart prevented"),
        "power_loss": N_("Mains power lost"),
        "over_travel_top": N_("Over-travel at the top"),
        "over_travel_bottom": N_("Over-travel at the bottom"),
        "overspeed": N_("Overspeed"),
        "alarm_button": N_("Passenger alarm button"),
        lift_events.OFFLINE: N_("Monitoring device offline"),
    }
)

# An alarm's severity (lift_events.SEVERITY, alarms.FILL_SEVERITY).
ALARM_SEVERITY: Final[Mapping[str, str]] = MappingProxyType(
    {
        "critical": N_("Critical"),
        "major": N_("Major"),
        "minor": N_("Minor"),
    }
)


def label(table: Mapping[str, str], code: str, lang: str) -> str:
    """``code``'s words in ``lang`` from ``table``; the code itself when it has none."""
    text = table.get(code)
    return code if text is None else gettext(lang, text)
