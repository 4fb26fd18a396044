"""The v1 topic layout: every topic the contract names parses, everything else is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest_mqtt.topics import (
    SUBSCRIPTIONS,
    TopicKind,
    UnknownTopic,
    parse_topic,
    shared,
    topic_for,
)


@pytest.mark.parametrize(
    ("topic", "kind", "code"),
    [
        ("sereg/v1/stations/XYS001/fills", TopicKind.FILLS, "XYS001"),
        ("sereg/v1/stations/XYS001/verdicts", TopicKind.VERDICTS, "XYS001"),
        (
            "sereg/v1/elevators/31104206062016053337/status",
            TopicKind.STATUS,
            "31104206062016053337",
        ),
        (
            "sereg/v1/elevators/31104206062016053337/events",
            TopicKind.EVENTS,
            "31104206062016053337",
        ),
    ],
)
def test_contract_topics_parse(topic, kind, code):
    parsed = parse_topic(topic)
    assert (parsed.kind, parsed.code) == (kind, code)
    assert topic_for(kind, code) == topic


@pytest.mark.parametrize(
    "topic",
    [
        "sereg/v2/stations/X/fills",
        "sereg/v1/stations/X/status",
        "sereg/v1/elevators/X/fills",
        "sereg/v1/stations//fills",
        "sereg/v1/stations/X/fills/extra",
        "sereg/v1/stations/" + "X" * 65 + "/fills",
        "other/v1/stations/X/fills",
        "",
    ],
)
def test_other_topics_are_refused_with_a_reason(topic):
    with pytest.raises(UnknownTopic, match=r"\S"):
        parse_topic(topic)


@given(st.text(max_size=80))
def test_any_text_parses_or_is_refused(text):
    try:
        parsed = parse_topic(text)
    except UnknownTopic:
        return
    assert topic_for(parsed.kind, parsed.code) == text


def test_shared_subscriptions():
    assert shared(SUBSCRIPTIONS[0], "ingest") == "$share/ingest/sereg/v1/stations/+/fills"
