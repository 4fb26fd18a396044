"""The words the rules put into a due date's explanation besides the rows' summaries:
the points counted from and the intervals, as catalogue ids (equipment/i18n), so the
explanation can be said in Chinese where it is shown (schedules, due lists, exports).

Each string below is exactly what the rule modules format; a change there without a
change here leaves that piece in English, which tests/unit/test_explanations.py catches.
"""

from __future__ import annotations

from typing import Final

from equipment.i18n import N_

EXPLANATION_WORDS: Final = (
    # points an interval is counted from (history.py, lifts.py, boilers.py, cylinders.py)
    N_("commissioning"),
    N_("supervisory inspection"),
    N_("installation supervisory inspection"),
    N_("modernisation supervisory inspection"),
    N_("major_repair supervisory inspection"),
    N_("supervisory inspection after major repair"),
    N_("commissioning date (no installation supervisory inspection on file)"),
    N_("inspection before restart after the suspension of {start} to {end}"),
    N_("last maintenance"),
    N_("last hydrostatic test"),
    N_("last periodic inspection"),
    N_("manufacture"),
    N_("internal inspection impossible"),
    # intervals
    N_("every {days} days"),
    N_("on-demand contract cycle of {days} days"),
    N_("year"),
    N_("years"),
    N_(" ({detail})"),
    N_("{years} years"),
    N_("design service life {years} years"),
    N_("made before {year}: {years} years"),
    N_("extended to {years} years by the passed inspection of {day}"),
    N_("{years} years, not extended"),
    N_("periodic"),
    N_("self_test"),
    N_("last {kind} inspection"),
    N_("first internal inspection"),
    N_("first periodic inspection"),
    N_("the unit's overhaul cycle"),
    # why a row was chosen (cylinders.py, vessels.py, piping.py)
    N_("{gas}: {gas_class} gas"),
    N_("corrosive"),
    N_("inert"),
    N_("other"),
    N_("{gas}, 99.999 % pure"),
    N_("{gas}: unresolved 5-year row"),
    N_("mixture {gases}, shortest of its gases ({why})"),
    N_("medium {medium}, {material}"),
    N_("safety grade {grade}"),
    N_("safety grade unknown"),
    N_("class {pipe_class}, {material}"),
    N_("class {pipe_class}"),
    N_("molten metal"),
    N_("sea-water contact"),
    # what a lift-year holds (lifts.py)
    N_("periodic inspection"),
    N_("self-testing"),
)
