"""The outbox: one row per (message, destination), drained by the dispatcher.

Enqueueing a broadcast is one transaction and idempotent (the unique key
skips destinations already queued), so a restart in the middle of ``/appeal
send`` can simply enqueue again. A claimed row is leased; a crash between
sending and ``mark_sent`` means that one message may go out twice after the
lease runs out, never that a destination is forgotten.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.errors import NotFound
from storage.models import OutboxMessage as Row
from storage.records import OutboxItem
from storage.repos.base import Repository, open_text, rowcount, seal_text
from storage.types import new_id

PENDING, SENT, FAILED, INACTIVE = "pending", "sent", "failed", "inactive"
_TABLE = "outbox"

Destination = tuple[str, str | None]
"""(address, language) of one recipient."""


class Outbox(Repository):
    async def enqueue(
        self, kind: str, ref: str, destinations: Sequence[Destination], body: str | None = None
    ) -> int:
        """Queue a message for each destination; returns how many were new."""
        if not destinations:
            return 0
        now = self._store.now()
        index = self._vault.index
        wanted = {
            index.address_hash(address): (address, language) for address, language in destinations
        }
        async with self._store.write() as session:
            queued: set[str] = set()
            hashes = list(wanted)
            for start in range(0, len(hashes), 500):
                queued.update(
                    (
                        await session.execute(
                            select(Row.destination_hash).where(
                                Row.kind == kind,
                                Row.ref == ref,
                                Row.destination_hash.in_(hashes[start : start + 500]),
                            )
                        )
                    ).scalars()
                )
            new = [(h, dest) for h, dest in wanted.items() if h not in queued]
            if not new:
                return 0
            key_id, key = await self._vault.new_key(session, now)
            values = []
            for destination_hash, (address, language) in new:
                row_id = new_id()
                values.append(
                    {
                        "id": row_id,
                        "kind": kind,
                        "ref": ref,
                        "destination_hash": destination_hash,
                        "destination_enc": seal_text(key, _TABLE, "destination", row_id, address),
                        "body_enc": seal_text(key, _TABLE, "body", row_id, body),
                        "language": language,
                        "data_key_id": key_id,
                        "status": PENDING,
                        "attempts": 0,
                        "not_before": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            # A concurrent enqueue of the same broadcast may win a row: skip it quietly.
            dialect_insert = postgresql.insert if self._store.postgres else sqlite.insert
            stmt = dialect_insert(Row).on_conflict_do_nothing(
                index_elements=["kind", "ref", "destination_hash"]
            )
            for start in range(0, len(values), 500):
                await session.execute(stmt, values[start : start + 500])
            return len(values)

    async def claim(
        self, limit: int = 20, lease: timedelta = timedelta(minutes=5)
    ) -> list[OutboxItem]:
        """Take up to ``limit`` due messages, oldest first, for ``lease``."""
        now = self._store.now()
        async with self._store.write() as session:
            rows = (
                (
                    await session.execute(
                        select(Row)
                        .where(
                            Row.status == PENDING,
                            Row.not_before <= now,
                            (Row.claimed_until.is_(None)) | (Row.claimed_until <= now),
                        )
                        .order_by(Row.created_at, Row.id)
                        .limit(limit)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            items = []
            for row in rows:
                row.claimed_until, row.attempts, row.updated_at = now + lease, row.attempts + 1, now
                key = await self._vault.key(session, row.data_key_id)
                items.append(
                    OutboxItem(
                        id=row.id,
                        kind=row.kind,
                        ref=row.ref,
                        address=open_text(key, _TABLE, "destination", row.id, row.destination_enc)
                        or "",
                        language=row.language,
                        body=open_text(key, _TABLE, "body", row.id, row.body_enc),
                        attempts=row.attempts,
                    )
                )
            return items

    async def release_claims(self) -> int:
        """At start: nothing is in flight any more, so leases of the last run can go."""
        async with self._store.write() as session:
            result = await session.execute(
                update(Row)
                .where(Row.status == PENDING, Row.claimed_until.is_not(None))
                .values(claimed_until=None)
            )
            return rowcount(result)

    async def mark_sent(self, item_id: int, remote_id: str | None = None) -> None:
        now = self._store.now()
        await self._finish(item_id, status=SENT, remote_id=remote_id, sent_at=now, error=None)

    async def mark_failed(self, item_id: int, error: str, retry_at: datetime | None = None) -> None:
        """A failure; with ``retry_at`` the message is tried again then, else given up.

        ``error`` is a short code ("timeout", "http_500"), never message content.
        """
        if retry_at is None:
            await self._finish(item_id, status=FAILED, error=error[:64])
        else:
            await self._finish(item_id, status=PENDING, error=error[:64], not_before=retry_at)

    async def mark_inactive(self, item_id: int) -> None:
        """The destination is gone (blocked, removed): never retried."""
        await self._finish(item_id, status=INACTIVE, error="destination_gone")

    async def counts(self, kind: str, ref: str) -> dict[str, int]:
        """Messages of one broadcast by status (``pending``, ``sent``, …)."""
        async with self._store.read() as session:
            statuses = await session.execute(
                select(Row.status).where(Row.kind == kind, Row.ref == ref)
            )
            return dict(Counter(statuses.scalars()))

    async def purge_finished_before(self, cutoff: datetime) -> int:
        """Delete sent, failed and inactive rows last touched before ``cutoff``."""
        async with self._store.write() as session:
            rows = (
                await session.execute(
                    select(Row.id, Row.data_key_id).where(
                        Row.status != PENDING, Row.updated_at < cutoff
                    )
                )
            ).all()
            await session.execute(delete(Row).where(Row.id.in_([r.id for r in rows])))
            keys = {r.data_key_id for r in rows}
            still_used = set(
                (
                    await session.execute(select(Row.data_key_id).where(Row.data_key_id.in_(keys)))
                ).scalars()
            )
            await self._vault.destroy(session, keys - still_used)
            return len(rows)

    async def _finish(self, item_id: int, **values: object) -> None:
        async with self._store.write() as session:
            result = await session.execute(
                update(Row)
                .where(Row.id == item_id)
                .values(claimed_until=None, updated_at=self._store.now(), **values)
            )
            if rowcount(result) == 0:
                raise NotFound("no such outbox message")
