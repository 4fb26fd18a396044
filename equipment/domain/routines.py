"""The user unit's own routine (日管控、周排查、月调度): which units need which records, and
the period a day falls in.

SAMR Order 74 (in force 2023-05-05) makes each user unit run daily control, weekly
investigation and monthly scheduling [C]; TSG 08-2017 asks for the user's own check at
least monthly [C]. Which kinds apply to which kind of equipment is the table
:data:`KINDS_BY_FAMILY`, each row with its reason; the Order's per-category detail was not
verified here, so every family carries all three except where the row says why not.

Pure: no I/O and no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from equipment.domain.catalogue import REGISTRABLE_CODES, Family, category
from equipment.domain.errors import InvalidValue
from equipment.i18n import N_


class Kind(StrEnum):
    DAILY = "daily"  # 日管控
    WEEKLY = "weekly"  # 周排查
    MONTHLY = "monthly"  # 月调度


KIND_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {
        Kind.DAILY: N_("Daily control"),
        Kind.WEEKLY: N_("Weekly investigation"),
        Kind.MONTHLY: N_("Monthly scheduling"),
    }
)

_ALL: Final = frozenset(Kind)
_ORDER_74: Final = (
    "SAMR Order 74 (2023): daily control, weekly investigation, monthly scheduling [C]"
)

# Family → (the kinds of record its units need, why).
KINDS_BY_FAMILY: Final[Mapping[Family, tuple[frozenset[Kind], str]]] = MappingProxyType(
    {
        **{family: (_ALL, _ORDER_74) for family in Family},
        # A gas cylinder is checked by its filling station before every fill (the fill
        # permit); a daily record per cylinder would be tens of thousands of empty rows.
        # sereg's choice, not the Order's text [U]: the station's own records stand in.
        Family.GAS_CYLINDER: (
            frozenset({Kind.MONTHLY}),
            "TSG 08-2017 monthly own check [C]; daily/weekly per cylinder left to the "
            "filling station's pre-fill check (sereg's choice) [U]",
        ),
    }
)
# How far back a record may be entered (a missed day is filled in late, not months on).
BACKFILL_DAYS: Final = 31


def period_start(kind: Kind, day: date) -> date:
    """The first day of the period ``day`` falls in: the day, its ISO week's Monday, or
    the first of its month."""
    if kind is Kind.DAILY:
        return day
    if kind is Kind.WEEKLY:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def check_day(day: date, today: date) -> None:
    if day > today:
        raise InvalidValue(f"{day.isoformat()} is in the future", field="day")
    if day < today - timedelta(days=BACKFILL_DAYS):
        raise InvalidValue(
            f"a routine record is entered at most {BACKFILL_DAYS} days late", field="day"
        )


def needs(family: Family, kind: Kind) -> bool:
    return kind in KINDS_BY_FAMILY[family][0]


def categories_needing(kind: Kind) -> tuple[str, ...]:
    """The registrable category codes whose units need a record of ``kind``."""
    out = []
    for code in REGISTRABLE_CODES:
        family = category(code).family
        if family is not None and needs(family, kind):
            out.append(code)
    return tuple(out)
