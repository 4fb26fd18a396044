"""Credit and risk classes (equipment.domain.credit): table-driven and monotone."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from equipment.domain import credit
from equipment.domain.credit import (
    BAD_COUNTS,
    CLASSES,
    CreditRecord,
    EnterpriseKind,
    assess,
    check_override,
    effective_class,
)
from equipment.domain.errors import InvalidValue

UU = EnterpriseKind.USER_UNIT
MC = EnterpriseKind.MAINTENANCE_COMPANY
FS = EnterpriseKind.FILLING_STATION
MF = EnterpriseKind.MANUFACTURER
IN = EnterpriseKind.INSTALLER


@pytest.mark.parametrize(
    ("kind", "record", "klass", "points"),
    [
        # A clean record with units in charge is class A.
        (UU, CreditRecord(units=50), "A", 0),
        # No history at all: B, not A (floor no_history).
        (UU, CreditRecord(), "B", 0),
        # 1 of 20 units overdue = 5 per 100 → 15 points → B.
        (UU, CreditRecord(units=20, overdue_inspections=1), "B", 15),
        # overdue 15 % (30) + failed 10 % (25) → 55 → D.
        (UU, CreditRecord(units=20, overdue_inspections=3, failed_inspections=2), "D", 55),
        # One violation: 15 points → B.
        (MC, CreditRecord(units=100, entrapments=10, violations=1), "B", 15),
        # An overdue major hazard is at least C whatever the points.
        (UU, CreditRecord(units=100, major_hazards_overdue=1), "C", 0),
        # Three violations: D by floor (and 30 points).
        (FS, CreditRecord(units=10, fills=100, violations=3), "D", 30),
        # Late arrivals count only for maintenance companies.
        (UU, CreditRecord(units=10, entrapments=4, late_arrivals=4), "A", 0),
        (MC, CreditRecord(units=10, entrapments=4, late_arrivals=1), "C", 30),
        # Refused fills count only for stations: 2 of 100 → 5 points.
        (FS, CreditRecord(units=10, fills=100, refused_fills=2), "A", 5),
        # Upheld citizen reports count for every kind: 3 → 10 points.
        (UU, CreditRecord(units=10, complaints_upheld=3), "B", 10),
        (MC, CreditRecord(units=10, entrapments=1, complaints_upheld=1), "A", 3),
        # A manufacturer: licensed, reported, its units clean: A.
        (MF, CreditRecord(units=40), "A", 0),
        # Last year's annual report missing: 10 points → B; two years: 25 → C.
        (MF, CreditRecord(units=40, annual_reports_missing=1), "B", 10),
        (MF, CreditRecord(units=40, annual_reports_missing=2), "C", 25),
        # No valid licence: 30 points, and at least C whatever else.
        (MF, CreditRecord(units=40, no_valid_licence=1), "C", 30),
        # Failed inspections of the units it made count against it: 5 of 40 → 25.
        (MF, CreditRecord(units=40, failed_inspections=5), "C", 25),
        # An installer: one unit installed without a valid licence → 15 points → B.
        (IN, CreditRecord(units=20, unlicensed_installations=1), "B", 15),
        # Annual reports are the manufacturers' (the register records none for installers).
        (IN, CreditRecord(units=20, annual_reports_missing=3), "A", 0),
        # A producer with no unit on file and nothing bad: B (no history).
        (IN, CreditRecord(), "B", 0),
        # Producers' factors never count for user units.
        (UU, CreditRecord(units=10, no_valid_licence=1, unlicensed_installations=5), "A", 0),
    ],
)
def test_table(kind: EnterpriseKind, record: CreditRecord, klass: str, points: int) -> None:
    got = assess(kind, record)
    assert (got.klass, got.points) == (klass, points)
    assert got.points == sum(f.points for f in got.factors)


def test_explained_factor_by_factor() -> None:
    got = assess(MC, CreditRecord(units=10, overdue_maintenance=1, entrapments=2))
    keys = [f.key for f in got.factors]
    assert "overdue_maintenance" in keys and "late_arrivals" in keys
    assert "refused_fills" not in keys  # a station's factor
    row = next(f for f in got.factors if f.key == "overdue_maintenance")
    assert (row.measure, row.points) == (10, 15)
    assert got.as_json()["factors"]


records = st.builds(
    CreditRecord,
    **{f.name: st.integers(0, 60) for f in dataclasses.fields(CreditRecord)},
)


@settings(max_examples=400, deadline=None)
@given(
    kind=st.sampled_from(list(EnterpriseKind)),
    record=records,
    bad=st.sampled_from(BAD_COUNTS),
    more=st.integers(1, 50),
)
def test_a_worse_record_never_gives_a_better_class(
    kind: EnterpriseKind, record: CreditRecord, bad: str, more: int
) -> None:
    worse = dataclasses.replace(record, **{bad: getattr(record, bad) + more})
    before, after = assess(kind, record), assess(kind, worse)
    assert CLASSES.index(after.klass) >= CLASSES.index(before.klass)
    assert after.points >= before.points


def test_per_hundred() -> None:
    assert credit.per_hundred(0, 0) == 0
    assert credit.per_hundred(1, 0) == 100
    assert credit.per_hundred(1, 3) == 33
    assert credit.per_hundred(500, 3) == 100


def test_negative_counts_refused() -> None:
    with pytest.raises(InvalidValue):
        CreditRecord(units=-1)


def test_override_needs_a_class_and_a_reason() -> None:
    assert check_override(" b ", " 约谈后整改到位 ") == ("B", "约谈后整改到位")
    with pytest.raises(InvalidValue):
        check_override("E", "x")
    with pytest.raises(InvalidValue):
        check_override("A", "  ")
    assert effective_class("C", None) == "C"
    assert effective_class("C", "A") == "A"
    assert effective_class(None, None) is None


def test_bands_must_rise() -> None:
    with pytest.raises(ValueError):
        credit.Factor("x", "x", "violations", None, credit.ALL, ((2, 5), (1, 10)))
    with pytest.raises(ValueError):
        credit.Factor("x", "x", "violations", None, credit.ALL, ((1, 10), (2, 5)))


def test_policy_replaces_bands_and_bounds() -> None:
    table = credit.table_from_policy(
        {"name": "襄阳 2026", "class_bounds": [5, 20, 45], "bands": {"violations": [[1, 40]]}}
    )
    got = assess(UU, CreditRecord(units=5, violations=1), table)
    assert (got.klass, got.points, got.table) == ("C", 40, "襄阳 2026")
    with pytest.raises(ValueError):
        credit.table_from_policy({"bands": {"nonsense": [[1, 1]]}})


def test_every_row_names_its_source() -> None:
    """Each factor says where it comes from; a row resting on a rule with no figure for
    its points says so instead of passing sereg's number off as regulation."""
    for factor in credit.DEFAULT_TABLE.factors:
        assert factor.source
        assert "[U]" in factor.source, factor.key  # every band is sereg's default
    producers = {
        f.key: f.source for f in credit.DEFAULT_TABLE.factors if f.kinds <= credit.PRODUCERS
    }
    assert set(producers) == {
        "no_valid_licence",
        "unlicensed_installations",
        "annual_reports_missing",
    }
    for source in producers.values():
        assert "[C]" in source and "no regulatory figure" in source
    explained = assess(MF, CreditRecord(units=5, annual_reports_missing=1)).as_json()
    rows = {f["key"]: f for f in explained["factors"]}  # type: ignore[attr-defined]
    assert "100%年报" in rows["annual_reports_missing"]["source"]
    assert rows["annual_reports_missing"]["points"] == 10
    assert {"complaints_upheld", "violations"} <= set(rows)
