"""Pure maintenance rules: on-demand eligibility, cycles, record parsing, punctuality."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.domain.errors import InvalidValue
from equipment.domain.maintenance import (
    CITY_RESPONSE_MINUTES,
    OTHER_RESPONSE_MINUTES,
    ContractSpan,
    TelemetryDay,
    UnitFacts,
    check_cycle,
    check_record,
    faked_maintenance_reason,
    maintained_on_time,
    on_demand_refusals,
    parse_record,
)
from equipment.domain.rules import DEFAULT_POLICY, load_policy

DAY = timedelta(days=1)
TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("iot", "insured", "klass", "count"),
    [
        (True, True, "A", 0),
        (True, True, "B", 0),
        (True, True, "C", 1),  # 不得为分类监管C类(含)以下等级: C is refused too
        (True, True, "D", 1),
        (True, True, None, 1),
        (False, True, "A", 1),
        (True, False, "B", 1),
        (False, False, "D", 3),
    ],
)
def test_on_demand_conditions(iot, insured, klass, count):
    reasons = on_demand_refusals(
        iot_monitored=iot, liability_insured=insured, supervision_class=klass
    )
    assert len(reasons) == count


@pytest.mark.parametrize(
    ("cycle", "on_demand", "ok"),
    [
        (15, False, True),
        (16, False, False),
        (14, True, False),
        (15, True, True),
        (90, True, True),
        (91, True, False),
    ],
)
def test_cycles(cycle, on_demand, ok):
    if ok:
        check_cycle(cycle, on_demand)
    else:
        with pytest.raises(InvalidValue):
            check_cycle(cycle, on_demand)


def raw(**extra):
    return {
        "record_id": "R1",
        "code": "31104206062016053337",
        "maintained_on": "2026-11-20",
        "level": "quarterly",
        "technicians": "李强:T1-1;张伟:T1-2",
        "items": "a;b",
        **extra,
    }


def test_csv_and_json_shapes_parse_alike():
    from_csv = parse_record(raw())
    from_json = parse_record(
        raw(
            technicians=[
                {"name": "李强", "certificate_no": "T1-1"},
                {"name": "张伟", "certificate_no": "T1-2"},
            ],
            items=["a", "b"],
        )
    )
    assert from_csv == from_json


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"technicians": "李强"}, "technicians"),
        ({"technicians": ""}, "technicians"),
        ({"record_id": ""}, "record_id"),
        ({"maintained_on": "20261120"}, "maintained_on"),
        ({"level": "daily"}, "level"),
        ({"code": 12}, "code"),
        ({"items": [1]}, "items"),
    ],
)
def test_bad_rows_name_their_field(change, field):
    with pytest.raises(InvalidValue) as caught:
        parse_record(raw(**change))
    assert caught.value.field == field


@given(
    st.dictionaries(
        st.sampled_from(list(raw())),
        st.one_of(st.none(), st.text(max_size=30), st.integers(), st.lists(st.text(max_size=5))),
    )
)
def test_any_row_parses_or_is_refused_with_a_reason(change):
    try:
        parse_record(raw(**change))
    except InvalidValue as exc:
        assert exc.reason


def test_record_needs_the_company_contract_on_that_day():
    record = parse_record(raw())
    unit = UnitFacts(1, "in_use", date(2020, 1, 1))
    span = ContractSpan(9, 5, date(2026, 1, 1), date(2026, 11, 19), 15)
    with pytest.raises(InvalidValue, match="no active maintenance contract"):
        check_record(record, unit, [span], company_id=5, today=TODAY)
    longer = ContractSpan(9, 5, date(2026, 1, 1), date(2026, 11, 20), 15)
    assert check_record(record, unit, [longer], company_id=5, today=TODAY) == longer
    with pytest.raises(InvalidValue):
        check_record(record, unit, [longer], company_id=6, today=TODAY)
    with pytest.raises(InvalidValue, match="scrapped"):
        check_record(record, UnitFacts(1, "scrapped", None), [longer], company_id=5, today=TODAY)


def test_a_unit_outside_the_companys_contracts_reads_as_unknown():
    record = parse_record(raw())
    theirs = ContractSpan(9, 6, date(2026, 1, 1), date(2026, 12, 31), 15)
    unknown = pytest.raises(InvalidValue, match="no unit with code")
    for unit in (
        None,
        UnitFacts(1, "scrapped", None),
        UnitFacts(1, "in_use", date(2099, 1, 1)),
        UnitFacts(1, "in_use", None),
    ):
        for spans in ([], [theirs]):
            with unknown as caught:
                check_record(record, unit, spans, company_id=5, today=TODAY)
            assert "scrapped" not in caught.value.reason
            assert "commissioning" not in caught.value.reason


@pytest.mark.parametrize(
    ("days", "ok"),
    [
        ([15, 30, 45, 60, 75, 90], True),
        ([16, 30, 45, 60, 75, 90], False),
        ([15, 30, 45, 60, 74], False),
        ([], False),
    ],
)
def test_punctuality(days, ok):
    start = TODAY - 90 * DAY
    visits = [start + d * DAY for d in days]
    assert maintained_on_time(visits, cycle_days=15, start=start, end=TODAY) is ok


@pytest.mark.parametrize(
    ("day", "flagged"),
    [
        (TelemetryDay(1.0, frozenset({1}), 300), True),
        (TelemetryDay(1.0, frozenset({1, 2}), 300), False),
        (TelemetryDay(0.5, frozenset({1}), 300), False),
        (TelemetryDay(1.0, frozenset({0}), 0), False),
        (None, False),
    ],
)
def test_faked_maintenance_signal(day, flagged):
    assert bool(faked_maintenance_reason(day)) is flagged


@pytest.mark.parametrize(
    ("due", "refused"),
    [
        (TODAY, False),  # in date on its due day
        (TODAY + DAY, False),
        (TODAY - DAY, True),  # past its inspection validity
        (None, True),  # no inspection date on file: validity not established
    ],
)
def test_on_demand_needs_the_lift_within_its_inspection_validity(due, refused):
    reasons = on_demand_refusals(
        iot_monitored=True,
        liability_insured=True,
        supervision_class="A",
        inspection_due=due,
        today=TODAY,
    )
    assert bool(reasons) is refused
    if refused:
        assert "inspection validity" in reasons[0]


def test_entrapment_times_come_from_the_hubei_measures():
    city = DEFAULT_POLICY.row("lift.entrapment.city")
    elsewhere = DEFAULT_POLICY.row("lift.entrapment.elsewhere")
    assert (city.minutes, elsewhere.minutes) == (30, 60)
    for row in (city, elsewhere):
        assert "湖北省电梯使用安全管理办法" in row.source and "T5002" not in row.regulation
        assert row.tag == "S"
    assert (CITY_RESPONSE_MINUTES, OTHER_RESPONSE_MINUTES) == (30, 60)
    # Configurable without a code change: the policy file may set other minutes.
    policy = load_policy({"overrides": {"lift.entrapment.city": {"minutes": 20}}})
    assert policy.row("lift.entrapment.city").minutes == 20
