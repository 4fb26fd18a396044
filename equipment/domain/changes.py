"""What a change of the register is, for the changes feed and its webhooks (互联互通).

Pure: the audit trail names an entity and an action; a reader of the feed (a provincial
platform, a data warehouse) asks for kinds of change, and resumes from a cursor it got
from the feed. Nothing here reads a database or a clock.
"""

from __future__ import annotations

import re
from enum import StrEnum

from equipment.domain.errors import InvalidValue
from equipment.domain.lifecycle import Action


class ChangeKind(StrEnum):
    REGISTER = "register"  # a unit created or its description or regulatory data edited
    INSPECTION = "inspection"  # an inspection report filed
    HAZARD = "hazard"  # a hazard listed or moved through its loop (一单四制)
    STATUS = "status"  # registered, suspended, resumed, scrapped, cancelled, transferred…


_STATUS_ACTIONS = frozenset(a.value for a in Action)


def kind_of(entity: str, action: str) -> ChangeKind:
    """The kind of an audit entry of the feed's entities (equipment, hazard)."""
    if entity == "hazard":
        return ChangeKind.HAZARD
    if action == "inspection":
        return ChangeKind.INSPECTION
    if action in _STATUS_ACTIONS:
        return ChangeKind.STATUS
    return ChangeKind.REGISTER


def parse_kinds(text: str) -> frozenset[ChangeKind]:
    """``"register,inspection"``: the kinds named; the empty text is none."""
    kinds: set[ChangeKind] = set()
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            kinds.add(ChangeKind(item))
        except ValueError as exc:
            raise InvalidValue(
                f"{item!r} is not a kind of change (register, inspection, hazard, status)",
                field="changes",
            ) from exc
    return frozenset(kinds)


def format_kinds(kinds: frozenset[ChangeKind]) -> str:
    return ",".join(k.value for k in ChangeKind if k in kinds)


_CURSOR = re.compile(r"(\d{1,19})-(\d{1,19})")
_MAX = 2**63 - 1


def parse_cursor(text: str) -> tuple[int, int]:
    """A cursor the feed gave out: ``"{txid}-{id}"`` (txid 0 on SQLite); "" the start."""
    if text == "":
        return 0, 0
    match = _CURSOR.fullmatch(text)
    if match is None or int(match.group(1)) > _MAX or int(match.group(2)) > _MAX:
        raise InvalidValue("not a cursor this feed gave out", field="since")
    return int(match.group(1)), int(match.group(2))


def format_cursor(txid: int, entry_id: int) -> str:
    return f"{txid}-{entry_id}"
