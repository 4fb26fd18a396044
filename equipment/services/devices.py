"""Who may connect to the broker: the register's stations and lifts, by the username the
broker ACL expects (deploy/mosquitto/acl)."""

from __future__ import annotations

from equipment.tables import Equipment, Organisation


async def device_usernames() -> dict[str, list[str]]:
    """Station codes of filling stations and registration codes of lifts on the register
    (scrapped and cancelled lifts send nothing any more)."""
    stations = await Organisation.select(Organisation.station_code).where(
        Organisation.kind == "filling_station", Organisation.station_code.is_not_null()
    )
    lifts = await Equipment.select(Equipment.registration_code).where(
        Equipment.category.like("3%"),
        Equipment.registration_code.is_not_null(),
        Equipment.status.is_in(["in_use", "suspended"]),
    )
    return {
        "station": sorted(r["station_code"] for r in stations),
        "lift": sorted(r["registration_code"] for r in lifts),
    }


async def alerted_organisations() -> list[int]:
    """Organisations told of alarms on their units (ingest_mqtt.credentials: one broker
    user each, reading its own alert topic): maintenance companies, user units, stations."""
    rows = await Organisation.select(Organisation.id).where(
        Organisation.kind.is_in(["maintenance_company", "user_unit", "filling_station"])
    )
    return sorted(r["id"] for r in rows)
