"""The rescue outcome's checks (pure rules)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.domain import rescue
from equipment.domain.errors import Conflict, InvalidValue


def outcome(**kw) -> rescue.Outcome:
    base = dict(
        people_released=2,
        injuries=0,
        fatalities=0,
        release_method="door_opened_at_level",
        cause="door_system",
        rescuers=("王师傅",),
    )
    return rescue.Outcome(**{**base, **kw})


@given(
    people=st.integers(-5, 120),
    injuries=st.integers(-2, 120),
    fatalities=st.integers(-2, 5),
    method=st.sampled_from([*rescue.RELEASE_METHODS, "teleported"]),
    cause=st.sampled_from([*rescue.CAUSES, "ghosts"]),
    rescuers=st.lists(st.sampled_from(["王师傅", " ", "", "李"]), max_size=25),
)
def test_accepted_exactly_when_every_rule_holds(
    people, injuries, fatalities, method, cause, rescuers
):
    o = outcome(
        people_released=people,
        injuries=injuries,
        fatalities=fatalities,
        release_method=method,
        cause=cause,
        rescuers=tuple(rescuers),
    )
    named = [r.strip() for r in rescuers if r.strip()]
    valid = (
        0 <= people <= rescue.MAX_PEOPLE
        and injuries >= 0
        and fatalities >= 0
        and injuries + fatalities <= people
        and method in rescue.RELEASE_METHODS
        and cause in rescue.CAUSES
        and (named or method == "self_released")
        and len(named) <= rescue.MAX_RESCUERS
    )
    if valid:
        assert rescue.check(o).rescuers == tuple(named)
    else:
        with pytest.raises(InvalidValue):
            rescue.check(o)


def test_every_code_has_a_label():
    assert all(rescue.RELEASE_METHODS.values()) and all(rescue.CAUSES.values())


@pytest.mark.parametrize("kind", ["entrapment", "alarm_button"])
@pytest.mark.parametrize("state", ["open", "closed"])
@pytest.mark.parametrize("finished", [True, False])
@pytest.mark.parametrize("recorded", [True, False])
def test_recordable_only_once_on_an_open_finished_entrapment(kind, state, finished, recorded):
    ok = kind == "entrapment" and state == "open" and finished and not recorded
    if ok:
        rescue.can_record(kind=kind, state=state, finished=finished, recorded=recorded)
    else:
        with pytest.raises(Conflict):
            rescue.can_record(kind=kind, state=state, finished=finished, recorded=recorded)
