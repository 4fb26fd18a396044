"""Every due date's explanation the rules give can be said in Chinese: the summaries, the
sentence shapes and the words inside them are all in the catalogue
(equipment/domain/rules/wording.py and the rules' own text)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest

from equipment.api import exports
from equipment.domain.rules import Inspection, Suspension, UnitHistory, schedule
from equipment.i18n.spoken import _spoken, speak
from tests.unit.rules.test_rules_intervals import CASES

# Two English words in a row means a piece was left untranslated (codes, clause keys
# such as lift.due_month and single terms of art pass).
ENGLISH_PHRASE = re.compile(r"\b[A-Za-z]{3,}\s+[A-Za-z]{3,}\b")
CHINESE = re.compile(r"[\u4e00-\u9fff]")

LIFT = date(2016, 3, 31)
LIFTS = [
    UnitHistory("3110", commissioning_date=LIFT),
    UnitHistory(
        "3110",
        commissioning_date=LIFT,
        inspections=(
            Inspection(LIFT, "supervisory", "pass", reason="installation"),
            Inspection(date(2023, 4, 2), "periodic", "pass"),
            Inspection(date(2025, 8, 14), "supervisory", "pass", reason="major_repair"),
        ),
    ),
    UnitHistory(
        "3110",
        commissioning_date=LIFT,
        inspections=(Inspection(LIFT, "supervisory", "pass", reason="installation"),),
        suspensions=(Suspension(date(2019, 1, 1), date(2020, 6, 1)),),
    ),
    UnitHistory("3110", commissioning_date=LIFT, maintenance=(date(2026, 1, 5),)),
]
UNITS = [(case[0], case[1], case[2]) for case in CASES] + [
    (f"lift {i}", unit, date(2026, 2, 1)) for i, unit in enumerate(LIFTS)
]


@pytest.mark.parametrize(("case", "unit", "today"), UNITS, ids=[u[0] for u in UNITS])
def test_each_explanation_is_said_in_chinese(case: str, unit: UnitHistory, today: date) -> None:
    result = schedule(unit, today)
    items = [*result.due, *result.dormant]
    assert items, case
    for item in items:
        chinese = speak("zh-CN", item.explanation)
        assert CHINESE.search(chinese), (item.explanation, chinese)
        assert not ENGLISH_PHRASE.search(chinese), (item.explanation, chinese)


def test_the_exports_explain_in_chinese_when_lang_is_zh() -> None:
    item = schedule(LIFTS[1], date(2026, 2, 1)).next_periodic
    assert item is not None
    row = {"code": "31104206062016030001", "source": item.source, "explanation": item.explanation}
    for lang, expected in (("zh", speak("zh-CN", item.explanation)), ("en", item.explanation)):
        text = exports.to_csv([row], lang).decode("utf-8-sig")
        header, line = list(csv.reader(io.StringIO(text)))
        assert line[header.index("说明" if lang == "zh" else "Explanation")] == expected
    assert CHINESE.search(speak("zh-CN", item.explanation))


DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@pytest.mark.parametrize(("case", "unit", "today"), UNITS, ids=[u[0] for u in UNITS])
def test_dates_set_aside_while_speaking_come_back_where_they_were(
    case: str, unit: UnitHistory, today: date
) -> None:
    """speak matches a message with its dates replaced by stand-ins (so that the shapes,
    not each unit's texts, are cached): the same text as matching the whole message,
    every date back in its place, none of the stand-ins left."""
    result = schedule(unit, today)
    for item in (*result.due, *result.dormant):
        english = item.explanation
        chinese = speak("zh-CN", english)
        assert chinese == _spoken("zh-CN", english, 0)[0], case
        assert sorted(DATE.findall(chinese)) == sorted(DATE.findall(english)), case
        assert "\ue000" not in chinese


def test_a_date_an_id_itself_holds_stays_in_place() -> None:
    assert speak("zh-CN", "must be a date like 2026-12-31") == "必须是日期，如 2026-12-31"
