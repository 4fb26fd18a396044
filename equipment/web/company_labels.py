"""What the enterprise client's pages call the register's stable codes: the register's
own label tables (equipment.domain.labels) plus an alarm's state, which only these pages
show as words. The codes stay English in the data and the API.

The fill verdicts have their labels in the verdict table itself
(``equipment.domain.fills.verdict_label``).
"""

from __future__ import annotations

from collections.abc import Mapping

from equipment.domain import labels
from equipment.i18n import N_, Translator

STATUS = labels.STATUS
ALARM_KINDS = labels.ALARM_KIND
SEVERITIES = labels.ALARM_SEVERITY
DUE_STATES = labels.DUE_STATE
ALARM_STATES = {"open": N_("Open"), "closed": N_("Closed")}


def label(table: Mapping[str, str], code: str | None, _: Translator) -> str:
    """``code``'s label in the translator's language; a code the table lacks shows as is
    (a kind added to the contract later is still shown, untranslated)."""
    return "" if code is None else labels.label(table, code, _.lang)
