"""Due dates: the inspection rules applied to a unit's stored history, kept in due_date.

Every change that can move a due date (a new unit, an edit, a workflow transition, an
inspection) calls ``recompute`` inside its own transaction, so the due lists never lag
the register.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from equipment.domain import rules
from equipment.domain.errors import InvalidValue
from equipment.domain.lifecycle import Status
from equipment.domain.rules.model import STATUTORY_KINDS
from equipment.services import policies
from equipment.storage import reads
from equipment.storage.hazards import HazardRepository

# Rules that demand an inspection before restart after a long stop (TSG T7001-2023,
# TSG 11-2020), whatever the periodic dates say.
RESTART_RULES = frozenset({"lift.restart_inspection", "boiler.internal.restart"})

DUE_COPIED_COLUMNS = (
    "category",
    "district_code",
    "user_unit",
    "maintenance_company",
    "owning_station",
)


def policy() -> rules.Policy:
    """The rule policy the bootstrap installed (equipment.services.policies)."""
    return policies.current().rules


def load_policy(path: Path | None) -> rules.Policy:
    """The defaults, or the overrides file ``path`` (SEREG_RULES_POLICY) applied to them."""
    if path is None:
        return rules.DEFAULT_POLICY
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidValue(f"cannot read the rules policy {path}: {exc}") from exc
    return rules.load_policy(mapping)


def history(
    unit: dict[str, Any], inspections: list[dict[str, Any]], changes: list[dict[str, Any]]
) -> rules.UnitHistory:
    """A unit's stored rows as the rules engine's plain input."""
    corrected = {i["corrects"] for i in inspections if i["corrects"] is not None}
    suspensions: list[rules.Suspension] = []
    for change in changes:
        if change["action"] == "suspend":
            suspensions.append(rules.Suspension(change["effective_on"]))
        elif change["action"] == "resume" and suspensions and suspensions[-1].end is None:
            suspensions[-1] = rules.Suspension(suspensions[-1].start, change["effective_on"])
    return rules.UnitHistory(
        category=unit["category"],
        status=unit["status"],
        parameters=unit["parameters"] or {},
        commissioning_date=unit["commissioning_date"],
        manufacture_date=unit["manufacture_date"],
        inspections=tuple(
            rules.Inspection(
                inspected_on=i["inspected_on"],
                kind=i["kind"],
                conclusion=i["conclusion"],
                next_due=i["next_due_stated"],
                safety_grade=i["safety_grade"],
                reason=i["reason"],
            )
            for i in inspections
            if i["id"] not in corrected
        ),
        suspensions=tuple(suspensions),
        maintenance=(unit["last_maintenance_on"],) if unit["last_maintenance_on"] else (),
        use=unit.get("cylinder_use") or "",
    )


def due_rows(unit: dict[str, Any], schedule: rules.Schedule) -> list[dict[str, Any]]:
    return [
        {
            "equipment": unit["id"],
            "kind": due.kind,
            "due_on": due.due_on,
            "statutory": due.kind in STATUTORY_KINDS,
            "rule_key": due.rule_key,
            "source": due.source[:200],
            "base_date": due.base_date,
            "explanation": due.explanation,
            "from_report": due.from_report,
            **{column: unit[column] for column in DUE_COPIED_COLUMNS},
            # The risk recompute keeps it current; a unit's new due row starts with it.
            "risk_rank": unit.get("risk_rank", 0),
        }
        for due in schedule.due
    ]


def derived_fields(unit: dict[str, Any], schedule: rules.Schedule, today: date) -> dict[str, Any]:
    """The register columns the schedule sets."""
    statutory = [d for d in (*schedule.due, *schedule.dormant) if d.kind in STATUTORY_KINDS]
    next_due = min((d.due_on for d in statutory), default=None)
    if unit["status"] == Status.SUSPENDED:
        needs = schedule.needs_inspection_before_resume
    else:
        # Set on resume; it stays until the lapsed inspection is done. A unit restarted
        # after a year or more without its restart inspection owes it whatever the dates
        # (its schedule holds that inspection, due on the restart day, until it is done).
        restart_owed = any(d.rule_key in RESTART_RULES for d in schedule.due)
        needs = restart_owed or bool(
            unit["needs_inspection_before_resume"] and next_due and next_due < today
        )
    return {
        "next_inspection_due": next_due,
        "not_fit_for_use": schedule.not_fit_for_use,
        "needs_inspection_before_resume": needs,
    }


async def load_history(unit: Mapping[str, Any]) -> rules.UnitHistory:
    store = reads()
    inspections = await store.inspections.of_unit(unit["id"], as_recorded=True)
    changes = await store.equipment.status_steps(unit["id"])
    return history(unit, inspections, changes)


async def recompute(unit_id: int, today: date) -> rules.Schedule:
    """Rewrite one unit's due dates and derived columns. Call inside the change's transaction."""
    store = reads()
    unit = await store.equipment.get(unit_id)
    if unit is None:
        raise ValueError(f"equipment {unit_id} does not exist")
    schedule = rules.schedule(await load_history(unit), today, policy())
    await write_due_rows(unit_id, due_rows(unit, schedule))
    fields = derived_fields(unit, schedule, today)
    # An open major accident hazard keeps the unit out of use whatever its inspections say
    # (GB 45067-2024; equipment.services.hazards): until it is verified closed.
    if not fields["not_fit_for_use"] and await HazardRepository().open_major_since(unit_id):
        fields["not_fit_for_use"] = True
    await store.equipment.set_columns(unit_id, fields)
    return schedule


async def write_due_rows(unit_id: int, rows: list[dict[str, Any]]) -> None:
    """Update in place by kind (row ids stay stable for paging clients), add, remove."""
    await reads().due.replace_for_unit(unit_id, rows)


async def current_due(unit_id: int, kind: str) -> date | None:
    return await reads().due.current(unit_id, kind)
