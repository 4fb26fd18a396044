"""The rule policies the process runs with, installed once by the bootstrap.

The bootstrap (``sereg.bootstrap``) reads the settings, loads the bureau's policy file and
builds these values; services read them here instead of reading settings or files
themselves, so a test runs the same services under another policy by installing it
(``install``), not by editing the environment. Until something is installed, the
defaults apply: the national rules and sereg's default traceability limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from equipment.domain import fills as fill_rules
from equipment.domain import risk, rules
from equipment.settings import ResponseSettings


@dataclass(frozen=True)
class Policies:
    # The inspection, life and response rules ([S]/[U] rows, a bureau's overrides).
    rules: rules.Policy = rules.DEFAULT_POLICY
    # The fill permit's traceability limits (settings, not regulation).
    fills: fill_rules.FillPolicy = field(default_factory=fill_rules.FillPolicy)
    # Entrapment response minutes set by the operator; unset, the rule policy's apply.
    response: ResponseSettings = field(default_factory=ResponseSettings)
    # The risk grade's weights and thresholds (the policy file's ``risk`` section).
    risk: risk.RiskPolicy = risk.DEFAULT_RISK_POLICY


_current = Policies()


def install(policies: Policies) -> None:
    global _current
    _current = policies


def current() -> Policies:
    return _current
