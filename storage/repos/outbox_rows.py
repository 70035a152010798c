"""Outbox rows: statuses, what is queued, and queueing inside a caller's transaction.

``storage.repos.outbox`` re-exports everything here; other repositories call
``add_broadcast`` / ``add_deliveries`` inside their own transaction so that
a broadcast is queued together with what caused it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Broadcast
from storage.models import OutboxMessage as Row
from storage.repos.base import Store, seal_json, seal_text
from storage.types import new_id

PENDING, SENDING, SENT = "pending", "sending", "sent"
FAILED, INACTIVE, UNCERTAIN = "failed", "inactive", "uncertain"
FINISHED = (SENT, FAILED, INACTIVE, UNCERTAIN)
PROBLEMS = (FAILED, INACTIVE, UNCERTAIN)
_TABLE = "outbox"
_CHUNK = 500

Destination = tuple[str, str | None]
"""(address, language) of one recipient."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message for one destination, as a broadcast queues it."""

    address: str
    language: str | None
    text: str
    options: tuple[tuple[str, str], ...] = ()
    """Buttons as (key, label); sent as a question (buttons or a numbered list)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one send (``status`` pending means: try again at ``retry_at``)."""

    item_id: int
    status: str
    error: str | None = None
    retry_at: datetime | None = None
    remote_id: str | None = None


def platform_of(address: str) -> str:
    return address.partition(":")[0].strip().lower()


async def add_deliveries(
    session: AsyncSession, store: Store, kind: str, ref: str, deliveries: Sequence[Delivery]
) -> int:
    """Queue messages inside the caller's transaction; returns how many were new.

    A destination already queued for (kind, ref) is skipped, so enqueueing
    a broadcast again after a crash adds only what is missing.
    """
    if not deliveries:
        return 0
    now = store.now()
    index = store.vault.index
    wanted = {index.address_hash(d.address): d for d in deliveries}
    hashes = list(wanted)
    queued: set[str] = set()
    for start in range(0, len(hashes), _CHUNK):
        queued.update(
            (
                await session.execute(
                    select(Row.destination_hash).where(
                        Row.kind == kind,
                        Row.ref == ref,
                        Row.destination_hash.in_(hashes[start : start + _CHUNK]),
                    )
                )
            ).scalars()
        )
    new = [(h, d) for h, d in wanted.items() if h not in queued]
    if not new:
        return 0
    key_id, key = await store.vault.new_key(session, now)
    values = []
    for destination_hash, delivery in new:
        row_id = new_id()
        options = (
            seal_json(key, _TABLE, "options", row_id, [list(o) for o in delivery.options])
            if delivery.options
            else None
        )
        values.append(
            {
                "id": row_id,
                "kind": kind,
                "ref": ref,
                "destination_hash": destination_hash,
                "destination_enc": seal_text(key, _TABLE, "destination", row_id, delivery.address),
                "body_enc": seal_text(key, _TABLE, "body", row_id, delivery.text),
                "options_enc": options,
                "language": delivery.language,
                "platform": platform_of(delivery.address),
                "data_key_id": key_id,
                "status": PENDING,
                "attempts": 0,
                "not_before": now,
                "created_at": now,
                "updated_at": now,
            }
        )
    # A concurrent enqueue of the same broadcast may win a row: skip it quietly.
    dialect_insert = postgresql.insert if store.postgres else sqlite.insert
    stmt = dialect_insert(Row).on_conflict_do_nothing(
        index_elements=["kind", "ref", "destination_hash"]
    )
    for start in range(0, len(values), _CHUNK):
        await session.execute(stmt, values[start : start + _CHUNK])
    return len(values)


async def add_broadcast(
    session: AsyncSession,
    store: Store,
    kind: str,
    ref: str,
    deliveries: Sequence[Delivery],
    report_to: Sequence[str],
) -> int:
    """A broadcast inside the caller's transaction: its header and its messages.

    ``report_to`` (triage rooms) get the progress and the final report. The
    header is created once; calling again only adds missing destinations.
    """
    exists = await session.scalar(
        select(Broadcast.id).where(Broadcast.kind == kind, Broadcast.ref == ref)
    )
    if exists is None:
        now = store.now()
        key_id, key = await store.vault.new_key(session, now)
        header_id = new_id()
        dialect_insert = postgresql.insert if store.postgres else sqlite.insert
        await session.execute(
            dialect_insert(Broadcast)
            .values(
                id=header_id,
                kind=kind,
                ref=ref,
                data_key_id=key_id,
                report_to_enc=seal_json(key, "broadcasts", "report_to", header_id, list(report_to)),
                progress_enc=None,
                state="sending",
                created_at=now,
                updated_at=now,
                finished_at=None,
            )
            .on_conflict_do_nothing(index_elements=["kind", "ref"])
        )
    return await add_deliveries(session, store, kind, ref, deliveries)
