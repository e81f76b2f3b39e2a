"""Password hashing (argon2id) and the SCRAM keys stored beside each hash.

Hashing costs tens of milliseconds of CPU by design, so it runs in a thread;
the cost is a setting (`[directory] argon2_*`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import Mapping

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from roost.core.config import DirectorySettings
from roost.proto.sasl.credentials import (
    ScramAlgorithm,
    ScramCredentials,
    derive_all_scram_credentials,
)

GENERATED_PASSWORD_BYTES = 15  # 20 characters of URL-safe base64, 120 bits


def generate_password() -> str:
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


class Passwords:
    def __init__(self, settings: DirectorySettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        self._iterations = settings.scram_iterations
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def hash_with_scram(self, password: str) -> tuple[str, str]:
        """The argon2id hash and the SCRAM keys (as stored JSON) of a password."""
        return await asyncio.to_thread(self._hash_with_scram, password)

    def _hash_with_scram(self, password: str) -> tuple[str, str]:
        credentials = derive_all_scram_credentials(password, iterations=self._iterations)
        return self._hasher.hash(password), encode_scram(credentials)

    async def verify(self, stored_hash: str, password: str) -> bool:
        return await asyncio.to_thread(self._verify, stored_hash, password)

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            return bool(self._hasher.verify(stored_hash, password))
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return bool(self._hasher.check_needs_rehash(stored_hash))
        except InvalidHashError:
            return True

    async def waste_time(self, password: str) -> None:
        """Spend what a real check costs, so unknown users do not answer faster."""
        if self._dummy is None:
            self._dummy = await self.hash(generate_password())
        await self.verify(self._dummy, password)


def encode_scram(credentials: Mapping[ScramAlgorithm, ScramCredentials]) -> str:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    return json.dumps(
        {
            algorithm.value: {
                "salt": b64(c.salt),
                "i": c.iterations,
                "stored_key": b64(c.stored_key),
                "server_key": b64(c.server_key),
            }
            for algorithm, c in credentials.items()
        },
        sort_keys=True,
    )


def decode_scram(text: str, algorithm: ScramAlgorithm) -> ScramCredentials | None:
    try:
        item = json.loads(text).get(algorithm.value)
        if item is None:
            return None
        return ScramCredentials(
            salt=base64.b64decode(item["salt"]),
            iterations=int(item["i"]),
            stored_key=base64.b64decode(item["stored_key"]),
            server_key=base64.b64decode(item["server_key"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
