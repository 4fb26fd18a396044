"""The due list's query read in one pass (controllers.due_query): a plain query is read as
Litestar's declared parameters would read it; anything else goes to the declared twin."""

from __future__ import annotations

from datetime import date

import pytest
from litestar.datastructures import MultiDict

from equipment.api.controllers import due_query
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
