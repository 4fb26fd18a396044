"""Which gases a cylinder interval treats as corrosive, inert or other (TSG 23-2021).

Only the classification lives here; the intervals are rows of the rule table. The
names are chemical formulas or trade names as written in fill events and registers
(``Cl2``, ``NH3``, ``LPG``...), matched without regard to case. A gas missing from
the table counts as "other" (3 years), and the schedule says so in a note, so the
bureau can add it to its policy's ``media`` mapping.
"""

from __future__ import annotations

from functools import lru_cache
from types import MappingProxyType
from typing import Final

__all__ = [
    "GAS_CLASSES",
    "MEDIUM_CLASSES",
    "UNRESOLVED_FIVE_YEAR",
    "components",
    "normalise_medium",
]

MEDIUM_CLASSES: Final = frozenset({"corrosive", "inert", "other"})


def normalise_medium(name: str) -> str:
    """The table's spelling of a gas name: trimmed and upper-case (``Ar`` -> ``AR``)."""
    return name.strip().upper()


@lru_cache(maxsize=1024)
def components(medium: str) -> tuple[str, ...]:
    """The gases of a medium; a mixture is written with ``+`` (``Ar+CO2``).

    Cached: the ingest asks it for every fill, and the media are few."""
    return tuple(normalise_medium(part) for part in medium.split("+") if part.strip())


_CORROSIVE = (
    "CL2",
    "NH3",
    "H2S",
    "SO2",
    "HCL",
    "HF",
    "HBR",
    "NO2",
    "NO",
    "F2",
    "BF3",
    "BCL3",
    "COCL2",
    "WF6",
    "SICL4",
)
# TSG 23-2021 names N2 beside the inert (noble) gases for the 5-year interval. The row
# once read SF6; a quoted text reads 六氟乙烷 (hexafluoroethane, C2F6): unresolved, so both
# take the [U] row ``cylinder.inert.fluorinated`` (see UNRESOLVED_FIVE_YEAR), which a
# policy can override or, through its media mapping, reclassify.
_FIVE_YEAR = ("N2", "SF6", "C2F6", "AR", "HE", "NE", "KR", "XE")
UNRESOLVED_FIVE_YEAR: Final = frozenset({"SF6", "C2F6"})
_OTHER = (
    "O2",
    "H2",
    "CO2",
    "CO",
    "CH4",
    "C2H4",
    "C2H6",
    "C3H8",
    "N2O",
    "AIR",
    "LPG",
    "CNG",
    "LNG",
    "C2H2",
)

GAS_CLASSES: Final = MappingProxyType(
    {gas: "corrosive" for gas in _CORROSIVE}
    | {gas: "inert" for gas in _FIVE_YEAR}
    | {gas: "other" for gas in _OTHER}
)
