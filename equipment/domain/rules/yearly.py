"""Passenger ropeways (9xxx), large amusement rides (6xxx), in-plant vehicles (5xxx).

Each is inspected every year under its own regulation (TSG S7001-2013, TSG 71-2023,
TSG 81-2022); the rows are tagged [U], so a policy may change them.
"""

from __future__ import annotations

from equipment.domain.rules.history import Findings, View
from equipment.domain.rules.intervals import every_n_years

__all__ = ["YEARLY_ROWS", "yearly_findings"]

YEARLY_ROWS = ("ropeway.periodic", "amusement.periodic", "vehicle.periodic")


def yearly_findings(view: View, findings: Findings) -> None:
    """Add the next yearly periodic inspection of the row matching the category."""
    for key in YEARLY_ROWS:
        row = view.row(key)
        if row.applies(view.unit.category):
            every_n_years(view, findings, row)
            return
    raise LookupError(f"no yearly row for category {view.unit.category}")
