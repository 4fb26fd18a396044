"""Post-licence supervision (证后监管): pure rules over licences and approvals.

A producer's licence (制造、安装许可) or an inspection body's approval (核准) is valid from
``valid_from`` to ``valid_until``, both days included. An organisation acts without one
when no licence of the kind its act needs covers the day of the act. The 90-day warning
window is the bureau's figure (the city plan's post-licence supervision, not a
regulation), a parameter; the 100 % annual-report target is the city plan's
(「特种设备生产企业100%年报」).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol, TypeVar

# The licence kind an organisation of each kind holds for what it does.
KIND_OF_ORG: dict[str, str] = {
    "manufacturer": "manufacture",
    "installer": "installation",
    "inspection_body": "inspection",
}
LICENCE_KINDS = frozenset(KIND_OF_ORG.values())
EXPIRY_WARNING_DAYS = 90  # the bureau's figure [U], overridable per call
REPORT_TARGET_PERCENT = 100  # 「特种设备生产企业100%年报」


class Span(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def valid_from(self) -> date: ...
    @property
    def valid_until(self) -> date: ...


S = TypeVar("S", bound=Span)


def valid_on(licences: Iterable[Span], kind: str, day: date) -> bool:
    """Some licence of ``kind`` covers ``day``."""
    return any(x.kind == kind and x.valid_from <= day <= x.valid_until for x in licences)


def expiring(licences: Iterable[S], today: date, days: int = EXPIRY_WARNING_DAYS) -> list[S]:
    """Licences still valid today that end within ``days`` days, soonest first."""
    end = today + timedelta(days=days)
    return sorted(
        (x for x in licences if x.valid_from <= today <= x.valid_until <= end),
        key=lambda x: x.valid_until,
    )


def lapsed_since(licences: Sequence[Span], kind: str, today: date) -> date | None:
    """The day after the last licence of ``kind`` ended, when none covers today and one
    existed; None otherwise (valid today, or never licensed: another list)."""
    own = [x for x in licences if x.kind == kind]
    if not own or valid_on(own, kind, today):
        return None
    ended = [x.valid_until for x in own if x.valid_until < today]
    return max(ended) + timedelta(days=1) if ended else None


@dataclass(frozen=True)
class ReportRate:
    year: int
    manufacturers: int
    reported: int

    @property
    def percent(self) -> float:
        return (
            100.0 if self.manufacturers == 0 else round(100 * self.reported / self.manufacturers, 1)
        )

    @property
    def met(self) -> bool:
        return self.reported >= self.manufacturers * REPORT_TARGET_PERCENT // 100
