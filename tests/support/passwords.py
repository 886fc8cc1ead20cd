"""Cheap password hashing for the tests; production keeps argon2's default cost.

Every seeded staffer and every log-in hashes or verifies a password once. At argon2's default
cost (RFC 9106's low-memory profile: 3 passes over 64 MiB) that is most of a server test's
time, and what it buys (resistance to offline guessing) is nothing a test checks. The hash is
still argon2id, and it still has to verify: only its parameters are minimal.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher

from store_server.accounts import auth

# argon2's smallest parameters: one pass over 8 KiB, one lane.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@dataclass(frozen=True)
class ProductionHashing:
    """What the server module had before the tests swapped it, kept for the test that checks
    production's parameters."""

    hasher: PasswordHasher
    dummy_hash: str


@contextmanager
def cheap_password_hashing() -> Iterator[ProductionHashing]:
    """Hash and verify with CHEAP_HASHER in this process until the block ends.

    The unknown-e-mail hash is swapped too, so that log-in stays as slow as a wrong password
    (now both cheap). Servers started as processes (bench/stack.py) keep production's cost.
    """
    production = ProductionHashing(auth.password_hasher, auth._DUMMY_HASH)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auth, "password_hasher", CHEAP_HASHER)
        patch.setattr(auth, "_DUMMY_HASH", CHEAP_HASHER.hash(secrets.token_hex(16)))
        yield production
