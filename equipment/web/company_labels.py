"""What the enterprise client's pages call the register's stable codes: a unit's status,
an alarm's kind and state, a due date's state. The codes stay English in the data and
the API; people read these labels (zh-CN by default, English through the catalogue).

The fill verdicts have their labels in the verdict table itself
(``equipment.domain.fills.verdict_label``).
"""

from __future__ import annotations

from equipment.domain import lift_events
from equipment.domain.lifecycle import Status
from equipment.domain.reminders import DueState
from equipment.i18n import N_, Translator

STATUS = {
    Status.PENDING: N_("Pending registration"),
    Status.IN_USE: N_("In use"),
    Status.SUSPENDED: N_("Suspended"),
    Status.SCRAPPED: N_("Scrapped"),
    Status.CANCELLED: N_("Cancelled"),
}
ALARM_KINDS = {
    "entrapment": N_("Entrapment"),
    "safety_circuit_open": N_("Safety circuit open"),
    "door_close_fault": N_("Door does not close"),
    "door_open_fault": N_("Door does not open"),
    "stopped_outside_door_zone": N_("Stopped outside the door zone"),
    "unintended_movement": N_("Unintended car movement"),
    "motor_runtime_limiter": N_("Motor run-time limiter tripped"),
    "floor_position_lost": N_("Floor position lost"),
    "restart_prevented": N_("Restart prevented"),
    "power_loss": N_("Power loss"),
    "over_travel_top": N_("Over-travel at the top"),
    "over_travel_bottom": N_("Over-travel at the bottom"),
    "overspeed": N_("Overspeed"),
    "alarm_button": N_("Alarm button pressed"),
    lift_events.BACK_TO_NORMAL: N_("Back to normal"),
    lift_events.OFFLINE: N_("Monitoring offline"),
}
ALARM_STATES = {"open": N_("Open"), "closed": N_("Closed")}
DUE_STATES = {
    DueState.UPCOMING: N_("Upcoming"),
    DueState.REMINDER: N_("Apply now"),
    DueState.OVERDUE: N_("Overdue"),
}
SEVERITIES = {"critical": N_("Critical"), "major": N_("Major"), "minor": N_("Minor")}


def label(table: dict, code: str | None, _: Translator) -> str:
    """``code``'s label in the translator's language; a code the table lacks shows as is
    (a kind added to the contract later is still shown, untranslated)."""
    if code is None:
        return ""
    text = table.get(code)
    return _(text) if text is not None else code
