"""Policy: the rule table as a bureau uses it, with its configured overrides.

The caller reads a policy file (JSON or TOML) and hands the parsed mapping to
:func:`load_policy`; nothing here does I/O. The mapping's shape::

    {
      "name": "Xiangyang 2025",                       # optional label
      "overrides": {                                   # rule key -> {field: value}
        "cylinder.lpg": {"interval_years": 5},
        "vessel.grade_3": {"interval_years": 4}
      },
      "media": {"CO2": "corrosive"},                   # gas -> corrosive | inert | other
      "escalation": {"entrapment": 3},                 # alarm kind -> minutes unacknowledged
      "checklists": {"lift": {"remove": ["signs"]}}    # supervision checklists (domain.checks)
    }

Rules for overrides:

- rows tagged [S] or [U] accept any positive integer for any numeric value they
  carry (the whole point of those tags: the number is not confirmed);
- rows tagged [C] are the regulation's own text and are refused, except the one
  value the regulation leaves to a choice (``RuleRow.choice``, e.g. a power-station
  boiler's internal interval of 3 to 6 years);
- a value with a ``choice`` range must stay inside it whatever the tag;
- an unknown rule key, unknown field or a non-integer value is refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from equipment.domain import checks
from equipment.domain.errors import InvalidValue
from equipment.domain.rules.gases import GAS_CLASSES, MEDIUM_CLASSES, normalise_medium
from equipment.domain.rules.table import NUMERIC_FIELDS, TABLE, RuleRow

__all__ = ["DEFAULT_POLICY", "Policy", "load_policy"]

# "risk" is read by equipment.domain.risk.load_risk_policy (the same file, its own section).
_TOP_KEYS: Final = frozenset({"name", "overrides", "media", "escalation", "risk", "checklists"})
# An escalation wait is minutes to a day: longer is no escalation at all.
_MAX_ESCALATION_MINUTES: Final = 1440


@dataclass(frozen=True, slots=True)
class Policy:
    """The rule rows in force, by key, and the gas classification used for cylinders."""

    name: str
    rows: Mapping[str, RuleRow]
    media: Mapping[str, str]
    # Minutes an alarm of a kind may stay unacknowledged before it is escalated
    # (equipment.domain.escalation); kinds not named use the configured default.
    escalation: Mapping[str, int] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    # The supervision checklists (检查事项清单, equipment.domain.checks) with the bureau's
    # removals and additions.
    checklists: Mapping[str, tuple[checks.Item, ...]] = dataclasses.field(
        default_factory=lambda: checks.DEFAULT_CHECKLISTS
    )

    def row(self, key: str) -> RuleRow:
        """The row ``key``; a missing key is a programming error, not user input."""
        return self.rows[key]


def _index(rows: tuple[RuleRow, ...]) -> Mapping[str, RuleRow]:
    return MappingProxyType({row.key: row for row in rows})


DEFAULT_POLICY: Final = Policy(
    name="default", rows=_index(TABLE), media=MappingProxyType(dict(GAS_CLASSES))
)


def load_policy(mapping: Mapping[str, object]) -> Policy:
    """Build a :class:`Policy` from a parsed policy file; InvalidValue says what is wrong."""
    if not isinstance(mapping, Mapping):
        raise InvalidValue("a policy is a mapping (a JSON object or TOML table)", field="policy")
    unknown = set(mapping) - _TOP_KEYS
    if unknown:
        raise InvalidValue(
            f"unknown policy keys {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}",
            field="policy",
        )
    name = mapping.get("name", "configured policy")
    if not isinstance(name, str):
        raise InvalidValue("the policy name is a string", field="name")
    rows = dict(DEFAULT_POLICY.rows)
    overrides = mapping.get("overrides", {})
    if not isinstance(overrides, Mapping):
        raise InvalidValue("overrides map rule keys to {field: value}", field="overrides")
    for key, values in overrides.items():
        rows[key] = _override(rows.get(key), key, values)
    media = dict(DEFAULT_POLICY.media)
    media_overrides = mapping.get("media", {})
    if not isinstance(media_overrides, Mapping):
        raise InvalidValue("media maps a gas to corrosive, inert or other", field="media")
    for gas, gas_class in media_overrides.items():
        if not isinstance(gas, str) or not gas.strip() or gas_class not in MEDIUM_CLASSES:
            raise InvalidValue(
                f"media.{gas}: a gas name maps to one of {sorted(MEDIUM_CLASSES)}, "
                f"got {gas_class!r}",
                field=f"media.{gas}",
            )
        media[normalise_medium(gas)] = gas_class
    escalation = mapping.get("escalation", {})
    if not isinstance(escalation, Mapping):
        raise InvalidValue("escalation maps an alarm kind to minutes", field="escalation")
    for kind, minutes in escalation.items():
        if (
            not isinstance(kind, str)
            or isinstance(minutes, bool)
            or not isinstance(minutes, int)
            or not 1 <= minutes <= _MAX_ESCALATION_MINUTES
        ):
            raise InvalidValue(
                f"escalation.{kind}: whole minutes from 1 to {_MAX_ESCALATION_MINUTES},"
                f" got {minutes!r}",
                field=f"escalation.{kind}",
            )
    return Policy(
        name=name,
        rows=MappingProxyType(rows),
        media=MappingProxyType(media),
        escalation=MappingProxyType(dict(escalation)),
        checklists=checks.load_overrides(mapping.get("checklists", {})),
    )


def _override(row: RuleRow | None, key: object, values: object) -> RuleRow:
    where = f"overrides.{key}"
    if row is None:
        raise InvalidValue(f"{where}: no rule has this key", field=where)
    if not isinstance(values, Mapping) or not values:
        raise InvalidValue(f"{where}: give a mapping of field to new value", field=where)
    settable = [name for name in NUMERIC_FIELDS if getattr(row, name) is not None]
    # Field name → new value (numbers checked above): dataclasses.replace's keywords.
    changes: dict[str, Any] = {}
    for name, value in values.items():
        field = f"{where}.{name}"
        if name not in settable:
            raise InvalidValue(
                f"{field}: rule {row.key} has no overridable value {name!r}; it has "
                f"{settable or 'none'}",
                field=field,
            )
        is_choice = row.choice is not None and row.choice[0] == name
        if row.tag == "C" and not is_choice:
            raise InvalidValue(
                f"{field}: rule {row.key} is tagged [C] (the text of {row.source}); "
                "policy cannot change it",
                field=field,
            )
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidValue(f"{field}: a positive whole number is required", field=field)
        if is_choice and row.choice is not None:
            _, low, high = row.choice
            if not low <= value <= high:
                raise InvalidValue(
                    f"{field}: {row.source} allows {low} to {high}, got {value}", field=field
                )
        changes[name] = value
    return dataclasses.replace(row, **changes)
