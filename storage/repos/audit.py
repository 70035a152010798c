"""The append-only, hash-chained audit log.

Each entry's hash is an HMAC (under a key only the master key can unlock)
over its sequence number, time, actor pseudonym, action, object, sealed
detail and the previous entry's hash. Someone who can write to the database
but lacks the key cannot forge an entry or re-chain the log after an edit.
Appends lock the single ``audit_head`` row (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite write transactions are serialised anyway), so concurrent
appends can never fork the chain.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import IndexKeys, associated_data, seal, unseal
from storage.models import AuditEntry, AuditHead
from storage.records import AuditRecord, Verdict
from storage.repos.base import Repository, utf8

GENESIS_HASH = "0" * 64
HEAD_ROW = 1
ROLE_ACTORS = frozenset({"system", "defender"})
"""Actors recorded as themselves; anything else is an address and becomes a pseudonym."""
_BATCH = 1000
_ENTRIES: Table = AuditEntry.__table__  # type: ignore[assignment]


def actor_name(index: IndexKeys, actor: str) -> str:
    return actor if actor in ROLE_ACTORS else index.pseudonym(actor)


def _canonical(
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    object_ref: str | None,
    detail_enc: bytes | None,
    prev_hash: str,
) -> bytes:
    stamp = at.astimezone(UTC).isoformat(timespec="microseconds")
    detail = None if detail_enc is None else detail_enc.hex()
    return json.dumps([seq, stamp, actor, action, object_ref, detail, prev_hash]).encode()


def _mac(index: IndexKeys, row: AuditEntry, seq: int | None = None) -> str:
    message = _canonical(
        row.seq if seq is None else seq,
        row.at,
        row.actor,
        row.action,
        row.object_ref,
        row.detail_enc,
        row.prev_hash,
    )
    return index.audit_mac(message)


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry to append: who did what to which object (``detail`` is sealed)."""

    actor: str
    action: str
    object_ref: str | None
    detail: str | None = None


async def append_entry(
    session: AsyncSession,
    index: IndexKeys,
    actor: str,
    action: str,
    object_ref: str | None,
    detail: str | None,
    now: datetime,
) -> AuditRecord:
    """Append inside the caller's transaction (so a change and its entry commit together)."""
    entries = [Entry(actor, action, object_ref, detail)]
    return (await append_entries(session, index, entries, now))[0]


async def append_entries(
    session: AsyncSession, index: IndexKeys, entries: Sequence[Entry], now: datetime
) -> list[AuditRecord]:
    """Append several entries in order, chained, with one read and one write of the
    head (a batch of signatures is one append, not one per signature)."""
    head = (
        await session.execute(select(AuditHead).where(AuditHead.id == HEAD_ROW).with_for_update())
    ).scalar_one()
    seq, prev_hash = head.seq, head.hash
    rows, records = [], []
    for entry in entries:
        seq += 1
        name = actor_name(index, entry.actor)
        detail_enc = (
            None
            if entry.detail is None
            else seal(
                index.system_key, utf8(entry.detail), associated_data("audit_log", "detail", seq)
            )
        )
        digest = index.audit_mac(
            _canonical(seq, now, name, entry.action, entry.object_ref, detail_enc, prev_hash)
        )
        rows.append(
            {
                "seq": seq,
                "at": now,
                "actor": name,
                "action": entry.action,
                "object_ref": entry.object_ref,
                "detail_enc": detail_enc,
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        records.append(
            AuditRecord(seq, now, name, entry.action, entry.object_ref, entry.detail, digest)
        )
        prev_hash = digest
    # A Core insert; the head is the ORM's object, so a later append in this
    # session reads the values set here, never a stale copy.
    await session.execute(insert(_ENTRIES), rows)
    head.seq, head.hash = seq, prev_hash
    await session.flush()
    return records


class Audit(Repository):
    def pseudonym(self, address: str) -> str:
        """How the log names the person at ``address`` (stable, not reversible)."""
        return actor_name(self._vault.index, address)

    async def append(
        self, actor: str, action: str, object_ref: str | None, detail: str | None = None
    ) -> AuditRecord:
        """Record an action. ``actor`` is an address (stored as a pseudonym) or a role word.

        ``detail`` is sealed; keep it short and free of personal data anyway.
        """
        async with self._store.write() as session:
            return await append_entry(
                session, self._vault.index, actor, action, object_ref, detail, self._store.now()
            )

    async def entries(self, after_seq: int = 0, limit: int = 100) -> list[AuditRecord]:
        index = self._vault.index
        async with self._store.read() as session:
            rows = (
                await session.execute(
                    select(AuditEntry)
                    .where(AuditEntry.seq > after_seq)
                    .order_by(AuditEntry.seq)
                    .limit(limit)
                )
            ).scalars()
            return [
                AuditRecord(
                    row.seq,
                    row.at,
                    row.actor,
                    row.action,
                    row.object_ref,
                    None
                    if row.detail_enc is None
                    else unseal(
                        index.system_key,
                        row.detail_enc,
                        associated_data("audit_log", "detail", row.seq),
                    ).decode(),
                    row.hash,
                )
                for row in rows
            ]

    async def verify(self) -> Verdict:
        """Check the whole chain; name the first altered, removed or inserted entry."""
        async with self._store.read() as session:
            await snapshot(session)
            return await verify_chain(session, self._vault.index)


async def snapshot(session: AsyncSession) -> None:
    """Make this (fresh) session's transaction one snapshot, so that appends running
    meanwhile cannot look like tampering. SQLite read transactions are snapshots
    already; PostgreSQL needs REPEATABLE READ. Call before anything else."""
    if session.get_bind().dialect.name == "postgresql":
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


async def verify_chain(session: AsyncSession, index: IndexKeys) -> Verdict:
    """Check the chain; run it in a ``snapshot``."""
    head = (await session.execute(select(AuditHead).where(AuditHead.id == HEAD_ROW))).scalar_one()
    prev_seq, prev_hash, count = 0, GENESIS_HASH, 0
    suspect: AuditEntry | None = None
    while True:
        rows = (
            (
                await session.execute(
                    select(AuditEntry)
                    .where(AuditEntry.seq > (suspect.seq if suspect else prev_seq))
                    .order_by(AuditEntry.seq)
                    .limit(_BATCH)
                )
            )
            .scalars()
            .all()
        )
        if not rows:
            break
        for row in rows:
            count += 1
            if suspect is not None:
                return _classify(index, suspect, row, prev_seq, prev_hash, count)
            if row.seq != prev_seq + 1:
                return Verdict(False, count, prev_hash, prev_seq + 1, "removed")
            if row.prev_hash != prev_hash or _mac(index, row) != row.hash:
                suspect = row
                continue
            prev_seq, prev_hash = row.seq, row.hash
    if suspect is not None:
        # The last entry is bad: forged on the end if the head never knew it.
        known = head.seq == prev_seq and head.hash == prev_hash
        return Verdict(False, count, prev_hash, suspect.seq, "inserted" if known else "altered")
    if head.seq > prev_seq:
        return Verdict(False, count, prev_hash, prev_seq + 1, "removed")
    if head.seq != prev_seq or head.hash != prev_hash:
        return Verdict(False, count, prev_hash, head.seq, "altered")
    return Verdict(True, count, prev_hash)


def _classify(
    index: IndexKeys,
    suspect: AuditEntry,
    following: AuditEntry,
    prev_seq: int,
    prev_hash: str,
    count: int,
) -> Verdict:
    """Tell an inserted entry from an altered one by what the chain looks like without it."""
    if following.prev_hash == prev_hash and _mac(index, following, prev_seq + 1) == following.hash:
        return Verdict(False, count, prev_hash, suspect.seq, "inserted")
    if _mac(index, suspect, suspect.seq + 1) == suspect.hash:
        # The suspect is an intact later entry moved down: the one before it was removed.
        return Verdict(False, count, prev_hash, suspect.seq, "removed")
    return Verdict(False, count, prev_hash, suspect.seq, "altered")
