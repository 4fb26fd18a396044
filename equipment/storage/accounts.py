"""People's accounts, their server-side sessions and the login throttle's failures:
every table access of equipment.services.accounts."""

from __future__ import annotations

from datetime import datetime

import msgspec

from equipment.storage import db
from equipment.storage.tables import Account, LoginFailure, Organisation, WebSession


class NewAccount(msgspec.Struct, frozen=True):
    username: str
    password_hash: str
    role: str
    organisation: int | None
    jurisdiction: str
    created_at: datetime


class AccountRecord(msgspec.Struct, frozen=True):
    """An account's public columns (never its password hash)."""

    id: int
    username: str
    role: str
    organisation: int | None
    jurisdiction: str
    created_at: datetime
    disabled_at: datetime | None


class AccountListing(msgspec.Struct, frozen=True):
    """An account as the account list shows it, with its organisation's name."""

    id: int
    username: str
    role: str
    organisation: int | None
    jurisdiction: str
    created_at: datetime
    disabled_at: datetime | None
    org_name: str | None


class LoginAccount(msgspec.Struct, frozen=True):
    """What a login checks the password against and acts as."""

    id: int
    password_hash: str
    role: str
    organisation: int | None
    jurisdiction: str
    disabled_at: datetime | None


class NewSession(msgspec.Struct, frozen=True):
    id_hash: str
    account: int
    csrf: str
    created_at: datetime
    expires_at: datetime


_LIVE_SESSION_SQL = (
    "SELECT s.csrf, a.id, a.username, a.role, a.organisation, a.jurisdiction"
    " FROM web_session s JOIN account a ON a.id = s.account"
    " WHERE s.id_hash = $1 AND s.ended_at IS NULL AND s.expires_at > $2"
    " AND a.disabled_at IS NULL"
)


class LiveSession(msgspec.Struct, frozen=True):
    """A live session with its enabled account, as a request reads it."""

    csrf: str
    id: int
    username: str
    role: str
    organisation: int | None
    jurisdiction: str


class OrganisationChoice(msgspec.Struct, frozen=True):
    id: int
    kind: str
    name: str


_PUBLIC_COLUMNS = (
    Account.id,
    Account.username,
    Account.role,
    Account.organisation,
    Account.jurisdiction,
    Account.created_at,
    Account.disabled_at,
)


class AccountRepository:
    async def username_taken(self, username: str) -> bool:
        return bool(await Account.exists().where(Account.username == username))

    async def add(self, account: NewAccount) -> AccountRecord:
        [row] = await Account.insert(
            Account(
                username=account.username,
                password_hash=account.password_hash,
                role=account.role,
                organisation=account.organisation,
                jurisdiction=account.jurisdiction,
                created_at=account.created_at,
            )
        ).returning(*_PUBLIC_COLUMNS)
        return msgspec.convert(row, AccountRecord, strict=False)

    async def disable(self, username: str, now: datetime) -> int | None:
        """Disable the active account named ``username``: its id, None when there is none."""
        updated = (
            await Account.update({Account.disabled_at: now})
            .where(Account.username == username, Account.disabled_at.is_null())
            .returning(Account.id)
        )
        return int(updated[0]["id"]) if updated else None

    async def listing(self) -> list[AccountListing]:
        rows = await Account.select(
            *_PUBLIC_COLUMNS, Account.organisation.name.as_alias("org_name")
        ).order_by(Account.username)
        return [msgspec.convert(row, AccountListing, strict=False) for row in rows]

    async def for_login(self, username: str) -> LoginAccount | None:
        row = (
            await Account.select(
                Account.id,
                Account.password_hash,
                Account.role,
                Account.organisation,
                Account.jurisdiction,
                Account.disabled_at,
            )
            .where(Account.username == username)
            .first()
        )
        return None if row is None else msgspec.convert(row, LoginAccount, strict=False)

    async def set_password_hash(self, account_id: int, password_hash: str) -> None:
        await Account.update({Account.password_hash: password_hash}).where(Account.id == account_id)

    async def organisation_choices(self) -> list[OrganisationChoice]:
        """Every organisation's id, kind and name, by kind and name."""
        rows = await Organisation.select(
            Organisation.id, Organisation.kind, Organisation.name
        ).order_by(Organisation.kind, Organisation.name)
        return [msgspec.convert(row, OrganisationChoice, strict=False) for row in rows]


class LoginFailureRepository:
    async def count_for_username(self, username: str, since: datetime) -> int:
        return int(
            await LoginFailure.count().where(
                LoginFailure.username == username, LoginFailure.at > since
            )
        )

    async def count_from_client(self, client: str, since: datetime) -> int:
        return int(
            await LoginFailure.count().where(LoginFailure.client == client, LoginFailure.at > since)
        )

    async def add(
        self, username: str, client: str, at: datetime, *, forget_before: datetime
    ) -> None:
        """Record a failure, deleting those at or before ``forget_before`` (the throttle no
        longer counts them, so the table stays as small as its window)."""
        await LoginFailure.delete().where(LoginFailure.at <= forget_before)
        await LoginFailure.insert(LoginFailure(username=username, client=client, at=at))


class SessionRepository:
    async def add(self, session: NewSession) -> None:
        await WebSession.insert(
            WebSession(
                id_hash=session.id_hash,
                account=session.account,
                csrf=session.csrf,
                created_at=session.created_at,
                expires_at=session.expires_at,
            )
        )

    async def live(self, id_hash: str, now: datetime) -> LiveSession | None:
        """The live session with this digest and its enabled account: one indexed read,
        its text fixed (prepared once per connection): every staff page request makes it,
        and Piccolo's build of the same join cost more CPU than the rest of the read."""
        async with db.reader() as bulk:
            rows = await bulk.rows(_LIVE_SESSION_SQL, id_hash, now)
        return None if not rows else msgspec.convert(dict(rows[0]), LiveSession, strict=False)

    async def end(self, id_hash: str, now: datetime) -> None:
        await WebSession.update({WebSession.ended_at: now}).where(
            WebSession.id_hash == id_hash, WebSession.ended_at.is_null()
        )

    async def end_all_of(self, account_id: int, now: datetime) -> None:
        await WebSession.update({WebSession.ended_at: now}).where(
            WebSession.account == account_id, WebSession.ended_at.is_null()
        )
