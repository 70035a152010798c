"""Operator tasks: master key rotation, audit verification, retention.

Key rotation, as the CLI drives it::

    1. generate the new key, write it to <key_file>.new (0600)
    2. await rotate_master_key(url, old_key, new_key)     # re-run after a crash
    3. rename <key_file> to <key_file>.old, <key_file>.new to <key_file>
    4. once every process runs on the new key, delete <key_file>.old

``rotate_master_key`` first makes the new key the *primary* (the key every
process wraps new data keys under, read in each writing transaction), then
re-wraps the data keys still under other keys, in batches, each batch its
own transaction. Only the small wrapped keys change; no record is
re-encrypted. At every moment each data key is wrapped by the old or the
new key, so a crash leaves every record readable and a re-run finishes the
job. A running bot opened with ``key_loader=key_file_loader(key_file)``
picks up ``<key_file>.new`` the first time it meets a key wrapped by it, so
it keeps reading and writing throughout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.crypto import Keyring, master_key_id
from storage.database import Database
from storage.engine import READ_ONLY, make_engine
from storage.errors import UnknownMasterKey, WrongMasterKey
from storage.migrate import require_head
from storage.models import DataKey, KeyringState
from storage.records import RotationReport, Verdict
from storage.repos.audit import snapshot, verify_chain
from storage.vault import KEYRING_ROW, Vault

Progress = Callable[[int], None]
"""Called after each committed batch with the number of keys re-wrapped so far."""


async def rotate_master_key(
    url: str,
    old_key: bytes,
    new_key: bytes,
    batch_size: int = 500,
    *,
    on_batch: Progress | None = None,
) -> RotationReport:
    """Re-wrap every data key under ``new_key``; safe to interrupt and to run again."""
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    if old_key == new_key:
        raise ValueError("the new master key is the old one")
    keyring = Keyring([new_key, old_key])
    new_id = master_key_id(new_key)
    engine = make_engine(url)
    try:
        await require_head(engine)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with sessions.begin() as session:
            await _check_keys(session, keyring)
            await session.execute(
                update(KeyringState)
                .where(KeyringState.id == KEYRING_ROW)
                .values(primary_key_id=new_id)
            )
        rewrapped = batches = 0
        while True:
            async with sessions.begin() as session:
                count = await _rewrap_batch(session, keyring, new_id, batch_size)
            if count == 0:
                break
            rewrapped, batches = rewrapped + count, batches + 1
            if on_batch is not None:
                on_batch(rewrapped)
        return RotationReport(new_key_id=new_id, rewrapped=rewrapped, batches=batches)
    finally:
        await engine.dispose()


async def _check_keys(session: AsyncSession, keyring: Keyring) -> None:
    """Refuse before changing anything if some data key is under a key we lack."""
    state = (
        await session.execute(
            select(KeyringState).where(KeyringState.id == KEYRING_ROW).with_for_update()
        )
    ).scalar_one_or_none()
    if state is None:
        raise WrongMasterKey("this database was never opened by sosbot: nothing to rotate")
    used = set((await session.execute(select(DataKey.master_key_id).distinct())).scalars())
    unknown = sorted(used - set(keyring.ids))
    if unknown:
        raise WrongMasterKey(
            f"data keys are wrapped by master key(s) {', '.join(unknown)}, which is neither the "
            f"old key ({keyring.ids[1]}) nor the new one ({keyring.ids[0]}); nothing was changed"
        )
    try:
        await Vault(keyring).load_index(session)
    except UnknownMasterKey as exc:
        raise WrongMasterKey(str(exc)) from None


async def _rewrap_batch(
    session: AsyncSession, keyring: Keyring, new_id: str, batch_size: int
) -> int:
    rows = (
        await session.execute(
            select(DataKey.id, DataKey.master_key_id, DataKey.wrapped)
            .where(DataKey.master_key_id != new_id)
            .order_by(DataKey.id)
            .limit(batch_size)
            .with_for_update()
        )
    ).all()
    for row in rows:
        key = keyring.unwrap(row.master_key_id, row.wrapped, row.id)
        await session.execute(
            update(DataKey)
            .where(DataKey.id == row.id)
            .values(master_key_id=new_id, wrapped=keyring.wrap(new_id, key, row.id))
        )
    return len(rows)


async def verify_audit(url: str, master_key: bytes, extra_keys: Sequence[bytes] = ()) -> Verdict:
    """Check the audit chain of the database at ``url`` (read-only)."""
    engine = make_engine(url)
    try:
        await require_head(engine)
        vault = Vault(Keyring([master_key, *extra_keys]))
        read_only = {READ_ONLY: True} if engine.dialect.name == "sqlite" else {}
        sessions = async_sessionmaker(engine.execution_options(**read_only))
        async with sessions.begin() as session:
            await snapshot(session)
            try:
                index = await vault.load_index(session)
            except UnknownMasterKey as exc:
                raise WrongMasterKey(str(exc)) from None
            return await verify_chain(session, index)
    finally:
        await engine.dispose()


async def purge_closed_cases(db: Database, cutoff: datetime) -> int:
    """Retention: delete cases closed before ``cutoff``; returns how many."""
    return await db.cases.purge_closed_older_than(cutoff)


async def purge_drafts(db: Database, cutoff: datetime) -> int:
    """Retention: erase conversation drafts untouched since ``cutoff``, and expired buttons."""
    count = await db.conversations.purge_older_than(cutoff)
    await db.tokens.purge_expired()
    return count
