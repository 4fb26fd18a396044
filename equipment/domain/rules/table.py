"""The rule table: every number the engine uses, one row each, naming its source.

A row is data: the regulation and clause it encodes, the docs/rules.md confidence tag
([C] rule text seen quoted, [S] secondary or older-rule text, [U] unconfirmed), a
one-line summary, and the values. Rule modules look rows up by key through a
:class:`~equipment.domain.rules.policy.Policy`, so a bureau can replace the values of
[S] and [U] rows by configuration; [C] rows can only be adjusted where the regulation
itself leaves a choice (``choice``: one field and the range the regulation allows).

Clause references: the number is given where the source text was seen (TSG R0006-2014
7.4.1, quoted by docs/rules.md; TSG 21-2016 8.1.6); elsewhere the clause is named by its
heading, to be completed with the number once an inspector confirms it against the
published text.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Final, Literal

__all__ = ["NUMERIC_FIELDS", "TABLE", "RuleRow", "Tag"]

Tag = Literal["C", "S", "U"]

T7001: Final = "TSG T7001-2023"
T7008: Final = "TSG T7008-2023"
T5002: Final = "TSG T5002-2017"
TSG11: Final = "TSG 11-2020"
TSG21: Final = "TSG 21-2016"
TSG23: Final = "TSG 23-2021"
Q7015: Final = "TSG Q7015-2016"
D7005: Final = "TSG D7005-2018"
D7004: Final = "TSG D7004-2010"
HUBEI_LIFT_MEASURES: Final = "《湖北省电梯使用安全管理办法》 (Hubei provincial measures)"


@dataclass(frozen=True, slots=True)
class RuleRow:
    """One rule: what it schedules, where it comes from, and its numbers.

    Only the fields a rule needs are set; the others stay None. ``applies_to`` lists
    category-code prefixes where the rule is chosen by category alone.
    """

    key: str
    kind: str
    regulation: str
    clause: str
    tag: Tag
    summary: str
    interval_years: int | None = None
    first_interval_years: int | None = None
    interval_days: int | None = None
    months: int | None = None
    min_stop_years: int | None = None
    max_total_years: int | None = None
    life_years: int | None = None
    extension_years: int | None = None
    max_life_years: int | None = None
    legacy_life_years: int | None = None
    legacy_before_year: int | None = None
    extension_window_months: int | None = None
    minutes: int | None = None
    years: tuple[int, ...] = ()
    applies_to: tuple[str, ...] = ()
    choice: tuple[str, int, int] | None = None
    report_date_wins: bool = False

    @property
    def source(self) -> str:
        """Regulation and clause, as printed in explanations."""
        return f"{self.regulation} {self.clause}"

    def applies(self, category: str) -> bool:
        """True when ``category`` starts with one of the row's code prefixes."""
        return category.startswith(self.applies_to)

    def value(self, name: str) -> int:
        """A numeric field that the rule needs; a missing one is a table bug."""
        number = getattr(self, name)
        if not isinstance(number, int):
            raise LookupError(f"rule {self.key} has no value {name!r}")
        return number


NUMERIC_FIELDS: Final = tuple(f.name for f in fields(RuleRow) if f.type == "int | None")

_LIFT_CYCLE = "定期检验和自行检测周期 (inspection and self-testing years)"
_VESSEL_CYCLE = "8.1.6 检验周期 (inspection interval)"
_CYLINDER_CYCLE = "检验周期 (inspection interval), carried over from TSG R0006-2014 7.4.1"

TABLE: Final[tuple[RuleRow, ...]] = (
    # --- lifts -----------------------------------------------------------------------
    RuleRow(
        key="lift.periodic_years",
        kind="periodic",
        regulation=T7001,
        clause=_LIFT_CYCLE,
        tag="C",
        summary="periodic inspection in years 1, 4, 7, 9, 11, 13 and 15, calendar years of use "
        "counted from the installation or modernisation supervisory inspection",
        years=(1, 4, 7, 9, 11, 13, 15),
        applies_to=("3",),
    ),
    RuleRow(
        key="lift.after_15_years",
        kind="periodic",
        regulation=T7001,
        clause=_LIFT_CYCLE,
        tag="U",
        summary="periodic inspection every year once the lift is past its 15th year",
        interval_years=1,
        applies_to=("3",),
    ),
    RuleRow(
        key="lift.self_test",
        kind="self_test",
        regulation=T7008,
        clause="自行检测周期 (self-testing cycle)",
        tag="U",
        summary="self-testing in each year without a periodic inspection, in the same due month",
        applies_to=("3",),
    ),
    RuleRow(
        key="lift.due_month",
        kind="periodic",
        regulation=T7001,
        clause="4.1 检验日期 (due month; clause number inferred)",
        tag="C",
        summary="inspections and self-tests fall due in the month of the latest passed "
        "supervisory inspection (installation, modernisation or major repair)",
        applies_to=("3",),
    ),
    RuleRow(
        key="lift.early",
        kind="periodic",
        regulation=T7001,
        clause="提前检验 (early inspection)",
        tag="C",
        summary="a periodic inspection up to 2 months early counts and does not move the next "
        "due date",
        months=2,
        applies_to=("3",),
    ),
    RuleRow(
        key="lift.self_test_early",
        kind="self_test",
        regulation=T7008,
        clause="自行检测 (self-testing ahead of the due month)",
        tag="S",
        summary="a self-test up to 1 month early counts and does not move the next due date",
        months=1,
        applies_to=("3",),
    ),
    RuleRow(
        key="lift.major_repair",
        kind="periodic",
        regulation=T7001,
        clause="4.1 重大修理监督检验 (major repair: 当年的定期检验(如果有)不再实施; "
        "其后仍然按照…确定的年份)",
        tag="S",
        summary="a passed supervisory inspection after a major repair replaces that year's "
        "periodic inspection and moves the due month to its own; the years are still "
        "counted from the installation or modernisation supervisory inspection",
        applies_to=("3",),
    ),
    RuleRow(
        key="lift.suspension_anchor",
        kind="periodic",
        regulation=T7001,
        clause="4.1 检验日期 (due month after restart)",
        tag="C",
        summary="after a suspension of 1 year or more, inspections fall due in the month of the "
        "periodic inspection passed before restart; the years continue",
        applies_to=("3",),
    ),
    RuleRow(
        key="lift.restart_inspection",
        kind="periodic",
        regulation=T7001,
        clause="4.1 停用后重新启用 (restart after 1 year or more stopped)",
        tag="S",
        summary="a lift stopped for 1 year or more needs a periodic inspection before restart, "
        "even when the last one has not lapsed",
        min_stop_years=1,
        applies_to=("3",),
    ),
    RuleRow(
        key="lift.maintenance",
        kind="maintenance",
        regulation=T5002,
        clause="维护保养周期 (maintenance interval)",
        tag="C",
        summary="cleaning, lubrication, adjustment and checking at least every 15 days",
        interval_days=15,
        applies_to=("3",),
    ),
    RuleRow(
        key="lift.maintenance.on_demand",
        kind="maintenance",
        regulation=T5002,
        clause="按需维保试点 (on-demand maintenance pilots)",
        tag="S",
        summary="on-demand maintenance follows the contract's cycle in days instead of 15 days",
        applies_to=("3",),
    ),
    RuleRow(
        key="lift.maintenance.on_demand.eligibility",
        kind="maintenance",
        regulation=T5002,
        clause="按需维保试点 (on-demand maintenance pilots: 不得为分类监管C类(含)以下等级)",
        tag="S",
        summary="on-demand maintenance only for a lift in use within its inspection validity, "
        "with IoT remote monitoring and liability insurance, maintained by a company not "
        "graded C or below (C or D) in classified supervision",
        applies_to=("3",),
    ),
    RuleRow(
        key="lift.entrapment.city",
        kind="maintenance",
        regulation=HUBEI_LIFT_MEASURES,
        clause="应急救援 (市区内抵达现场的时间不超过30分钟)",
        tag="S",
        summary="entrapment: the maintenance company on site within 30 minutes in city "
        "districts (a Hubei provincial rule, not TSG T5002; the 2025 Hubei lift-safety "
        "regulations may change it)",
        minutes=30,
        applies_to=("3",),
    ),
    RuleRow(
        key="lift.entrapment.elsewhere",
        kind="maintenance",
        regulation=HUBEI_LIFT_MEASURES,
        clause="应急救援 (其他地区不超过1小时)",
        tag="S",
        summary="entrapment: the maintenance company on site within 1 hour outside city "
        "districts (Hubei provincial rule)",
        minutes=60,
        applies_to=("3",),
    ),
    # --- registration ----------------------------------------------------------------
    RuleRow(
        key="registration.change.design_life",
        kind="change_registration",
        regulation="TSG 08-2017",
        clause="变更登记 (达到设计使用年限继续使用)",
        tag="U",
        summary="a unit that reaches its design service life and stays in use needs a change "
        "registration, within 30 days (the trigger [S]; the 30 days [U])",
        interval_days=30,
    ),
    # --- boilers ---------------------------------------------------------------------
    RuleRow(
        key="boiler.external",
        kind="external",
        regulation=TSG11,
        clause="定期检验周期 (periodic inspection)",
        tag="C",
        summary="external inspection every year",
        interval_years=1,
        applies_to=("1",),
    ),
    RuleRow(
        key="boiler.internal",
        kind="internal",
        regulation=TSG11,
        clause="定期检验周期 (periodic inspection)",
        tag="C",
        summary="internal inspection every 2 years, the first 1 year after commissioning",
        interval_years=2,
        first_interval_years=1,
        applies_to=("1",),
    ),
    RuleRow(
        key="boiler.internal.power_station",
        kind="internal",
        regulation=TSG11,
        clause="定期检验周期 (power-station boilers)",
        tag="C",
        summary="power-station boilers: internal inspection every 3 to 6 years with the overhaul",
        interval_years=3,
        choice=("interval_years", 3, 6),
        report_date_wins=True,
        applies_to=("1",),
    ),
    RuleRow(
        key="boiler.internal.restart",
        kind="internal",
        regulation=TSG11,
        clause="定期检验周期 (restart)",
        tag="C",
        summary="internal inspection before restart after being stopped 1 year or more",
        min_stop_years=1,
        applies_to=("1",),
    ),
    RuleRow(
        key="boiler.hydrostatic",
        kind="hydrostatic",
        regulation=TSG11,
        clause="水(耐)压试验 (hydrostatic test)",
        tag="C",
        summary="hydrostatic test every 3 years where internal inspection is impossible",
        interval_years=3,
        applies_to=("1",),
    ),
    # --- fixed pressure vessels ------------------------------------------------------
    RuleRow(
        key="vessel.first",
        kind="periodic",
        regulation=TSG21,
        clause=_VESSEL_CYCLE,
        tag="S",
        summary="first periodic inspection within 3 years of commissioning",
        first_interval_years=3,
        report_date_wins=True,
        applies_to=("21",),
    ),
    RuleRow(
        key="vessel.first.non_metallic",
        kind="periodic",
        regulation=TSG21,
        clause=_VESSEL_CYCLE,
        tag="S",
        summary="non-metallic vessels: first periodic inspection within 1 year of commissioning",
        first_interval_years=1,
        report_date_wins=True,
        applies_to=("21",),
    ),
    RuleRow(
        key="vessel.grade_1_2",
        kind="periodic",
        regulation=TSG21,
        clause=_VESSEL_CYCLE,
        tag="S",
        summary="safety grade 1 or 2: every 6 years",
        interval_years=6,
        report_date_wins=True,
        applies_to=("21",),
    ),
    RuleRow(
        key="vessel.grade_3",
        kind="periodic",
        regulation=TSG21,
        clause=_VESSEL_CYCLE,
        tag="S",
        summary="safety grade 3: every 3 to 6 years",
        interval_years=3,
        choice=("interval_years", 3, 6),
        report_date_wins=True,
        applies_to=("21",),
    ),
    RuleRow(
        key="vessel.grade_4",
        kind="periodic",
        regulation=TSG21,
        clause=_VESSEL_CYCLE,
        tag="S",
        summary="safety grade 4: monitored use, next date set by the inspection body, at most 3 "
        "years in total; 1 year when the report states no date",
        interval_years=1,
        max_total_years=3,
        report_date_wins=True,
        applies_to=("21",),
    ),
    RuleRow(
        key="vessel.grade_5",
        kind="periodic",
        regulation=TSG21,
        clause=_VESSEL_CYCLE,
        tag="S",
        summary="safety grade 5: not to be used",
        applies_to=("21",),
    ),
    RuleRow(
        key="report.stated",
        kind="periodic",
        regulation="TSG 08-2017",
        clause="定期检验 (periodic inspection)",
        tag="S",
        summary="the next inspection date stated on the last inspection report",
        report_date_wins=True,
    ),
    # --- gas cylinders ---------------------------------------------------------------
    RuleRow(
        key="cylinder.corrosive",
        kind="periodic",
        regulation=TSG23,
        clause=_CYLINDER_CYCLE,
        tag="S",
        summary="cylinders for corrosive gases: every 2 years",
        interval_years=2,
        applies_to=("23",),
    ),
    RuleRow(
        key="cylinder.sea_water",
        kind="periodic",
        regulation=TSG23,
        clause=_CYLINDER_CYCLE,
        tag="S",
        summary="cylinders in frequent contact with sea water: every 2 years",
        interval_years=2,
        applies_to=("23",),
    ),
    RuleRow(
        key="cylinder.diving",
        kind="periodic",
        regulation=TSG23,
        clause=_CYLINDER_CYCLE,
        tag="S",
        summary="diving cylinders: every 2 years",
        interval_years=2,
        applies_to=("23",),
    ),
    RuleRow(
        key="cylinder.inert",
        kind="periodic",
        regulation=TSG23,
        clause=_CYLINDER_CYCLE,
        tag="S",
        summary="N2, inert gases and non-corrosive gases of 99.999 % purity or more: every 5 years",
        interval_years=5,
        applies_to=("23",),
    ),
    RuleRow(
        key="cylinder.inert.fluorinated",
        kind="periodic",
        regulation=TSG23,
        clause=_CYLINDER_CYCLE,
        tag="U",
        summary="SF6 or 六氟乙烷 (C2F6) in the 5-year row: the quoted texts disagree on which "
        "gas the row names (unresolved; a policy may override the interval or reclassify "
        "the gas): every 5 years",
        interval_years=5,
        applies_to=("23",),
    ),
    RuleRow(
        key="cylinder.other",
        kind="periodic",
        regulation=TSG23,
        clause=_CYLINDER_CYCLE,
        tag="S",
        summary="cylinders for other gases: every 3 years",
        interval_years=3,
        applies_to=("23",),
    ),
    RuleRow(
        key="cylinder.lpg",
        kind="periodic",
        regulation=f"{TSG23} / GB 8334",
        clause="检验周期 (LPG cylinders)",
        tag="S",
        summary="LPG steel cylinders: every 4 years",
        interval_years=4,
        applies_to=("23",),
    ),
    RuleRow(
        key="cylinder.vehicle_gas",
        kind="periodic",
        regulation=TSG23,
        clause="检验周期 (vehicle cylinders)",
        tag="S",
        summary="vehicle CNG and LNG cylinders: every 3 years",
        interval_years=3,
        applies_to=("23",),
    ),
    RuleRow(
        key="cylinder.cryogenic",
        kind="periodic",
        regulation=TSG23,
        clause="检验周期 (insulated cryogenic)",
        tag="S",
        summary="insulated cryogenic cylinders: every 3 years",
        interval_years=3,
        applies_to=("23",),
    ),
    RuleRow(
        key="cylinder.composite_breathing",
        kind="periodic",
        regulation=TSG23,
        clause="检验周期 (composite)",
        tag="S",
        summary="composite breathing-apparatus cylinders: every 3 years",
        interval_years=3,
        applies_to=("23",),
    ),
    RuleRow(
        key="cylinder.acetylene",
        kind="periodic",
        regulation=TSG23,
        clause="检验周期 (dissolved acetylene)",
        tag="U",
        summary="dissolved acetylene cylinders: every 3 years",
        interval_years=3,
        applies_to=("23",),
    ),
    RuleRow(
        key="cylinder.life.lpg",
        kind="end_of_service_life",
        regulation=f"{TSG23} / GB 8334",
        clause="设计使用年限 (service life)",
        tag="S",
        summary="LPG steel cylinders: 8 years, one 4-year extension after a passed inspection in "
        "the last 12 months of the 8, 12 at most; 15 years for cylinders made before 2007",
        life_years=8,
        extension_years=4,
        max_life_years=12,
        legacy_life_years=15,
        legacy_before_year=2007,
        extension_window_months=12,
        applies_to=("23",),
    ),
    RuleRow(
        key="cylinder.life.vehicle_cng",
        kind="end_of_service_life",
        regulation=TSG23,
        clause="设计使用年限 (service life)",
        tag="S",
        summary="vehicle CNG steel cylinders: 15 years",
        life_years=15,
        applies_to=("23",),
    ),
    RuleRow(
        key="cylinder.life.taxi_cng",
        kind="end_of_service_life",
        regulation=TSG23,
        clause="使用年限 (出租车用压缩天然气气瓶使用年限不超过8年)",
        tag="S",
        summary="taxi CNG cylinders: at most 8 years (a shorter design service life wins)",
        life_years=8,
        applies_to=("23",),
    ),
    RuleRow(
        key="cylinder.life.design",
        kind="end_of_service_life",
        regulation=TSG23,
        clause="设计使用年限 (service life)",
        tag="S",
        summary="the design service life stated for the cylinder",
        applies_to=("23",),
    ),
    # --- cranes ----------------------------------------------------------------------
    RuleRow(
        key="crane.yearly",
        kind="periodic",
        regulation=Q7015,
        clause="检验周期 (inspection interval)",
        tag="S",
        summary="tower cranes, mobile cranes, hoists and construction hoists: every year",
        interval_years=1,
        applies_to=("4300", "4400", "48"),
    ),
    RuleRow(
        key="crane.biennial",
        kind="periodic",
        regulation=Q7015,
        clause="检验周期 (inspection interval)",
        tag="S",
        summary="bridge, gantry and portal cranes and mechanical parking: every 2 years",
        interval_years=2,
        applies_to=("4100", "4200", "4700", "4D00"),
    ),
    RuleRow(
        key="crane.molten_metal",
        kind="periodic",
        regulation=Q7015,
        clause="检验周期 (molten metal)",
        tag="S",
        summary="cranes handling molten or red-hot metal: every year",
        interval_years=1,
        applies_to=("4",),
    ),
    # --- pressure piping -------------------------------------------------------------
    RuleRow(
        key="piping.industrial.grade_1_2",
        kind="periodic",
        regulation=D7005,
        clause="检验周期 (inspection interval)",
        tag="S",
        summary="industrial piping of safety grade 1 or 2: at most every 6 years",
        interval_years=6,
        report_date_wins=True,
        applies_to=("83",),
    ),
    RuleRow(
        key="piping.industrial.grade_3",
        kind="periodic",
        regulation=D7005,
        clause="检验周期 (inspection interval)",
        tag="S",
        summary="industrial piping of safety grade 3 (or not yet graded): at most every 3 years",
        interval_years=3,
        report_date_wins=True,
        applies_to=("83",),
    ),
    RuleRow(
        key="piping.public.gb1_iii",
        kind="periodic",
        regulation=D7004,
        clause="全面检验周期 (inspection interval)",
        tag="S",
        summary="public piping class GB1-III: at most every 8 years",
        interval_years=8,
        report_date_wins=True,
        applies_to=("82",),
    ),
    RuleRow(
        key="piping.public.gb1_iv_gb2",
        kind="periodic",
        regulation=D7004,
        clause="全面检验周期 (inspection interval)",
        tag="S",
        summary="public piping class GB1-IV or GB2: at most every 12 years",
        interval_years=12,
        report_date_wins=True,
        applies_to=("82",),
    ),
    RuleRow(
        key="piping.public.pe_cast_iron",
        kind="periodic",
        regulation=D7004,
        clause="全面检验周期 (inspection interval)",
        tag="S",
        summary="public piping of PE or cast iron: at most every 15 years",
        interval_years=15,
        report_date_wins=True,
        applies_to=("82",),
    ),
    # --- yearly categories -----------------------------------------------------------
    RuleRow(
        key="ropeway.periodic",
        kind="periodic",
        regulation="TSG S7001-2013",
        clause="检验周期 (inspection interval)",
        tag="U",
        summary="passenger ropeways: every year",
        interval_years=1,
        applies_to=("9",),
    ),
    RuleRow(
        key="amusement.periodic",
        kind="periodic",
        regulation="TSG 71-2023",
        clause="检验周期 (inspection interval)",
        tag="U",
        summary="large amusement rides: every year",
        interval_years=1,
        applies_to=("6",),
    ),
    RuleRow(
        key="vehicle.periodic",
        kind="periodic",
        regulation="TSG 81-2022",
        clause="检验周期 (inspection interval)",
        tag="U",
        summary="in-plant motor vehicles: every year",
        interval_years=1,
        applies_to=("5",),
    ),
)
