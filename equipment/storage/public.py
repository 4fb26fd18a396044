"""The public side's reads: a unit's public facts in one statement.

Only organisations' names and published phones are read here: no column that names or
reaches a person is ever selected, so nothing personal can leak into a public answer.
"""

from __future__ import annotations

from typing import Any

import msgspec

from equipment.storage.tables import Equipment

# One statement: the unit, its three organisations' public names, its end of service life
# and its latest inspection (a corrected record replaced by its correction), because the
# page a QR code opens is the most-read page of the service.
_SELECT = (
    "SELECT e.id, e.code, e.category, e.address, e.status, e.status_since,"
    " e.not_fit_for_use, e.next_inspection_due, e.last_maintenance_on,"
    " u.name AS user_unit_name, m.name AS maintenance_company_name,"
    " m.public_phone AS maintenance_company_phone, s.name AS filling_station_name,"
    " (SELECT d.due_on FROM due_date d WHERE d.equipment = e.id"
    " AND d.kind = 'end_of_service_life') AS end_of_service_life,"
    " (SELECT MIN(h.found_on) FROM hazard h WHERE h.equipment = e.id AND h.grade = 'major'"
    " AND h.state <> 'verified') AS major_hazard_since,"
    " (SELECT i.inspected_on || '|' || i.conclusion FROM inspection i"
    " WHERE i.equipment = e.id AND NOT EXISTS"
    " (SELECT 1 FROM inspection c WHERE c.corrects = i.id)"
    " ORDER BY i.inspected_on DESC, i.id DESC LIMIT 1) AS last_inspection"
    " FROM equipment e JOIN organisation u ON u.id = e.user_unit"
    " LEFT JOIN organisation m ON m.id = e.maintenance_company"
    " LEFT JOIN organisation s ON s.id = e.owning_station"
)
# The lookup's one statement (bench/public_page.py runs it bare, as its database floor).
BY_CODE = _SELECT + " WHERE e.code = {} OR e.registration_code = {} OR e.equipment_code = {}"
# A user unit's units in register order, one page of a label sheet.
_OF_USER_UNIT = (
    _SELECT + " WHERE e.user_unit = {} AND e.id > {} AND e.status IN ('pending', 'in_use',"
    " 'suspended') ORDER BY e.id LIMIT {}"
)


class PublicFactsRow(msgspec.Struct, frozen=True):
    """As the engine returns them: SQLite gives dates as text, and ``last_inspection`` is
    'day|conclusion' (services/public.py reads both)."""

    id: int
    code: str
    category: str
    address: str
    status: str
    status_since: Any
    not_fit_for_use: Any
    next_inspection_due: Any
    last_maintenance_on: Any
    user_unit_name: str
    maintenance_company_name: str | None
    maintenance_company_phone: str | None
    filling_station_name: str | None
    end_of_service_life: Any
    major_hazard_since: Any
    last_inspection: str | None


class PublicRepository:
    async def by_code(self, code: str) -> PublicFactsRow | None:
        """The unit whose code, registration code or equipment code is ``code``."""
        rows = await Equipment.raw(BY_CODE, code, code, code)
        return msgspec.convert(rows[0], PublicFactsRow, strict=False) if rows else None

    async def of_user_unit(
        self, user_unit_id: int, *, after_id: int, limit: int
    ) -> list[PublicFactsRow]:
        """A user unit's units not closed, by id after ``after_id``."""
        rows = await Equipment.raw(_OF_USER_UNIT, user_unit_id, after_id, limit)
        return [msgspec.convert(r, PublicFactsRow, strict=False) for r in rows]
