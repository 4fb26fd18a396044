"""Three demo units that show the corrected rules on the pages (issue 25).

- a lift with a major repair: installed 2016-04-12, periodic inspections in years 1, 4, 7
  and 9, self-tests between, a supervisory inspection after a major repair passed
  2025-08-14: its self-test falls due in August 2026 (year 10) and its next periodic
  inspection in August 2027 (year 11);
- an entrusted (托管) LPG cylinder: a user unit's own cylinder, entrusted to a filling
  station, which fills it as its own (verdict 00, reason "entrusted");
- a taxi's CNG cylinder: at most 8 years of service (TSG 23-2021).

They go through the register's own services (create, inspect, entrust), so the demo's
dates are the engine's, and the registration office's audit trail records them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from equipment.demo import city
from equipment.domain.access import SYSTEM
from equipment.domain.errors import Conflict
from equipment.services import fills, inspections, register, schedules
from equipment.storage import demo_load
from equipment.storage.equipment import EquipmentRow
from geo.areas import Area
from geo.assign import units_in_polygon

LIFT_INSTALLED = date(2016, 4, 12)
MAJOR_REPAIR_PASSED = date(2025, 8, 14)
TAXI_PLATE = "鄂F·T0428"
DISTRICT = "420606"  # 樊城区


def _lift_history(today: date) -> list[tuple[str, date, str]]:
    """(kind, day, reason) of the showcase lift's inspections up to ``today``."""
    events = [("supervisory", LIFT_INSTALLED, "installation")]
    for year in range(1, 10):
        kind = "periodic" if year in (1, 4, 7, 9) else "self_test"
        events.append((kind, date(2016 + year, 4, 8), ""))
    events.append(("supervisory", MAJOR_REPAIR_PASSED, "major_repair"))
    events.append(("self_test", date(2026, 8, 20), ""))  # year 10, in the new month
    return [e for e in events if e[1] <= today]


async def _create(row: dict[str, Any], today: date, now: datetime) -> EquipmentRow:
    """Create ``row``, moving its registration sequence past any code already taken."""
    # Its maker makes its kind: a cylinder from a cylinder maker (city.maker).
    maker_code, maker_name = city.maker(row["category"], city.MANUFACTURERS[0])
    row = {**row, "manufacturer": maker_name}
    for sequence in range(9901, 10000):
        registered: date = row["registered_on"]
        code = f"{row['category']}{row['district_code']}{registered:%Y%m}{sequence:04d}"
        serial = f"{row['category']}{maker_code}{row['manufacture_date'].year}"
        try:
            return await register.create_equipment(
                SYSTEM,
                {**row, "registration_code": code, "equipment_code": f"{serial}9{sequence:04d}"},
                today=today,
                now=now,
            )
        except Conflict:
            continue
    raise Conflict("no free registration code for the demo's showcase units")


def _place(areas: Sequence[Area]) -> tuple[float, float]:
    """A point near the district's centre outside every old residential area: the
    showcase units are not old-area lifts, and must not blur that picture."""
    lon0, lat0, _ = city.DISTRICT_CENTRES[DISTRICT]
    old = [a.geometry for a in areas if a.kind == "old_residential"]
    for step in range(200):
        lon, lat = round(lon0 + 0.002 * step, 6), round(lat0 - 0.001 * step, 6)
        if not any(units_in_polygon(np.array([lon]), np.array([lat]), g).size for g in old):
            return lon, lat
    raise RuntimeError("no place outside the old residential areas")  # pragma: no cover


async def add_showcase(
    org_ids: dict[str, list[int]], *, today: date, now: datetime, areas: Sequence[Area] = ()
) -> list[int]:
    """Create the three showcase units; returns their ids."""
    owner = org_ids["user_unit"][0]
    station = org_ids["filling_station"][0]
    lon, lat = _place(areas)
    common = {
        "district_code": DISTRICT,
        "user_unit": owner,
        "longitude": lon,
        "latitude": lat,
    }
    lift = await _create(
        {
            **common,
            "category": "3110",
            "model": "大修示例",
            "address": "湖北省襄阳市樊城区长虹路88号(重大修理后)",
            "manufacture_date": LIFT_INSTALLED - timedelta(days=180),
            "commissioning_date": LIFT_INSTALLED,
            "registered_on": LIFT_INSTALLED,
            "maintenance_company": org_ids["maintenance_company"][0],
            "parameters": {"drive": "traction", "floors": 18, "iot_monitored": True},
        },
        today,
        now,
    )
    for kind, day, reason in _lift_history(today):
        await inspections.record_inspection(
            SYSTEM,
            lift.id,
            {
                "kind": kind,
                "inspected_on": day,
                "conclusion": "pass",
                "reason": reason,
                "report_no": f"XY{day:%Y%m%d}",
                "inspection_body_id": org_ids["inspection_body"][0],
            },
            today=today,
            now=now,
        )
    # Maintained 5 days ago, like most demo lifts (TSG T5002-2017: every 15 days).
    await demo_load.set_last_maintenance(lift.id, today - timedelta(days=5))
    await schedules.recompute(lift.id, today)
    made = today - timedelta(days=2 * 365)
    entrusted = await _create(
        {
            **common,
            "category": "2320",
            "model": "YSP35.5",
            "address": "湖北省襄阳市樊城区人民路12号(托管气瓶)",
            "manufacture_date": made,
            "commissioning_date": made + timedelta(days=20),
            "registered_on": made + timedelta(days=25),
            "cylinder_use": "general",
            "parameters": {
                "medium": "LPG",
                "water_capacity_l": 35.5,
                "nominal_working_pressure_mpa": 2.1,
                "material": "steel",
            },
        },
        today,
        now,
    )
    await fills.create_entrustment(
        SYSTEM,
        owner_id=owner,
        filling_station_id=station,
        valid_from=today - timedelta(days=30),
        valid_until=today + timedelta(days=335),
        now=now,
    )
    # Seven years old and inspected last year: its 8-year end of service comes first.
    taxi_made = today - timedelta(days=7 * 365 + 100)
    taxi = await _create(
        {
            **common,
            "category": "2310",
            "model": "CNG-80",
            "address": f"出租车 {TAXI_PLATE}",
            "manufacture_date": taxi_made,
            "commissioning_date": taxi_made + timedelta(days=30),
            "registered_on": taxi_made + timedelta(days=35),
            "cylinder_use": "taxi",
            "parameters": {
                "medium": "CNG",
                "water_capacity_l": 80.0,
                "nominal_working_pressure_mpa": 20.0,
                "material": "steel",
                "vehicle_registration": TAXI_PLATE,
            },
        },
        today,
        now,
    )
    inspected = today - timedelta(days=200)
    await inspections.record_inspection(
        SYSTEM,
        taxi.id,
        {
            "kind": "periodic",
            "inspected_on": inspected,
            "conclusion": "pass",
            "report_no": f"XY{inspected:%Y%m%d}",
            "inspection_body_id": org_ids["inspection_body"][0],
        },
        today=today,
        now=now,
    )
    return [lift.id, entrusted.id, taxi.id]
