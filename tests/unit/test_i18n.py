"""The message catalogue and language negotiation."""

from __future__ import annotations

import string

import pytest
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from equipment import i18n
from equipment.i18n import LANGUAGES, Translator, gettext, negotiate, ngettext
from equipment.i18n.extract import extracted


def _catalogue():
    with i18n.catalogue_path("zh-CN").open("rb") as po:
        return read_po(po, locale="zh_CN")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_user_facing_message_has_its_chinese_text():
    catalogue = _catalogue()
    used = [message for message in extracted() if message.id]
    assert used, "the extractor found no message at all: the keywords are wrong"
    missing = []
    for message in used:
        entry = catalogue.get(message.id)
        text = entry.string if entry is not None else None
        if not text or (entry is not None and entry.fuzzy):
            where = ", ".join(f"{path}:{line}" for path, line in message.locations)
            missing.append(f"{message.id!r} ({where})")
    assert not missing, (
        "messages without zh-CN text; run `python -m equipment.i18n.extract` and fill in "
        "equipment/i18n/locale/zh_CN/LC_MESSAGES/messages.po:\n" + "\n".join(missing)
    )


def test_chinese_texts_keep_the_placeholders_of_their_message_id():
    for message in _catalogue():
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        texts = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set().union(*(_fields(text) for text in ids))
        for text in texts:
            assert _fields(text) <= expected, (message.id, text)
            if not isinstance(message.id, tuple):
                assert _fields(text) == expected, (message.id, text)


def test_gettext_speaks_chinese_by_default_and_english_as_the_message_id():
    catalogue = _catalogue()
    message = next(m for m in catalogue if m.id and m.string and not isinstance(m.id, tuple))
    assert gettext("zh-CN", message.id) == message.string
    assert gettext("en", message.id) == message.id
    assert Translator("fr").lang == "zh-CN"


def test_placeholders_are_filled_and_unknown_ids_fall_back_to_english():
    assert gettext("zh-CN", "No such text {x} in the catalogue", x=7) == (
        "No such text 7 in the catalogue"
    )
    assert ngettext("en", "{n} unit", "{n} units", 2) == "2 units"
    assert ngettext("en", "{n} unit", "{n} units", 1) == "1 unit"


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        (None, None, "zh-CN"),
        ("", "", "zh-CN"),
        ("en", None, "en"),
        ("EN-us", "zh-CN", "en"),
        ("zh", "en", "zh-CN"),
        ("zh_CN", "en", "zh-CN"),
        ("fr", "en", "en"),  # an unsupported ?lang= falls through to the header
        ("fr", None, "zh-CN"),
        (None, "en", "en"),
        (None, "en-GB,en;q=0.9", "en"),
        (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        (None, "en;q=0.5, zh-TW;q=0.8", "zh-CN"),
        (None, "fr-FR, en;q=0.3, zh;q=0.2", "en"),
        (None, "en;q=0", "zh-CN"),  # q=0: not acceptable
        (None, "en;q=0, *;q=0.1", "zh-CN"),
        (None, "*", "zh-CN"),
        (None, "de, fr", "zh-CN"),
        (None, "en;q=abc, zh;q=0.1", "zh-CN"),  # a malformed weight is no preference
        (None, "en, zh", "en"),  # equal weights: the first wins
        (None, ",,;q=1,en", "en"),
    ],
)
def test_negotiate(query, header, expected):
    assert negotiate(query, header) == expected


@given(st.one_of(st.none(), st.text(max_size=40)), st.one_of(st.none(), st.text(max_size=80)))
def test_negotiate_always_answers_a_supported_language(query, header):
    assert negotiate(query, header) in LANGUAGES


@given(st.sampled_from(["en", "EN", "en-US", "zh", "zh-CN", "zh-hans"]), st.text(max_size=80))
def test_a_supported_query_language_always_wins(query, header):
    assert negotiate(query, header) == ("en" if query.lower().startswith("en") else "zh-CN")
