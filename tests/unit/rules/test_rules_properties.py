"""Property-based tests of the rules engine."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from equipment.domain.errors import InvalidValue
from equipment.domain.rules import (
    TABLE,
    Inspection,
    Suspension,
    UnitHistory,
    load_policy,
    schedule,
)
from equipment.domain.rules.dates import add_years, month_end, month_index, month_start
from equipment.domain.rules.table import NUMERIC_FIELDS

# (category, parameters, the inspection kinds its history holds)
FAMILIES: list[tuple[str, dict[str, object], tuple[str, ...]]] = [
    ("3110", {}, ("periodic", "self_test")),
    ("3310", {"maintenance_cycle_days": 30}, ("periodic", "self_test")),
    ("1000", {}, ("external", "internal")),
    ("1000", {"power_station": True}, ("external", "internal")),
    ("1000", {"internal_inspection_impossible": True}, ("external", "hydrostatic")),
    ("2100", {"safety_grade": 1}, ("periodic",)),
    ("2100", {"safety_grade": 3}, ("periodic",)),
    ("2100", {"safety_grade": 4}, ("periodic",)),
    ("2100", {"non_metallic": True}, ("periodic",)),
    ("2310", {"medium": "O2"}, ("periodic",)),
    ("2310", {"medium": "Ar+CO2", "sea_water_contact": True}, ("periodic",)),
    ("2320", {"medium": "LPG"}, ("periodic",)),
    ("23T0", {"medium": "C2H2"}, ("periodic",)),
    ("2310", {"medium": "CNG", "vehicle": True}, ("periodic",)),
    ("4300", {}, ("periodic",)),
    ("4D00", {}, ("periodic",)),
    ("4100", {"molten_metal": True}, ("periodic",)),
    ("8300", {"safety_grade": 2}, ("periodic",)),
    ("8210", {"pipe_class": "GB2"}, ("periodic",)),
    ("8220", {"material": "PE"}, ("periodic",)),
    ("9000", {}, ("periodic",)),
    ("6000", {}, ("periodic",)),
    ("5110", {}, ("periodic",)),
]

START = st.dates(min_value=date(1995, 1, 1), max_value=date(2035, 12, 31))


@st.composite
def units(draw: st.DrawFn) -> tuple[UnitHistory, date]:
    """A unit of any family with a plausible history, and a day to look at it."""
    category, params, kinds = draw(st.sampled_from(FAMILIES))
    commissioned = draw(START)
    span = 20 * 366
    records: list[Inspection] = []
    if category.startswith("3"):
        records.append(Inspection(commissioned, "supervisory", "pass"))
    for _ in range(draw(st.integers(0, 4))):
        records.append(
            Inspection(
                commissioned + timedelta(days=draw(st.integers(1, span))),
                draw(st.sampled_from(kinds)),
                draw(st.sampled_from(["pass", "pass", "conditional_pass", "fail"])),
                safety_grade=draw(st.none() | st.integers(1, 4)),
            )
        )
    suspensions: tuple[Suspension, ...] = ()
    if draw(st.booleans()):
        start = commissioned + timedelta(days=draw(st.integers(1, span)))
        end = draw(st.none() | st.just(start + timedelta(days=draw(st.integers(0, 900)))))
        suspensions = (Suspension(start, end),)
    unit = UnitHistory(
        category,
        status=draw(st.sampled_from(["in_use", "in_use", "pending", "suspended"])),
        parameters=params,
        commissioning_date=commissioned,
        manufacture_date=commissioned - timedelta(days=draw(st.integers(0, 400))),
        inspections=tuple(records),
        suspensions=suspensions,
        maintenance=tuple(
            commissioned + timedelta(days=draw(st.integers(0, span)))
            for _ in range(draw(st.integers(0, 2)))
        ),
    )
    today = commissioned + timedelta(days=draw(st.integers(0, 25 * 366)))
    return unit, today


@settings(max_examples=300)
@given(units())
def test_a_due_date_is_never_before_its_base_date(case: tuple[UnitHistory, date]) -> None:
    unit, today = case
    result = schedule(unit, today)
    for item in (*result.due, *result.dormant):
        assert item.base_date < item.due_on, item
        assert item.explanation and item.source and item.rule_key


@settings(max_examples=300)
@given(units())
def test_doing_what_was_due_on_its_due_day_leaves_nothing_overdue(
    case: tuple[UnitHistory, date],
) -> None:
    unit, today = case
    unit = UnitHistory(**{**_fields(unit), "status": "in_use"})
    for item in schedule(unit, today).due:
        if item.kind == "end_of_service_life":
            continue
        if item.kind == "maintenance":
            done = UnitHistory(**{**_fields(unit), "maintenance": (*unit.maintenance, item.due_on)})
        else:
            record = Inspection(item.due_on, item.kind, "pass")
            done = UnitHistory(**{**_fields(unit), "inspections": (*unit.inspections, record)})
        after = schedule(done, item.due_on + timedelta(days=1))
        assert item.kind not in after.overdue, (item, after)
        again = after.for_kind(item.kind)
        assert again is None or again.due_on > item.due_on


def _fields(unit: UnitHistory) -> dict[str, object]:
    return {name: getattr(unit, name) for name in unit.__slots__}  # type: ignore[attr-defined]


PERIODIC_YEARS = {1, 4, 7, 9, 11, 13}


@settings(max_examples=150)
@given(
    installed=st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 12, 31)),
    offsets=st.lists(st.floats(0, 1), min_size=25, max_size=25),
)
def test_lift_year_set_is_respected(installed: date, offsets: list[float]) -> None:
    """Done anywhere in each window, events follow years 1,4,7,9,11,13,15+ in one month."""
    records = [Inspection(installed, "supervisory", "pass")]
    today = installed
    for year in range(1, 26):
        result = schedule(UnitHistory("3110", inspections=tuple(records)), today)
        candidates = [i for i in (result.for_kind("periodic"), result.for_kind("self_test")) if i]
        item = min(candidates, key=lambda i: i.due_on)
        expected_kind = "periodic" if year in PERIODIC_YEARS or year >= 15 else "self_test"
        assert item.kind == expected_kind, (year, item)
        due_month = month_index(installed) + 12 * year
        assert item.due_on == month_end(due_month)
        if year == 15:
            assert result.for_kind("self_test") is None
        # Do it on any day from the window's opening to the due date: 2 months early for
        # a periodic inspection (lift.early), 1 for a self-test (lift.self_test_early).
        opens = month_start(due_month - (2 if item.kind == "periodic" else 1))
        day = opens + timedelta(days=round(offsets[year - 1] * (item.due_on - opens).days))
        records.append(Inspection(day, item.kind, "pass"))
        today = day + timedelta(days=1)
        assert (
            item.kind
            not in schedule(UnitHistory("3110", inspections=tuple(records)), today).overdue
        )


@settings(max_examples=100)
@given(
    installed=st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 12, 31)),
    early_days=st.integers(0, 58),
)
def test_early_lift_inspection_does_not_move_the_next_date(
    installed: date, early_days: int
) -> None:
    supervisory = Inspection(installed, "supervisory", "pass")
    due_on = month_end(month_index(installed) + 12)
    day = max(due_on - timedelta(days=early_days), month_start(month_index(due_on) - 2))
    early = schedule(
        UnitHistory("3110", inspections=(supervisory, Inspection(day, "periodic", "pass"))),
        due_on + timedelta(days=1),
    )
    on_time = schedule(
        UnitHistory("3110", inspections=(supervisory, Inspection(due_on, "periodic", "pass"))),
        due_on + timedelta(days=1),
    )
    assert early.next_periodic == on_time.next_periodic


@given(
    row=st.sampled_from([r for r in TABLE if r.tag in ("S", "U")]),
    value=st.integers(1, 40),
)
def test_any_s_or_u_number_can_be_overridden(row: object, value: int) -> None:
    settable = [n for n in NUMERIC_FIELDS if getattr(row, n) is not None]
    assume(settable)
    name = settable[0]
    key = row.key  # type: ignore[attr-defined]
    choice = row.choice  # type: ignore[attr-defined]
    if choice is not None and choice[0] == name and not choice[1] <= value <= choice[2]:
        try:
            load_policy({"overrides": {key: {name: value}}})
        except InvalidValue:
            return
        raise AssertionError("a value outside the regulation's range was accepted")
    policy = load_policy({"overrides": {key: {name: value}}})
    assert getattr(policy.row(key), name) == value


@given(day=st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 12, 31)))
def test_interval_due_is_the_anniversary(day: date) -> None:
    crane = UnitHistory("4100", commissioning_date=day)
    item = schedule(crane, day).next_periodic
    assert item is not None and item.due_on == add_years(day, 2)
