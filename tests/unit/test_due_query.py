"""The due list's query read in one pass (controllers.due_query): a plain query is read as
Litestar's declared parameters would read it; anything else goes to the declared twin. The
staff pages' due list reads its filters with it too."""

from __future__ import annotations

from datetime import date

import pytest
from litestar.datastructures import MultiDict

from equipment.api.controllers import due_filter, due_query
from equipment.domain.errors import InvalidValue
from equipment.web import inspector_pages
from sereg.app import create_app


def read(query: str) -> object:
    pairs = [tuple(p.split("=", 1)) for p in query.split("&") if p]
    return due_query(MultiDict(pairs))


def test_a_plain_query_is_read_in_one_pass() -> None:
    assert read("window=overdue&district=420606&limit=50") == (
        {"window": "overdue", "district": "420606"},
        None,
        50,
    )
    assert read("within_days=0&from=2026-01-31&to=2026-12-31&area_id=7&cursor=abc") == (
        {
            "within_days": 0,
            "due_from": date(2026, 1, 31),
            "due_to": date(2026, 12, 31),
            "area_id": 7,
        },
        "abc",
        None,
    )
    # An empty text is a value (the filter answers it), an unknown name is ignored.
    assert read("district=&kind=x&lang=en&colour=red") == (
        {"district": "", "kind": "x"},
        None,
        None,
    )


@pytest.mark.parametrize(
    "query",
    [
        "limit=5&limit=6",  # a name twice
        "window=soon",
        "grade=Red",
        "sort=name",
        "within_days=3661",
        "within_days=5.0",
        "within_days=+5",
        "within_days=05",
        "within_days=",
        "user_unit_id=0",
        "area_id=2147483648",
        "limit=0",
        "limit=501",
        "from=2026-13-01",
        "from=20260101",
        "district=" + "4" * 21,
        "kind=a%00".replace("%00", "\x00"),
        "cursor=" + "A" * 401,
    ],
)
def test_anything_else_goes_to_the_declared_twin(query: str) -> None:
    assert read(query) is None


def test_the_due_list_still_documents_every_parameter() -> None:
    schema = create_app(manage_db=False).openapi_schema.to_schema()
    operation = schema["paths"]["/api/v1/due"]["get"]
    assert [p["name"] for p in operation["parameters"]] == [
        "window",
        "within_days",
        "from",
        "to",
        "kind",
        "category",
        "category_prefix",
        "district",
        "user_unit_id",
        "maintenance_company_id",
        "area_id",
        "grade",
        "sort",
        "cursor",
        "limit",
        "lang",
        "Accept-Language",
    ]
    within = next(p for p in operation["parameters"] if p["name"] == "within_days")
    assert within["schema"]["maximum"] == 3660
    assert "400" in operation["responses"] and operation["security"]


# The staff pages' due list reads its filters with the same reader (inspector_pages).


def test_every_filter_of_the_page_is_one_the_reader_reads() -> None:
    # A name the reader did not know would be dropped from the page's filter unread.
    for name in inspector_pages.DUE_FIELDS:
        assert due_query(MultiDict([(name, "\x00")])) is None, name


def test_the_page_builds_the_apis_filter() -> None:
    values = {name: "" for name in inspector_pages.DUE_FIELDS}  # the form sends every field
    values |= {"window": "overdue", "from": "2026-01-31", "district": "樊城区", "area_id": "7"}
    read = due_query(MultiDict(p for p in values.items() if p[1]))
    assert read is not None
    assert inspector_pages.due_filter_of(values) == due_filter(**read[0])
    assert inspector_pages.due_filter_of({}) == due_filter()


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ({"window": "soon", "kind": "nope"}, "window", "choose one"),
        ({"kind": "nope", "within_days": "x"}, "kind", "choose one"),
        ({"within_days": "3661", "from": "x"}, "within_days", "whole number"),
        ({"from": "20260101"}, "from", "a date like"),
        ({"to": "2026-02-30", "user_unit_id": "0"}, "to", "a date like"),
        ({"area_id": "2147483648", "category": "9999"}, "area_id", "whole number"),
        # The codes last, each refused by its own check, saying why.
        ({"category": "9999", "district": "4" * 21}, "category", "not in the Catalogue"),
        ({"category_prefix": "31100"}, "category_prefix", "starts no code"),
        ({"district": "4" * 21}, "district", "6 digits"),
    ],
)
def test_the_page_names_the_first_bad_field(query: dict[str, str], field: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        inspector_pages.due_filter_of(query)
    assert refused.value.field == field and reason in refused.value.reason
