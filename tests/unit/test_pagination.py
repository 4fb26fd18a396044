"""Keyset pagination: sort parsing and opaque cursors."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.domain.errors import InvalidValue
from equipment.services.pagination import (
    SortKey,
    after_cursor,
    decode_cursor,
    encode_cursor,
    parse_sort,
)

# The register's sorts, written out here (column -> unique).
ALLOWED = {"id": True, "code": True, "updated_at": False}

BY_ID = SortKey("id", False, True)
BY_CODE = SortKey("code", False, True)
BY_UPDATED_DESC = SortKey("updated_at", True, False)


def raw_cursor(payload: Any) -> str:
    """A cursor holding any JSON, encoded the way the API encodes its own."""
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# ---------------------------------------------------------------------------------------
# parse_sort


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id", SortKey("id", False, True)),
        ("-id", SortKey("id", True, True)),
        ("code", SortKey("code", False, True)),
        ("-code", SortKey("code", True, True)),
        ("updated_at", SortKey("updated_at", False, False)),
        ("-updated_at", SortKey("updated_at", True, False)),
    ],
)
def test_parse_sort_accepts_allowed_columns(text: str, expected: SortKey):
    assert parse_sort(text, ALLOWED) == expected


@pytest.mark.parametrize(
    "text", ["", "-", "name", "--code", "+code", "Code", "code ", "id;drop", '"id"', "-name"]
)
def test_parse_sort_rejects_other_columns(text: str):
    with pytest.raises(InvalidValue) as caught:
        parse_sort(text, ALLOWED)
    assert caught.value.field == "sort"
    assert "-updated_at" in caught.value.reason  # lists the choices


def test_order_columns_add_the_id_tie_break_to_non_unique_sorts():
    assert BY_CODE.order_columns == ("code",)
    assert BY_ID.order_columns == ("id",)
    assert BY_UPDATED_DESC.order_columns == ("updated_at", "id")


# ---------------------------------------------------------------------------------------
# Round trip

CST = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("sort", "row", "values"),
    [
        (BY_ID, {"id": 42, "code": "x"}, [42]),
        (SortKey("id", True, True), {"id": 1}, [1]),
        (BY_CODE, {"code": "31104206022025060001", "id": 9}, ["31104206022025060001"]),
        (BY_CODE, {"code": '梯 & "quotes" / +=', "id": 9}, ['梯 & "quotes" / +=']),
        (
            BY_UPDATED_DESC,
            {"updated_at": datetime(2025, 6, 15, 8, 30, 1, 123456, tzinfo=CST), "id": 7},
            [datetime(2025, 6, 15, 8, 30, 1, 123456, tzinfo=CST), 7],
        ),
        (
            SortKey("updated_at", False, False),
            {"updated_at": datetime(2025, 6, 15, 0, 0, 0, 1, tzinfo=UTC), "id": 2**40},
            [datetime(2025, 6, 15, 0, 0, 0, 1, tzinfo=UTC), 2**40],
        ),
        (
            SortKey("updated_at", False, False),
            {"updated_at": datetime(1999, 12, 31, 23, 59, 59), "id": 1},  # naive
            [datetime(1999, 12, 31, 23, 59, 59), 1],
        ),
    ],
)
def test_round_trip(sort: SortKey, row: dict[str, Any], values: list[Any]):
    cursor = encode_cursor(sort, row)
    assert "=" not in cursor
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    decoded = decode_cursor(cursor, sort)
    assert decoded == values
    for got, want in zip(decoded, values, strict=True):
        if isinstance(want, datetime):
            assert got.utcoffset() == want.utcoffset()
            assert got.microsecond == want.microsecond


TZ = st.one_of(
    st.none(),
    st.builds(
        timezone,
        st.integers(min_value=-23 * 60, max_value=23 * 60).map(lambda m: timedelta(minutes=m)),
    ),
)


@given(st.datetimes(timezones=TZ), st.integers(min_value=1, max_value=2**62), st.booleans())
def test_round_trip_any_datetime(moment: datetime, row_id: int, descending: bool):
    sort = SortKey("updated_at", descending, False)
    decoded = decode_cursor(encode_cursor(sort, {"updated_at": moment, "id": row_id}), sort)
    assert decoded == [moment, row_id]
    assert decoded[0].utcoffset() == moment.utcoffset()


@given(st.text(st.characters(blacklist_characters="\x00"), max_size=20), st.booleans())
def test_round_trip_any_code(code: str, descending: bool):
    sort = SortKey("code", descending, True)
    assert decode_cursor(encode_cursor(sort, {"code": code}), sort) == [code]


# ---------------------------------------------------------------------------------------
# Rejected cursors: always InvalidValue on field "cursor"


def assert_rejected(cursor: str, sort: SortKey) -> None:
    with pytest.raises(InvalidValue) as caught:
        decode_cursor(cursor, sort)
    assert caught.value.field == "cursor"


@pytest.mark.parametrize(
    "cursor",
    ["", "=", "====", "a", "ab=c", "!!!!", "not a cursor", "éééé", "\x00", "Ww==Ww==", " "],
)
def test_garbage_is_rejected(cursor: str):
    assert_rejected(cursor, BY_UPDATED_DESC)
    assert_rejected(cursor, BY_ID)


def test_truncated_cursor_is_rejected():
    cursor = encode_cursor(BY_UPDATED_DESC, {"updated_at": datetime(2025, 1, 1), "id": 3})
    for cut in range(len(cursor)):
        assert_rejected(cursor[:cut], BY_UPDATED_DESC)


@pytest.mark.parametrize(
    ("made_for", "used_with"),
    [
        (SortKey("updated_at", False, False), BY_UPDATED_DESC),  # other direction
        (BY_ID, BY_CODE),
        (BY_CODE, BY_ID),
        (BY_UPDATED_DESC, SortKey("id", True, True)),
    ],
)
def test_cursor_for_another_sort_is_rejected(made_for: SortKey, used_with: SortKey):
    row = {"id": 5, "code": "c", "updated_at": datetime(2025, 1, 1)}
    assert_rejected(encode_cursor(made_for, row), used_with)


@pytest.mark.parametrize(
    ("payload", "sort"),
    [
        (["updated_at", True, ["2025-01-01T00:00:00"]], BY_UPDATED_DESC),  # too few
        (["updated_at", True, ["2025-01-01T00:00:00", 1, 2]], BY_UPDATED_DESC),  # too many
        (["id", False, []], BY_ID),
        (["id", False, [1, 2]], BY_ID),
        (["id", False, 1], BY_ID),  # not a list
        (["id", False, "1"], BY_ID),
        (["id", False, {"a": 1}], BY_ID),
        (["id", False], BY_ID),  # wrong arity of the envelope
        (["id", False, [1], "extra"], BY_ID),
        ([], BY_ID),
        (7, BY_ID),
        (None, BY_ID),
        ("id", BY_ID),
        ({"id": 1}, BY_ID),
    ],
)
def test_wrong_arity_is_rejected(payload: Any, sort: SortKey):
    assert_rejected(raw_cursor(payload), sort)


@pytest.mark.parametrize("bad_id", ["1", 1.0, 1.5, None, [1], {"id": 1}])
def test_non_int_id_is_rejected(bad_id: Any):
    assert_rejected(raw_cursor(["id", False, [bad_id]]), BY_ID)
    payload = ["updated_at", True, ["2025-01-01T00:00:00", bad_id]]
    assert_rejected(raw_cursor(payload), BY_UPDATED_DESC)


@pytest.mark.parametrize("bad_moment", ["yesterday", "2025-13-01", "", 20250101, None, [], {}])
def test_bad_datetime_is_rejected(bad_moment: Any):
    assert_rejected(raw_cursor(["updated_at", True, [bad_moment, 1]]), BY_UPDATED_DESC)


def test_huge_number_is_rejected():
    # int() of more than 4300 digits raises ValueError in Python 3.11+
    assert_rejected(raw_cursor('["id",false,[' + "1" * 5000 + "]]"), BY_ID)


def test_invalid_utf8_is_rejected():
    cursor = base64.urlsafe_b64encode(b'["id",false,[1]]\xff\xfe').decode()
    assert_rejected(cursor, BY_ID)


def test_deeply_nested_cursor_is_rejected():
    assert_rejected(raw_cursor("[" * 1000), BY_ID)


@pytest.mark.parametrize("bad_id", [True, False, 2**63, -(2**63) - 1])
def test_id_that_is_not_a_bigint_is_rejected(bad_id: Any):
    assert_rejected(raw_cursor(["id", False, [bad_id]]), BY_ID)


@pytest.mark.parametrize("bad_code", [123, [1], {"a": 1}, None, "a\x00b"])
def test_code_cursor_with_a_value_no_code_can_have_is_rejected(bad_code: Any):
    assert_rejected(raw_cursor(["code", False, [bad_code]]), BY_CODE)


@given(st.text())
def test_arbitrary_text_raises_only_invalid_value(cursor: str):
    for sort in (BY_ID, BY_CODE, BY_UPDATED_DESC):
        try:
            decode_cursor(cursor, sort)
        except InvalidValue as error:
            assert error.field == "cursor"


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_="))
def test_arbitrary_base64_raises_only_invalid_value(cursor: str):
    for sort in (BY_ID, BY_CODE, BY_UPDATED_DESC):
        try:
            decode_cursor(cursor, sort)
        except InvalidValue as error:
            assert error.field == "cursor"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)
ENVELOPE = st.one_of(
    JSON,
    st.tuples(
        st.sampled_from(["id", "code", "updated_at", "other"]),
        st.one_of(st.booleans(), JSON),
        st.one_of(st.lists(JSON, max_size=3), JSON),
    ).map(list),
)


@given(ENVELOPE)
def test_any_json_cursor_is_decoded_or_rejected_as_invalid(payload: Any):
    for sort in (BY_ID, BY_CODE, BY_UPDATED_DESC):
        try:
            values = decode_cursor(raw_cursor(payload), sort)
        except InvalidValue as error:
            assert error.field == "cursor"
        else:
            assert isinstance(values, list)
            assert len(values) == len(sort.order_columns)
            if sort is BY_UPDATED_DESC:
                assert isinstance(values[0], datetime)


# ---------------------------------------------------------------------------------------
# after_cursor: the SQL row comparison. WhereRaw.querystring and QueryString.template /
# .args are plain public attributes of Piccolo 1.x.


@pytest.mark.parametrize(
    ("sort", "values", "template"),
    [
        (BY_ID, [5], '("id") > ({})'),
        (SortKey("id", True, True), [5], '("id") < ({})'),
        (BY_CODE, ["a"], '("code") > ({})'),
        (BY_UPDATED_DESC, [datetime(2025, 1, 1), 3], '("updated_at", "id") < ({}, {})'),
        (SortKey("updated_at", False, False), [datetime(2025, 1, 1), 3], None),
    ],
)
def test_after_cursor_builds_a_parameterised_row_comparison(
    sort: SortKey, values: list[Any], template: str | None
):
    where = after_cursor(sort, values)
    if template is None:
        template = '("updated_at", "id") > ({}, {})'
    assert where.querystring.template == template
    assert list(where.querystring.args) == values


def test_after_cursor_never_inlines_values():
    where = after_cursor(BY_CODE, ["x'); drop table equipment; --"])
    assert "drop" not in where.querystring.template
