"""Unfinished guided conversations, sealed with the account's data key.

A turn reads its conversation once and writes it once. ``load`` reads the
row and the account's data key id in one statement and remembers the key id
in the unit of work; ``save`` then updates the row in one statement, which
checks that the account still has that key (so nothing is sealed under a
key that was destroyed or never committed). Anything else (no row yet, no
key yet, no load in this unit) takes the full path: lock the account, make
its key if it has none, insert or update.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, bindparam, delete, exists, func, select, update

from storage.errors import NotFound
from storage.models import Account as AccountRow
from storage.models import Conversation as ConversationRow
from storage.records import Conversation
from storage.repos.base import Repository, current_unit, open_json, rowcount, seal_json

_TABLE = "conversations"
_CONVERSATIONS: Table = ConversationRow.__table__  # type: ignore[assignment]
_ACCOUNTS: Table = AccountRow.__table__  # type: ignore[assignment]
_C, _A = _CONVERSATIONS.c, _ACCOUNTS.c
# Built once: SQLAlchemy caches their compiled form, a turn only binds values.
_LOAD = (
    select(_C.state, _C.data_enc, _C.updated_at, _A.data_key_id)
    .select_from(_CONVERSATIONS.join(_ACCOUNTS, _A.id == _C.account_id))
    .where(_C.account_id == bindparam("account_id"))
)
_UPDATE_KEYED = (
    update(_CONVERSATIONS)
    .where(
        _C.account_id == bindparam("acct"),
        exists().where(and_(_A.id == bindparam("acct"), _A.data_key_id == bindparam("key"))),
    )
    # Bind names differ from the columns' (SQLAlchemy reserves those in an UPDATE).
    .values(
        state=bindparam("new_state"), data_enc=bindparam("new_data"), updated_at=bindparam("at")
    )
)


def _memo_key(account_id: int) -> tuple[str, int]:
    return (_TABLE, account_id)


class Conversations(Repository):
    async def load(self, account_id: int) -> Conversation | None:
        async with self._store.read() as session:
            row = (await session.execute(_LOAD, {"account_id": account_id})).one_or_none()
            if row is None:
                return None
            key = await self._vault.key(session, row.data_key_id)
            data = open_json(key, _TABLE, "data", account_id, row.data_enc)
            unit = current_unit()
            if unit is not None and unit.session is session:
                unit.memo[_memo_key(account_id)] = row.data_key_id
            return Conversation(account_id, row.state, data, row.updated_at)

    async def save(self, account_id: int, state: str, data: dict[str, Any]) -> Conversation:
        """Store the conversation's state; ``data`` must be JSON-serialisable."""
        now = self._store.now()
        async with self._store.write(savepoint=False) as session:
            unit = current_unit()
            key_id = unit.memo.get(_memo_key(account_id)) if unit is not None else None
            if key_id is not None:
                # The row and the key this unit loaded: one UPDATE, which
                # changes nothing unless the account still holds that key.
                key = await self._vault.key(session, key_id)
                sealed = seal_json(key, _TABLE, "data", account_id, data)
                params = {"acct": account_id, "key": key_id, "new_state": state}
                result = await session.execute(
                    _UPDATE_KEYED, {**params, "new_data": sealed, "at": now}
                )
                if rowcount(result) == 1:
                    return Conversation(account_id, state, data, now)
            return await self._save_full(session, account_id, state, data, now)

    async def _save_full(
        self, session: Any, account_id: int, state: str, data: dict[str, Any], now: datetime
    ) -> Conversation:
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
                ConversationRow(account_id=account_id, state=state, data_enc=sealed, updated_at=now)
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
