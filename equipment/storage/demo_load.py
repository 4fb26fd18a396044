"""The demo city's reads and writes (equipment/demo/load.py, equipment/demo/showcase.py
and the ``sereg`` commands that load and present it)."""

from __future__ import annotations

import msgspec

from equipment.tables import Equipment, Organisation


class OrganisationName(msgspec.Struct, frozen=True):
    id: int
    name: str


async def first_organisation(kind: str) -> OrganisationName | None:
    """The organisation of ``kind`` made first (the one a hint names)."""
    row = (
        await Organisation.select(Organisation.id, Organisation.name)
        .where(Organisation.kind == kind)
        .order_by(Organisation.id)
        .first()
    )
    return None if row is None else msgspec.convert(row, OrganisationName, strict=False)


async def a_lift_in_use() -> str | None:
    """The registration code of the first lift in use (its public page is shown)."""
    row = (
        await Equipment.select(Equipment.registration_code)
        .where(Equipment.category.like("31%"), Equipment.status == "in_use")
        .order_by(Equipment.id)
        .first()
    )
    return row["registration_code"] if row else None
