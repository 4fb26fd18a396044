"""The SQL of a jurisdiction scope (``ScopeKind.JURISDICTION``): the units in any of an
inspector's districts or areas, for every query that filters by scope.

A unit is in a district by its ``district_code`` and in an area by its ``area_member`` row
(its coordinates lie in the area). One subquery of unit ids serves the tables that name a
unit by id (due dates, alarms, records, reports), so the rule is written once.
"""

from __future__ import annotations

from typing import Any

from piccolo.custom_types import Combinable

from equipment.domain.access import Jurisdiction
from equipment.storage.tables import AreaMember, Equipment


def equipment_clause(jurisdiction: Jurisdiction) -> Any:
    """A where clause on ``Equipment``: the unit is inside."""
    clauses: list[Combinable] = []
    if jurisdiction.districts:
        clauses.append(Equipment.district_code.is_in(sorted(jurisdiction.districts)))
    if jurisdiction.areas:
        members = AreaMember.select(AreaMember.equipment).where(
            AreaMember.area.is_in(sorted(jurisdiction.areas))
        )
        clauses.append(Equipment.id.is_in(members))
    clause = clauses[0]
    for other in clauses[1:]:
        clause = clause | other
    return clause


def unit_ids(jurisdiction: Jurisdiction) -> Any:
    """A subquery of the ids of the units inside (for ``column.is_in(...)``)."""
    return Equipment.select(Equipment.id).where(equipment_clause(jurisdiction))


def raw_clause(jurisdiction: Jurisdiction, *, unit_id: str, district: str) -> tuple[str, list[Any]]:
    """The same test for raw SQL written with ``{}`` placeholders (Piccolo's ``raw``):
    `` AND (...)`` over the given id and district column expressions, and its arguments."""
    parts: list[str] = []
    args: list[str | int] = []  # district codes, then area ids
    if jurisdiction.districts:
        codes = sorted(jurisdiction.districts)
        parts.append(f"{district} IN ({', '.join('{}' for _ in codes)})")
        args.extend(codes)
    if jurisdiction.areas:
        areas = sorted(jurisdiction.areas)
        parts.append(
            f"{unit_id} IN (SELECT equipment FROM area_member WHERE area IN"
            f" ({', '.join('{}' for _ in areas)}))"
        )
        args.extend(areas)
    return f" AND ({' OR '.join(parts)})", args


def numbered_clause(
    jurisdiction: Jurisdiction, *, unit_id: str, district: str, first: int
) -> tuple[str, list[Any]]:
    """``raw_clause`` for asyncpg-style ``$n`` placeholders numbered from ``first``."""
    sql, args = raw_clause(jurisdiction, unit_id=unit_id, district=district)
    pieces = sql.split("{}")
    out = pieces[0]
    for n, piece in enumerate(pieces[1:]):
        out += f"${first + n}{piece}"
    return out, args
