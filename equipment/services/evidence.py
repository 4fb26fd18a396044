"""Evidence files (photos, documents) of hazards and supervision checks: the one upload.

Both owners take a file the same way: its type told by its content and within the
evidence size limit (``equipment.domain.evidence``: the same refusals, in the caller's
language through the catalogue), stored under a key made here, never a name a client
sent (``equipment.services.evidence_store``: the same local directory or bucket), then
named by a row the owner's repository writes, with its audit entry, in one transaction.
The owners differ only in their scope checks and in the table that holds the row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

import msgspec

from equipment.domain import evidence as rules
from equipment.domain.access import Principal
from equipment.services import audit
from equipment.services.evidence_store import EvidenceStore, new_key
from equipment.storage import unit_of_work

Row = TypeVar("Row", bound=msgspec.Struct)


@dataclass(frozen=True)
class Owner:
    """What a file belongs to: its key's kind and id, and the audit trail's entity."""

    kind: Literal["hazard", "check"]
    id: int
    entity: str  # the audit trail's name of the owner ("hazard", "supervision_check")


@dataclass(frozen=True)
class Accepted:
    """A file the rules take, with the media type its content says it is."""

    data: bytes
    media_type: str


def accept(data: bytes, *, max_bytes: int) -> Accepted:
    """``data`` as an evidence file: JPEG, PNG or PDF by its content, not empty and at most
    ``max_bytes``; InvalidValue (field ``file``) otherwise."""
    return Accepted(data, rules.check(data, max_bytes))


async def attach(
    principal: Principal,
    owner: Owner,
    file: Accepted,
    *,
    store: EvidenceStore,
    now: datetime,
    insert: Callable[[dict[str, Any]], Awaitable[Row]],
) -> Row:
    """Store ``file`` for ``owner`` and name it by the row ``insert`` writes from the
    fields given to it (key, media type, size, SHA-256, who and when; the owner adds its
    own), audited as the owner's ``evidence`` action.

    The file first: a row never names a file that is not there (a failed insert leaves an
    unnamed file behind, which nobody can reach).
    """
    key = new_key(owner.id, rules.extension(file.media_type), kind=owner.kind)
    await store.put(key, file.data, file.media_type)
    async with unit_of_work():
        row = await insert(
            {
                "key": key,
                "media_type": file.media_type,
                "size": len(file.data),
                "sha256": hashlib.sha256(file.data).hexdigest(),
                "uploaded_by": principal.actor,
                "uploaded_at": now,
            }
        )
        await audit.record(
            principal,
            entity=owner.entity,
            entity_id=owner.id,
            action="evidence",
            at=now,
            before=None,
            after=msgspec.structs.asdict(row),
        )
    return row


def file_name(prefix: str, row_id: int, key: str) -> str:
    """The download's file name: ``<prefix>-<id>.<the key's extension>``."""
    return f"{prefix}-{row_id}.{key.rsplit('.', 1)[1]}"
