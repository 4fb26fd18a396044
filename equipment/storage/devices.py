"""The broker accounts the register implies: filling stations by station code, lifts by
registration code (deploy/mosquitto/acl)."""

from __future__ import annotations

import msgspec

from equipment.storage.tables import Equipment, Organisation


class DeviceUsernames(msgspec.Struct, frozen=True):
    stations: list[str]
    lifts: list[str]


class DeviceRepository:
    async def usernames(self) -> DeviceUsernames:
        """Station codes of filling stations, and registration codes of lifts in use or
        suspended (scrapped and cancelled lifts send nothing any more); sorted."""
        stations = await Organisation.select(Organisation.station_code).where(
            Organisation.kind == "filling_station", Organisation.station_code.is_not_null()
        )
        lifts = await Equipment.select(Equipment.registration_code).where(
            Equipment.category.like("3%"),
            Equipment.registration_code.is_not_null(),
            Equipment.status.is_in(["in_use", "suspended"]),
        )
        return DeviceUsernames(
            stations=sorted(str(r["station_code"]) for r in stations),
            lifts=sorted(str(r["registration_code"]) for r in lifts),
        )

    async def alerted_organisations(self) -> list[int]:
        """Organisations with a broker user of their own for alarm alerts: maintenance
        companies, user units and filling stations; sorted by id."""
        rows = await Organisation.select(Organisation.id).where(
            Organisation.kind.is_in(["maintenance_company", "user_unit", "filling_station"])
        )
        return sorted(int(r["id"]) for r in rows)
