"""Small secrets of the bot itself, sealed at rest (``db.bot_secrets``).

The Matrix transport keeps here the key its end-to-end encryption store is
pickled with and its cross-signing seeds: losing them means undecryptable
messages, leaking them means impersonation, so each has its own data key
and is bound to its name.
"""

from __future__ import annotations

from sqlalchemy import delete

from storage.models import BotSecret
from storage.repos.base import Repository, open_bytes, rowcount, seal_bytes

_TABLE = "bot_secrets"


class BotSecrets(Repository):
    async def get(self, name: str) -> bytes | None:
        async with self._store.read() as session:
            row = await session.get(BotSecret, name)
            if row is None:
                return None
            key = await self._vault.key(session, row.data_key_id)
            return open_bytes(key, _TABLE, "value", name, row.value_enc)

    async def put(self, name: str, value: bytes) -> None:
        """Store or replace the secret ``name``."""
        now = self._store.now()
        async with self._store.write() as session:
            row = await session.get(BotSecret, name, with_for_update=True)
            if row is None:
                key_id, key = await self._vault.new_key(session, now)
                row = BotSecret(name=name, data_key_id=key_id, created_at=now)
                session.add(row)
            else:
                key = await self._vault.key(session, row.data_key_id)
            row.value_enc = seal_bytes(key, _TABLE, "value", name, value)
            row.updated_at = now

    async def delete(self, name: str) -> bool:
        async with self._store.write() as session:
            row = await session.get(BotSecret, name)
            if row is None:
                return False
            key_id = row.data_key_id
            result = await session.execute(delete(BotSecret).where(BotSecret.name == name))
            await self._vault.destroy(session, [key_id])
            return rowcount(result) > 0
