"""Opaque button tokens for Telegram callback data (64 bytes at most).

The token is random (``secrets``); only its SHA-256 is stored, with the
chat's keyed hash and the option key sealed. A token only resolves in the
chat it was issued to and until it expires.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, select

from storage.crypto import associated_data, seal, token_hash, unseal
from storage.models import CallbackToken
from storage.repos.base import Repository, rowcount

TOKEN_BYTES = 24  # 32 URL-safe characters


class CallbackTokens(Repository):
    async def issue(self, chat_address: str, key: str, ttl: timedelta) -> str:
        return (await self.issue_many(chat_address, [key], ttl))[0]

    async def issue_many(self, chat_address: str, keys: Sequence[str], ttl: timedelta) -> list[str]:
        """One token per key, in one transaction (all the buttons of a question)."""
        now = self._store.now()
        index = self._vault.index
        chat_hash = index.address_hash(chat_address)
        tokens = [secrets.token_urlsafe(TOKEN_BYTES) for _ in keys]
        async with self._store.write(savepoint=False) as session:
            for token, key in zip(tokens, keys, strict=True):
                hashed = token_hash(token)
                session.add(
                    CallbackToken(
                        token_hash=hashed,
                        chat_hash=chat_hash,
                        key_enc=seal(
                            index.system_key,
                            key.encode(),
                            associated_data("callback_tokens", "key", hashed),
                        ),
                        expires_at=now + ttl,
                        created_at=now,
                    )
                )
        return tokens

    async def resolve(self, token: str, chat_address: str) -> str | None:
        """The option key behind ``token``; None if unknown, expired or from another chat."""
        if not token or len(token) > 64:
            return None
        index = self._vault.index
        hashed = token_hash(token)
        async with self._store.read() as session:
            row = (
                await session.execute(
                    select(CallbackToken).where(CallbackToken.token_hash == hashed)
                )
            ).scalar_one_or_none()
            if row is None or row.expires_at <= self._store.now():
                return None
            if not secrets.compare_digest(row.chat_hash, index.address_hash(chat_address)):
                return None
            aad = associated_data("callback_tokens", "key", hashed)
            return unseal(index.system_key, row.key_enc, aad).decode()

    async def purge_expired(self) -> int:
        async with self._store.write() as session:
            result = await session.execute(
                delete(CallbackToken).where(CallbackToken.expires_at <= self._store.now())
            )
            return rowcount(result)
