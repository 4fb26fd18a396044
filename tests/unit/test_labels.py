"""Labels of the stable codes (equipment/domain/labels.py): every code a response carries
has its words in both languages, Chinese by default; the codes themselves never change."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.domain import labels
from equipment.domain.reminders import DueState
from equipment.domain.rules.model import DUE_KINDS, STATUSES

TABLES = [
    (labels.STATUS, STATUSES),
    (labels.DUE_KIND, DUE_KINDS),
    (labels.DUE_STATE, set(DueState)),
]


@pytest.mark.parametrize(("table", "codes"), TABLES)
def test_every_code_has_a_label_and_no_label_names_a_missing_code(table, codes):
    assert set(table) == {str(c) for c in codes}


@pytest.mark.parametrize(("table", "codes"), TABLES)
def test_chinese_is_the_default_and_english_the_second_language(table, codes):
    for code in table:
        zh, en = labels.label(table, code, "zh-CN"), labels.label(table, code, "en")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), (code, zh)
        assert en.isascii() and en != code and zh != en


@pytest.mark.parametrize(("table", "_"), TABLES)
def test_the_labels_of_a_table_tell_its_codes_apart(table, _):
    for lang in ("zh-CN", "en"):
        words = [labels.label(table, code, lang) for code in table]
        assert len(set(words)) == len(words)


@given(st.text(max_size=20))
def test_a_code_without_a_label_is_shown_as_itself(code):
    for table, _ in TABLES:
        if code not in table:
            assert labels.label(table, code, "zh-CN") == code
