"""A finished entrapment rescue's outcome (救援结果): how many were released and how, any
injuries, the cause, and who did it. Recording it closes the entrapment (issue 24).

Pure: the service checks the alarm, this checks the record. The codes are stable English
(data and JSON); their labels are message ids with zh-CN texts in the catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass

from equipment.domain.errors import Conflict, InvalidValue
from equipment.i18n import N_

# How the people were got out: the technician's rescue (doors opened at a landing, or the
# car wound by hand to one), a restored supply, the fire brigade, or on their own.
RELEASE_METHODS: dict[str, str] = {
    "door_opened_at_level": N_("Doors opened at a landing"),
    "manual_winding": N_("Car moved by hand winding to a landing"),
    "power_restored": N_("Supply restored, lift returned to a landing"),
    "fire_brigade": N_("Released by the fire brigade"),
    "self_released": N_("Left the car before the rescuers arrived"),
    "other": N_("Other"),
}

# What trapped them (the categories the city's 96333 platforms count).
CAUSES: dict[str, str] = {
    "power_failure": N_("Power failure"),
    "door_system": N_("Door system fault"),
    "control_system": N_("Control system fault"),
    "traction_drive": N_("Traction or drive fault"),
    "safety_device": N_("A safety device tripped"),
    "misuse": N_("Misuse by passengers"),
    "external": N_("External cause (water, fire, vandalism)"),
    "unknown": N_("Cause not yet found"),
    "other": N_("Other"),
}

# A sanity bound, not a rule: far above the rated number of persons of any passenger car.
MAX_PEOPLE = 100
MAX_RESCUERS = 20


@dataclass(frozen=True, slots=True)
class Outcome:
    people_released: int
    injuries: int
    fatalities: int
    release_method: str
    cause: str
    rescuers: tuple[str, ...]


def check(outcome: Outcome) -> Outcome:
    """The record as stored, or :class:`InvalidValue` naming the field that is wrong."""
    if not 0 <= outcome.people_released <= MAX_PEOPLE:
        raise InvalidValue(
            f"people released is between 0 and {MAX_PEOPLE}", field="people_released"
        )
    if outcome.injuries < 0 or outcome.fatalities < 0:
        raise InvalidValue("injuries and fatalities are not negative", field="injuries")
    if outcome.injuries + outcome.fatalities > outcome.people_released:
        # Those hurt or killed are among those released: a count of more is a typing error.
        raise InvalidValue("more injured and dead than people released", field="injuries")
    if outcome.release_method not in RELEASE_METHODS:
        raise InvalidValue(
            f"release_method is one of {', '.join(RELEASE_METHODS)}", field="release_method"
        )
    if outcome.cause not in CAUSES:
        raise InvalidValue(f"cause is one of {', '.join(CAUSES)}", field="cause")
    rescuers = tuple(r.strip() for r in outcome.rescuers if r.strip())
    if outcome.release_method != "self_released" and not rescuers:
        raise InvalidValue("name who released them", field="rescuers")
    if len(rescuers) > MAX_RESCUERS:
        raise InvalidValue(f"at most {MAX_RESCUERS} rescuers", field="rescuers")
    return Outcome(
        outcome.people_released,
        outcome.injuries,
        outcome.fatalities,
        outcome.release_method,
        outcome.cause,
        rescuers,
    )


def can_record(*, kind: str, state: str, finished: bool, recorded: bool) -> None:
    """An outcome is recorded once, for an entrapment whose rescue is finished and that is
    still open (recording it closes it)."""
    if kind != "entrapment":
        raise Conflict("a rescue outcome is recorded for entrapments only")
    if recorded:
        raise Conflict("this entrapment's rescue outcome is already recorded")
    if state != "open":
        raise Conflict("the entrapment is already closed")
    if not finished:
        raise Conflict("mark the rescue finished before recording its outcome")
