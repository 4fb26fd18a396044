"""The register import's row rules, one table row per rule (equipment.domain.imports)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.domain import codes
from equipment.domain.imports.checks import (
    RULES,
    City,
    Organisations,
    check_register_row,
    check_register_rows,
    normalise_name,
)
from equipment.domain.imports.dates import DateProblem, parse_date
from equipment.domain.imports.profile import (
    FIELDS,
    MappingProfile,
    ProfileProblem,
    guess_columns,
    load_profile,
    shipped_profile,
)
from geo.crs import from_wgs84, to_wgs84

TODAY = date(2026, 12, 6)
OWNER_CREDIT = "91420606000000017C"  # check character computed below
PROFILE = shipped_profile("registration_export")
WGS84 = MappingProfile(columns=PROFILE.columns, values=PROFILE.values, crs="wgs84")
ORGS = Organisations(
    by_credit_code={
        codes.validate_credit_code(
            "91420606MA4A1B2C3" + codes.credit_code_check_char("91420606MA4A1B2C3")
        ): 7
    },
    by_name={normalise_name("襄阳汉江物业服务有限公司0001"): 7},
)
GOOD_CREDIT = "91420606MA4A1B2C3" + codes.credit_code_check_char("91420606MA4A1B2C3")
# A clean lift: registered in Fancheng, inspected last year, the due date the rules give.
CLEAN = {
    "registration_code": "31104206062018050001",
    "equipment_code": "311012345201800001",
    "category": "曳引驱动乘客电梯",
    "manufacture_date": "2018-01-10",
    "commissioning_date": "2018/05/02",
    "registered_on": "2018年05月20日",
    "district": "樊城区",
    "longitude": "112.135",
    "latitude": "32.045",
    "user_unit_name": "襄阳汉江物业服务有限公司0001",
    "user_unit_credit_code": GOOD_CREDIT,
    "status": "在用",
    "last_inspected_on": "2026-05-02",
    "next_due_stated": "",
}


def check(raw: dict[str, object], profile: MappingProfile = WGS84):
    return check_register_row(
        raw, profile=profile, city=City.xiangyang(), organisations=ORGS, today=TODAY
    )


def rules_of(raw: dict[str, object], profile: MappingProfile = WGS84) -> set[str]:
    return {f.rule for f in check(raw, profile).findings}


def test_the_clean_row_is_accepted_with_its_values() -> None:
    row = check(CLEAN)
    assert row.accepted
    assert rules_of(CLEAN) == {"user_unit_by_credit_code"}
    assert row.code == "31104206062018050001"
    assert row.values["category"] == "3110"
    assert row.values["district_code"] == "420606"
    assert row.values["user_unit"] == 7
    assert row.values["commissioning_date"] == date(2018, 5, 2)
    assert row.values["status"] == "in_use"
    assert row.schedule is not None and row.values["computed_due"] is not None


# (rule, the cells that differ from the clean row, part of the detail or "")
CASES = [
    ("missing_code", {"registration_code": "", "equipment_code": ""}, ""),
    ("invalid_registration_code", {"registration_code": "31104206062018130001"}, "month"),
    ("invalid_registration_code", {"registration_code": "3110420606201805000"}, "20 characters"),
    ("invalid_equipment_code", {"equipment_code": "31101234520180000"}, "18 characters"),
    ("code_category_mismatch", {"category": "自动扶梯"}, "3110"),
    ("unknown_category", {"category": "未知设备"}, "未知设备"),
    ("invalid_status", {"status": "在修"}, "在修"),
    ("invalid_date", {"manufacture_date": "2018-13-45"}, "manufacture_date"),
    ("commissioned_before_made", {"commissioning_date": "2017-12-01"}, "2017-12-01"),
    ("inspected_before_commissioned", {"last_inspected_on": "2018-04-01"}, "2018-04-01"),
    ("date_in_future", {"registered_on": "2027-01-01"}, "registered_on"),
    ("unknown_district", {"registration_code": "", "district": "武昌区"}, "武昌区"),
    ("user_unit_unmatched", {"user_unit_name": "别家", "user_unit_credit_code": ""}, "别家"),
    (
        "invalid_credit_code",
        {"user_unit_credit_code": GOOD_CREDIT[:-1] + ("0" if GOOD_CREDIT[-1] != "0" else "1")},
        "check",
    ),
    ("missing_coordinates", {"longitude": ""}, ""),
    ("invalid_coordinates", {"longitude": "东经112"}, "东经112"),
    ("out_of_city", {"longitude": "116.39", "latitude": "39.90"}, "116.39"),
    ("past_due_no_inspection", {"last_inspected_on": ""}, "days"),
    ("due_date_disagrees", {"next_due_stated": "2027-08-01"}, "days"),
    ("user_unit_by_name", {"user_unit_credit_code": ""}, ""),
    ("user_unit_by_credit_code", {"user_unit_name": "改了名"}, ""),
]


@pytest.mark.parametrize(("rule", "cells", "detail"), CASES, ids=[c[0] for c in CASES])
def test_each_rule_finds_its_defect(rule: str, cells: dict[str, str], detail: str) -> None:
    raw = {**CLEAN, **cells}
    if rule == "unknown_district":
        raw["equipment_code"] = "311012345201800001"
    result = check(raw)
    found = {f.rule: f for f in result.findings}
    assert rule in found, result.findings
    assert detail in found[rule].detail
    assert result.accepted == (RULES[rule] != "reject")


def test_every_row_rule_has_a_case() -> None:
    cross_row = {"duplicate_in_file", "in_register"}  # run in SQL over the staged rows
    assert {c[0] for c in CASES} | cross_row == set(RULES)


def test_a_stated_due_date_is_compared_in_days() -> None:
    computed = check(CLEAN).values["computed_due"]
    later = date.fromordinal(computed.toordinal() + 30)
    [finding] = [
        f
        for f in check({**CLEAN, "next_due_stated": later.isoformat()}).findings
        if f.rule == "due_date_disagrees"
    ]
    assert "+30 days" in finding.detail
    assert "due_date_disagrees" not in rules_of({**CLEAN, "next_due_stated": computed.isoformat()})


def test_a_rejected_row_is_not_scheduled() -> None:
    assert check({**CLEAN, "category": "未知设备"}).schedule is None


def test_gcj02_coordinates_are_stored_as_wgs84() -> None:
    lon, lat = from_wgs84(112.135, 32.045, "gcj02")
    row = check({**CLEAN, "longitude": f"{lon:.7f}", "latitude": f"{lat:.7f}"}, PROFILE)
    assert row.values["longitude"] == pytest.approx(112.135, abs=2e-6)
    assert row.values["latitude"] == pytest.approx(32.045, abs=2e-6)
    # Read as if WGS-84, the same numbers lie some hundreds of metres away.
    assert check({**CLEAN, "longitude": f"{lon:.7f}"}, WGS84).values["longitude"] != pytest.approx(
        112.135, abs=1e-4
    )


def test_rows_checked_together_equal_rows_checked_alone() -> None:
    raws = [CLEAN, {**CLEAN, "longitude": ""}, {**CLEAN, "longitude": "116.4", "latitude": "39.9"}]
    together = check_register_rows(
        raws, profile=PROFILE, city=City.xiangyang(), organisations=ORGS, today=TODAY
    )
    alone = [check(raw, PROFILE) for raw in raws]
    assert [(r.values, r.findings) for r in together] == [(r.values, r.findings) for r in alone]


@given(
    st.floats(min_value=110.0, max_value=114.0), st.floats(min_value=30.5, max_value=33.5),
    st.sampled_from(["gcj02", "bd09"]),
)  # fmt: skip
def test_coordinate_conversion_round_trips_within_a_metre(lon: float, lat: float, crs) -> None:
    there = from_wgs84(lon, lat, crs)
    back = to_wgs84(*there, crs)
    assert back[0] == pytest.approx(lon, abs=1e-5)
    assert back[1] == pytest.approx(lat, abs=1e-5)
    assert there != pytest.approx((lon, lat), abs=1e-4)  # the systems do differ here


# --- dates ---------------------------------------------------------------------------------

DATES = [
    ("2019-03-05", date(2019, 3, 5)),
    ("2019/3/5", date(2019, 3, 5)),
    ("2019.03.05", date(2019, 3, 5)),
    ("2019年3月5日", date(2019, 3, 5)),
    ("20190305", date(2019, 3, 5)),
    ("２０１９－０３－０５", date(2019, 3, 5)),  # typed with a Chinese input method
    ("2019-03-05 08:30:00", date(2019, 3, 5)),
    (43529, date(2019, 3, 5)),  # an Excel serial
    ("", None),
    (None, None),
]


@pytest.mark.parametrize(("value", "expected"), DATES)
def test_dates_in_the_formats_exports_use(value: object, expected: date | None) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize("value", ["2019-13-45", "05/03/2019", "去年", "2019-02-30", 12, True])
def test_impossible_or_unnamed_dates_are_refused(value: object) -> None:
    with pytest.raises(DateProblem):
        parse_date(value)


def test_a_profile_names_the_formats_it_reads() -> None:
    assert parse_date("05/03/2019", ("%d/%m/%Y",)) == date(2019, 3, 5)


# --- profiles ------------------------------------------------------------------------------


def test_the_shipped_profiles_load_and_map_known_fields() -> None:
    assert PROFILE.crs == "gcj02"
    assert set(PROFILE.columns.values()) <= set(FIELDS)
    assert shipped_profile("inspection_reports").kind == "inspections"


def test_a_profile_is_written_from_headers() -> None:
    columns = guess_columns(["设备注册代码", "Longitude", "备注"])
    assert columns == {"设备注册代码": "registration_code", "Longitude": "longitude", "备注": ""}


@pytest.mark.parametrize(
    "document",
    [
        b'{"columns": {"a": "no_such_field"}}',
        b'{"crs": "mercator"}',
        b'{"encoding": "latin-1"}',
        b'{"unknown": 1}',
        b"not json",
    ],
)
def test_a_bad_profile_is_refused_with_its_reason(document: bytes) -> None:
    with pytest.raises(ProfileProblem):
        load_profile(document)


def test_a_file_without_a_code_column_is_refused() -> None:
    with pytest.raises(ProfileProblem, match="registration_code or equipment_code"):
        PROFILE.header_index(["设备品种", "经度"])
