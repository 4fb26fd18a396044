"""Due dates: the inspection rules applied to a unit's stored history, kept in due_date.

Every change that can move a due date (a new unit, an edit, a workflow transition, an
inspection) calls ``recompute`` inside its own transaction, so the due lists never lag
the register.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from equipment.domain import rules
from equipment.domain.errors import InvalidValue
from equipment.domain.lifecycle import Status
from equipment.domain.rules.model import STATUTORY_KINDS
from equipment.services import policies
from equipment.storage import reads
from equipment.storage.equipment import EquipmentRow, StatusChangeRow, StatusStepRow
from equipment.storage.hazards import HazardRepository
from equipment.storage.inspections import InspectionRow

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
    unit: EquipmentRow,
    inspections: Sequence[InspectionRow],
    changes: Sequence[StatusStepRow] | Sequence[StatusChangeRow],
) -> rules.UnitHistory:
    """A unit's stored rows as the rules engine's plain input."""
    corrected = {i.corrects for i in inspections if i.corrects is not None}
    return plain_history(
        category=unit.category,
        status=unit.status,
        parameters=unit.parameters,
        commissioning_date=unit.commissioning_date,
        manufacture_date=unit.manufacture_date,
        last_maintenance_on=unit.last_maintenance_on,
        cylinder_use=unit.cylinder_use,
        inspections=[
            rules.Inspection(
                inspected_on=i.inspected_on,
                kind=i.kind,
                conclusion=i.conclusion,
                next_due=i.next_due_stated,
                safety_grade=i.safety_grade,
                reason=i.reason,
            )
            for i in inspections
            if i.id not in corrected
        ],
        steps=[(c.action, c.effective_on) for c in changes],
    )


def plain_history(
    *,
    category: str,
    status: str,
    parameters: dict[str, Any] | None,
    commissioning_date: date | None,
    manufacture_date: date | None,
    last_maintenance_on: date | None,
    cylinder_use: str | None,
    inspections: Iterable[rules.Inspection],
    steps: Iterable[tuple[str, date]],
) -> rules.UnitHistory:
    """The rules engine's input from plain values: ``history`` for stored rows, and the
    demo's generated units, which are dicts until they are written."""
    suspensions: list[rules.Suspension] = []
    for action, effective_on in steps:
        if action == "suspend":
            suspensions.append(rules.Suspension(effective_on))
        elif action == "resume" and suspensions and suspensions[-1].end is None:
            suspensions[-1] = rules.Suspension(suspensions[-1].start, effective_on)
    return rules.UnitHistory(
        category=category,
        status=status,
        parameters=parameters or {},
        commissioning_date=commissioning_date,
        manufacture_date=manufacture_date,
        inspections=tuple(inspections),
        suspensions=tuple(suspensions),
        maintenance=(last_maintenance_on,) if last_maintenance_on else (),
        use=cylinder_use or "",
    )


def due_rows(
    equipment: int | None, copied: Mapping[str, Any], risk_rank: int, schedule: rules.Schedule
) -> list[dict[str, Any]]:
    """The schedule's due_date rows of a unit; ``copied`` holds its DUE_COPIED_COLUMNS."""
    return [
        {
            "equipment": equipment,
            "kind": due.kind,
            "due_on": due.due_on,
            "statutory": due.kind in STATUTORY_KINDS,
            "rule_key": due.rule_key,
            "source": due.source[:200],
            "base_date": due.base_date,
            "explanation": due.explanation,
            "from_report": due.from_report,
            **{column: copied[column] for column in DUE_COPIED_COLUMNS},
            # The risk recompute keeps it current; a unit's new due row starts with it.
            "risk_rank": risk_rank,
        }
        for due in schedule.due
    ]


def derived_fields(
    status: str, needs_inspection_before_resume: bool, schedule: rules.Schedule, today: date
) -> dict[str, Any]:
    """The register columns the schedule sets, from the unit's status and its current
    ``needs_inspection_before_resume``."""
    statutory = [d for d in (*schedule.due, *schedule.dormant) if d.kind in STATUTORY_KINDS]
    next_due = min((d.due_on for d in statutory), default=None)
    if status == Status.SUSPENDED:
        needs = schedule.needs_inspection_before_resume
    else:
        # Set on resume; it stays until the lapsed inspection is done. A unit restarted
        # after a year or more without its restart inspection owes it whatever the dates
        # (its schedule holds that inspection, due on the restart day, until it is done).
        restart_owed = any(d.rule_key in RESTART_RULES for d in schedule.due)
        needs = restart_owed or bool(
            needs_inspection_before_resume and next_due and next_due < today
        )
    return {
        "next_inspection_due": next_due,
        "not_fit_for_use": schedule.not_fit_for_use,
        "needs_inspection_before_resume": needs,
    }


async def load_history(unit: EquipmentRow) -> rules.UnitHistory:
    store = reads()
    inspections = await store.inspections.of_unit(unit.id, as_recorded=True)
    changes = await store.equipment.status_steps(unit.id)
    return history(unit, inspections, changes)


async def recompute(unit_id: int, today: date) -> rules.Schedule:
    """Rewrite one unit's due dates and derived columns. Call inside the change's transaction."""
    store = reads()
    unit = await store.equipment.get(unit_id)
    if unit is None:
        raise ValueError(f"equipment {unit_id} does not exist")
    schedule = rules.schedule(await load_history(unit), today, policy())
    copied = {column: getattr(unit, column) for column in DUE_COPIED_COLUMNS}
    await write_due_rows(unit_id, due_rows(unit_id, copied, unit.risk_rank, schedule))
    fields = derived_fields(unit.status, unit.needs_inspection_before_resume, schedule, today)
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
