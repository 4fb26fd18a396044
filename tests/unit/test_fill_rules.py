"""Fill verdicts (equipment.domain.fills): one test per code, priority, boundaries, properties.

The good fill below judges 00; every other case changes one fact of it, so a test
failing names the one rule that broke.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from equipment.domain.errors import InvalidValue
from equipment.domain.fills import (
    ALLOWED,
    CODE_TABLE,
    DEFAULT_FILL_POLICY,
    CylinderFacts,
    FillAttempt,
    FillPolicy,
    FillVerdict,
    Measure,
    PreviousFill,
    StationFacts,
    VerdictCode,
    code_row,
    judge_fill,
    max_lpg_fill_kg,
    measure_for,
)
from equipment.i18n.spoken import speak_default

V = VerdictCode
CHINA = timezone(timedelta(hours=8))
MIN = timedelta(minutes=1)

# The order the reasons must come in, written out here rather than imported, so a change
# to the module's order has to be made on purpose in both places.
PRIORITY = [
    "07", "18", "05", "06", "03", "15", "08", "09", "12", "02",
    "04", "01", "10", "20", "21", "22", "13", "11", "14", "19", "17", "16",
]  # fmt: skip

# 2026-05-01 10:00 in China.
AT = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
TODAY = date(2026, 5, 1)
XIANGYANG = (112.14, 32.04)
ONE_DEGREE_NORTH = (112.14, 33.04)  # 6371.0088 km x pi/180 = 111.195 km due north

STATION = StationFacts(
    id=1,
    code="S-001",
    licence_no="TS4242001-2026",
    licence_valid_until=date(2027, 12, 31),
    longitude=XIANGYANG[0],
    latitude=XIANGYANG[1],
)
CYLINDER = CylinderFacts(
    id=10,
    code="CYL-0001",
    category="2320",
    status="in_use",
    owning_station_id=1,
    medium="LPG",
    water_capacity_l=35.5,
    nominal_working_pressure_mpa=2.1,
    vehicle=False,
    next_periodic_due=date(2027, 5, 1),
    end_of_service_life=date(2030, 1, 1),
    last_periodic_failed=False,
)
ATTEMPT = FillAttempt(
    medium="LPG",
    at=AT,
    started_at=AT - 5 * MIN,
    filled_mass_kg=14.5,
    final_pressure_mpa=None,
    pre_check_passed=True,
    post_check_passed=True,
)
N2_CYLINDER = replace(
    CYLINDER, medium="N2", water_capacity_l=40.0, nominal_working_pressure_mpa=15.0
)
N2_ATTEMPT = replace(ATTEMPT, medium="N2", filled_mass_kg=None, final_pressure_mpa=14.8)


class Good(NamedTuple):
    station: StationFacts
    cylinder: CylinderFacts
    attempt: FillAttempt


GOOD = Good(STATION, CYLINDER, ATTEMPT)


@pytest.fixture
def good() -> Good:
    return GOOD


def judge(
    station: dict[str, Any] | None = None,
    cylinder: dict[str, Any] | None = None,
    attempt: dict[str, Any] | None = None,
    *,
    no_cylinder: bool = False,
    base: Good = GOOD,
    **kw: Any,
) -> FillVerdict:
    """The good fill with some facts changed."""
    return judge_fill(
        replace(base.attempt, **(attempt or {})),
        replace(base.station, **(station or {})),
        None if no_cylinder else replace(base.cylinder, **(cylinder or {})),
        **kw,
    )


def codes(verdict: FillVerdict) -> list[str]:
    return [reason.code.value for reason in verdict.reasons]


def previous(
    at: datetime, station_id: int = 1, where: tuple[float, float] | None = XIANGYANG
) -> PreviousFill:
    lon, lat = where if where is not None else (None, None)
    return PreviousFill(station_id, f"S-{station_id:03d}", at, longitude=lon, latitude=lat)


# --- the good fill ----------------------------------------------------------------------


def test_the_good_fill_is_ok(good: Good):
    verdict = judge_fill(good.attempt, good.station, good.cylinder)
    assert verdict == FillVerdict(V.OK, ())
    assert verdict.allowed
    assert not verdict.suspicious
    assert verdict.as_dict() == {
        "code": "00",
        "name": "ok",
        "text_zh": "正常",
        "allowed": True,
        "suspicious": False,
        "reasons": [],
    }


def test_a_good_compressed_gas_fill_is_ok():
    assert judge(base=Good(STATION, N2_CYLINDER, N2_ATTEMPT)).code == V.OK


def test_a_permit_before_filling_is_ok_for_a_good_cylinder():
    permit = FillAttempt(medium="LPG", at=AT)
    verdict = judge_fill(permit, STATION, CYLINDER, received_at=AT)
    assert verdict == FillVerdict(V.OK, ())


def test_a_good_fill_with_an_unremarkable_history_is_ok():
    verdict = judge(previous=previous(AT - timedelta(days=20)), received_at=AT + MIN)
    assert verdict == FillVerdict(V.OK, ())


# --- one case per code: exactly that code, and nothing else ----------------------------

OFF = date(2026, 4, 30)  # the day before the fill
NORTH = {"where": ONE_DEGREE_NORTH, "station_id": 2}

SINGLE_FINDING_CASES = [
    # (id, judge arguments, the one reason code)
    ("07-not-on-file", {"no_cylinder": True}, V.NOT_ON_FILE),
    ("18-boiler", {"cylinder": {"category": "1000"}}, V.NOT_A_CYLINDER),
    ("18-vessel", {"cylinder": {"category": "2100"}}, V.NOT_A_CYLINDER),
    ("05-scrapped", {"cylinder": {"status": "scrapped"}}, V.SCRAPPED),
    ("06-cancelled", {"cylinder": {"status": "cancelled"}}, V.CANCELLED),
    ("03-pending", {"cylinder": {"status": "pending"}}, V.NOT_ACTIVATED),
    ("03-suspended", {"cylinder": {"status": "suspended"}}, V.NOT_ACTIVATED),
    ("15-no-number", {"station": {"licence_no": None}}, V.STATION_LICENCE_INVALID),
    ("15-blank-number", {"station": {"licence_no": "  "}}, V.STATION_LICENCE_INVALID),
    ("15-no-validity", {"station": {"licence_valid_until": None}}, V.STATION_LICENCE_INVALID),
    ("15-expired", {"station": {"licence_valid_until": OFF}}, V.STATION_LICENCE_INVALID),
    ("08-other-owner", {"cylinder": {"owning_station_id": 2}}, V.NOT_OWN_PROPERTY),
    ("08-no-owner", {"cylinder": {"owning_station_id": None}}, V.NOT_OWN_PROPERTY),
    ("12-service-life", {"cylinder": {"end_of_service_life": OFF}}, V.PAST_SERVICE_LIFE),
    ("02-failed", {"cylinder": {"last_periodic_failed": True}}, V.FAILED_INSPECTION),
    ("04-overdue", {"cylinder": {"next_periodic_due": OFF}}, V.OVERDUE_INSPECTION),
    ("01-due-unknown", {"cylinder": {"next_periodic_due": None}}, V.NO_INFORMATION),
    ("01-status-unknown", {"cylinder": {"status": "lost"}}, V.NO_INFORMATION),
    ("01-capacity-unknown", {"cylinder": {"water_capacity_l": None}}, V.NO_INFORMATION),
    ("01-capacity-zero", {"cylinder": {"water_capacity_l": 0.0}}, V.NO_INFORMATION),
    ("10-wrong-medium", {"attempt": {"medium": "C3H8"}}, V.WRONG_MEDIUM),
    ("10-mixture-gas-missing", {"attempt": {"medium": "LPG+N2"}}, V.WRONG_MEDIUM),
    ("20-not-purged", {"attempt": {"purged_or_evacuated": False}}, V.NOT_PURGED),
    (
        "21-people-in-vehicle",
        {"cylinder": {"vehicle": True}, "attempt": {"people_in_vehicle": True}},
        V.PEOPLE_IN_VEHICLE,
    ),
    (
        "22-vehicle-mismatch",
        {
            "cylinder": {"vehicle": True, "vehicle_registration": "鄂F12345"},
            "attempt": {"vehicle_registration": "鄂F54321"},
        },
        V.VEHICLE_MISMATCH,
    ),
    ("13-pre-check", {"attempt": {"pre_check_passed": False}}, V.PRE_CHECK_FAILED),
    ("11-lpg", {"attempt": {"filled_mass_kg": 15.0}}, V.OVER_FILLED),
    ("14-post-check", {"attempt": {"post_check_passed": False}}, V.POST_CHECK_FAILED),
    ("19-ends-before-start", {"attempt": {"started_at": AT + MIN}}, V.IMPOSSIBLE_FILL),
    ("19-from-the-future", {"received_at": AT - 6 * MIN}, V.IMPOSSIBLE_FILL),
    ("19-negative-mass", {"attempt": {"filled_mass_kg": -1.0}}, V.IMPOSSIBLE_FILL),
    ("19-nan-mass", {"attempt": {"filled_mass_kg": float("nan")}}, V.IMPOSSIBLE_FILL),
    ("19-inf-pressure", {"attempt": {"final_pressure_mpa": float("inf")}}, V.IMPOSSIBLE_FILL),
    ("17-cloned", {"previous": previous(AT - 40 * MIN, **NORTH)}, V.CLONED_IDENTIFICATION),
    ("16-same-station", {"previous": previous(AT - 10 * MIN)}, V.REFILLED_TOO_SOON),
    ("16-next-door", {"previous": previous(AT - 10 * MIN, 2)}, V.REFILLED_TOO_SOON),
    ("16-no-position", {"previous": previous(AT - 10 * MIN, 2, None)}, V.REFILLED_TOO_SOON),
]


@pytest.mark.parametrize(
    ("changes", "code"),
    [pytest.param(changes, code, id=name) for name, changes, code in SINGLE_FINDING_CASES],
)
def test_one_broken_fact_gives_exactly_its_code(changes: dict[str, Any], code: VerdictCode):
    verdict = judge(**changes)
    assert verdict.code == code
    assert codes(verdict) == [code.value]
    assert not verdict.allowed
    assert verdict.reasons[0].text.strip()


def test_every_refusing_code_has_a_single_finding_case():
    covered = {code for _, _, code in SINGLE_FINDING_CASES}
    assert covered == {row.code for row in CODE_TABLE if row.refuses}


@pytest.mark.parametrize(
    ("cylinder", "attempt", "code"),
    [
        pytest.param({}, {"final_pressure_mpa": 15.1}, V.OVER_FILLED, id="11-pressure"),
        pytest.param({}, {"final_pressure_mpa": 15.0}, V.OK, id="at-nominal-pressure"),
        pytest.param({"medium": None}, {}, V.NO_INFORMATION, id="01-medium-unknown"),
        pytest.param({"water_capacity_l": 14.0}, {}, V.OK, id="no-mass-no-capacity-check"),
        pytest.param(
            {"nominal_working_pressure_mpa": None},
            {"final_pressure_mpa": 99.0},
            V.OK,
            id="nominal-unknown-pressure-not-judged",
        ),
        pytest.param(
            {"medium": "CO2"},
            {"medium": "CO2", "filled_mass_kg": 45.0, "final_pressure_mpa": None},
            V.IMPOSSIBLE_FILL,
            id="19-more-kg-than-litres",
        ),
        pytest.param(
            {"medium": "CO2"},
            {"medium": "CO2", "filled_mass_kg": 30.0, "final_pressure_mpa": None},
            V.OK,
            id="co2-has-no-lpg-limit",
        ),
    ],
)
def test_compressed_and_other_gases(
    cylinder: dict[str, Any], attempt: dict[str, Any], code: VerdictCode
):
    verdict = judge(cylinder=cylinder, attempt=attempt, base=Good(STATION, N2_CYLINDER, N2_ATTEMPT))
    assert verdict.code == code
    assert codes(verdict) == ([] if code == V.OK else [code.value])


def test_pressure_over_fill_follows_the_gas_being_filled():
    # A liquefied gas has no pressure limit here: it is weighed.
    verdict = judge(attempt={"final_pressure_mpa": 5.0})
    assert verdict.code == V.OK


def test_the_lpg_limit_applies_when_the_register_lacks_the_medium():
    verdict = judge(cylinder={"medium": None}, attempt={"filled_mass_kg": 15.0})
    assert codes(verdict) == ["01", "11"]


def test_more_lpg_than_litres_is_over_filled_and_impossible():
    verdict = judge(attempt={"filled_mass_kg": 40.0})
    assert verdict.code == V.OVER_FILLED
    assert codes(verdict) == ["11", "19"]
    assert verdict.suspicious


def test_every_01_source_is_reported():
    verdict = judge(cylinder={"next_periodic_due": None, "medium": None, "water_capacity_l": None})
    assert codes(verdict) == ["01", "01", "01"]
    texts = " | ".join(r.text for r in verdict.reasons)
    assert "next periodic inspection date unknown" in texts
    assert "medium" in texts
    assert "water capacity" in texts


def test_suspended_and_pending_say_which():
    suspended = judge(cylinder={"status": "suspended"}).reasons[0].text
    pending = judge(cylinder={"status": "pending"}).reasons[0].text
    assert "suspended" in suspended
    assert "not registered" in pending


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"cylinder": {"status": "scrapped"}}, "07"),
        ({"station": {"licence_no": None}}, "07"),
        ({"attempt": {"medium": "O2"}}, "07"),
    ],
)
def test_a_missing_record_stops_the_judgement(changes: dict[str, Any], code: str):
    verdict = judge(no_cylinder=True, **changes)
    assert codes(verdict) == [code]


def test_a_non_cylinder_stops_the_judgement():
    verdict = judge(
        cylinder={"category": "3110", "status": "scrapped", "next_periodic_due": None},
        station={"licence_no": None},
    )
    assert codes(verdict) == ["18"]


@pytest.mark.parametrize("category", ["2310", "2320", "23T0", "2300"])
def test_all_cylinder_categories_are_judged(category: str):
    assert judge(cylinder={"category": category}).code == V.OK


@pytest.mark.parametrize("medium", ["lpg", " LPG ", "Lpg"])
def test_medium_names_are_matched_without_case_or_spaces(medium: str):
    assert judge(attempt={"medium": medium}).code == V.OK


@pytest.mark.parametrize(
    ("registered", "asked", "code"),
    [
        ("Ar+CO2", "CO2+Ar", V.OK),
        ("Ar+CO2", "ar + co2", V.OK),
        ("Ar+CO2", "Ar", V.WRONG_MEDIUM),
        ("Ar+CO2", "Ar+O2", V.WRONG_MEDIUM),
        ("O2", "N2", V.WRONG_MEDIUM),
    ],
)
def test_mixtures_compare_their_gases(registered: str, asked: str, code: VerdictCode):
    verdict = judge(
        cylinder={"medium": registered},
        attempt={"medium": asked},
        base=Good(STATION, N2_CYLINDER, N2_ATTEMPT),
    )
    assert verdict.code == code


# --- priority ----------------------------------------------------------------------------


def test_scrapped_overdue_wrong_medium_is_scrapped_with_all_three_reasons():
    verdict = judge(
        cylinder={"status": "scrapped", "next_periodic_due": OFF}, attempt={"medium": "O2"}
    )
    assert verdict.code == V.SCRAPPED
    assert codes(verdict) == ["05", "04", "10"]


def test_everything_wrong_at_once_comes_in_priority_order():
    verdict = judge(
        station={"licence_valid_until": OFF},
        cylinder={
            "status": "pending",
            "owning_station_id": 2,
            "end_of_service_life": OFF,
            "last_periodic_failed": True,
            "next_periodic_due": OFF,
        },
        attempt={
            "medium": "C3H8",
            "pre_check_passed": False,
            "post_check_passed": False,
            "started_at": AT + MIN,
        },
        previous=previous(AT - 10 * MIN, **NORTH),
    )
    assert verdict.code == V.NOT_ACTIVATED
    assert codes(verdict) == [
        "03", "15", "08", "12", "02", "04", "10", "13", "14", "19", "17", "16"
    ]  # fmt: skip


# --- ownership ---------------------------------------------------------------------------


def test_joint_operation_is_allowed_and_says_so():
    verdict = judge(cylinder={"owning_station_id": 2}, joint_operation=True)
    assert verdict.code == V.JOINT_OPERATION
    assert verdict.allowed
    assert codes(verdict) == ["09"]
    assert verdict.as_dict()["name"] == "joint_operation"


def test_without_the_agreement_another_owner_is_refused():
    verdict = judge(cylinder={"owning_station_id": 2}, joint_operation=False)
    assert verdict.code == V.NOT_OWN_PROPERTY
    assert not verdict.allowed


def test_joint_operation_does_not_excuse_other_findings():
    verdict = judge(
        cylinder={"owning_station_id": 2, "next_periodic_due": OFF}, joint_operation=True
    )
    assert verdict.code == V.OVERDUE_INSPECTION
    assert codes(verdict) == ["09", "04"]


def test_joint_operation_for_the_own_cylinder_adds_nothing():
    assert judge(joint_operation=True) == FillVerdict(V.OK, ())


@pytest.mark.parametrize("owner", [2, None])
@pytest.mark.parametrize("joint", [False, True])
def test_vehicle_cylinders_are_exempt_from_the_own_property_rule(owner: int | None, joint: bool):
    verdict = judge(cylinder={"vehicle": True, "owning_station_id": owner}, joint_operation=joint)
    assert verdict == FillVerdict(V.OK, ())


# --- LPG limits --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("capacity", "kg"), [(12.0, 5.0), (26.2, 11.0), (35.5, 14.9), (118.0, 49.5)]
)
def test_lpg_maximum_fill_of_the_rules_table(capacity: float, kg: float):
    assert max_lpg_fill_kg(capacity) == kg


@pytest.mark.parametrize(
    ("capacity", "limit"), [(12.0, 5.0), (26.2, 11.0), (35.5, 14.9), (118.0, 49.5)]
)
def test_lpg_fill_at_the_limit_passes_and_just_over_it_is_refused(capacity: float, limit: float):
    at_limit = judge(cylinder={"water_capacity_l": capacity}, attempt={"filled_mass_kg": limit})
    over = judge(
        cylinder={"water_capacity_l": capacity},
        attempt={"filled_mass_kg": round(limit + 0.01, 2)},
    )
    assert at_limit.code == V.OK
    assert over.code == V.OVER_FILLED
    assert codes(over) == ["11"]


def test_the_over_fill_reason_names_the_values():
    verdict = judge(cylinder={"water_capacity_l": 26.2}, attempt={"filled_mass_kg": 12.3})
    assert verdict.reasons[0].text == (
        "12.3 kg put into a 26.2 L LPG cylinder; at most 11.0 kg (0.42 kg/L)"
    )


def test_the_lpg_ratio_is_a_policy_value():
    policy = FillPolicy(lpg_kg_per_litre=0.40)
    assert max_lpg_fill_kg(35.5, policy) == 14.2
    verdict = judge(attempt={"filled_mass_kg": 14.5}, policy=policy)
    assert verdict.code == V.OVER_FILLED


@pytest.mark.parametrize("capacity", [0.0, -1.0, float("nan"), float("inf")])
def test_the_lpg_limit_needs_a_real_capacity(capacity: float):
    with pytest.raises(InvalidValue):
        max_lpg_fill_kg(capacity)


@given(st.decimals(min_value="0.5", max_value="1000", places=1))
def test_the_lpg_limit_is_a_whole_tenth_at_most_the_ratio(capacity: Decimal):
    limit = Decimal(str(max_lpg_fill_kg(float(capacity))))
    exact = capacity * 42 / 100
    assert limit == limit.quantize(Decimal("0.1"))
    assert exact - Decimal("0.1") < limit <= exact


# --- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("due", "code"),
    [
        (TODAY, V.OK),
        (TODAY + timedelta(days=1), V.OK),
        (TODAY - timedelta(days=1), V.OVERDUE_INSPECTION),
    ],
)
def test_the_due_date_itself_is_not_overdue(due: date, code: VerdictCode):
    assert judge(cylinder={"next_periodic_due": due}).code == code


@pytest.mark.parametrize(
    ("valid_until", "code"),
    [(TODAY, V.OK), (TODAY - timedelta(days=1), V.STATION_LICENCE_INVALID)],
)
def test_the_licence_is_valid_on_its_last_day(valid_until: date, code: VerdictCode):
    assert judge(station={"licence_valid_until": valid_until}).code == code


@pytest.mark.parametrize(
    ("end", "code"), [(TODAY, V.OK), (TODAY - timedelta(days=1), V.PAST_SERVICE_LIFE)]
)
def test_the_service_life_covers_its_last_day(end: date, code: VerdictCode):
    assert judge(cylinder={"end_of_service_life": end}).code == code


def test_a_utc_evening_is_the_next_day_in_china():
    evening = datetime(2026, 5, 1, 17, 0, tzinfo=UTC)  # 2026-05-02 01:00 in China
    verdict = judge(
        cylinder={"next_periodic_due": date(2026, 5, 1)},
        attempt={"at": evening, "started_at": evening - 5 * MIN},
    )
    assert verdict.code == V.OVERDUE_INSPECTION
    assert verdict.reasons[0].text == (
        "overdue for periodic inspection: due 2026-05-01 (TSG 23-2021)"
    )


def test_the_last_minute_of_the_china_day_is_still_that_day():
    late = datetime(2026, 5, 1, 15, 59, tzinfo=UTC)  # 23:59 in China
    verdict = judge(
        cylinder={"next_periodic_due": date(2026, 5, 1)},
        attempt={"at": late, "started_at": late - 5 * MIN},
    )
    assert verdict.code == V.OK


def test_the_local_zone_is_a_policy_value():
    evening = datetime(2026, 5, 1, 17, 0, tzinfo=UTC)
    verdict = judge(
        cylinder={"next_periodic_due": date(2026, 5, 1)},
        attempt={"at": evening, "started_at": evening - 5 * MIN},
        policy=FillPolicy(local_tz=UTC),
    )
    assert verdict.code == V.OK


def test_the_same_instant_in_another_offset_judges_the_same():
    in_china = AT.astimezone(CHINA)
    verdict = judge(attempt={"at": in_china, "started_at": in_china - 5 * MIN})
    assert verdict.code == V.OK


@pytest.mark.parametrize("field", ["at", "started_at"])
def test_a_naive_datetime_is_refused(field: str):
    with pytest.raises(InvalidValue) as caught:
        judge(attempt={field: AT.replace(tzinfo=None)})
    assert caught.value.field == field


def test_a_naive_received_at_or_previous_is_refused():
    with pytest.raises(InvalidValue):
        judge(received_at=AT.replace(tzinfo=None))
    with pytest.raises(InvalidValue):
        judge(previous=previous(AT.replace(tzinfo=None) - timedelta(days=1)))


# --- impossible fills ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received_at", "code"),
    [
        (AT - 5 * MIN, V.OK),  # exactly the allowed skew
        (AT - 5 * MIN - timedelta(seconds=1), V.IMPOSSIBLE_FILL),
        (AT + timedelta(days=3), V.OK),  # a late upload is fine
    ],
)
def test_the_future_skew_boundary(received_at: datetime, code: VerdictCode):
    assert judge(received_at=received_at).code == code


def test_a_fill_starting_when_it_ends_is_possible():
    assert judge(attempt={"started_at": AT}).code == V.OK


# --- refill interval and cloned labels ----------------------------------------------------


@pytest.mark.parametrize(
    ("gap", "too_soon"),
    [
        (timedelta(minutes=30), False),
        (timedelta(minutes=30) - timedelta(seconds=1), True),
        (timedelta(0), True),
        (-timedelta(minutes=29), True),  # the nearest fill on record may be the later one
        (-timedelta(minutes=30), False),
    ],
)
def test_the_refill_interval_boundary(gap: timedelta, too_soon: bool):
    verdict = judge(previous=previous(AT - gap))
    assert codes(verdict) == (["16"] if too_soon else [])


def test_the_refill_interval_is_a_policy_value():
    policy = FillPolicy(min_refill_interval=timedelta(minutes=5))
    assert judge(previous=previous(AT - 10 * MIN), policy=policy).code == V.OK


@pytest.mark.parametrize(
    ("minutes_apart", "cloned"),
    [
        (55, True),  # 111.2 km in 55 min = 121.3 km/h
        (56, False),  # 111.2 km in 56 min = 119.1 km/h
        (-55, True),
        (60 * 24, False),
    ],
)
def test_cloned_label_speed_both_sides_of_the_limit(minutes_apart: int, cloned: bool):
    verdict = judge(previous=previous(AT - minutes_apart * MIN, **NORTH))
    assert codes(verdict) == (["17"] if cloned else [])


def test_the_travel_limit_is_a_policy_value():
    verdict = judge(
        previous=previous(AT - 55 * MIN, **NORTH), policy=FillPolicy(max_travel_kmh=130.0)
    )
    assert verdict.code == V.OK


def test_the_cloned_reason_names_the_station_distance_and_speed():
    verdict = judge(previous=previous(AT - 55 * MIN, **NORTH))
    text = verdict.reasons[0].text
    assert "S-002" in text
    assert "111.2 km" in text
    assert "121 km/h" in text
    assert verdict.suspicious


def test_two_distant_stations_at_the_same_instant_is_a_clone():
    verdict = judge(previous=previous(AT, **NORTH))
    assert codes(verdict) == ["17", "16"]


def test_two_station_records_on_one_site_at_the_same_instant_are_not_a_clone():
    nearby = (XIANGYANG[0], XIANGYANG[1] + 0.005)  # about 0.56 km
    verdict = judge(previous=previous(AT, station_id=2, where=nearby))
    assert codes(verdict) == ["16"]


@pytest.mark.parametrize(
    ("prev", "station"),
    [
        pytest.param(previous(AT - 10 * MIN, 1, ONE_DEGREE_NORTH), {}, id="same-station-id"),
        pytest.param(previous(AT - 40 * MIN, 2, None), {}, id="previous-position-unknown"),
        pytest.param(
            previous(AT - 40 * MIN, **NORTH),
            {"longitude": None},
            id="station-position-unknown",
        ),
    ],
)
def test_no_clone_without_two_known_positions_at_two_stations(
    prev: PreviousFill, station: dict[str, Any]
):
    assert "17" not in codes(judge(previous=prev, station=station))


# --- reason texts ------------------------------------------------------------------------


def test_the_wrong_medium_reason_names_both_media():
    verdict = judge(attempt={"medium": "o2"})
    assert verdict.reasons[0].text == (
        "medium O2 asked, cylinder is registered for LPG: wrong medium is a major accident "
        "hazard (GB 45067-2024 5.5.2)"
    )


def test_the_expired_licence_reason_names_the_date():
    text = judge(station={"licence_valid_until": OFF}).reasons[0].text
    assert "2026-04-30" in text
    assert "TS4242001-2026" in text


def test_the_refill_reason_names_the_gap():
    text = judge(previous=previous(AT - 10 * MIN)).reasons[0].text
    assert "10 min" in text
    assert "30 min" in text


def test_as_dict_lists_every_reason():
    verdict = judge(cylinder={"status": "scrapped"}, previous=previous(AT - 10 * MIN))
    data = verdict.as_dict()
    assert data["code"] == "05"
    assert data["name"] == "scrapped"
    assert data["allowed"] is False
    assert data["suspicious"] is True
    assert [(r["code"], r["name"]) for r in data["reasons"]] == [
        ("05", "scrapped"),
        ("16", "refilled_too_soon"),
    ]
    assert all(isinstance(r["text"], str) and r["text"] for r in data["reasons"])
    assert all(type(value) is str for value in (data["code"], data["reasons"][0]["code"]))


# --- the code table ----------------------------------------------------------------------


def test_the_code_table_has_one_row_per_code_in_code_order():
    assert [row.code for row in CODE_TABLE] == list(VerdictCode)
    assert [row.code.value for row in CODE_TABLE] == [f"{n:02d}" for n in range(23)]


def test_every_row_has_a_source_name_and_summary():
    for row in CODE_TABLE:
        assert row.source.strip(), row.code
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", row.name), row.name
        assert re.search(r"[\u4e00-\u9fff]", row.summary), row.code  # the Chinese term


def test_row_sources_cite_their_rule():
    field = "filling-scale interlock codes used in the field"
    for row in CODE_TABLE:
        if int(row.code) <= 9:
            assert field in row.source, row.code
        else:
            assert row.source.startswith("sereg"), row.code
    assert "GB 45067-2024 5.5.2" in code_row(V.WRONG_MEDIUM).source
    assert "TSG 23-2021" in code_row(V.OVERDUE_INSPECTION).source


def test_row_names_are_unique():
    names = [row.name for row in CODE_TABLE]
    assert len(set(names)) == len(names)
    assert code_row(V.OVERDUE_INSPECTION).name == "overdue_inspection"


def test_allowed_rows_are_exactly_the_non_refusing_ones():
    assert {row.code for row in CODE_TABLE if not row.refuses} == ALLOWED
    assert {V.OK, V.JOINT_OPERATION} == ALLOWED


def test_suspicious_rows_are_the_traceability_findings():
    assert {row.code for row in CODE_TABLE if row.suspicious} == {
        V.REFILLED_TOO_SOON,
        V.CLONED_IDENTIFICATION,
        V.IMPOSSIBLE_FILL,
    }


@pytest.mark.parametrize("code", list(VerdictCode))
def test_code_row_finds_each_code(code: VerdictCode):
    assert code_row(code).code is code
    assert code_row(VerdictCode(code.value)) is code_row(code)


# --- measure -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("medium", "measure"),
    [
        *[(gas, Measure.MASS) for gas in
          ("LPG", "CO2", "NH3", "CL2", "C3H8", "C4H10", "N2O", "LNG", "C2H2", "SO2")],
        *[(gas, Measure.PRESSURE) for gas in
          ("O2", "N2", "AR", "CNG", "H2", "AIR", "HE", "NE", "KR", "XE", "CH4")],
        ("lpg", Measure.MASS),
        (" Cl2 ", Measure.MASS),
        ("Ar+O2", Measure.PRESSURE),
        ("C3H8+C4H10", Measure.MASS),
        ("Ar+CO2", None),
        ("SF6", None),
        ("N2+SF6", None),
        ("", None),
        ("+", None),
    ],
)  # fmt: skip
def test_measure_for(medium: str, measure: Measure | None):
    assert measure_for(medium) is measure


# --- policy ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"lpg_kg_per_litre": 0.0},
        {"lpg_kg_per_litre": float("nan")},
        {"max_travel_kmh": -1.0},
        {"min_refill_interval": -MIN},
        {"future_skew": -MIN},
        {"local_tz": "Asia/Shanghai"},
    ],
)
def test_a_policy_that_would_switch_a_rule_off_is_refused(changes: dict[str, Any]):
    with pytest.raises(InvalidValue):
        FillPolicy(**changes)


def test_the_default_policy():
    assert FillPolicy() == DEFAULT_FILL_POLICY
    assert DEFAULT_FILL_POLICY.lpg_kg_per_litre == 0.42
    assert DEFAULT_FILL_POLICY.min_refill_interval == timedelta(minutes=30)
    assert DEFAULT_FILL_POLICY.max_travel_kmh == 120.0
    assert DEFAULT_FILL_POLICY.future_skew == timedelta(minutes=5)
    assert AT.astimezone(DEFAULT_FILL_POLICY.local_tz).utcoffset() == timedelta(hours=8)


# --- properties: any combination of findings -----------------------------------------------

STATUS_FINDING = {
    "in_use": [],
    "pending": ["03"],
    "suspended": ["03"],
    "scrapped": ["05"],
    "cancelled": ["06"],
}
PREVIOUS_FINDING: dict[str, tuple[PreviousFill | None, list[str]]] = {
    "none": (None, []),
    "a-day-ago": (previous(AT - timedelta(days=1)), []),
    "soon-here": (previous(AT - 10 * MIN), ["16"]),
    "far-fast": (previous(AT - 40 * MIN, **NORTH), ["17"]),
    "far-fast-soon": (previous(AT - 10 * MIN, **NORTH), ["17", "16"]),
}

findings = st.fixed_dictionaries(
    {
        "record": st.sampled_from(["present"] * 8 + ["missing", "not_cylinder"]),
        "status": st.sampled_from(sorted(STATUS_FINDING)),
        "licence": st.sampled_from(["ok", "missing", "expired"]),
        "ownership": st.sampled_from(["own", "foreign", "vehicle", "joint"]),
        "past_life": st.booleans(),
        "failed": st.booleans(),
        "due": st.sampled_from(["ok", "overdue", "unknown"]),
        "wrong_medium": st.booleans(),
        "pre_failed": st.booleans(),
        "over_filled": st.booleans(),
        "post_failed": st.booleans(),
        "ends_before_start": st.booleans(),
        "from_the_future": st.booleans(),
        "previous": st.sampled_from(sorted(PREVIOUS_FINDING)),
    }
)


def build(f: dict[str, Any]) -> tuple[FillVerdict, list[str]]:
    """Judge the fill the flags describe, and the reason codes the rules predict."""
    expected: list[str] = []
    station = STATION
    cylinder = CYLINDER
    attempt = ATTEMPT
    joint = False

    cylinder = replace(cylinder, status=f["status"])
    expected += STATUS_FINDING[f["status"]]
    if f["licence"] == "missing":
        station = replace(station, licence_no=None)
        expected.append("15")
    elif f["licence"] == "expired":
        station = replace(station, licence_valid_until=OFF)
        expected.append("15")
    if f["ownership"] != "own":
        cylinder = replace(cylinder, owning_station_id=2, vehicle=f["ownership"] == "vehicle")
        joint = f["ownership"] == "joint"
        expected += {"foreign": ["08"], "vehicle": [], "joint": ["09"]}[f["ownership"]]
    if f["past_life"]:
        cylinder = replace(cylinder, end_of_service_life=OFF)
        expected.append("12")
    if f["failed"]:
        cylinder = replace(cylinder, last_periodic_failed=True)
        expected.append("02")
    if f["due"] != "ok":
        cylinder = replace(cylinder, next_periodic_due=OFF if f["due"] == "overdue" else None)
        expected.append("04" if f["due"] == "overdue" else "01")
    if f["wrong_medium"]:
        attempt = replace(attempt, medium="C3H8")
        expected.append("10")
    if f["pre_failed"]:
        attempt = replace(attempt, pre_check_passed=False)
        expected.append("13")
    if f["over_filled"]:
        attempt = replace(attempt, filled_mass_kg=15.0)
        expected.append("11")
    if f["post_failed"]:
        attempt = replace(attempt, post_check_passed=False)
        expected.append("14")
    if f["ends_before_start"]:
        attempt = replace(attempt, started_at=AT + MIN)
        expected.append("19")
    received_at = AT + MIN
    if f["from_the_future"]:
        received_at = AT - 10 * MIN
        expected.append("19")
    prev, prev_codes = PREVIOUS_FINDING[f["previous"]]
    expected += prev_codes

    if f["record"] == "missing":
        expected = ["07"]
    elif f["record"] == "not_cylinder":
        cylinder = replace(cylinder, category="4100")
        expected = ["18"]
    verdict = judge_fill(
        attempt,
        station,
        None if f["record"] == "missing" else cylinder,
        previous=prev,
        joint_operation=joint,
        received_at=received_at,
    )
    return verdict, sorted(expected, key=PRIORITY.index)


@settings(max_examples=300, deadline=None)
@given(findings)
def test_any_combination_of_findings(f: dict[str, Any]):
    verdict, expected = build(f)
    found = codes(verdict)
    assert found == expected
    # reasons in priority order
    assert found == sorted(found, key=PRIORITY.index)
    refusing = [r.code for r in verdict.reasons if code_row(r.code).refuses]
    # allowed iff nothing refuses; the primary is the first refusing reason
    assert verdict.allowed == (not refusing)
    if refusing:
        assert verdict.code == refusing[0]
    else:
        assert verdict.code == (V.JOINT_OPERATION if "09" in found else V.OK)
    assert verdict.suspicious == bool({"16", "17", "19"} & set(found))
    assert verdict.as_dict()["reasons"] == [
        {
            "code": r.code.value,
            "name": code_row(r.code).name,
            "text": r.text,
            "text_zh": speak_default(r.text),
        }
        for r in verdict.reasons
    ]
    # Every reason the rules can give has its Chinese text in the catalogue.
    for reason in verdict.as_dict()["reasons"]:
        assert re.search(r"[\u4e00-\u9fff]", reason["text_zh"]), reason
