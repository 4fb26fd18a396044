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

from equipment.i18n import N_, gettext

# Equipment register status (TSG 08-2017 使用登记: 未登记/在用/停用/报废/注销).
STATUS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "pending": N_("Not registered for use"),
        "in_use": N_("In use"),
        "suspended": N_("Suspended"),
        "scrapped": N_("Scrapped"),
        "cancelled": N_("Registration cancelled"),
    }
)

# What a due date is for: the inspection kinds of TSG rules and the user unit's own duties.
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


def label(table: Mapping[str, str], code: str, lang: str) -> str:
    """``code``'s words in ``lang`` from ``table``; the code itself when it has none."""
    text = table.get(code)
    return code if text is None else gettext(lang, text)
