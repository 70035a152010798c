"""Data keys in the database: create, unwrap (cached), destroy.

The vault sits between the pure crypto and the repositories. It knows the
master keys this process holds (a ``Keyring``), can ask a ``key_loader`` for
more when it meets a key id it does not know (a rotation happened while the
process ran), and follows the database's choice of primary master key for
every new data key, so a rotation never strands records under a key that is
about to be retired.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import Table, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable, Insert

from storage.crypto import IndexKeys, Keyring, random_key
from storage.errors import DecryptionError, RotationPending, StorageError, UnknownMasterKey
from storage.models import DataKey, KeyringState
from storage.types import new_id

KeyLoader = Callable[[], Iterable[bytes]]
INDEX_KEY_NAME = "index"
KEYRING_ROW = 1

# Statements every turn runs, built once (SQLAlchemy caches their compiled form).
_KEYS: Table = DataKey.__table__  # type: ignore[assignment]
_PRIMARY = (
    select(KeyringState.__table__.c.primary_key_id)
    .where(KeyringState.__table__.c.id == KEYRING_ROW)
    .with_for_update(read=True)
)
_INSERT_KEY = insert(_KEYS)
_PRIMARY_INFO = "sosbot_primary_key"
_DATA_KEYS = _KEYS.c
_WRAPPED = select(_DATA_KEYS.master_key_id, _DATA_KEYS.wrapped).where(
    _DATA_KEYS.id == bindparam("id")
)


class Vault:
    def __init__(
        self, keyring: Keyring, key_loader: KeyLoader | None = None, cache_size: int = 4096
    ) -> None:
        self.keyring = keyring
        self._loader = key_loader
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._cache_size = cache_size
        self._index: IndexKeys | None = None

    @property
    def index(self) -> IndexKeys:
        if self._index is None:
            raise StorageError("the vault is not open")
        return self._index

    # ------------------------------------------------------------ master keys
    def reload_keys(self) -> bool:
        """Ask the key loader for master keys; True if it brought a new one."""
        if self._loader is None:
            return False
        return bool(self.keyring.add(self._loader()))

    def unwrap(self, master_key_id: str, wrapped: bytes, data_key_id: int) -> bytes:
        if master_key_id not in self.keyring:
            self.reload_keys()
        return self.keyring.unwrap(master_key_id, wrapped, data_key_id)

    async def primary_key_id(self, session: AsyncSession) -> str:
        """The master key that wraps new data keys, read (and share-locked) in this transaction.

        A rotation updates this row first; the share lock makes it wait for
        every transaction still wrapping under the old key, so the rotation's
        sweep sees all of them.
        """
        # SQLite: a write transaction holds the database's one write lock from
        # BEGIN IMMEDIATE to its commit, so no rotation can change this row in
        # between: read it once per transaction (group-committed turns share
        # one). PostgreSQL reads (and share-locks) it every time, as a lock
        # taken in a savepoint is released if that savepoint rolls back.
        transaction = session.sync_session.get_transaction()
        sqlite = session.bind is not None and session.bind.dialect.name == "sqlite"
        known = session.info.get(_PRIMARY_INFO) if sqlite else None
        if known is not None and known[0] is transaction and known[1] in self.keyring:
            return str(known[1])
        primary: str = (await session.execute(_PRIMARY)).scalar_one()
        if sqlite:
            session.info[_PRIMARY_INFO] = (transaction, primary)
        if primary not in self.keyring:
            self.reload_keys()
        if primary not in self.keyring:
            raise RotationPending(
                f"the master key was rotated to key {primary}, which this process does not "
                "hold; restart it with the new key file"
            )
        return primary

    # -------------------------------------------------------------- data keys
    async def new_key(self, session: AsyncSession, now: datetime) -> tuple[int, bytes]:
        """Create, wrap and store a fresh data key; return its id and the key."""
        primary = await self.primary_key_id(session)
        key, key_id = random_key(), new_id()
        await session.execute(
            _INSERT_KEY,
            {
                "id": key_id,
                "master_key_id": primary,
                "wrapped": self.keyring.wrap(primary, key, key_id),
                "name": None,
                "created_at": now,
            },
        )
        self._remember(key_id, key)
        return key_id, key

    def _insert_key(
        self, primary: str, key: bytes, key_id: int, name: str | None, now: datetime
    ) -> Insert:
        """The row of data key ``key_id``, stored wrapped under master key ``primary``."""
        return insert(DataKey).values(
            id=key_id,
            master_key_id=primary,
            wrapped=self.keyring.wrap(primary, key, key_id),
            name=name,
            created_at=now,
        )

    async def key(self, session: AsyncSession, data_key_id: int | None) -> bytes:
        """The plaintext data key ``data_key_id`` (cached after the first unwrap)."""
        if data_key_id is None:
            raise DecryptionError("this record's data key was destroyed")
        cached = self._cache.get(data_key_id)
        if cached is not None:
            self._cache.move_to_end(data_key_id)
            return cached
        row = (await session.execute(_WRAPPED, {"id": data_key_id})).one_or_none()
        if row is None:
            raise DecryptionError("this record's data key is missing")
        key = self.unwrap(row.master_key_id, row.wrapped, data_key_id)
        self._remember(data_key_id, key)
        return key

    async def keys(
        self, session: AsyncSession, data_key_ids: Iterable[int | None]
    ) -> dict[int, bytes]:
        """The plaintext keys ``data_key_ids``, those not cached unwrapped with ONE
        query (a batch or a tally that opens thousands of records at once; the
        cache holds fewer). A destroyed key is simply absent."""
        wanted = {i for i in data_key_ids if i is not None}
        found = {i: self._cache[i] for i in wanted if i in self._cache}
        missing = wanted - found.keys()
        if missing:
            stmt = select(DataKey.id, DataKey.master_key_id, DataKey.wrapped).where(
                DataKey.id.in_(missing)
            )
            for key_id, master_key_id, wrapped in await session.execute(stmt):
                found[key_id] = self.unwrap(master_key_id, wrapped, key_id)
                self._remember(key_id, found[key_id])
        return found

    async def destroy(self, session: AsyncSession, data_key_ids: Iterable[int | None]) -> None:
        """Delete data keys: whatever they sealed can never be read again."""
        ids = [i for i in data_key_ids if i is not None]
        if not ids:
            return
        await session.execute(delete(DataKey).where(DataKey.id.in_(ids)))
        for key_id in ids:
            self._cache.pop(key_id, None)

    def holds(self, key_id: int) -> bool:
        """Whether data key ``key_id`` is in the cache (made or unwrapped, not destroyed)."""
        return key_id in self._cache

    def _remember(self, key_id: int, key: bytes) -> None:
        self._cache[key_id] = key
        self._cache.move_to_end(key_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    # ------------------------------------------------------------------ open
    async def open(self, session: AsyncSession, own_key_id: str, now: datetime) -> None:
        """Set up the keyring row and the index secret on first use, then load the index keys."""
        state = await session.get(KeyringState, KEYRING_ROW)
        if state is None:
            await _insert_once(
                session,
                insert(KeyringState).values(id=KEYRING_ROW, primary_key_id=own_key_id),
            )
        exists = await session.scalar(select(DataKey.id).where(DataKey.name == INDEX_KEY_NAME))
        if exists is None:
            primary = await self.primary_key_id(session)
            secret, key_id = random_key(), new_id()
            await _insert_once(
                session, self._insert_key(primary, secret, key_id, INDEX_KEY_NAME, now)
            )
        await self.load_index(session)

    async def load_index(self, session: AsyncSession) -> IndexKeys:
        """Unwrap the index secret (read-only); ``UnknownMasterKey`` if no key held opens it."""
        row = (
            await session.execute(
                select(DataKey.id, DataKey.master_key_id, DataKey.wrapped).where(
                    DataKey.name == INDEX_KEY_NAME
                )
            )
        ).one_or_none()
        if row is None:
            raise StorageError("the database has no index key yet; open it once with sosbot")
        try:
            secret = self.unwrap(row.master_key_id, row.wrapped, row.id)
        except UnknownMasterKey:
            raise
        except DecryptionError:
            raise DecryptionError(
                "the database's index key did not unwrap: the key material was altered"
            ) from None
        self._index = IndexKeys(secret)
        return self._index


async def _insert_once(session: AsyncSession, stmt: Executable) -> None:
    """Insert unless another process just did (the row is then read back by the caller)."""
    try:
        async with session.begin_nested():
            await session.execute(stmt)
    except IntegrityError:
        pass
