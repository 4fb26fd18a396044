"""Who is told of an alarm, the webhook signature and the retry schedule (pure rules)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.domain.notifications import (
    MAX_ATTEMPTS,
    PROGRESS,
    AlarmFacts,
    Endpoint,
    Event,
    Tier,
    alert_organisations,
    backoff,
    dead_after,
    recipients,
    signature,
    verify,
)

COMPANY, OTHER_COMPANY, OWNER, STATION = 1, 2, 3, 4
ENDPOINTS = [
    Endpoint(10, COMPANY),
    Endpoint(11, COMPANY, Tier.SECOND),
    Endpoint(20, OTHER_COMPANY),
    Endpoint(30, OWNER),
    Endpoint(40, STATION),
    Endpoint(50, None, district_code="420602"),  # the district's duty desk
    Endpoint(51, None, district_code="420606"),  # another district's desk
    Endpoint(52, None),  # the city-wide desk
]


def facts(severity="critical", company=COMPANY, owner=OWNER, station=None, district="420602"):
    return AlarmFacts(severity, district, company, owner, station)


@pytest.mark.parametrize(
    ("event", "step", "alarm", "expected"),
    [
        # raised: first line of the current company, the owner, desks if critical
        (Event.ALARM_RAISED, "", facts(), [10, 30, 50, 52]),
        (Event.ALARM_RAISED, "", facts("major"), [10, 30]),
        (Event.ALARM_RAISED, "", facts(company=OTHER_COMPANY), [20, 30, 50, 52]),
        (Event.ALARM_RAISED, "", facts("minor", company=None), [30]),
        # a refused fill: the station (no unit owner or maintainer when not on file)
        (Event.ALARM_RAISED, "", facts("major", None, None, STATION), [40]),
        (Event.ALARM_RAISED, "", facts("critical", None, None, STATION), [40, 50, 52]),
        # unacknowledged: the second contact and the district's own desk only
        (Event.ALARM_ESCALATED, "unacknowledged", facts(), [11, 50]),
        (Event.ALARM_ESCALATED, "unacknowledged", facts(district="420606"), [11, 51]),
        # a company with no second contact: its first line is told again
        (Event.ALARM_ESCALATED, "unacknowledged", facts(company=OTHER_COMPANY), [20, 50]),
        # late: the company (both lines) and the bureau, district and city-wide
        (Event.ALARM_ESCALATED, "late", facts(), [10, 11, 50, 52]),
        (Event.ALARM_ESCALATED, "late", facts(company=None), [50, 52]),
    ],
)
def test_recipients(event, step, alarm, expected):
    assert recipients(event, step, alarm, ENDPOINTS) == expected


@pytest.mark.parametrize("event", sorted(PROGRESS))
@pytest.mark.parametrize(
    "alarm",
    [facts(), facts("major"), facts(company=None), facts("critical", None, None, STATION)],
)
def test_those_told_of_the_raise_hear_it_acted_on(event, alarm):
    assert recipients(event, "", alarm, ENDPOINTS) == recipients(
        Event.ALARM_RAISED, "", alarm, ENDPOINTS
    )


@pytest.mark.parametrize(
    ("alarm", "expected"),
    [
        (facts(), [COMPANY, OWNER]),
        (facts(company=None), [OWNER]),
        (facts(company=COMPANY, owner=COMPANY), [COMPANY]),
        (facts("critical", None, None, STATION), [STATION]),
        (facts("critical", COMPANY, OWNER, STATION), [COMPANY, OWNER, STATION]),
        (facts(company=None, owner=None), []),
    ],
)
def test_alert_topics_are_the_alarms_own_organisations(alarm, expected):
    assert alert_organisations(alarm) == expected


def test_an_organisation_in_two_roles_is_told_once():
    alarm = facts("major", company=COMPANY, owner=COMPANY)
    assert recipients(Event.ALARM_RAISED, "", alarm, ENDPOINTS) == [10]


@given(
    st.lists(
        st.builds(
            Endpoint,
            st.integers(1, 50),
            st.one_of(st.none(), st.integers(1, 5)),
            st.sampled_from(Tier),
            st.sampled_from(["", "420602", "420606"]),
        ),
        max_size=12,
    ),
    st.sampled_from(
        [
            (Event.ALARM_RAISED, ""),
            (Event.ALARM_ESCALATED, "unacknowledged"),
            (Event.ALARM_ESCALATED, "late"),
        ]
    ),
    st.sampled_from(["critical", "major", "minor"]),
    st.one_of(st.none(), st.integers(1, 5)),
)
def test_no_one_outside_the_alarm_is_told(endpoints, event_step, severity, company):
    alarm = facts(severity, company=company, owner=3, station=None)
    told = recipients(*event_step, alarm, endpoints)
    assert len(told) == len(set(told))
    by_id = {}
    for e in endpoints:
        by_id.setdefault(e.id, []).append(e)
    for endpoint_id in told:
        assert any(
            e.organisation in (company, 3)
            or (e.organisation is None and e.district_code in ("", "420602"))
            for e in by_id[endpoint_id]
        )


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    body = b'{"id":"k","event":"alarm.raised"}'
    expected = hmac.new(b"whsec_x", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("whsec_x", 1700000000, body) == f"v1={expected}"


def test_verify_checks_secret_body_and_replay_window():
    body = b'{"a":1}'
    header = signature("s", 1000, body)
    assert verify("s", 1000, body, header, at=1000 + 300)
    assert not verify("s", 1000, body, header, at=1000 + 301)  # replayed too late
    assert not verify("other", 1000, body, header, at=1000)
    assert not verify("s", 1000, b'{"a":2}', header, at=1000)
    assert not verify("s", 1001, body, header, at=1001)  # the timestamp is signed too


def test_backoff_doubles_up_to_the_cap():
    assert [backoff(n, base_s=30, cap_s=3600) for n in range(1, 9)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
    ]
    with pytest.raises(ValueError):
        backoff(0, base_s=30, cap_s=3600)


def test_dead_after_five_failures():
    assert MAX_ATTEMPTS == 5
    assert [dead_after(n) for n in range(1, 7)] == [False, False, False, False, True, True]
