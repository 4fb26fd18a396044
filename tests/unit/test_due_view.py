"""A due date as the API explains it (equipment/api/views.py): every field of the rule's
``DueDate``, the explanation and the kind's label in the caller's language."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import date

import msgspec
import pytest

from equipment.api import schemas, views
from equipment.domain import labels
from equipment.domain.rules.model import DueDate
from equipment.i18n.spoken import speak

DUE = DueDate(
    kind="periodic",
    due_on=date(2027, 3, 31),
    rule_key="3110.periodic",
    source="TSG T7001-2023 2.3",
    tag="C",
    base_date=date(2026, 3, 31),
    explanation="Periodic inspection every year",
    from_report=True,
)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_an_explained_due_date_is_the_rules_with_its_words_in_the_callers_language(
    lang: str,
) -> None:
    values = asdict(DUE)  # what the view built before, field by field now
    values["explanation"] = speak(lang, values["explanation"])
    values["kind_label"] = labels.label(labels.DUE_KIND, values["kind"], lang)
    expected = msgspec.json.encode(schemas.DueExplained(**values))
    assert msgspec.json.encode(views._due(DUE, lang)) == expected


def test_every_field_of_a_due_date_is_explained() -> None:
    # A field added to DueDate must reach the API's answer (or be left out on purpose).
    rule_fields = {f.name for f in fields(DueDate)}
    assert rule_fields == set(schemas.DueExplained.__struct_fields__) - {"kind_label"}
