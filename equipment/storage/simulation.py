"""The register reads of the device simulator (bench/simulator.py, ``sereg simulate``),
a tool outside the product: lifts in use, and the filling stations with their own
cylinders (the fill rules' view of each is equipment.storage.fill_facts's)."""

from __future__ import annotations

from typing import Any

import msgspec

from equipment.storage.tables import Equipment, Organisation


class LiftInUse(msgspec.Struct, frozen=True):
    registration_code: str
    # The unit's ``floors`` parameter as registered (any JSON value; the caller checks it).
    floors: Any


class SimulationRepository:
    async def lifts_in_use(self, limit: int) -> list[LiftInUse]:
        """Up to ``limit`` registered lifts in use (by id) with floors: 31xx traction,
        32xx hydraulic, 34xx others; not escalators."""
        rows = await (
            Equipment.select(Equipment.registration_code, Equipment.parameters)
            .where(
                Equipment.registration_code.is_not_null(),
                Equipment.status == "in_use",
                Equipment.category.like("31%")
                | Equipment.category.like("32%")
                | Equipment.category.like("34%"),
            )
            .order_by(Equipment.id)
            .limit(limit)
            .output(load_json=True)
        )
        return [
            LiftInUse(r["registration_code"], (r["parameters"] or {}).get("floors")) for r in rows
        ]

    async def station_codes(self) -> list[str]:
        """The codes of the filling stations that have one, in order."""
        rows = await (
            Organisation.select(Organisation.station_code)
            .where(Organisation.kind == "filling_station", Organisation.station_code.is_not_null())
            .order_by(Organisation.station_code)
        )
        return [r["station_code"] for r in rows]

    async def own_cylinder_codes(self, station_id: int) -> list[str]:
        """The register codes of the station's own cylinders (23xx), by id."""
        rows = await (
            Equipment.select(Equipment.code)
            .where(Equipment.owning_station == station_id, Equipment.category.like("23%"))
            .order_by(Equipment.id)
        )
        return [r["code"] for r in rows]
