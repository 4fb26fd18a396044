"""Bearer tokens (only their SHA-256 digest is kept): every table access of
equipment.services.tokens."""

from __future__ import annotations

from datetime import datetime

import msgspec

from equipment.storage.tables import ApiToken


class NewToken(msgspec.Struct, frozen=True):
    """A token to store: its digest and its shown prefix, never the token itself."""

    token_hash: str
    prefix: str
    role: str
    organisation: int | None
    label: str
    created_at: datetime
    jurisdiction: str


class CreatedToken(msgspec.Struct, frozen=True):
    """A stored token as its audit row records it (no digest)."""

    id: int
    prefix: str
    role: str
    organisation: int | None
    label: str
    created_at: datetime
    jurisdiction: str


class TokenRecord(msgspec.Struct, frozen=True):
    """A token as the token list shows it."""

    id: int
    prefix: str
    role: str
    organisation: int | None
    label: str
    created_at: datetime
    revoked_at: datetime | None


class TokenGrant(msgspec.Struct, frozen=True):
    """What a live token stands for: the principal is built from it."""

    id: int
    role: str
    organisation: int | None
    jurisdiction: str


class TokenRepository:
    async def add(self, token: NewToken) -> CreatedToken:
        [row] = await ApiToken.insert(
            ApiToken(
                token_hash=token.token_hash,
                prefix=token.prefix,
                role=token.role,
                organisation=token.organisation,
                label=token.label,
                created_at=token.created_at,
                jurisdiction=token.jurisdiction,
            )
        ).returning(
            ApiToken.id,
            ApiToken.prefix,
            ApiToken.role,
            ApiToken.organisation,
            ApiToken.label,
            ApiToken.created_at,
            ApiToken.jurisdiction,
        )
        return msgspec.convert(row, CreatedToken, strict=False)

    async def revoke(self, token_id: int, now: datetime) -> bool:
        """Revoke a live token; False when there is no live token with that id."""
        updated = (
            await ApiToken.update({ApiToken.revoked_at: now})
            .where(ApiToken.id == token_id, ApiToken.revoked_at.is_null())
            .returning(ApiToken.id)
        )
        return bool(updated)

    async def all(self) -> list[TokenRecord]:
        rows = await ApiToken.select(
            ApiToken.id,
            ApiToken.prefix,
            ApiToken.role,
            ApiToken.organisation,
            ApiToken.label,
            ApiToken.created_at,
            ApiToken.revoked_at,
        ).order_by(ApiToken.id)
        return [msgspec.convert(row, TokenRecord, strict=False) for row in rows]

    async def live_grant(self, token_hash: str) -> TokenGrant | None:
        """The live (unrevoked) token with this digest: one statement, every request."""
        row = (
            await ApiToken.select(
                ApiToken.id, ApiToken.role, ApiToken.organisation, ApiToken.jurisdiction
            )
            .where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_null())
            .first()
        )
        return None if row is None else msgspec.convert(row, TokenGrant, strict=False)
