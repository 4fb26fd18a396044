"""docs/rules.md, written from the code's own rule tables so the two cannot drift.

``render()`` turns the rule table (:data:`equipment.domain.rules.TABLE`), the gas
classification, the fill verdict codes (:data:`equipment.domain.fills.CODE_TABLE`), the
maintenance and entrapment rules, the GB 45067-2024 major-hazard items
(:data:`equipment.domain.hazards.CRITERIA`) and the registration workflow into Markdown. ``sereg
rules doc`` writes it to docs/rules.md, and a test fails when the file differs from what
the code renders. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from equipment.domain import fills, hazards, lift_events, maintenance
from equipment.domain.catalogue import CYLINDER_USES
from equipment.domain.lifecycle import REGISTRATION_GRACE, SUSPENSION_NOTICE_GRACE, TRANSITIONS
from equipment.domain.rules import DEFAULT_POLICY, Policy, RuleRow
from equipment.domain.rules.gases import UNRESOLVED_FIVE_YEAR
from equipment.domain.rules.table import NUMERIC_FIELDS

__all__ = ["render"]

_TAGS = (
    "**[C]** rule text seen quoted; **[S]** secondary or older-rule text, consistent "
    "across sources; **[U]** unconfirmed. [S] and [U] rows can be overridden by the "
    "bureau's policy file (`SEREG_RULES_POLICY`) without a code change; a [C] row only "
    "where the regulation itself leaves a choice."
)

_SECTIONS: tuple[tuple[str, str], ...] = (
    ("lift.", "Lifts (TSG T7001-2023, TSG T7008-2023, TSG T5002-2017, Hubei measures)"),
    ("boiler.", "Boilers (TSG 11-2020)"),
    ("vessel.", "Fixed pressure vessels (TSG 21-2016)"),
    ("report.", "Dates stated by inspection reports"),
    ("cylinder.", "Gas cylinders (TSG 23-2021)"),
    ("crane.", "Cranes (TSG Q7015-2016)"),
    ("piping.", "Pressure piping (TSG D7005-2018, TSG D7004-2010)"),
    ("registration.", "Registration (TSG 08-2017)"),
    ("", "Ropeways, amusement rides, in-plant vehicles"),
)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _values(row: RuleRow) -> str:
    parts = [f"{name} {getattr(row, name)}" for name in NUMERIC_FIELDS if getattr(row, name)]
    if row.years:
        parts.append("years " + ", ".join(str(y) for y in row.years))
    if row.choice is not None:
        name, low, high = row.choice
        parts.append(f"{name} chosen in {low}-{high}")
    if row.report_date_wins:
        parts.append("the report's stated date wins")
    return "; ".join(parts) or "—"


def _overridable(row: RuleRow) -> str:
    if row.tag != "C":
        return "yes"
    return f"{row.choice[0]} only" if row.choice is not None else "no"


def _section_of(row: RuleRow) -> str:
    for prefix, title in _SECTIONS:
        if prefix and row.key.startswith(prefix):
            return title
    return _SECTIONS[-1][1]


def _rule_rows(policy: Policy) -> list[str]:
    lines: list[str] = []
    by_section: dict[str, list[RuleRow]] = {}
    for row in policy.rows.values():
        by_section.setdefault(_section_of(row), []).append(row)
    for _, title in _SECTIONS:
        rows = by_section.get(title, [])
        if not rows:
            continue
        lines += ["", f"### {title}", ""]
        lines += _table(
            ("key", "rule", "values", "source", "tag", "overridable"),
            (
                (
                    f"`{r.key}`",
                    r.summary,
                    _values(r),
                    r.source,
                    f"[{r.tag}]",
                    _overridable(r),
                )
                for r in rows
            ),
        )
    return lines


def _gases(policy: Policy) -> list[str]:
    by_class: dict[str, list[str]] = {}
    for gas, gas_class in sorted(policy.media.items()):
        by_class.setdefault(gas_class, []).append(gas)
    rows = [
        ("corrosive", "`cylinder.corrosive`", ", ".join(by_class.get("corrosive", []))),
        ("inert", "`cylinder.inert`", ", ".join(by_class.get("inert", []))),
        ("other", "`cylinder.other`", ", ".join(by_class.get("other", []))),
    ]
    return [
        "",
        "## Gas classes of the cylinder intervals",
        "",
        "A gas not listed counts as *other* (3 years) and the schedule says so; the policy "
        "file's `media` mapping can classify it. Of the inert gases, "
        + ", ".join(sorted(UNRESOLVED_FIVE_YEAR))
        + " take the unresolved [U] row `cylinder.inert.fluorinated` (a quoted text reads "
        "六氟乙烷 where the row once read SF6). A cylinder's use ("
        + ", ".join(CYLINDER_USES)
        + ") picks the diving, vehicle and taxi rows.",
        "",
        *_table(("class", "row", "gases"), rows),
    ]


def _fill_codes() -> list[str]:
    return [
        "",
        "## Gas cylinders: fill verdict codes",
        "",
        "00-09 are the answer codes filling-scale interlocks already use in the field; 10-19 "
        "are sereg's own; 20 on are the refusals of the corrected rules. 00 and 09 allow, "
        "every other code refuses. An entrusted (托管) cylinder is filled as the station's "
        f"own: code 00 with the reason `{fills.ENTRUSTED_REASON}`. The same codes answer the "
        "HTTP fill permit and the verdicts of MQTT fills (docs/mqtt-contract.md).",
        "",
        *_table(
            ("code", "name", "meaning", "refuses", "suspicious", "source"),
            (
                (
                    r.code.value,
                    f"`{r.name}`",
                    r.summary,
                    "yes" if r.refuses else "no",
                    "yes" if r.suspicious else "no",
                    r.source,
                )
                for r in fills.CODE_TABLE
            ),
        ),
        "",
        "When a fill has several findings, all are reported in this order, and the first "
        "refusing one is the verdict's code: "
        + ", ".join(c.value for c in fills.priority() if c is not fills.VerdictCode.OK)
        + ".",
        "",
        "Limits a bureau configures (sereg's settings, not regulation): LPG at most "
        f"{fills.DEFAULT_FILL_POLICY.lpg_kg_per_litre:g} kg per litre of water capacity "
        "([S]); refilled sooner than `SEREG_FILL_MIN_REFILL_MINUTES` (default "
        f"{int(fills.DEFAULT_FILL_POLICY.min_refill_interval.total_seconds() // 60)} min) is "
        "suspicious; a label seen at two stations faster than `SEREG_FILL_MAX_TRAVEL_KMH` "
        f"(default {fills.DEFAULT_FILL_POLICY.max_travel_kmh:g} km/h) may be cloned. "
        "Fill records are traceability records, kept at least 2 years (a local standard; "
        "TSG 23-2021 gives no figure [S]).",
    ]


def _maintenance() -> list[str]:
    classes = ", ".join(sorted(maintenance.ON_DEMAND_REFUSED_CLASSES))
    return [
        "",
        "## Lift maintenance and entrapment",
        "",
        f"- Routine maintenance at least every {maintenance.DEFAULT_CYCLE_DAYS} days "
        "(`lift.maintenance`).",
        "- On-demand maintenance (按需维保, `lift.maintenance.on_demand.eligibility`): a "
        f"contract cycle of {maintenance.DEFAULT_CYCLE_DAYS} to "
        f"{maintenance.MAX_ON_DEMAND_CYCLE_DAYS} days, only for a lift within its "
        "inspection validity, with IoT remote monitoring and liability insurance, "
        f"maintained by a company not graded C or below (refused classes: {classes}).",
        "- Entrapment: the maintenance company on site within "
        f"{maintenance.CITY_RESPONSE_MINUTES} minutes in city districts and "
        f"{maintenance.OTHER_RESPONSE_MINUTES} minutes elsewhere "
        "(`lift.entrapment.city`, `lift.entrapment.elsewhere`: 《湖北省电梯使用安全管理办法》, "
        "not TSG T5002). The policy file can change them, and "
        "`SEREG_ENTRAPMENT_CITY_MINUTES` / `SEREG_ENTRAPMENT_OTHER_MINUTES` win when set; "
        "the 2025 Hubei lift-safety regulations (湖北省电梯安全条例) may change them [U].",
    ]


def _lift_iot() -> list[str]:
    kinds = sorted(lift_events.KINDS - {lift_events.BACK_TO_NORMAL})
    by_kind: dict[str, list[str]] = {}
    for code, kind in lift_events.NATIONAL_FAULT_CODES.items():
        by_kind.setdefault(kind, []).append(code)
    return [
        "",
        "## Lift IoT",
        "",
        "Event kinds of MQTT contract v1 (docs/mqtt-contract.md), their alarm severity and "
        "the GB/T 24476-2017 base fault codes mapped to them [S]; local platforms' own "
        "codes (entrapment, over-travel, overspeed) come from per-platform tables "
        f"(`SEREG_FAULT_CODES`). `{lift_events.BACK_TO_NORMAL}` clears a condition.",
        "",
        *_table(
            ("kind", "severity", "GB/T 24476 code"),
            (
                (f"`{k}`", lift_events.severity(k), ", ".join(by_kind.get(k, [])) or "—")
                for k in kinds
            ),
        ),
    ]


def _major_hazards() -> list[str]:
    rows = [
        (
            f"`{c.key}`",
            c.clause,
            c.text_zh,
            c.text_en,
            ", ".join(sorted(f.value for f in c.families)) or "every family",
            c.confidence,
        )
        for c in hazards.CRITERIA
    ]
    return [
        "",
        "## Major accident hazards (GB 45067-2024)",
        "",
        "GB 45067-2024 特种设备重大事故隐患判定准则 (in force 2024-12-01): continued use with "
        "any item below is a major accident hazard (重大事故隐患); a unit with an open one "
        "is not fit for use until the hazard is verified closed, and its risk grade is 红. "
        "Naming an item makes a hazard major. **[S]** items were found in agreeing copies "
        "of the standard's text: check them against the official text before relying on "
        "them. **[U]** rows name their section only: the general section (5.1), pressure "
        "vessels (5.3) and in-plant vehicles (5.10) were not found, the crane (5.7) and "
        "ropeway (5.8) items are not listed in those copies, and amusement rides (5.9) is "
        "by elimination; their wording is the kind of hazard the section covers, not the "
        "standard's text.",
        "",
        *_table(("key", "clause", "item", "in English", "families", "tag"), rows),
    ]


def _workflow() -> list[str]:
    rows = (
        (
            f"`{action.value}`",
            ", ".join(sorted(s.value for s in rule.allowed_from)),
            rule.to.value if rule.to is not None else "(unchanged)",
            rule.source,
        )
        for action, rule in TRANSITIONS.items()
    )
    return [
        "",
        "## Obligations of every unit: the registration workflow",
        "",
        f"Use registration within {REGISTRATION_GRACE.days} days of going into service; a "
        f"planned suspension of a year or more notified within {SUSPENSION_NOTICE_GRACE.days} "
        "days (TSG 08-2017 [C]).",
        "",
        *_table(("action", "from", "to", "source"), rows),
    ]


def render(policy: Policy = DEFAULT_POLICY) -> str:
    """The rules document for ``policy`` (docs/rules.md holds the default policy's)."""
    lines = [
        "# sereg's regulatory rules",
        "",
        "<!-- Generated by `sereg rules doc` from the code's rule tables "
        "(equipment/domain/rules_document.py); do not edit by hand. -->",
        "",
        f"Policy: {policy.name}. {_TAGS}",
        "",
        "What a due date means: `due_on` is the last day on which the obligation is met in "
        "time. Interval rules fall due on the anniversary (29 February gives 28 February); "
        "lifts on the last day of the due month; maintenance after N days; where a report "
        "states the next date and the row says so, that date.",
        "",
        "## Inspection, service-life and registration rules",
        *_rule_rows(policy),
        *_gases(policy),
        *_fill_codes(),
        *_maintenance(),
        *_lift_iot(),
        *_major_hazards(),
        *_workflow(),
    ]
    return "\n".join(lines) + "\n"
