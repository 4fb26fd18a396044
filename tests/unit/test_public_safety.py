"""The public safety state: every status × every condition, its order of severity, and
what the public view holds."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.domain.public_safety import (
    LABELS,
    SEVERITY,
    PublicFacts,
    SafetyState,
    conditions,
    public_view,
)
from equipment.i18n import gettext

TODAY = date(2026, 12, 6)
DAY = timedelta(days=1)
S = SafetyState


def facts(**overrides) -> PublicFacts:
    values = {
        "code": "31104206062016053337",
        "category": "3110",
        "address": "樊城区长虹路8号",
        "status": "in_use",
        "status_since": date(2016, 5, 20),
        "next_inspection_due": TODAY + 100 * DAY,
        "last_inspection_on": TODAY - 200 * DAY,
        "last_inspection_conclusion": "pass",
        "user_unit_name": "汉江物业",
        "maintenance_company_name": "汉江电梯工程有限公司",
        "maintenance_company_phone": "0710-3456789",
    }
    values.update(overrides)
    return PublicFacts(**values)


def state(**overrides) -> SafetyState:
    return conditions(facts(**overrides), TODAY)[0].state


@pytest.mark.parametrize(
    ("overrides", "expected", "since"),
    [
        ({}, S.IN_USE, TODAY - 200 * DAY),
        (
            {"status": "scrapped", "status_since": TODAY - 3 * DAY},
            S.OUT_OF_SERVICE,
            TODAY - 3 * DAY,
        ),
        ({"status": "cancelled", "status_since": TODAY - DAY}, S.OUT_OF_SERVICE, TODAY - DAY),
        (
            {"not_fit_for_use": True, "last_inspection_conclusion": "fail"},
            S.OUT_OF_SERVICE,
            TODAY - 200 * DAY,
        ),
        ({"not_fit_for_use": True}, S.OUT_OF_SERVICE, TODAY - 200 * DAY),  # e.g. grade 5 vessel
        ({"major_hazard_since": TODAY - 9 * DAY}, S.OUT_OF_SERVICE, TODAY - 9 * DAY),
        ({"next_inspection_due": TODAY - DAY}, S.INSPECTION_OVERDUE, TODAY),
        ({"next_inspection_due": TODAY}, S.IN_USE, TODAY - 200 * DAY),  # due today: not yet late
        (
            {"end_of_service_life": TODAY - 10 * DAY, "not_fit_for_use": True},
            S.PAST_SERVICE_LIFE,
            TODAY - 9 * DAY,
        ),
        ({"end_of_service_life": TODAY}, S.IN_USE, TODAY - 200 * DAY),
        ({"status": "suspended", "status_since": TODAY - 5 * DAY}, S.SUSPENDED, TODAY - 5 * DAY),
        # A suspended unit owes no inspection while it stands still (TSG 08-2017).
        ({"status": "suspended", "next_inspection_due": TODAY - 50 * DAY}, S.SUSPENDED, None),
        ({"status": "pending", "status_since": TODAY - DAY}, S.NOT_REGISTERED, TODAY - DAY),
        ({"status": "pending", "next_inspection_due": TODAY - DAY}, S.INSPECTION_OVERDUE, TODAY),
        (
            {
                "status": "scrapped",
                "next_inspection_due": TODAY - 99 * DAY,
                "end_of_service_life": TODAY - 9 * DAY,
            },
            S.OUT_OF_SERVICE,
            None,
        ),
        # Failed inspection and past life together: the failed inspection is the worse.
        (
            {
                "not_fit_for_use": True,
                "last_inspection_conclusion": "fail",
                "end_of_service_life": TODAY - 9 * DAY,
            },
            S.OUT_OF_SERVICE,
            TODAY - 200 * DAY,
        ),
        (
            {
                "next_inspection_due": TODAY - 5 * DAY,
                "end_of_service_life": TODAY - 9 * DAY,
                "not_fit_for_use": True,
            },
            S.INSPECTION_OVERDUE,
            TODAY - 4 * DAY,
        ),
    ],
)
def test_state_reason_and_since(overrides, expected, since):
    found = conditions(facts(**overrides), TODAY)
    assert found[0].state is expected
    if since is not None:
        assert found[0].since == since
    assert found[0].reason_text("zh-CN") != found[0].reason_text("en")


def test_a_failed_inspection_says_so_with_its_date():
    [first, *_] = conditions(facts(not_fit_for_use=True, last_inspection_conclusion="fail"), TODAY)
    assert first.label("zh-CN") == "停止使用"
    day = (TODAY - 200 * DAY).isoformat()
    assert first.reason_text("zh-CN") == f"本设备{day}检验不合格，复检合格前不得使用。"
    assert day in first.reason_text("en")


def test_labels_are_the_chinese_words_the_public_knows():
    assert [gettext("zh-CN", LABELS[s]) for s in SEVERITY] == [
        "停止使用",
        "超期未检",
        "超过设计使用年限",
        "暂停使用",
        "未办理使用登记",
        "正常使用",
    ]


@given(
    status=st.sampled_from(["pending", "in_use", "suspended", "scrapped", "cancelled"]),
    not_fit=st.booleans(),
    conclusion=st.sampled_from([None, "pass", "conditional_pass", "fail"]),
    due=st.one_of(st.none(), st.integers(-2000, 2000)),
    life=st.one_of(st.none(), st.integers(-2000, 2000)),
    hazard=st.one_of(st.none(), st.integers(-500, 0)),
)
def test_the_most_severe_condition_comes_first(status, not_fit, conclusion, due, life, hazard):
    f = facts(
        status=status,
        not_fit_for_use=not_fit,
        last_inspection_conclusion=conclusion,
        next_inspection_due=None if due is None else TODAY + due * DAY,
        end_of_service_life=None if life is None else TODAY + life * DAY,
        major_hazard_since=None if hazard is None else TODAY + hazard * DAY,
    )
    found = conditions(f, TODAY)
    ranks = [SEVERITY.index(c.state) for c in found]
    assert ranks == sorted(ranks) and found
    states = {c.state for c in found}
    # "In normal use" only when nothing else holds, and it is the only safe state.
    assert (S.IN_USE in states) == (states == {S.IN_USE})
    if status in ("scrapped", "cancelled") or hazard is not None:
        assert found[0].state is S.OUT_OF_SERVICE
    if found[0].state is S.IN_USE:
        assert status == "in_use" and not not_fit
        assert due is None or due >= 0
        assert life is None or life >= 0
    for c in found:
        assert c.reason_text("zh-CN") and c.reason_text("en")


def test_the_view_shows_organisations_and_the_emergency_number_only():
    view = public_view(facts(), TODAY, "96333")
    assert view.emergency_number == "96333"
    assert view.safe_to_use and view.safety.state is S.IN_USE
    assert view.maintenance_company_phone == "0710-3456789"
    assert view.category_name("zh-CN") != view.category_name("en")
    assert view.conclusion_label("zh-CN") == "合格"
    # A lift has no filling station, a pending unit no maintainer answering for it.
    assert public_view(facts(filling_station_name="X站"), TODAY, "1").filling_station_name is None
    pending = public_view(facts(status="pending"), TODAY, "96333")
    assert pending.maintenance_company_name is None and pending.maintenance_company_phone is None
    cylinder = public_view(
        facts(category="2320", filling_station_name="隆中充装站"), TODAY, "12345"
    )
    assert cylinder.is_cylinder and cylinder.filling_station_name == "隆中充装站"
    assert cylinder.emergency_number == "12345"
