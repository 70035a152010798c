"""``Database``: the storage layer's one entry point.

    db = await Database.open(url, master_key, clock.now)
    account = await db.accounts.get_or_create("telegram:123", "es")
    ...
    await db.close()

It builds the engine, checks that the schema is at head (refusing a
database migrated by a newer sosbot), opens the key vault and hands every
repository the same plumbing. Nothing is created at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from storage.batch import GroupCommit
from storage.crypto import Keyring, master_key_id
from storage.engine import READ_ONLY, is_sqlite, is_sqlite_memory, make_engine
from storage.errors import UnknownMasterKey, WrongMasterKey
from storage.migrate import require_head, upgrade_engine
from storage.records import OutboxItem
from storage.repos.accounts import Accounts
from storage.repos.advisors import Advisors
from storage.repos.appeal_notes import AppealNotes
from storage.repos.appeals import Appeals
from storage.repos.audit import Audit
from storage.repos.base import Now, Store, Unit
from storage.repos.casefile import Casefile
from storage.repos.cases import Cases
from storage.repos.checkins import Checkins
from storage.repos.conversations import Conversations
from storage.repos.deadlines import Deadlines
from storage.repos.health import Health
from storage.repos.members import Members
from storage.repos.outbox import Outbox
from storage.repos.partners import Partners
from storage.repos.proposals import Proposals
from storage.repos.secrets import BotSecrets
from storage.repos.signatures import Signatures
from storage.repos.stats import Stats
from storage.repos.subscriptions import Subscriptions
from storage.repos.tokens import CallbackTokens
from storage.vault import KeyLoader, Vault

T = TypeVar("T")


class Database:
    accounts: Accounts
    conversations: Conversations
    cases: Cases
    audit: Audit
    deadlines: Deadlines
    tokens: CallbackTokens
    members: Members
    appeals: Appeals
    outbox: Outbox
    bot_secrets: BotSecrets
    health: Health
    advisors: Advisors
    casefile: Casefile
    partners: Partners
    stats: Stats

    def __init__(self, engine: AsyncEngine, store: Store) -> None:
        self._engine = engine
        self._store = store
        self.accounts = Accounts(store)
        self.conversations = Conversations(store)
        self.cases = Cases(store)
        self.checkins = Checkins(store)
        self.audit = Audit(store)
        self.deadlines = Deadlines(store)
        self.tokens = CallbackTokens(store)
        self.members = Members(store)
        self.appeals = Appeals(store)
        self.appeal_notes = AppealNotes(store)
        self.proposals = Proposals(store)
        self.subscriptions = Subscriptions(store)
        self.outbox = Outbox(store)
        self.bot_secrets = BotSecrets(store)
        self.health = Health(store)
        self.advisors = Advisors(store)
        self.casefile = Casefile(store)
        self.partners = Partners(store)
        self.stats = Stats(store)
        self.signatures = Signatures(store)
        self.group_commit = GroupCommit(store)

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` (one turn) as one unit of work, group-committed with
        concurrent turns; returns once what it did is durable. Every
        repository call inside takes part in the same transaction."""
        return await self.group_commit.run(work)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Unit]:
        """One unit of work of its own (not group-committed): CLI and maintenance."""
        async with self._store.unit() as unit:
            yield unit

    def on_posted(self, callback: Callable[[str, Sequence[OutboxItem]], None] | None) -> None:
        """``callback(platform, items)`` after each commit that queued messages for
        ``platform``; ``items`` are those messages where the unit had them at hand
        (a turn's replies, cards, notices), else empty (the dispatcher reads them)."""
        self._store.posted = callback

    def on_scheduled(self, callback: Callable[[datetime], None] | None) -> None:
        """``callback(due_at)`` after each commit that set a deadline."""
        self._store.scheduled = callback

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the current unit of work is durable (at once if none)."""
        self._store.after_commit(callback)

    @classmethod
    async def open(
        cls,
        url: str,
        master_key: bytes,
        now: Now,
        *,
        extra_keys: Sequence[bytes] = (),
        key_loader: KeyLoader | None = None,
        migrate: bool = False,
    ) -> Database:
        """Open the database at ``url`` with ``master_key`` (32 bytes).

        ``extra_keys`` are further master keys this process may unwrap with
        (e.g. the old key during a rotation). ``key_loader`` is called when
        a data key turns out to be wrapped by a key not yet held, which is
        how a running bot follows a rotation: it should return the keys in
        the key file and its ``.new``/``.old`` siblings
        (``storage.keys.key_file_loader``). ``migrate=True`` upgrades the
        schema first (``sosbot init``, in-memory test databases).
        """
        engine = make_engine(url)
        try:
            return await cls._open(engine, url, master_key, now, extra_keys, key_loader, migrate)
        except BaseException:
            await engine.dispose()
            raise

    @classmethod
    async def _open(
        cls,
        engine: AsyncEngine,
        url: str,
        master_key: bytes,
        now: Now,
        extra_keys: Sequence[bytes],
        key_loader: KeyLoader | None,
        migrate: bool,
    ) -> Database:
        if migrate:
            await upgrade_engine(engine)
        await require_head(engine)
        backend = engine.dialect.name
        read_options = {READ_ONLY: True} if backend == "sqlite" else {"postgresql_readonly": True}
        store = Store(
            sessions=async_sessionmaker(engine, expire_on_commit=False),
            read_sessions=async_sessionmaker(
                engine.execution_options(**read_options), expire_on_commit=False
            ),
            vault=Vault(Keyring([master_key, *extra_keys]), key_loader),
            clock=now,
            dialect=backend,
            write_lock=asyncio.Lock() if is_sqlite(url) else None,
            lock_reads=is_sqlite_memory(url),
            wal_engine=engine if is_sqlite(url) and not is_sqlite_memory(url) else None,
        )
        own_id = master_key_id(master_key)
        try:
            async with store.write() as session:
                await store.vault.open(session, own_id, store.now())
        except UnknownMasterKey as exc:
            raise WrongMasterKey(
                f"The master key does not open this database: its keys are wrapped by master "
                f"key {exc.key_id}, but the key given is {own_id}. Check the key file "
                "(or SOSBOT_MASTER_KEY)."
            ) from None
        return cls(engine, store)

    def keyed_tag(self, purpose: str, text: str) -> str:
        """A short keyed hash of ``text`` for a reference stored in clear.

        Equal texts give equal tags (so a reference can make an action
        idempotent), and without the master key no one can test a guessed
        text against it: HMAC-SHA256 under the index secret, per purpose.
        """
        return self._store.vault.index.name_hash(f"tag:{purpose}", text)[:16]

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._store.dialect

    async def close(self) -> None:
        await self._engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *_exc_info: object) -> None:
        await self.close()
