"""HTTP handler of the changes feed (互联互通): thin, the service decides."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from msgspec import Struct

from equipment.api import api_docs
from equipment.api.controllers import Limit, page_limit
from equipment.domain.access import Principal
from equipment.domain.changes import parse_kinds
from equipment.services import changes


class Change(Struct):
    cursor: str  # this change's position: resume after it with ?since=
    kind: str  # register | inspection | hazard | status
    entity: str  # equipment | hazard
    entity_id: int
    action: str  # the audit trail's action: create, update, register, inspection, list…
    recorded_at: datetime
    actor: str | None  # the bureau's tokens see who; others null
    equipment_id: int
    equipment_code: str
    registration_code: str | None
    district_code: str
    before: Any
    after: Any


class ChangePage(Struct):
    items: list[Change]
    # Where to read on from, also when the page is empty or holds none of the kinds
    # asked for: keep it and ask again with ?since=.
    next_cursor: str


@get("/changes", responses=api_docs.READ, tags=("changes",))
async def change_feed(
    principal: NamedDependency[Principal],
    since: Annotated[
        str,
        QueryParameter(
            max_length=41,
            pattern=r"^([0-9]{1,19}-[0-9]{1,19})?$",
            description="a cursor this feed gave out (next_cursor or an item's cursor);"
            " empty: from the start",
        ),
    ] = "",
    kinds: Annotated[
        str | None,
        QueryParameter(
            name="kind",
            max_length=64,
            pattern=r"^[a-z,]*$",
            description="comma-separated: register, inspection, hazard, status (default all)",
        ),
    ] = None,
    limit: Limit = None,
) -> ChangePage:
    """The register's, inspections', hazards' and statuses' changes of the caller's units,
    oldest first, after ``since``. The order is commit-safe: a change that commits after
    one with a higher number is never skipped by a cursor (docs/changes.md)."""
    page = await changes.feed(
        principal,
        since,
        limit=page_limit(limit),
        kinds=None if kinds is None else parse_kinds(kinds),
    )
    with_actor = changes.shows_actor(principal)
    return ChangePage(
        [Change(**changes.fields(c, with_actor=with_actor)) for c in page.items],
        page.next_cursor,
    )
