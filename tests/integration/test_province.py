"""The province generator (``sereg demo --province``, equipment/demo/province.py) on a
small N: every code valid by the project's code rules, every stored due date the one the
rules engine computes for the stored unit, a fill state per cylinder, the indexes and
constraints back after the load; a clear error on SQLite."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from equipment.demo import province
from equipment.domain import codes, rules
from equipment.domain.errors import InvalidValue
from equipment.services import clock, schedules
from equipment.storage import db, reads
from equipment.storage import province as province_storage
from equipment.storage.inspections import InspectionRow
from equipment.storage.tables import (
    CylinderFillState,
    DueDate,
    Equipment,
    Inspection,
    Organisation,
    StatusChange,
)

pytestmark = pytest.mark.integration

UNITS = 2_000


def _indexes_sql() -> str:
    tables = ", ".join(f"'{t}'" for t in ("equipment", "inspection", "due_date"))
    return (
        "SELECT indexname, indexdef FROM pg_indexes"
        f" WHERE tablename IN ({tables}, 'cylinder_fill_state') ORDER BY indexname"
    )


_NOT_VALID = "SELECT conname FROM pg_constraint WHERE NOT convalidated"


async def test_province_register_follows_the_rules(engine, boot) -> None:
    today, now = clock.today(), clock.now()
    if not db.is_postgres():
        with pytest.raises(InvalidValue, match="PostgreSQL"):
            await province.load_province(
                units=UNITS, seed=1, today=today, now=now, step=lambda *_: None
            )
        return
    before = await Equipment.raw(_indexes_sql())
    steps: list[str] = []
    written = await province.load_province(
        units=UNITS,
        seed=1,
        today=today,
        now=now,
        step=lambda name, _s: steps.append(name),
        jobs=2,
        defer=True,
    )
    assert written["equipment"] == UNITS
    assert written["cylinder_fill_state"] == UNITS
    # A periodic inspection for the cylinders past their first 4 years (about half), but
    # one in twenty.
    assert 0.4 * UNITS < written["inspection"] < 0.7 * UNITS
    # Deferred: the keys the due list and the permit read are built, the rest wait for
    # finish, and the foreign keys are there but not yet validated.
    built = {r["indexname"] for r in await Equipment.raw(_indexes_sql())}
    assert built < {r["indexname"] for r in before}
    assert {"due_date_district_code_statutory_due", "equipment_code_key"} <= built
    assert await Equipment.raw(_NOT_VALID)
    assert await province_storage.finish(lambda name, _s: steps.append(name), jobs=2) > 0
    # Built once after the load, each one as it was; every foreign key validated.
    assert await Equipment.raw(_indexes_sql()) == before
    assert not await Equipment.raw(_NOT_VALID)
    assert any(s.startswith("index: equipment.") for s in steps), steps

    units = await Equipment.select().order_by(Equipment.id).output(load_json=True)
    places = dict(province.districts())
    assert Counter(u["district_code"] for u in units).keys() == places.keys()
    for unit in units:
        registration = codes.parse_registration_code(unit["registration_code"], today)
        assert registration.region_code == unit["district_code"]
        assert registration.registered_in == unit["registered_on"].replace(day=1)
        equipment_code = codes.parse_equipment_code(unit["equipment_code"], today)
        assert equipment_code.manufacture_year == unit["manufacture_date"].year
        assert unit["code"] == unit["registration_code"]
        assert unit["manufacture_date"] < unit["commissioning_date"] <= unit["registered_on"]
    assert len({u["code"] for u in units}) == UNITS
    assert len({u["equipment_code"] for u in units}) == UNITS
    stations = await Organisation.select().where(Organisation.kind == "filling_station")
    for station in stations:
        codes.validate_credit_code(station["credit_code"])
    by_id = {s["id"]: s for s in stations}

    # The stored due dates and derived columns are what the rules engine computes from
    # the stored unit and its stored inspections, unit by unit.
    stored: dict[int, list[tuple]] = {}
    for row in await DueDate.select().order_by(DueDate.id):
        stored.setdefault(row["equipment"], []).append(
            (row["kind"], row["due_on"], row["statutory"], row["rule_key"], row["source"],
             row["base_date"], row["explanation"], row["from_report"], row["category"],
             row["district_code"], row["user_unit"], row["owning_station"])
        )  # fmt: skip
    # Each unit's history as schedules.load_history reads it (its inspections; a
    # generated cylinder has no status change), all read at once.
    assert not await StatusChange.exists()
    inspections: dict[int, list[InspectionRow]] = {}
    for row in await Inspection.select().order_by(Inspection.id):
        typed = InspectionRow(**{name: row[name] for name in InspectionRow.__struct_fields__})
        inspections.setdefault(typed.equipment, []).append(typed)
    # The units as the repository reads them (typed rows, the grade joined).
    typed_units = await reads().equipment.by_ids([u["id"] for u in units])
    overdue = 0
    for full in units:
        unit = typed_units[full["id"]]
        history = schedules.history(unit, inspections.get(unit.id, []), [])
        schedule = rules.schedule(history, today, schedules.policy())
        copied = {column: getattr(unit, column) for column in schedules.DUE_COPIED_COLUMNS}
        expected = [
            (r["kind"], r["due_on"], r["statutory"], r["rule_key"], r["source"], r["base_date"],
             r["explanation"], r["from_report"], r["category"], r["district_code"],
             r["user_unit"], r["owning_station"])
            for r in schedules.due_rows(unit.id, copied, unit.risk_rank, schedule)
        ]  # fmt: skip
        assert sorted(stored.get(full["id"], [])) == sorted(expected), full["code"]
        derived = schedules.derived_fields(
            unit.status, unit.needs_inspection_before_resume, schedule, today
        )
        assert full["next_inspection_due"] == derived["next_inspection_due"]
        assert full["not_fit_for_use"] == derived["not_fit_for_use"]
        overdue += full["next_inspection_due"] < today
        assert by_id[full["owning_station"]]["licence_valid_until"] > today
    assert 0 < overdue < UNITS / 2

    states = await CylinderFillState.select()
    assert sorted(s["equipment"] for s in states) == [u["id"] for u in units]
    owner = {u["id"]: u["owning_station"] for u in units}
    for state in states:
        assert state["last_station"] == owner[state["equipment"]]
        assert state["last_station_code"] == by_id[state["last_station"]]["station_code"]
        assert state["last_filled_at"] < now

    # A second load into the same register is refused.
    with pytest.raises(ValueError, match="empty"):
        await province.load_province(
            units=UNITS, seed=1, today=today, now=now, step=lambda *_: None
        )


def test_months_of_registrations_start_this_month() -> None:
    schedules_rows, dues = province.schedule_tables(date(2026, 12, 6), 2)
    assert schedules_rows and dues
    assert max(r[0] for r in schedules_rows) == date(2026, 11, 6)
