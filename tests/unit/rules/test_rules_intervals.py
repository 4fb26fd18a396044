"""One case (at least) per row of docs/rules.md's interval table, outside lifts."""

from __future__ import annotations

from datetime import date

import pytest

from equipment.domain.errors import InvalidValue
from equipment.domain.rules import Inspection, Suspension, UnitHistory, schedule


def unit(
    category: str,
    commissioned: date | None = None,
    *inspections: Inspection,
    made: date | None = None,
    **params: object,
) -> UnitHistory:
    return UnitHistory(
        category,
        parameters=params,
        commissioning_date=commissioned,
        manufacture_date=made,
        inspections=inspections,
    )


def insp(
    on: date,
    kind: str = "periodic",
    *,
    grade: int | None = None,
    stated: date | None = None,
    conclusion: str = "pass",
) -> Inspection:
    return Inspection(on, kind, conclusion, next_due=stated, safety_grade=grade)


LEAP = date(2020, 2, 29)
VESSEL_START = date(2018, 6, 15)
MADE = date(2020, 3, 10)
CRANE_START = date(2022, 4, 30)
PIPE_START = date(2019, 9, 1)

# (case, unit, today, kind, expected due date, expected rule key)
CASES = [
    # --- boilers, TSG 11-2020 --------------------------------------------------------
    (
        "boiler external first year, from 29 Feb",
        unit("1000", LEAP),
        date(2020, 3, 1),
        "external",
        date(2021, 2, 28),
        "boiler.external",
    ),
    (
        "boiler internal first after 1 year",
        unit("1000", LEAP),
        date(2020, 3, 1),
        "internal",
        date(2021, 2, 28),
        "boiler.internal",
    ),
    (
        "boiler internal every 2 years",
        unit("1000", LEAP, insp(date(2021, 3, 10), "internal")),
        date(2021, 4, 1),
        "internal",
        date(2023, 3, 10),
        "boiler.internal",
    ),
    (
        "boiler external yearly after the last",
        unit("1000", LEAP, insp(date(2021, 3, 10), "external")),
        date(2021, 4, 1),
        "external",
        date(2022, 3, 10),
        "boiler.external",
    ),
    (
        "boiler 'periodic' record counts as external and internal",
        unit("1000", LEAP, insp(date(2021, 3, 10))),
        date(2021, 4, 1),
        "internal",
        date(2023, 3, 10),
        "boiler.internal",
    ),
    (
        "power-station boiler internal: policy default 3 years",
        unit("1000", LEAP, insp(date(2022, 5, 1), "internal"), power_station=True),
        date(2022, 6, 1),
        "internal",
        date(2025, 5, 1),
        "boiler.internal.power_station",
    ),
    (
        "power-station boiler internal: the unit's overhaul cycle",
        unit(
            "1000",
            LEAP,
            insp(date(2022, 5, 1), "internal"),
            power_station=True,
            internal_interval_years=5,
        ),
        date(2022, 6, 1),
        "internal",
        date(2027, 5, 1),
        "boiler.internal.power_station",
    ),
    (
        "power-station boiler internal: the report's date wins",
        unit(
            "1000",
            LEAP,
            insp(date(2022, 5, 1), "internal", stated=date(2026, 10, 31)),
            power_station=True,
            internal_interval_years=5,
        ),
        date(2022, 6, 1),
        "internal",
        date(2026, 10, 31),
        "boiler.internal.power_station",
    ),
    (
        "boiler where internal inspection is impossible: hydrostatic every 3 years",
        unit("1000", LEAP, internal_inspection_impossible=True),
        date(2020, 3, 1),
        "hydrostatic",
        date(2023, 2, 28),
        "boiler.hydrostatic",
    ),
    # --- fixed pressure vessels, TSG 21-2016 -----------------------------------------
    (
        "vessel first within 3 years",
        unit("2100", VESSEL_START),
        date(2019, 1, 1),
        "periodic",
        date(2021, 6, 15),
        "vessel.first",
    ),
    (
        "non-metallic vessel first within 1 year",
        unit("2100", VESSEL_START, non_metallic=True),
        date(2019, 1, 1),
        "periodic",
        date(2019, 6, 15),
        "vessel.first.non_metallic",
    ),
    (
        "vessel grade 1: 6 years",
        unit("2100", VESSEL_START, insp(date(2021, 5, 1), grade=1)),
        date(2021, 6, 1),
        "periodic",
        date(2027, 5, 1),
        "vessel.grade_1_2",
    ),
    (
        "vessel grade 2: 6 years",
        unit("2100", VESSEL_START, insp(date(2021, 5, 1), grade=2)),
        date(2021, 6, 1),
        "periodic",
        date(2027, 5, 1),
        "vessel.grade_1_2",
    ),
    (
        "vessel grade 3: 3 years by default",
        unit("2100", VESSEL_START, insp(date(2021, 5, 1), grade=3)),
        date(2021, 6, 1),
        "periodic",
        date(2024, 5, 1),
        "vessel.grade_3",
    ),
    (
        "vessel grade from the unit parameter",
        unit("2100", VESSEL_START, insp(date(2021, 5, 1)), safety_grade=2),
        date(2021, 6, 1),
        "periodic",
        date(2027, 5, 1),
        "vessel.grade_1_2",
    ),
    (
        "vessel grade 4 without a stated date: 1 year",
        unit("2100", VESSEL_START, insp(date(2021, 5, 1), grade=4)),
        date(2021, 6, 1),
        "periodic",
        date(2022, 5, 1),
        "vessel.grade_4",
    ),
    (
        "vessel grade 4 with a stated date",
        unit("2100", VESSEL_START, insp(date(2021, 5, 1), grade=4, stated=date(2022, 11, 30))),
        date(2021, 6, 1),
        "periodic",
        date(2022, 11, 30),
        "vessel.grade_4",
    ),
    (
        "vessel grade 4: never past 3 years of monitored use",
        unit(
            "2100",
            VESSEL_START,
            insp(date(2021, 5, 1), grade=4),
            insp(date(2022, 4, 20), grade=4),
            insp(date(2023, 6, 1), grade=4),
        ),
        date(2023, 6, 2),
        "periodic",
        date(2024, 5, 1),
        "vessel.grade_4",
    ),
    (
        "vessel: the report's stated date wins over 6 years",
        unit("2100", VESSEL_START, insp(date(2021, 5, 1), grade=1, stated=date(2025, 1, 1))),
        date(2021, 6, 1),
        "periodic",
        date(2025, 1, 1),
        "vessel.grade_1_2",
    ),
    # --- gas cylinders, TSG 23-2021 --------------------------------------------------
    (
        "O2 steel seamless: 3 years",
        unit("2310", made=MADE, medium="O2"),
        date(2020, 4, 1),
        "periodic",
        date(2023, 3, 10),
        "cylinder.other",
    ),
    (
        "Cl2: corrosive, 2 years",
        unit("2310", made=MADE, medium="Cl2"),
        date(2020, 4, 1),
        "periodic",
        date(2022, 3, 10),
        "cylinder.corrosive",
    ),
    (
        "NH3 even if 'high purity': corrosive, 2 years",
        unit("2310", made=MADE, medium="NH3", high_purity=True),
        date(2020, 4, 1),
        "periodic",
        date(2022, 3, 10),
        "cylinder.corrosive",
    ),
    (
        "N2: 5 years",
        unit("2310", made=MADE, medium="N2"),
        date(2020, 4, 1),
        "periodic",
        date(2025, 3, 10),
        "cylinder.inert",
    ),
    (
        "Ar (inert): 5 years",
        unit("2310", made=MADE, medium="Ar"),
        date(2020, 4, 1),
        "periodic",
        date(2025, 3, 10),
        "cylinder.inert",
    ),
    (
        "SF6: 5 years under the unresolved [U] row",
        unit("2310", made=MADE, medium="SF6"),
        date(2020, 4, 1),
        "periodic",
        date(2025, 3, 10),
        "cylinder.inert.fluorinated",
    ),
    (
        "C2F6 (六氟乙烷): 5 years under the unresolved [U] row",
        unit("2310", made=MADE, medium="C2F6"),
        date(2020, 4, 1),
        "periodic",
        date(2025, 3, 10),
        "cylinder.inert.fluorinated",
    ),
    (
        "H2 99.999 %: 5 years",
        unit("2310", made=MADE, medium="H2", high_purity=True),
        date(2020, 4, 1),
        "periodic",
        date(2025, 3, 10),
        "cylinder.inert",
    ),
    (
        "mixture Ar+CO2: the shortest (3)",
        unit("2310", made=MADE, medium="Ar+CO2"),
        date(2020, 4, 1),
        "periodic",
        date(2023, 3, 10),
        "cylinder.other",
    ),
    (
        "mixture N2+NH3: the shortest (2)",
        unit("2310", made=MADE, medium="N2+NH3"),
        date(2020, 4, 1),
        "periodic",
        date(2022, 3, 10),
        "cylinder.corrosive",
    ),
    (
        "sea-water contact: 2 years",
        unit("2310", made=MADE, medium="O2", sea_water_contact=True),
        date(2020, 4, 1),
        "periodic",
        date(2022, 3, 10),
        "cylinder.sea_water",
    ),
    (
        "LPG steel: 4 years",
        unit("2320", made=MADE, medium="LPG", material="steel"),
        date(2020, 4, 1),
        "periodic",
        date(2024, 3, 10),
        "cylinder.lpg",
    ),
    (
        "LPG in aluminium is an 'other' gas: 3 years",
        unit("2310", made=MADE, medium="LPG", material="aluminium"),
        date(2020, 4, 1),
        "periodic",
        date(2023, 3, 10),
        "cylinder.other",
    ),
    (
        "vehicle CNG: 3 years",
        unit("2310", made=MADE, medium="CNG", vehicle=True),
        date(2020, 4, 1),
        "periodic",
        date(2023, 3, 10),
        "cylinder.vehicle_gas",
    ),
    (
        "vehicle LNG: 3 years",
        unit("23T0", made=MADE, medium="LNG", vehicle=True),
        date(2020, 4, 1),
        "periodic",
        date(2023, 3, 10),
        "cylinder.vehicle_gas",
    ),
    (
        "insulated cryogenic (23T0 liquid O2): 3 years",
        unit("23T0", made=MADE, medium="O2"),
        date(2020, 4, 1),
        "periodic",
        date(2023, 3, 10),
        "cylinder.cryogenic",
    ),
    (
        "composite breathing cylinder: 3 years",
        unit("23T0", made=MADE, medium="air", material="composite"),
        date(2020, 4, 1),
        "periodic",
        date(2023, 3, 10),
        "cylinder.composite_breathing",
    ),
    (
        "dissolved acetylene: 3 years",
        unit("23T0", made=MADE, medium="C2H2"),
        date(2020, 4, 1),
        "periodic",
        date(2023, 3, 10),
        "cylinder.acetylene",
    ),
    (
        "cylinder: later intervals count from the last inspection",
        unit("2310", None, insp(date(2023, 3, 1)), made=MADE, medium="O2"),
        date(2023, 4, 1),
        "periodic",
        date(2026, 3, 1),
        "cylinder.other",
    ),
    (
        "cylinder made on 29 February",
        unit("2310", made=LEAP, medium="Cl2"),
        date(2020, 4, 1),
        "periodic",
        date(2022, 2, 28),
        "cylinder.corrosive",
    ),
    (
        "LPG steel service life: 8 years",
        unit("2320", made=date(2015, 6, 1), medium="LPG"),
        date(2016, 1, 1),
        "end_of_service_life",
        date(2023, 6, 1),
        "cylinder.life.lpg",
    ),
    (
        "LPG steel service life: extended to 12 by a passed inspection at 8",
        unit("2320", None, insp(date(2023, 2, 1)), made=date(2015, 6, 1), medium="LPG"),
        date(2023, 3, 1),
        "end_of_service_life",
        date(2027, 6, 1),
        "cylinder.life.lpg",
    ),
    (
        "LPG steel service life: an inspection long before the end does not extend",
        unit("2320", None, insp(date(2019, 6, 1)), made=date(2015, 6, 1), medium="LPG"),
        date(2020, 1, 1),
        "end_of_service_life",
        date(2023, 6, 1),
        "cylinder.life.lpg",
    ),
    (
        "LPG steel made before 2007: 15 years",
        unit("2320", made=date(2005, 6, 1), medium="LPG"),
        date(2006, 1, 1),
        "end_of_service_life",
        date(2020, 6, 1),
        "cylinder.life.lpg",
    ),
    (
        "vehicle CNG steel service life: 15 years",
        unit("2310", made=date(2010, 1, 1), medium="CNG", vehicle=True),
        date(2011, 1, 1),
        "end_of_service_life",
        date(2025, 1, 1),
        "cylinder.life.vehicle_cng",
    ),
    (
        "design service life from the parameter",
        unit("2310", made=MADE, medium="O2", design_service_life_years=20),
        date(2021, 1, 1),
        "end_of_service_life",
        date(2040, 3, 10),
        "cylinder.life.design",
    ),
    # --- cranes, TSG Q7015-2016 ------------------------------------------------------
    (
        "tower crane: yearly",
        unit("4300", CRANE_START),
        date(2022, 5, 1),
        "periodic",
        date(2023, 4, 30),
        "crane.yearly",
    ),
    (
        "mobile crane: yearly",
        unit("4400", CRANE_START),
        date(2022, 5, 1),
        "periodic",
        date(2023, 4, 30),
        "crane.yearly",
    ),
    (
        "construction hoist: yearly",
        unit("4860", CRANE_START),
        date(2022, 5, 1),
        "periodic",
        date(2023, 4, 30),
        "crane.yearly",
    ),
    (
        "bridge crane: 2 years",
        unit("4100", CRANE_START),
        date(2022, 5, 1),
        "periodic",
        date(2024, 4, 30),
        "crane.biennial",
    ),
    (
        "gantry crane: 2 years",
        unit("4200", CRANE_START),
        date(2022, 5, 1),
        "periodic",
        date(2024, 4, 30),
        "crane.biennial",
    ),
    (
        "portal crane: 2 years",
        unit("4700", CRANE_START),
        date(2022, 5, 1),
        "periodic",
        date(2024, 4, 30),
        "crane.biennial",
    ),
    (
        "mechanical parking: 2 years",
        unit("4D00", CRANE_START),
        date(2022, 5, 1),
        "periodic",
        date(2024, 4, 30),
        "crane.biennial",
    ),
    (
        "bridge crane for molten metal: yearly",
        unit("4100", CRANE_START, molten_metal=True),
        date(2022, 5, 1),
        "periodic",
        date(2023, 4, 30),
        "crane.molten_metal",
    ),
    (
        "crane: from the last inspection",
        unit("4100", CRANE_START, insp(date(2024, 3, 3))),
        date(2024, 4, 1),
        "periodic",
        date(2026, 3, 3),
        "crane.biennial",
    ),
    # --- pressure piping -------------------------------------------------------------
    (
        "industrial piping grade 2: 6 years",
        unit("8300", PIPE_START, safety_grade=2),
        date(2020, 1, 1),
        "periodic",
        date(2025, 9, 1),
        "piping.industrial.grade_1_2",
    ),
    (
        "industrial piping grade 3: 3 years",
        unit("8300", PIPE_START, safety_grade=3),
        date(2020, 1, 1),
        "periodic",
        date(2022, 9, 1),
        "piping.industrial.grade_3",
    ),
    (
        "industrial piping ungraded: 3 years",
        unit("8300", PIPE_START),
        date(2020, 1, 1),
        "periodic",
        date(2022, 9, 1),
        "piping.industrial.grade_3",
    ),
    (
        "industrial piping: the report's stated date wins",
        unit("8300", PIPE_START, insp(date(2022, 8, 1), grade=1, stated=date(2026, 8, 1))),
        date(2022, 9, 1),
        "periodic",
        date(2026, 8, 1),
        "piping.industrial.grade_1_2",
    ),
    (
        "gas piping GB1-III: 8 years",
        unit("8210", PIPE_START, pipe_class="GB1-III"),
        date(2020, 1, 1),
        "periodic",
        date(2027, 9, 1),
        "piping.public.gb1_iii",
    ),
    (
        "gas piping GB1-IV: 12 years",
        unit("8210", PIPE_START, pipe_class="GB1-IV"),
        date(2020, 1, 1),
        "periodic",
        date(2031, 9, 1),
        "piping.public.gb1_iv_gb2",
    ),
    (
        "heat piping GB2: 12 years",
        unit("8220", PIPE_START, pipe_class="GB2"),
        date(2020, 1, 1),
        "periodic",
        date(2031, 9, 1),
        "piping.public.gb1_iv_gb2",
    ),
    (
        "PE gas piping: 15 years",
        unit("8210", PIPE_START, material="PE"),
        date(2020, 1, 1),
        "periodic",
        date(2034, 9, 1),
        "piping.public.pe_cast_iron",
    ),
    (
        "cast-iron gas piping: 15 years",
        unit("8210", PIPE_START, material="cast_iron"),
        date(2020, 1, 1),
        "periodic",
        date(2034, 9, 1),
        "piping.public.pe_cast_iron",
    ),
    (
        "PE gas piping of class GB1-III: the shorter (8)",
        unit("8210", PIPE_START, pipe_class="GB1-III", material="PE"),
        date(2020, 1, 1),
        "periodic",
        date(2027, 9, 1),
        "piping.public.gb1_iii",
    ),
    (
        "public piping: the report's stated date wins",
        unit(
            "8210",
            PIPE_START,
            insp(date(2023, 1, 1), stated=date(2029, 12, 31)),
            pipe_class="GB1-III",
        ),
        date(2023, 2, 1),
        "periodic",
        date(2029, 12, 31),
        "piping.public.gb1_iii",
    ),
    (
        "long-distance piping: the stated date",
        unit("8100", PIPE_START, insp(date(2023, 1, 1), stated=date(2026, 1, 1))),
        date(2023, 2, 1),
        "periodic",
        date(2026, 1, 1),
        "report.stated",
    ),
    # --- yearly categories -----------------------------------------------------------
    (
        "passenger ropeway: yearly",
        unit("9000", LEAP),
        date(2020, 3, 1),
        "periodic",
        date(2021, 2, 28),
        "ropeway.periodic",
    ),
    (
        "amusement ride: yearly",
        unit("6000", LEAP),
        date(2020, 3, 1),
        "periodic",
        date(2021, 2, 28),
        "amusement.periodic",
    ),
    (
        "forklift: yearly",
        unit("5110", LEAP),
        date(2020, 3, 1),
        "periodic",
        date(2021, 2, 28),
        "vehicle.periodic",
    ),
    (
        "sightseeing car: yearly from the last",
        unit("5200", LEAP, insp(date(2021, 1, 15))),
        date(2021, 2, 1),
        "periodic",
        date(2022, 1, 15),
        "vehicle.periodic",
    ),
]


@pytest.mark.parametrize(
    ("case", "unit", "today", "kind", "expected", "rule_key"), CASES, ids=[c[0] for c in CASES]
)
def test_interval_rows(
    case: str, unit: UnitHistory, today: date, kind: str, expected: date, rule_key: str
) -> None:
    item = schedule(unit, today).for_kind(kind)
    assert item is not None, case
    assert (item.due_on, item.rule_key) == (expected, rule_key), case
    assert item.base_date <= item.due_on
    assert item.source and item.explanation


def test_report_date_flagged_as_from_report() -> None:
    vessel = unit("2100", VESSEL_START, insp(date(2021, 5, 1), grade=1, stated=date(2025, 1, 1)))
    item = schedule(vessel, date(2021, 6, 1)).next_periodic
    assert item is not None and item.from_report
    assert "2025-01-01" in item.explanation


def test_report_date_does_not_win_for_cranes() -> None:
    crane = unit("4100", CRANE_START, insp(date(2024, 3, 3), stated=date(2030, 1, 1)))
    item = schedule(crane, date(2024, 4, 1)).next_periodic
    assert item is not None
    assert (item.due_on, item.from_report) == (date(2026, 3, 3), False)


def test_vessel_grade_5_is_not_fit_and_has_no_date() -> None:
    result = schedule(unit("2100", VESSEL_START, insp(date(2021, 5, 1), grade=5)), date(2021, 6, 1))
    assert result.not_fit_for_use
    assert "grade 5" in result.not_fit_reasons[0]
    assert result.next_periodic is None


def test_cylinder_past_service_life_is_not_fit() -> None:
    cylinder = unit("2320", made=date(2015, 6, 1), medium="LPG")
    assert not schedule(cylinder, date(2023, 6, 1)).not_fit_for_use
    result = schedule(cylinder, date(2023, 6, 2))
    assert result.not_fit_for_use
    assert "service life" in result.not_fit_reasons[0]
    # The end of service life is reported as unfit, not as an overdue inspection kind.
    assert "end_of_service_life" not in result.overdue


def test_unknown_gas_is_treated_as_other_with_a_note() -> None:
    result = schedule(unit("2310", made=MADE, medium="XeF2"), date(2020, 4, 1))
    item = result.for_kind("periodic")
    assert item is not None and item.rule_key == "cylinder.other"
    assert any("XEF2" in note for note in result.notes)


def test_boiler_restart_after_a_year_stopped_needs_internal_inspection() -> None:
    stopped = UnitHistory(
        "1000",
        commissioning_date=date(2019, 1, 1),
        inspections=(insp(date(2020, 6, 1), "internal"),),
        suspensions=(Suspension(date(2021, 1, 1), date(2022, 3, 1)),),
    )
    item = schedule(stopped, date(2022, 3, 2)).for_kind("internal")
    assert item is not None
    assert (item.due_on, item.rule_key) == (date(2022, 3, 1), "boiler.internal.restart")
    # An internal inspection before the restart satisfies it.
    inspected = UnitHistory(
        "1000",
        commissioning_date=date(2019, 1, 1),
        inspections=(insp(date(2020, 6, 1), "internal"), insp(date(2022, 2, 20), "internal")),
        suspensions=(Suspension(date(2021, 1, 1), date(2022, 3, 1)),),
    )
    item = schedule(inspected, date(2022, 3, 2)).for_kind("internal")
    assert item is not None
    assert (item.due_on, item.rule_key) == (date(2024, 2, 20), "boiler.internal")


def test_boiler_stopped_a_year_needs_inspection_before_resuming() -> None:
    stopped = UnitHistory(
        "1000",
        status="suspended",
        commissioning_date=date(2019, 1, 1),
        inspections=(insp(date(2020, 12, 1), "internal"), insp(date(2020, 12, 1), "external")),
        suspensions=(Suspension(date(2021, 1, 1)),),
    )
    assert not schedule(stopped, date(2021, 6, 1)).needs_inspection_before_resume
    assert schedule(stopped, date(2022, 1, 1)).needs_inspection_before_resume


@pytest.mark.parametrize(
    ("category", "params", "inspected", "field"),
    [
        ("2100", {"safety_grade": "3"}, True, "parameters.safety_grade"),
        ("2100", {"non_metallic": "yes"}, False, "parameters.non_metallic"),
        ("2310", {"medium": "O2", "material": "wood"}, True, "parameters.material"),
        ("2310", {"medium": 7}, True, "parameters.medium"),
        ("8210", {"pipe_class": "GB9"}, True, "parameters.pipe_class"),
        (
            "1000",
            {"power_station": True, "internal_interval_years": 7},
            True,
            "parameters.internal_interval_years",
        ),
    ],
)
def test_bad_parameters_are_refused(
    category: str, params: dict[str, object], inspected: bool, field: str
) -> None:
    """The rules check the parameters they read (full validation is the register's job)."""
    records = (insp(date(2019, 1, 1)), insp(date(2019, 1, 1), "internal")) if inspected else ()
    history = UnitHistory(
        category,
        parameters=params,
        commissioning_date=date(2018, 1, 1),
        manufacture_date=date(2018, 1, 1),
        inspections=records,
    )
    with pytest.raises(InvalidValue) as error:
        schedule(history, date(2020, 1, 1))
    assert error.value.field == field


def test_vessel_grade_4_with_its_3_years_spent_is_not_fit() -> None:
    vessel = unit(
        "2100", VESSEL_START, insp(date(2021, 5, 1), grade=4), insp(date(2024, 5, 1), grade=4)
    )
    result = schedule(vessel, date(2024, 5, 2))
    assert result.not_fit_for_use
    assert "monitored use" in result.not_fit_reasons[0]
    assert result.next_periodic is None
