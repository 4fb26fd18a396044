"""The checks judge_fill is made of (issue 18), the correction of a stored fill's
traceability findings (retrace, issue 16 item 7) and the one "latest fill wins" rule of
the fill state, property-based."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from equipment.domain import fills as rules
from equipment.storage import fill_state

T0 = datetime(2026, 6, 1, 4, tzinfo=UTC)
POLICY = rules.DEFAULT_FILL_POLICY
CYLINDER = rules.CylinderFacts(
    id=7,
    code="C7",
    category="2320",
    status="in_use",
    owning_station_id=1,
    medium="LPG",
    water_capacity_l=35.5,
    nominal_working_pressure_mpa=2.1,
    vehicle=True,
    next_periodic_due=date(2027, 1, 1),
    end_of_service_life=None,
    last_periodic_failed=False,
)

minutes = st.integers(-600, 600)
stations = st.builds(
    lambda i, lon, lat: rules.StationFacts(i, f"S{i}", "TS1", date(2027, 1, 1), lon, lat),
    st.integers(1, 4),
    st.floats(110, 116) | st.none(),
    st.floats(30, 33),
)


def neighbour(station: rules.StationFacts, at: datetime) -> rules.PreviousFill:
    return rules.PreviousFill(station.id, station.code, at, station.longitude, station.latitude)


def judged(station: rules.StationFacts, at: datetime, before: rules.PreviousFill | None):
    return rules.judge_fill(
        rules.FillAttempt("LPG", at, filled_mass_kg=mass_ok()),
        station,
        CYLINDER,
        previous=before,
        policy=POLICY,
    )


def mass_ok() -> float:
    return 14.0


@settings(max_examples=100, deadline=None)
@given(st.integers(-120, 120), stations, stations)
def test_a_refill_is_flagged_exactly_within_the_interval_either_way(gap, here, there):
    findings = rules.check_traceability(
        T0 + timedelta(minutes=gap), here, neighbour(there, T0), POLICY
    )
    refilled = rules.VerdictCode.REFILLED_TOO_SOON in {f.code for f in findings}
    assert refilled == (abs(timedelta(minutes=gap)) < POLICY.min_refill_interval)
    mirrored = rules.check_traceability(
        T0 - timedelta(minutes=gap), here, neighbour(there, T0), POLICY
    )
    assert [f.code for f in mirrored] == [f.code for f in findings]


@settings(max_examples=100, deadline=None)
@given(stations, stations, stations, minutes, minutes, minutes)
def test_a_stored_fill_retraced_to_a_new_neighbour_reads_as_if_judged_in_time_order(
    a, b, c, ta, tb, tc
):
    """C judged against A, then B (between them by time) arrives: C retraced against B
    has the verdict C judged against B would have had."""
    at_a, at_b, at_c = sorted(T0 + timedelta(minutes=m) for m in (ta, tb, tc))
    first = judged(c, at_c, neighbour(a, at_a)).as_dict()
    meant = judged(c, at_c, neighbour(b, at_b)).as_dict()
    retraced = rules.retrace(first, rules.check_traceability(at_c, c, neighbour(b, at_b), POLICY))
    assert (first if retraced is None else retraced.as_dict()) == meant


@settings(max_examples=100, deadline=None)
@given(stations, minutes, stations, minutes)
def test_retrace_keeps_every_other_finding_and_is_idempotent(here, t, there, tn):
    # Not its own station's cylinder nor a vehicle's: an 08 beside the traceability ones.
    foreign = rules.CylinderFacts(
        **{**_fields(CYLINDER), "vehicle": False, "owning_station_id": 99}
    )
    at = T0 + timedelta(minutes=t)
    before = neighbour(there, T0 + timedelta(minutes=tn))
    verdict = rules.judge_fill(
        rules.FillAttempt("LPG", at), here, foreign, previous=before, policy=POLICY
    ).as_dict()
    findings = rules.check_traceability(at, here, before, POLICY)
    assert rules.retrace(verdict, findings) is None
    cleared = rules.retrace(verdict, [])
    left = {r["code"] for r in (cleared.as_dict() if cleared else verdict)["reasons"]}
    assert "08" in left
    assert left == {r["code"] for r in verdict["reasons"]} - {"16", "17"}


def _fields(facts: rules.CylinderFacts) -> dict:
    return {name: getattr(facts, name) for name in facts.__slots__}


fills_of = st.lists(
    st.tuples(st.integers(1, 3), st.integers(0, 50), st.integers(1, 4)), max_size=30
)


@settings(max_examples=100, deadline=None)
@given(fills_of, st.integers(0, 30))
def test_the_latest_fill_wins_however_the_fills_are_laid_over(fills, split):
    """lay_over in one go or in two overlays (the pipeline's batches) ends at the same
    state: per cylinder, the latest time, the later laid on a tie."""
    as_fills = [
        (cyl, rules.PreviousFill(station, f"S{station}", T0 + timedelta(minutes=m)))
        for cyl, m, station in fills
    ]
    at_once: dict = {}
    for cyl, fill in as_fills:
        fill_state.lay_over(at_once, {cyl: fill})
    halves: dict = {}
    for part in (as_fills[:split], as_fills[split:]):
        overlay: dict = {}
        for cyl, fill in part:
            fill_state.lay_over(overlay, {cyl: fill})
        fill_state.lay_over(halves, overlay)
    expected: dict = {}
    for cyl, fill in as_fills:
        if cyl not in expected or fill.filled_at >= expected[cyl].filled_at:
            expected[cyl] = fill
    assert at_once == expected
    assert {c: f.filled_at for c, f in halves.items()} == {
        c: f.filled_at for c, f in expected.items()
    }
