"""Platform accounts, found by a keyed hash of their address."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import NotFound
from storage.models import Account as AccountRow
from storage.models import MemberGroup as GroupRow
from storage.records import Account
from storage.repos.base import Repository, open_text, rowcount, seal_text
from storage.types import new_id

_TABLE = "accounts"
_BY_HASH = select(AccountRow).where(AccountRow.address_hash == bindparam("h"))
_ACCOUNTS: Table = AccountRow.__table__  # type: ignore[assignment]
_LOOK_UP = select(_ACCOUNTS).where(_ACCOUNTS.c.address_hash == bindparam("h"))
"""Every turn looks its sender up: built once (SQLAlchemy caches the compiled
form), on the table where nothing is changed (no ORM object to load)."""


def _account(row: AccountRow | Row[Any]) -> Account:
    return Account(
        id=row.id,
        language=row.language or row.language_hint,
        active=row.active,
        created_at=row.created_at,
        language_chosen=row.language is not None,
    )


def _needs_refresh(row: AccountRow | Row[Any], language_hint: str | None) -> bool:
    return (
        not row.active
        or row.address_enc is None
        or bool(language_hint and language_hint != row.language_hint)
    )


class Accounts(Repository):
    async def get_or_create(self, address: str, language_hint: str | None = None) -> Account:
        """The account for ``address`` ("telegram:123"), created on first contact.

        Writing again makes an inactive account active; a new platform
        language hint is remembered (an explicit choice still wins).
        """
        now = self._store.now()
        address_hash = self._vault.index.address_hash(address)
        async with self._store.read() as session:  # the common case: nothing to change
            found = (await session.execute(_LOOK_UP, {"h": address_hash})).one_or_none()
            if found is not None and not _needs_refresh(found, language_hint):
                return _account(found)
        async with self._store.write() as session:
            row = await self._by_hash(session, address_hash)
            if row is None:
                row = await self._create(session, address, address_hash, language_hint, now)
            else:
                await self._refresh(session, row, address, language_hint, now)
            return _account(row)

    async def find(self, address: str) -> Account | None:
        address_hash = self._vault.index.address_hash(address)
        async with self._store.read() as session:
            row = await self._by_hash(session, address_hash)
            return None if row is None else _account(row)

    async def get(self, account_id: int) -> Account:
        async with self._store.read() as session:
            return _account(await self._row(session, account_id))

    async def set_language(self, account_id: int, language: str) -> Account:
        async with self._store.write() as session:
            row = await self._row(session, account_id)
            row.language = language
            row.updated_at = self._store.now()
            return _account(row)

    async def address_of(self, account_id: int) -> str:
        """The decrypted platform address; ``NotFound`` if unknown or erased by /forget."""
        async with self._store.read() as session:
            row = await self._row(session, account_id)
            if row.address_enc is None:
                raise NotFound("this account's address was erased")
            key = await self._vault.key(session, row.data_key_id)
            address = open_text(key, _TABLE, "address", row.id, row.address_enc)
            assert address is not None
            return address

    async def mark_inactive(self, address: str) -> bool:
        """The address blocked the bot or is gone: stop sending to it. False if unknown.

        Transports cannot tell a person from a member group, so a member
        group with this chat address is marked inactive too.
        """
        address_hash = self._vault.index.address_hash(address)
        now = self._store.now()
        async with self._store.write() as session:
            accounts = await session.execute(
                update(AccountRow)
                .where(AccountRow.address_hash == address_hash)
                .values(active=False, updated_at=now)
            )
            groups = await session.execute(
                update(GroupRow)
                .where(GroupRow.chat_hash == address_hash)
                .values(active=False, updated_at=now)
            )
            return rowcount(accounts) + rowcount(groups) > 0

    # -------------------------------------------------------------- internals
    @staticmethod
    async def _by_hash(session: AsyncSession, address_hash: str) -> AccountRow | None:
        return (await session.execute(_BY_HASH, {"h": address_hash})).scalar_one_or_none()

    @staticmethod
    async def _row(session: AsyncSession, account_id: int) -> AccountRow:
        row = await session.get(AccountRow, account_id)
        if row is None:
            raise NotFound("no such account")
        return row

    async def _create(
        self,
        session: AsyncSession,
        address: str,
        address_hash: str,
        language_hint: str | None,
        now: datetime,
    ) -> AccountRow:
        try:
            async with session.begin_nested():
                key_id, key = await self._vault.new_key(session, now)
                account_id = new_id()
                row = AccountRow(
                    id=account_id,
                    address_hash=address_hash,
                    address_enc=seal_text(key, _TABLE, "address", account_id, address),
                    data_key_id=key_id,
                    language=None,
                    language_hint=language_hint,
                    active=True,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                await session.flush()
                return row
        except IntegrityError:  # another process created it a moment ago
            existing = await self._by_hash(session, address_hash)
            if existing is None:
                raise
            return existing

    async def _refresh(
        self,
        session: AsyncSession,
        row: AccountRow,
        address: str,
        language_hint: str | None,
        now: datetime,
    ) -> None:
        changed = False
        if not row.active:
            row.active, changed = True, True
        if language_hint and language_hint != row.language_hint:
            row.language_hint, changed = language_hint, True
        if row.address_enc is None:  # erased by /forget, and the person is back
            if row.data_key_id is None:
                row.data_key_id, key = await self._vault.new_key(session, now)
            else:
                key = await self._vault.key(session, row.data_key_id)
            row.address_enc = seal_text(key, _TABLE, "address", row.id, address)
            changed = True
        if changed:
            row.updated_at = now
