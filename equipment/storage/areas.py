"""Areas as the pages read one of them: a district's outline by its code."""

from __future__ import annotations

from typing import Any

from equipment.tables import Area


class AreaRepository:
    async def outline(self, kind: str, code: str) -> Any | None:
        """The GeoJSON geometry of the area of ``kind`` with ``code`` (the first imported,
        if a code was imported twice), or None."""
        row = (
            await Area.select(Area.geometry)
            .where(Area.kind == kind, Area.code == code)
            .order_by(Area.id)
            .first()
        )
        return None if row is None else row["geometry"]
