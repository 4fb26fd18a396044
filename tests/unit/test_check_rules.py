"""Supervision checklists (检查事项清单), their policy overrides, and the routine records'
periods (日管控、周排查、月调度): pure rules."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.domain import checks as c
from equipment.domain import routines as r
from equipment.domain.catalogue import Family
from equipment.domain.errors import InvalidValue
from equipment.domain.hazards import CRITERIA_BY_KEY, classify
from equipment.domain.rules import load_policy

_TAG = ("[C]", "[S]", "[U]")


@pytest.mark.parametrize("name", sorted(c.DEFAULT_CHECKLISTS))
def test_every_item_says_why_and_names_only_criteria_of_its_family(name: str):
    items = c.DEFAULT_CHECKLISTS[name]
    assert len({i.key for i in items}) == len(items)
    family = None if name == c.USER_UNIT_CHECKLIST else Family(name)
    for item in items:
        assert item.source.endswith(_TAG), item
        assert item.text_zh and item.text_en
        if item.criterion is not None:
            assert item.criterion in CRITERIA_BY_KEY
            classify(item.criterion, family)  # raises when of another family


def test_a_checklist_per_family_and_one_for_the_user_unit():
    assert set(c.DEFAULT_CHECKLISTS) == {f.value for f in Family} | {"user_unit"}
    assert c.checklist_for(c.TargetKind.EQUIPMENT, Family.LIFT) == "lift"
    assert c.checklist_for(c.TargetKind.USER_UNIT, None) == "user_unit"


def test_answers_cover_each_item_once_in_the_lists_order():
    items = c.DEFAULT_CHECKLISTS["boiler"]
    answers = [c.Answer(i.key, c.Outcome.PASSED) for i in reversed(items)]
    assert [a.key for a in c.check_answers(items, answers)] == [i.key for i in items]
    for wrong in (answers[1:], [*answers, answers[0]], [*answers, c.Answer("x", c.Outcome.FAILED)]):
        with pytest.raises(InvalidValue):
            c.check_answers(items, wrong)
    with pytest.raises(InvalidValue):
        c.check_answers(
            items, [*answers[1:], c.Answer(answers[0].key, c.Outcome.FAILED, "x" * 1001)]
        )


def test_the_policy_file_removes_and_adds_items_with_a_source():
    policy = load_policy(
        {
            "checklists": {
                "lift": {
                    "remove": ["signs"],
                    "add": [
                        {
                            "key": "fire_mode",
                            "text_zh": "消防返回功能有效",
                            "text_en": "fire-service return works",
                            "source": "市局2025年检查要点",
                        }
                    ],
                }
            }
        }
    )
    keys = [i.key for i in policy.checklists["lift"]]
    assert "signs" not in keys and keys[-1] == "fire_mode"
    assert policy.checklists["boiler"] == c.DEFAULT_CHECKLISTS["boiler"]
    refused = [
        {"nope": {}},
        {"lift": {"remove": ["no_such_item"]}},
        {"lift": {"add": [{"key": "x", "text_zh": "x", "text_en": "x"}]}},  # no source
        {"lift": {"add": [{"key": "signs", "text_zh": "x", "text_en": "x", "source": "s"}]}},
        {
            "lift": {
                "add": [
                    {"key": "y", "text_zh": "x", "text_en": "x", "source": "s", "criterion": "z"}
                ]
            }
        },
        {"lift": {"remove": [i.key for i in c.DEFAULT_CHECKLISTS["lift"]]}},  # empty list
        {"lift": {"replace": []}},
    ]
    for checklists in refused:
        with pytest.raises(InvalidValue):
            load_policy({"checklists": checklists})


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_a_day_falls_in_one_period_of_each_kind(day: date):
    assert r.period_start(r.Kind.DAILY, day) == day
    week = r.period_start(r.Kind.WEEKLY, day)
    assert week.weekday() == 0 and timedelta(0) <= day - week < timedelta(days=7)
    month = r.period_start(r.Kind.MONTHLY, day)
    assert month.day == 1 and (month.year, month.month) == (day.year, day.month)


def test_which_units_need_which_record_and_how_late_one_may_be_entered():
    assert all(r.needs(f, k) for f in Family if f is not Family.GAS_CYLINDER for k in r.Kind)
    assert not r.needs(Family.GAS_CYLINDER, r.Kind.DAILY)
    assert r.needs(Family.GAS_CYLINDER, r.Kind.MONTHLY)
    assert "3110" in r.categories_needing(r.Kind.DAILY)
    assert "2320" not in r.categories_needing(r.Kind.DAILY)
    today = date(2026, 12, 6)
    r.check_day(today - timedelta(days=r.BACKFILL_DAYS), today)
    for wrong in (today + timedelta(days=1), today - timedelta(days=r.BACKFILL_DAYS + 1)):
        with pytest.raises(InvalidValue):
            r.check_day(wrong, today)
