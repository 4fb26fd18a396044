"""Test data made through the services, as the registration office would."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

import msgspec

from equipment.domain import codes
from equipment.domain.access import SYSTEM, Role
from equipment.services import clock, organisations, register, tokens

_serial = itertools.count(1)


def today() -> date:
    """The service's today (China's date, from the clock the code under test reads): read
    at each use, never kept, so a test's data and the service agree across China's
    midnight (16:00 UTC) and under a pinned clock (the ``clock_settings`` fixture)."""
    return clock.today()


ORG_KIND_FOR_ROLE = {
    Role.INSPECTOR: "inspection_body",
    Role.MAINTENANCE: "maintenance_company",
    Role.USER_UNIT: "user_unit",
    Role.STATION: "filling_station",
}


def credit_code() -> str:
    body = f"91420600{next(_serial):08d}X"
    return body + codes.credit_code_check_char(body)


async def organisation(kind: str, name: str | None = None) -> dict[str, Any]:
    licensed = kind != "user_unit"
    made = await organisations.create_organisation(
        SYSTEM,
        {
            "kind": kind,
            "credit_code": credit_code(),
            "name": name or f"测试{kind}{next(_serial)}",
            "contact_name": "张伟",
            "contact_phone": "13800000000",
            "address": "湖北省襄阳市人民路1号",
            "licence_no": "TS2242001" if licensed else None,
            "licence_valid_until": today() + timedelta(days=365) if licensed else None,
        },
        now=clock.now(),
    )
    return msgspec.structs.asdict(made)


async def token(role: Role, organisation_id: int | None = None) -> dict[str, str]:
    secret, _ = await tokens.create_token(
        SYSTEM, role=role, organisation_id=organisation_id, label="test", now=clock.now()
    )
    return {"Authorization": f"Bearer {secret}"}


def registration_code(
    category: str = "3110", district: str = "420606", month: date | None = None
) -> str:
    month = month or today() - timedelta(days=40)
    return f"{category}{district}{month:%Y%m}{next(_serial) % 10000:04d}"


def equipment_code(category: str = "3110", year: int = 2015) -> str:
    return f"{category}B1001{year}{next(_serial) % 100000:05d}"


LIFT_PARAMETERS = {
    "drive": "traction",
    "floors": 18,
    "rated_load_kg": 1000,
    "rated_speed_mps": 1.75,
}


def unit_body(user_unit_id: int, **overrides: Any) -> dict[str, Any]:
    """A JSON body for POST /api/v1/equipment: a passenger lift in Fancheng."""
    body = {
        "category": "3110",
        "district_code": "420606",
        "user_unit_id": user_unit_id,
        "equipment_code": equipment_code(),
        "manufacturer": "通力电梯有限公司",
        "model": "KONE-3000",
        "manufacture_date": "2015-03-01",
        "commissioning_date": "2015-09-01",
        "address": "湖北省襄阳市樊城区长虹路8号",
        "longitude": 112.135,
        "latitude": 32.045,
        "parameters": dict(LIFT_PARAMETERS),
    }
    body.update(overrides)
    return body


async def unit(user_unit_id: int, *, registered: bool = True, **overrides: Any) -> dict[str, Any]:
    """A unit on the register, in use unless ``registered`` is False (its EquipmentRow as
    a dict, as ``organisation`` hands tests its row)."""
    values = unit_body(user_unit_id, **overrides)
    for name in ("manufacture_date", "commissioning_date", "registered_on"):
        if isinstance(values.get(name), str):
            values[name] = date.fromisoformat(values[name])
    values["user_unit"] = values.pop("user_unit_id")
    for api_name, column in (
        ("maintenance_company_id", "maintenance_company"),
        ("owning_station_id", "owning_station"),
    ):
        if api_name in values:
            values[column] = values.pop(api_name)
    if not registered:
        values.pop("registered_on", None)
    else:
        values.setdefault(
            "registration_code", registration_code(values["category"], values["district_code"])
        )
        values.setdefault("registered_on", date(2015, 9, 10))
    made = await register.create_equipment(SYSTEM, values, today=today(), now=clock.now())
    return msgspec.structs.asdict(made)
