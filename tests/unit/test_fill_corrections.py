"""The corrected gas-cylinder fill rules (issue 25): entrusted cylinders, a new
cylinder's first fill, vehicle cylinders. The optional checks are never a refusal when
absent."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from equipment.domain.fills import (
    ALLOWED,
    CODE_TABLE,
    ENTRUSTED_REASON,
    VerdictCode,
    code_row,
    same_vehicle,
)
from tests.unit.test_fill_rules import AT, MIN, codes, judge, previous

V = VerdictCode
VEHICLE = {"vehicle": True, "owning_station_id": None, "vehicle_registration": "鄂F·D12345"}


def test_new_refusals_are_numbered_from_20_and_cite_their_source() -> None:
    new = [row for row in CODE_TABLE if int(row.code.value) >= 20]
    assert [row.code.value for row in new] == ["20", "21", "22"]
    for row in new:
        assert row.refuses and not row.suspicious
        assert "TSG 23-2021" in row.source
        assert row.code not in ALLOWED


@pytest.mark.parametrize(
    ("cylinder", "attempt"),
    [
        pytest.param({}, {}, id="nothing-reported"),
        pytest.param(VEHICLE, {}, id="vehicle-nothing-reported"),
        pytest.param({}, {"purged_or_evacuated": True}, id="first-fill-purged"),
        pytest.param(VEHICLE, {"people_in_vehicle": False}, id="nobody-inside"),
        pytest.param(
            VEHICLE, {"vehicle_registration": "鄂f d12345"}, id="same-plate-written-apart"
        ),
        pytest.param({}, {"people_in_vehicle": True}, id="not-a-vehicle-cylinder"),
        pytest.param({}, {"vehicle_registration": "鄂F00000"}, id="not-a-vehicle-cylinder-plate"),
        pytest.param(
            {**VEHICLE, "vehicle_registration": None},
            {"vehicle_registration": "鄂F00000"},
            id="no-plate-on-file-not-checked",
        ),
    ],
)
def test_absent_or_passing_checks_do_not_refuse(
    cylinder: dict[str, object], attempt: dict[str, object]
) -> None:
    verdict = judge(cylinder=cylinder, attempt=attempt)
    assert verdict.code == V.OK, verdict
    assert codes(verdict) == []


def test_not_purged_refuses_only_the_first_fill() -> None:
    first = judge(attempt={"purged_or_evacuated": False})
    assert first.code == V.NOT_PURGED and not first.allowed
    assert "first fill" in first.reasons[0].text
    # Filled before (here or elsewhere): not a new cylinder, nothing to purge.
    again = judge(attempt={"purged_or_evacuated": False}, previous=previous(AT - 60 * MIN, 2))
    assert again.code == V.OK


def test_people_inside_and_a_wrong_vehicle_are_both_reported() -> None:
    verdict = judge(
        cylinder=VEHICLE, attempt={"people_in_vehicle": True, "vehicle_registration": "鄂F99999"}
    )
    assert verdict.code == V.PEOPLE_IN_VEHICLE
    assert codes(verdict) == ["21", "22"]
    assert verdict.as_dict()["reasons"][1]["name"] == "vehicle_mismatch"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("鄂F12345", "鄂F12345", True),
        ("鄂F·12345", "鄂f 12345", True),
        ("鄂F-12345", "鄂F.12345", True),
        ("鄂F12345", "鄂F12346", False),
        ("鄂F12345", "鄂A12345", False),
    ],
)
def test_same_vehicle(a: str, b: str, same: bool) -> None:
    assert same_vehicle(a, b) is same


def test_an_entrusted_cylinder_is_filled_as_the_stations_own() -> None:
    foreign = {"owning_station_id": None, "user_unit_id": 77}
    refused = judge(cylinder=foreign)
    assert refused.code == V.NOT_OWN_PROPERTY
    verdict = judge(cylinder=foreign, entrusted=True)
    assert verdict.code == V.OK and verdict.allowed and not verdict.suspicious
    answer = verdict.as_dict()
    assert answer["code"] == "00"
    assert [(r["code"], r["name"]) for r in answer["reasons"]] == [("00", ENTRUSTED_REASON)]
    assert "托管" in answer["reasons"][0]["text"]


def test_entrustment_allows_nothing_the_rules_refuse() -> None:
    verdict = judge(
        cylinder={"owning_station_id": 5, "next_periodic_due": date(2026, 4, 30)},
        entrusted=True,
    )
    assert verdict.code == V.OVERDUE_INSPECTION
    assert codes(verdict) == ["00", "04"]


def test_joint_operation_keeps_its_code_beside_an_entrustment() -> None:
    verdict = judge(cylinder={"owning_station_id": 5}, joint_operation=True, entrusted=True)
    assert verdict.code == V.JOINT_OPERATION
    assert code_row(verdict.code).name == "joint_operation"


def test_own_cylinders_never_carry_the_entrusted_reason() -> None:
    assert codes(judge(entrusted=True)) == []


def test_code_21_and_22_need_a_vehicle_cylinder_and_20_a_first_fill() -> None:
    later = previous(AT - timedelta(days=3))
    verdict = judge(
        cylinder={"vehicle": False},
        attempt={"purged_or_evacuated": False, "people_in_vehicle": True},
        previous=later,
    )
    assert verdict.code == V.OK
