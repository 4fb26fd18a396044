"""The words of the import's report: each rule and heading, in the caller's language."""

from __future__ import annotations

from equipment.i18n import N_, gettext
from equipment.i18n.spoken import speak

LABELS: dict[str, str] = {
    "missing_code": N_("No registration or equipment code"),
    "invalid_registration_code": N_("Invalid registration code"),
    "invalid_equipment_code": N_("Invalid equipment code"),
    "code_category_mismatch": N_("Code and category disagree"),
    "unknown_category": N_("Unknown category"),
    "invalid_status": N_("Unknown status"),
    "invalid_date": N_("Unreadable date"),
    "commissioned_before_made": N_("Commissioned before it was made"),
    "inspected_before_commissioned": N_("Inspected before it was commissioned"),
    "date_in_future": N_("Date in the future"),
    "unknown_district": N_("District not in the city"),
    "user_unit_unmatched": N_("User unit not matched"),
    "duplicate_in_file": N_("Duplicate code in the file"),
    "invalid_credit_code": N_("Invalid unified social credit code"),
    "missing_coordinates": N_("No coordinates"),
    "out_of_city": N_("Coordinates outside the city"),
    "invalid_coordinates": N_("Unreadable coordinates"),
    "past_due_no_inspection": N_("Past due with no inspection on record"),
    "due_date_disagrees": N_("Stated due date disagrees with the rules"),
    "user_unit_by_credit_code": N_("User unit matched by credit code"),
    "user_unit_by_name": N_("User unit matched by name"),
    "in_register": N_("Already in the register"),
    "reject": N_("rejected"),
    "warn": N_("warning"),
    "info": N_("information"),
    "summary": N_("Summary"),
    "rule": N_("Rule"),
    "code": N_("Rule code"),
    "severity": N_("Severity"),
    "rows": N_("Rows"),
    "row": N_("Row"),
    "detail": N_("Detail"),
    "rows in the file": N_("Rows in the file"),
    "accepted rows": N_("Accepted rows"),
    "unknown_unit": N_("Unit not in the register"),
    "invalid_report": N_("Invalid report"),
    "already_recorded": N_("Report already recorded"),
}


def label(lang: str, key: str) -> str:
    return gettext(lang, LABELS.get(key, key))


def detail(lang: str, english: str) -> str:
    """A finding's detail (an English sentence where it was found) in ``lang``."""
    return speak(lang, english) if english else english
