"""Who may connect to the broker: the register's stations and lifts, by the username the
broker ACL expects (deploy/mosquitto/acl)."""

from __future__ import annotations

from equipment.storage import reads


async def device_usernames() -> dict[str, list[str]]:
    """Station codes of filling stations and registration codes of lifts on the register
    (scrapped and cancelled lifts send nothing any more)."""
    names = await reads().devices.usernames()
    return {"station": names.stations, "lift": names.lifts}


async def alerted_organisations() -> list[int]:
    """Organisations told of alarms on their units (ingest_mqtt.credentials: one broker
    user each, reading its own alert topic): maintenance companies, user units, stations."""
    return await reads().devices.alerted_organisations()
