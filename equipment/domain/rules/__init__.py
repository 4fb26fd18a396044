"""Periodic-inspection rules: when each unit of special equipment is due, and why.

Pure: standard library only, no clock (``today`` is always an argument), no I/O (the
caller reads a policy file and passes the parsed mapping to :func:`load_policy`).

Entry point
-----------
``schedule(unit: UnitHistory, today: date, policy: Policy = DEFAULT_POLICY) -> Schedule``

- ``UnitHistory(category, status="in_use", parameters={}, commissioning_date=None,
  manufacture_date=None, inspections=(), major_repairs=(), suspensions=(),
  maintenance=())`` with ``Inspection(inspected_on, kind, conclusion, next_due=None,
  safety_grade=None, reason="")`` and ``Suspension(start, end=None)``.
  Statuses: pending, in_use, suspended, scrapped, cancelled. Inspection kinds:
  supervisory, periodic, self_test, external, internal, hydrostatic, annual_check.
  Conclusions: pass, conditional_pass (counts as passed), fail.
- ``Schedule``: ``due`` (one :class:`DueDate` per kind the unit is held to now),
  ``next_periodic`` (the earliest statutory inspection: periodic, external, internal
  or hydrostatic; never a self-test, maintenance or end of life), ``overdue`` (kinds),
  ``not_fit_for_use`` with ``not_fit_reasons``, ``dormant`` and
  ``needs_inspection_before_resume`` (suspended units), ``notes``.
- ``DueDate``: ``kind, due_on, rule_key, source, tag, base_date, explanation,
  from_report``. Kinds: the inspection kinds plus ``maintenance`` and
  ``end_of_service_life``.
- ``load_policy(mapping) -> Policy`` and ``DEFAULT_POLICY``; the rule table is
  ``TABLE`` in :mod:`equipment.domain.rules.table`. See :mod:`.policy` for overrides.

What "due date" means
---------------------
``due_on`` is the **last day on which the obligation is met in time**; the unit is
overdue from the next day (``today > due_on``).

- Interval rules ("every N years"): the anniversary, ``base + N years`` on the same
  day of the month; a base of 29 February gives 28 February in a common year (the
  earlier reading, never the later).
- Lifts: the **last day of the due month** (TSG T7001-2023 fixes a month, not a day);
  see :mod:`.lifts` for how the month and the 2-month early window are found.
- Maintenance: ``base + N days``.
- A date stated by the inspection report, where the rule says the report wins
  (pressure vessels, piping, power-station boilers' internal inspection): that date.

Status
------
Scrapped and cancelled units get an empty schedule. A suspended unit's dates go to
``dormant``, not ``due``; it has ``needs_inspection_before_resume`` when a statutory
inspection lapsed, or when a boiler or a lift has been stopped a year or more (TSG 11-2020,
TSG T7001-2023: an inspection before restart even when nothing lapsed). Pending and in-use
units are held to their dates. A unit whose last inspection of some kind failed, with no
later passing inspection of that kind (or full supervisory/periodic one), is not fit for
use; so is a grade-5 pressure vessel and a cylinder past its service life.
"""

from __future__ import annotations

from equipment.domain.rules.model import (
    CONCLUSIONS,
    DUE_KINDS,
    INSPECTION_KINDS,
    STATUSES,
    DueDate,
    Inspection,
    Schedule,
    Suspension,
    UnitHistory,
)
from equipment.domain.rules.policy import DEFAULT_POLICY, Policy, load_policy
from equipment.domain.rules.schedule import schedule
from equipment.domain.rules.table import TABLE, RuleRow

__all__ = [
    "CONCLUSIONS",
    "DEFAULT_POLICY",
    "DUE_KINDS",
    "INSPECTION_KINDS",
    "STATUSES",
    "TABLE",
    "DueDate",
    "Inspection",
    "Policy",
    "RuleRow",
    "Schedule",
    "Suspension",
    "UnitHistory",
    "load_policy",
    "schedule",
]
