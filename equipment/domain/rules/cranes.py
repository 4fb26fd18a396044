"""Cranes (4xxx), TSG Q7015-2016: yearly or every 2 years by type.

Tower (4300), mobile (4400) and hoists including construction hoists (48xx) every
year; bridge (4100), gantry (4200), portal (4700) and mechanical parking (4D00) every
2 years; any crane with the parameter ``molten_metal`` every year. Other crane codes
(cable 4900, mast 4A00...) are not in docs/rules.md's table: the report's date or a note.
"""

from __future__ import annotations

from equipment.domain.rules.history import Findings, View, param_bool
from equipment.domain.rules.intervals import every_n_years
from equipment.domain.rules.reported import report_only_findings

__all__ = ["crane_findings"]


def crane_findings(view: View, findings: Findings) -> None:
    """Add the crane's next periodic inspection."""
    if param_bool(view.params, "molten_metal"):
        every_n_years(view, findings, view.row("crane.molten_metal"), "molten metal")
        return
    for key in ("crane.yearly", "crane.biennial"):
        row = view.row(key)
        if row.applies(view.unit.category):
            every_n_years(view, findings, row)
            return
    report_only_findings(view, findings, "this crane type")
