"""Bearer tokens: made once, shown once, stored only as a SHA-256 digest."""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import datetime

import msgspec

from equipment.domain.access import (
    ROLE_ORG_KIND,
    ROLES_NEEDING_ORG,
    Jurisdiction,
    Principal,
    Role,
    check_jurisdiction,
)
from equipment.domain.errors import InvalidValue, NotFound
from equipment.services import audit
from equipment.services.organisations import require_kind
from equipment.storage import reads, unit_of_work
from equipment.storage.tokens import CreatedToken, NewToken, TokenRecord

TOKEN_PREFIX = "sereg_"


def digest(token: str) -> str:
    # 256 random bits need no slow hash: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(
    principal: Principal,
    *,
    role: Role,
    organisation_id: int | None,
    label: str,
    now: datetime,
    jurisdiction: Jurisdiction | None = None,
) -> tuple[str, CreatedToken]:
    """A new token for ``role`` (bound to ``organisation_id`` where the role needs one,
    and an inspector's to ``jurisdiction`` if given)."""
    check_jurisdiction(role, jurisdiction)
    expected_kind = ROLE_ORG_KIND[role]
    if role in ROLES_NEEDING_ORG and organisation_id is None:
        raise InvalidValue(f"a {role.value} token must name its organisation", field="org")
    if organisation_id is not None:
        if expected_kind is None:
            raise InvalidValue(f"an {role.value} token belongs to no organisation", field="org")
        await require_kind(organisation_id, expected_kind, field="org")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with unit_of_work() as uow:
        row = await uow.tokens.add(
            NewToken(
                token_hash=digest(token),
                prefix=token[: len(TOKEN_PREFIX) + 6],
                role=role.value,
                organisation=organisation_id,
                label=label,
                created_at=now,
                jurisdiction=str(jurisdiction) if jurisdiction else "",
            )
        )
        await audit.record(
            principal,
            entity="api_token",
            entity_id=row.id,
            action="create",
            at=now,
            before=None,
            after=msgspec.structs.asdict(row),
        )
    return token, row


async def revoke_token(principal: Principal, token_id: int, *, now: datetime) -> None:
    async with unit_of_work() as uow:
        if not await uow.tokens.revoke(token_id, now):
            raise NotFound(f"no live token with id {token_id}")
        forget_cached()
        await audit.record(
            principal,
            entity="api_token",
            entity_id=token_id,
            action="revoke",
            at=now,
            before=None,
            after={"revoked_at": now},
        )


async def list_tokens() -> list[TokenRecord]:
    return await reads().tokens.all()


# Every request presents a token: remembering answers for a few seconds saves a database
# round trip per request. A revocation takes effect at once in the process that made it
# and within CACHE_SECONDS in the other workers.
CACHE_SECONDS = 5.0
CACHE_SIZE = 10_000
_cache: dict[str, tuple[float, Principal | None]] = {}


def forget_cached() -> None:
    _cache.clear()


async def principal_for(token: str) -> Principal | None:
    """The caller a presented token stands for, or None if unknown or revoked."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    key = digest(token)
    now = time.monotonic()
    cached = _cache.get(key)
    if cached is not None and cached[0] > now:
        return cached[1]
    grant = await reads().tokens.live_grant(key)
    principal = (
        None
        if grant is None
        else Principal(
            Role(grant.role),
            grant.organisation,
            grant.id,
            jurisdiction=Jurisdiction.parse(grant.jurisdiction),
        )
    )
    if len(_cache) >= CACHE_SIZE:
        _cache.clear()
    _cache[key] = (now + CACHE_SECONDS, principal)
    return principal
