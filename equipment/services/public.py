"""The public side's use cases: a unit's public view by the code on its sign, and the
address its QR code encodes.

Only organisations' names and published phones are read here: no column that names or
reaches a person is ever selected, so nothing personal can leak into a public answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from equipment.domain.access import OrgKind, Permission, Principal, Role
from equipment.domain.errors import NotFound
from equipment.domain.public_safety import PublicFacts, PublicView, public_view
from equipment.services import register
from equipment.storage import reads
from equipment.storage.public import PublicFactsRow


def _as_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def normalise_code(code: str) -> str:
    return code.strip().upper()


async def public_facts(code: str) -> PublicFacts:
    """The public facts of the unit whose sign reads ``code`` (either code, any case)."""
    wanted = normalise_code(code)
    row = await reads().public.by_code(wanted)
    if row is None:
        raise NotFound(f"no unit with code {wanted} is on the register")
    return _facts(row)


def _facts(r: PublicFactsRow) -> PublicFacts:
    last_on, last_conclusion = None, None
    if r.last_inspection:
        day, _, last_conclusion = str(r.last_inspection).partition("|")
        last_on = _as_date(day)
    return PublicFacts(
        code=r.code,
        category=r.category,
        address=r.address,
        status=r.status,
        status_since=_as_date(r.status_since),
        not_fit_for_use=bool(r.not_fit_for_use),
        next_inspection_due=_as_date(r.next_inspection_due),
        last_inspection_on=last_on,
        last_inspection_conclusion=last_conclusion or None,
        end_of_service_life=_as_date(r.end_of_service_life),
        last_maintenance_on=_as_date(r.last_maintenance_on),
        user_unit_name=r.user_unit_name,
        maintenance_company_name=r.maintenance_company_name,
        maintenance_company_phone=r.maintenance_company_phone or None,
        filling_station_name=r.filling_station_name,
        major_hazard_since=_as_date(r.major_hazard_since),
    )


async def lookup(code: str, today: date, emergency_number: str) -> PublicView:
    """What the public sees about a unit: its safety state first (see public_safety)."""
    facts = await public_facts(code)
    return public_view(facts, today, emergency_number)


def page_url(code: str, base_url: str) -> str:
    """The full address of a unit's public page (``base_url``: where the public reaches
    the service, Settings.public_base_url()): what its QR code encodes."""
    return f"{base_url}/p/{quote(code, safe='')}"


@dataclass(frozen=True)
class Label:
    """One 使用标志 of a label sheet: the unit's public view and where its QR code points."""

    id: int
    view: PublicView
    url: str


async def label_sheet(
    principal: Principal,
    user_unit_id: int,
    today: date,
    *,
    after_id: int,
    limit: int,
    base_url: str,
    emergency_number: str,
) -> tuple[str, list[Label]]:
    """(user unit's name, its units' labels): a user unit prints its own, an admin any."""
    principal.require(Permission.LABEL_PRINT)
    if principal.role is not Role.ADMIN and principal.organisation_id != user_unit_id:
        raise NotFound(f"organisation {user_unit_id} not found")
    store = reads()
    name = await store.organisations.name_of(user_unit_id, OrgKind.USER_UNIT.value)
    if name is None:
        raise NotFound(f"organisation {user_unit_id} not found")
    rows = await store.public.of_user_unit(user_unit_id, after_id=after_id, limit=limit)
    labels = [
        Label(r.id, public_view(_facts(r), today, emergency_number), page_url(r.code, base_url))
        for r in rows
    ]
    return name, labels


async def qr_target(principal: Principal, equipment_id: int, base_url: str) -> tuple[str, str]:
    """(code, page URL) of a unit the principal can see (404 otherwise, like the register)."""
    code = await register.code_of(principal, equipment_id)
    return code, page_url(code, base_url)
