"""Unfinished guided conversations, sealed with the account's data key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select

from storage.errors import NotFound
from storage.models import Account as AccountRow
from storage.models import Conversation as ConversationRow
from storage.records import Conversation
from storage.repos.base import Repository, open_json, rowcount, seal_json

_TABLE = "conversations"


class Conversations(Repository):
    async def load(self, account_id: int) -> Conversation | None:
        async with self._store.read() as session:
            row = await session.get(ConversationRow, account_id)
            if row is None:
                return None
            key_id = await session.scalar(
                select(AccountRow.data_key_id).where(AccountRow.id == account_id)
            )
            key = await self._vault.key(session, key_id)
            data = open_json(key, _TABLE, "data", account_id, row.data_enc)
            return Conversation(account_id, row.state, data, row.updated_at)

    async def save(self, account_id: int, state: str, data: dict[str, Any]) -> Conversation:
        """Store the conversation's state; ``data`` must be JSON-serialisable."""
        now = self._store.now()
        async with self._store.write(savepoint=False) as session:
            account = await session.get(AccountRow, account_id, with_for_update=True)
            if account is None:
                raise NotFound("no such account")
            if account.data_key_id is None:
                account.data_key_id, key = await self._vault.new_key(session, now)
            else:
                key = await self._vault.key(session, account.data_key_id)
            sealed = seal_json(key, _TABLE, "data", account_id, data)
            row = await session.get(ConversationRow, account_id)
            if row is None:
                session.add(
                    ConversationRow(
                        account_id=account_id, state=state, data_enc=sealed, updated_at=now
                    )
                )
            else:
                row.state, row.data_enc, row.updated_at = state, sealed, now
            return Conversation(account_id, state, data, now)

    async def delete(self, account_id: int) -> bool:
        async with self._store.write() as session:
            result = await session.execute(
                delete(ConversationRow).where(ConversationRow.account_id == account_id)
            )
        if rowcount(result):
            # The draft's earlier versions are in the -wal.
            await self._store.checkpoint_after_commit()
        return rowcount(result) > 0

    async def oldest_update(self) -> datetime | None:
        """When the least recently touched conversation was touched (the next to expire)."""
        async with self._store.read() as session:
            return await session.scalar(select(func.min(ConversationRow.updated_at)))

    async def purge_older_than(self, cutoff: datetime) -> int:
        """Erase conversations untouched since ``cutoff`` (abandoned drafts)."""
        async with self._store.write() as session:
            result = await session.execute(
                delete(ConversationRow).where(ConversationRow.updated_at <= cutoff)
            )
        if rowcount(result):
            await self._store.checkpoint_after_commit()
        return rowcount(result)
