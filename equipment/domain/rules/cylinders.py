"""Gas cylinders (23xx), TSG 23-2021: periodic inspection interval and service life.

Parameters read: ``medium`` (``LPG``, ``O2``, mixtures written ``Ar+CO2``),
``material`` (``steel`` by default, ``aluminium``, ``composite``), and the yes/no
``high_purity`` (99.999 % or purer), ``sea_water_contact``, ``vehicle``, ``breathing``
(breathing-apparatus cylinder), plus ``design_service_life_years``; and the unit's
``use`` (``catalogue.CYLINDER_USES``): ``vehicle`` or ``taxi`` count as the ``vehicle``
parameter, ``diving`` takes the 2-year diving row.

Interval: a cylinder of a special kind takes that kind's row (dissolved acetylene;
vehicle CNG/LNG; composite breathing cylinders, i.e. composite with ``breathing`` or
medium air; other 23T0 cylinders, which are the insulated cryogenic ones; LPG in steel).
Any other takes the row of its gas class (corrosive 2 years; N2, inert gases and
high-purity non-corrosive gases 5; SF6 / C2F6 5 under an unresolved [U] row; other 3), a
mixture the shortest of its gases. Sea-water contact and diving use add their 2-year
rows; the shortest candidate wins. The first interval
counts from the manufacture date, later ones from the last passed periodic inspection.

Service life: LPG steel 8 years from manufacture, 12 if a passed periodic inspection
falls in the last 12 months of the 8 (the one 4-year extension), 15 for cylinders made
before 2007; a taxi's CNG cylinder at most 8 (a shorter design life wins); other vehicle
CNG steel 15; otherwise ``design_service_life_years`` if given.
Past it the cylinder is not fit for use (it is to be scrapped).
"""

from __future__ import annotations

from datetime import date
from typing import Final

from equipment.domain.catalogue import VEHICLE_USES
from equipment.domain.errors import InvalidValue
from equipment.domain.rules.dates import add_months, add_years
from equipment.domain.rules.gases import UNRESOLVED_FIVE_YEAR, components
from equipment.domain.rules.history import (
    Findings,
    View,
    due_from_interval,
    param_bool,
    param_int,
    param_str,
)
from equipment.domain.rules.model import DueDate
from equipment.domain.rules.table import RuleRow

__all__ = ["cylinder_findings", "cylinder_interval_row"]

MATERIALS: Final = frozenset({"steel", "aluminium", "composite"})
_CLASS_ROWS: Final = {
    "corrosive": "cylinder.corrosive",
    "inert": "cylinder.inert",
    "other": "cylinder.other",
}


def cylinder_findings(view: View, findings: Findings) -> None:
    """Add the cylinder's next periodic inspection and its end of service life."""
    row, detail = cylinder_interval_row(view, findings)
    latest = view.latest_passing(["periodic"])
    if latest is not None:
        base, label = latest.inspected_on, "last periodic inspection"
    elif view.unit.manufacture_date is not None:
        base, label = view.unit.manufacture_date, "manufacture"
    elif (start := view.start_of_use()) is not None:
        base, label = start
        findings.notes.append(f"no manufacture date: the first interval counts from {label}")
    else:
        base = None
        findings.notes.append("no manufacture date: the first periodic inspection is unknown")
    if base is not None:
        findings.add_earliest(
            due_from_interval(row, "periodic", base, row.value("interval_years"), label, detail)
        )
    _service_life(view, findings)


def _material(view: View) -> str:
    material = param_str(view.params, "material") or "steel"
    if material not in MATERIALS:
        raise InvalidValue(
            f"parameter material is one of {sorted(MATERIALS)}, got {material!r}",
            field="parameters.material",
        )
    return material


def cylinder_interval_row(view: View, findings: Findings) -> tuple[RuleRow, str]:
    """The row giving this cylinder's interval, and a phrase saying why."""
    params = view.params
    medium = param_str(params, "medium")
    material = _material(view)
    candidates: list[tuple[RuleRow, str]] = []
    if medium is None:
        findings.notes.append("medium unknown: the shortest cylinder interval applies")
        candidates.append((view.row("cylinder.corrosive"), "medium unknown"))
        gases: tuple[str, ...] = ()
    else:
        gases = components(medium)
        special = _special_row(view, gases, material)
        if special is not None:
            candidates.append((special, f"medium {medium}, {material}"))
        else:
            candidates.extend(_gas_rows(view, findings, gases))
    if param_bool(params, "sea_water_contact"):
        candidates.append((view.row("cylinder.sea_water"), "sea-water contact"))
    if view.unit.use == "diving":
        candidates.append((view.row("cylinder.diving"), "diving cylinder"))
    # min() keeps the first of equal intervals: the kind-specific reason stays in front.
    return min(candidates, key=lambda pair: pair[0].value("interval_years"))


def _vehicle(view: View) -> bool:
    """A vehicle fuel cylinder: by its use, or by the older ``vehicle`` parameter."""
    return view.unit.use in VEHICLE_USES or param_bool(view.params, "vehicle")


def _special_row(view: View, gases: tuple[str, ...], material: str) -> RuleRow | None:
    params = view.params
    if "C2H2" in gases:
        return view.row("cylinder.acetylene")
    if _vehicle(view) and gases in (("CNG",), ("LNG",)):
        return view.row("cylinder.vehicle_gas")
    if material == "composite" and (param_bool(params, "breathing") or gases == ("AIR",)):
        return view.row("cylinder.composite_breathing")
    if view.unit.category == "23T0" and material != "composite":
        # 23T0 holds composite, acetylene and cryogenic cylinders; the first two are
        # handled above, so what is left is an insulated cryogenic cylinder.
        return view.row("cylinder.cryogenic")
    if gases == ("LPG",) and material == "steel":
        return view.row("cylinder.lpg")
    return None


def _gas_rows(view: View, findings: Findings, gases: tuple[str, ...]) -> list[tuple[RuleRow, str]]:
    high_purity = param_bool(view.params, "high_purity")
    rows: list[tuple[RuleRow, str]] = []
    for gas in gases:
        gas_class = view.policy.media.get(gas)
        if gas_class is None:
            findings.notes.append(
                f"gas {gas} is not in the gas table: treated as an 'other' gas (3 years); "
                "a policy's media mapping can classify it"
            )
            gas_class = "other"
        if gas_class == "other" and high_purity:
            rows.append((view.row("cylinder.inert"), f"{gas}, 99.999 % pure"))
        elif gas_class == "inert" and gas in UNRESOLVED_FIVE_YEAR:
            rows.append((view.row("cylinder.inert.fluorinated"), f"{gas}: unresolved 5-year row"))
        else:
            rows.append((view.row(_CLASS_ROWS[gas_class]), f"{gas}: {gas_class} gas"))
    if len(rows) > 1:
        shortest = min(rows, key=lambda pair: pair[0].value("interval_years"))
        return [(shortest[0], f"mixture {'+'.join(gases)}, shortest of its gases ({shortest[1]})")]
    return rows


def _service_life(view: View, findings: Findings) -> None:
    params = view.params
    made = view.unit.manufacture_date
    medium = param_str(params, "medium")
    gases = components(medium) if medium else ()
    material = _material(view)
    design_years = param_int(params, "design_service_life_years", 1, 100)
    if gases == ("LPG",) and material == "steel":
        row = view.row("cylinder.life.lpg")
    elif view.unit.use == "taxi" and gases == ("CNG",):
        row = view.row("cylinder.life.taxi_cng")
    elif _vehicle(view) and gases == ("CNG",) and material == "steel":
        row = view.row("cylinder.life.vehicle_cng")
    elif design_years is not None:
        row = view.row("cylinder.life.design")
    else:
        return
    if made is None:
        findings.notes.append("no manufacture date: the end of service life is unknown")
        return
    end, why = _end_of_life(view, row, made, design_years)
    findings.add_earliest(
        DueDate(
            kind="end_of_service_life",
            due_on=end,
            rule_key=row.key,
            source=row.source,
            tag=row.tag,
            base_date=made,
            explanation=f"{row.summary}: made {made.isoformat()}, {why}, ends {end.isoformat()}",
        )
    )
    if view.today > end:
        findings.not_fit.append(
            f"past its service life on {end.isoformat()} ({row.source}): to be scrapped"
        )


def _end_of_life(
    view: View, row: RuleRow, made: date, design_years: int | None
) -> tuple[date, str]:
    if row.key == "cylinder.life.taxi_cng":
        years = row.value("life_years")
        if design_years is not None and design_years < years:
            return add_years(made, design_years), f"design service life {design_years} years"
        return add_years(made, years), f"taxi use: at most {years} years"
    if row.key == "cylinder.life.design":
        if design_years is None:
            raise ValueError("the design-life row is chosen only when the parameter is set")
        return add_years(made, design_years), f"design service life {design_years} years"
    if row.key == "cylinder.life.lpg":
        if made.year < row.value("legacy_before_year"):
            years = row.value("legacy_life_years")
            return add_years(made, years), f"made before {row.legacy_before_year}: {years} years"
        end = add_years(made, row.value("life_years"))
        window = add_months(end, -row.value("extension_window_months"))
        extended = [i for i in view.passing(["periodic"]) if window <= i.inspected_on <= end]
        if extended:
            years = min(
                row.value("life_years") + row.value("extension_years"),
                row.value("max_life_years"),
            )
            return add_years(made, years), (
                f"extended to {years} years by the passed inspection of "
                f"{extended[-1].inspected_on.isoformat()}"
            )
        return end, f"{row.life_years} years, not extended"
    years = row.value("life_years")
    return add_years(made, years), f"{years} years"
