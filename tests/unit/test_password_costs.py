"""argon2id's costs are a setting: production keeps argon2-cffi's RFC 9106 low-memory
profile; the suite runs at the cheapest costs argon2 allows (tests/conftest.py)."""

from __future__ import annotations

import pytest
from argon2 import profiles

from equipment.settings import PasswordSettings, settings_from_env


def test_the_product_default_is_the_rfc_9106_low_memory_profile():
    default = settings_from_env({}).passwords
    strong = profiles.RFC_9106_LOW_MEMORY
    assert (default.time_cost, default.memory_kib, default.parallelism) == (
        strong.time_cost,
        strong.memory_cost,
        strong.parallelism,
    )
    assert default == PasswordSettings()


def test_the_costs_are_read_from_the_environment():
    read = settings_from_env(
        {
            "SEREG_ARGON2_TIME_COST": "4",
            "SEREG_ARGON2_MEMORY_KIB": "131072",
            "SEREG_ARGON2_PARALLELISM": "2",
        }
    ).passwords
    assert read == PasswordSettings(time_cost=4, memory_kib=131072, parallelism=2)


@pytest.mark.parametrize(
    "env",
    [
        {"SEREG_ARGON2_TIME_COST": "0"},
        {"SEREG_ARGON2_PARALLELISM": "0"},
        {"SEREG_ARGON2_MEMORY_KIB": "4"},
        {"SEREG_ARGON2_MEMORY_KIB": "16", "SEREG_ARGON2_PARALLELISM": "4"},
        {"SEREG_ARGON2_TIME_COST": "many"},
    ],
)
def test_costs_below_argon2s_floor_are_refused_at_start(env):
    with pytest.raises(ValueError, match=r"argon2|SEREG_ARGON2"):
        settings_from_env(env)
