"""Stored password hashes carry the argon2id costs installed by the bootstrap (the suite's
cheap ones here, tests/conftest.py); a hash made at other costs still lets its owner in
and is rehashed at the installed costs on that login."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, extract_parameters

from equipment.domain.access import SYSTEM, Role
from equipment.domain.errors import Unauthenticated
from equipment.services import accounts, clock
from equipment.storage.tables import Account
from tests.conftest import TEST_PASSWORDS

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"


def costs(password_hash: str) -> tuple[int, int, int]:
    made = extract_parameters(password_hash)
    return made.time_cost, made.memory_cost, made.parallelism


async def stored_hash(username: str) -> str:
    row = await Account.select(Account.password_hash).where(Account.username == username).first()
    return row["password_hash"]


async def test_a_hash_is_made_at_the_installed_costs_and_an_old_one_is_rehashed(engine, boot):
    cheap = (TEST_PASSWORDS.time_cost, TEST_PASSWORDS.memory_kib, TEST_PASSWORDS.parallelism)
    await accounts.create_account(
        SYSTEM, username="hash-costs", password=PASSWORD, role=Role.ADMIN,
        organisation_id=None, jurisdiction=None, now=clock.now(),
    )  # fmt: skip
    assert costs(await stored_hash("hash-costs")) == cheap
    # An account hashed at other costs (as before a change of the costs); kept low, as the
    # suite's are, but not the installed ones.
    strong = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1).hash(PASSWORD)
    await Account.update({Account.password_hash: strong}).where(Account.username == "hash-costs")
    with pytest.raises(Unauthenticated):
        await accounts.login("hash-costs", "wrong horse battery", client="t", now=clock.now())
    assert await stored_hash("hash-costs") == strong
    await accounts.login("hash-costs", PASSWORD, client="t", now=clock.now())
    assert costs(await stored_hash("hash-costs")) == cheap
    # An unknown user name is refused like a wrong password.
    with pytest.raises(Unauthenticated):
        await accounts.login("nobody-here", PASSWORD, client="t", now=clock.now())
