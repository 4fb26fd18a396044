"""What the map pages read beside the units and areas: which of the lifts drawn have an
open alarm (a point's colour)."""

from __future__ import annotations

from collections.abc import Iterable

from equipment.storage.tables import Alarm


class MapRepository:
    async def with_open_alarm(self, unit_ids: Iterable[int]) -> set[int]:
        """The units among ``unit_ids`` with an open alarm."""
        ids = sorted(set(unit_ids))
        if not ids:
            return set()
        rows = await Alarm.select(Alarm.equipment).where(
            Alarm.equipment.is_in(ids), Alarm.state == "open"
        )
        return {int(r["equipment"]) for r in rows}
