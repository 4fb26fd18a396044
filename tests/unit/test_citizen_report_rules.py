"""Citizen reports: field rules and the signed form token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.domain.citizen_reports import (
    CATEGORIES,
    MAX_TEXT,
    TOKEN_VALID_SECONDS,
    ReportInput,
    client_key,
    form_token,
    token_is_valid,
    validate,
)

KEY = b"k" * 32
NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
CODE = "31104206062016053337"


@pytest.mark.parametrize("category", sorted(CATEGORIES))
def test_every_category_is_accepted(category):
    text = "有异响" if category == "other" else ""
    assert validate(category, text, "") == ReportInput(category, text, "")


@pytest.mark.parametrize(
    ("category", "text", "phone", "fields"),
    [
        ("", "", "", {"category"}),
        (None, None, None, {"category"}),
        ("Trapped", "", "", {"category"}),  # codes are exact
        ("other", "   ", "", {"text"}),
        ("trapped", "长" * (MAX_TEXT + 1), "", {"text"}),
        ("trapped", "a\x00b", "", {"text"}),
        ("trapped", "", "abc", {"phone"}),
        ("trapped", "", "1" * 21, {"phone"}),
        ("trapped", "", "12", {"phone"}),
        ("nonsense", "x" * 600, "x", {"category", "text", "phone"}),
    ],
)
def test_bad_fields_are_named(category, text, phone, fields):
    errors = validate(category, text, phone)
    assert isinstance(errors, list) and {e.field for e in errors} == fields


@pytest.mark.parametrize(
    "phone", ["13900001111", "139 0000 1111", "0710-3456789", "+8613900001111"]
)
def test_phones_as_people_type_them(phone):
    assert validate("trapped", "", phone) == ReportInput("trapped", "", phone)


def test_text_at_the_limit_is_kept_trimmed():
    assert validate("trapped", f"  {'长' * MAX_TEXT}\n", "") == ReportInput(
        "trapped", "长" * MAX_TEXT, ""
    )


def test_token_is_bound_to_unit_key_and_time():
    token = form_token(KEY, CODE, NOW)
    assert token_is_valid(KEY, CODE, token, NOW + timedelta(minutes=30))
    assert token_is_valid(KEY, CODE, token, NOW + timedelta(seconds=TOKEN_VALID_SECONDS))
    assert not token_is_valid(KEY, CODE, token, NOW + timedelta(seconds=TOKEN_VALID_SECONDS + 1))
    assert not token_is_valid(KEY, CODE, token, NOW - timedelta(minutes=5))  # from the future
    assert not token_is_valid(KEY, "31104206062016050000", token, NOW)
    assert not token_is_valid(b"other" * 8, CODE, token, NOW)
    issued, _, signature = token.partition(".")
    assert not token_is_valid(KEY, CODE, f"{int(issued) + 1}.{signature}", NOW)


@given(st.one_of(st.none(), st.text(max_size=100)))
def test_any_forged_token_is_refused(token):
    assert not token_is_valid(KEY, CODE, token, NOW)


def test_client_key_hides_the_address_and_separates_clients():
    one = client_key(KEY, "10.0.0.1")
    assert "10.0.0.1" not in one and len(one) == 32
    assert one == client_key(KEY, "10.0.0.1") != client_key(KEY, "10.0.0.2")
