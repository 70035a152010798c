"""Outbox rows: statuses, what is queued, and queueing inside a caller's transaction.

``storage.repos.outbox`` re-exports everything here; other repositories call
``add_broadcast`` / ``add_deliveries`` inside their own transaction so that
a broadcast is queued together with what caused it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Broadcast
from storage.models import OutboxMessage as Row
from storage.records import OutboxItem
from storage.repos.base import Store, seal_bytes, seal_json, seal_text
from storage.types import new_id

PENDING, SENDING, SENT = "pending", "sending", "sent"
HELD = "held"
"""Waits for something before it may be sent (a defender's "alerted" waits for the card)."""
FAILED, INACTIVE, UNCERTAIN = "failed", "inactive", "uncertain"
FINISHED = (SENT, FAILED, INACTIVE, UNCERTAIN)
PROBLEMS = (FAILED, INACTIVE, UNCERTAIN)
_TABLE = "outbox"
_OUTBOX: Table = Row.__table__  # type: ignore[assignment]
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
    kind: str | None = None
    """The row's kind when the sender knows it: a sent row of a kind that releases
    nothing (``RELEASES``) then costs no look-up of held rows."""


def platform_of(address: str) -> str:
    return address.partition(":")[0].strip().lower()


async def add_deliveries(
    session: AsyncSession,
    store: Store,
    kind: str,
    ref: str,
    deliveries: Sequence[Delivery],
    priority: int = 1,
) -> int:
    """Queue messages inside the caller's transaction; returns how many were new.

    A destination already queued for (kind, ref) is skipped, so enqueueing
    a broadcast again after a crash adds only what is missing. ``priority`` 0:
    messages to the advisory rooms (a broadcast's final report), sent again
    after a crash like every message to one person or room.
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
                "seq": store.next_seq(),
                "priority": priority,
                "op": "ask" if delivery.options else "text",
            }
        )
    # A concurrent enqueue of the same broadcast may win a row: skip it quietly.
    dialect_insert = postgresql.insert if store.postgres else sqlite.insert
    stmt = dialect_insert(Row).on_conflict_do_nothing(
        index_elements=["kind", "ref", "destination_hash"]
    )
    for start in range(0, len(values), _CHUNK):
        await session.execute(stmt, values[start : start + _CHUNK])
    for platform in {platform_of(d.address) for _, d in new}:
        store.notify_posted(platform)
    return len(values)


_INSERT_MESSAGE = insert(_OUTBOX)
"""Built once: SQLAlchemy caches its compiled form, a turn only binds values."""


@dataclass(frozen=True, slots=True)
class Message:
    """One message to one chat, queued by a turn (a reply, a card, a notice, a file)."""

    address: str
    text: str
    kind: str = "reply"
    ref: str | None = None
    """Unique with kind and destination; a fresh one when None."""
    language: str | None = None
    op: str = "text"
    options: tuple[tuple[str, str], ...] = ()
    tokens: tuple[str, ...] = ()
    """Button tokens issued with the message (one per option), in the same transaction."""
    params: tuple[tuple[str, str], ...] = ()
    payload: bytes | None = None
    priority: int = 0
    held: bool = False


async def add_message(session: AsyncSession, store: Store, message: Message) -> int:
    """Queue one message inside the caller's transaction; returns its row id."""
    return (await add_messages(session, store, [message]))[0]


async def add_messages(
    session: AsyncSession, store: Store, messages: Sequence[Message]
) -> list[int]:
    """Queue messages inside the caller's transaction, with one statement; returns
    their row ids (a batch of signatures confirms each signer with one insert)."""
    now = store.now()
    key_id, key = await store.outbox_key(session)
    rows = [_values(store, key_id, key, message, now) for message in messages]
    # One prebuilt Core insert on the table (not the ORM class, whose DML
    # path costs several times the statement).
    await session.execute(_INSERT_MESSAGE, rows)
    # The dispatcher gets the rows as a claim would read them back: no read after
    # the commit (the "sending" mark still checks each one is pending).
    handed: dict[str, list[OutboxItem]] = {}
    for message, row in zip(messages, rows, strict=True):
        if not message.held:
            handed.setdefault(row["platform"], []).append(_item(message, row))
    for platform, items in handed.items():
        store.notify_posted(platform, items)
    return [row["id"] for row in rows]


def _item(message: Message, row: dict[str, Any]) -> OutboxItem:
    """``message`` as ``Outbox.claim`` returns its row (before its first attempt)."""
    return OutboxItem(
        id=row["id"],
        kind=row["kind"],
        ref=row["ref"],
        address=message.address,
        language=message.language,
        body=message.text,
        attempts=1,
        options=message.options,
        tokens=message.tokens if len(message.tokens) == len(message.options) else (),
        platform=row["platform"],
        op=row["op"],
        params=() if message.options else tuple(sorted(dict(message.params).items())),
        payload=message.payload,
        priority=message.priority,
    )


def _values(
    store: Store, key_id: int, key: bytes, message: Message, now: datetime
) -> dict[str, Any]:
    """The outbox row of ``message``, sealed under the unit's data key."""
    row_id = new_id()
    seq = store.next_seq()
    op = "ask" if message.options and message.op == "text" else message.op
    if message.options:
        tokens: list[tuple[str, ...]] = [(t,) for t in message.tokens] or [()] * len(
            message.options
        )
        extra = seal_json(
            key,
            _TABLE,
            "options",
            row_id,
            [[*option, *token] for option, token in zip(message.options, tokens, strict=True)],
        )
    elif message.params:
        extra = seal_json(key, _TABLE, "options", row_id, dict(message.params))
    else:
        extra = None
    return {
        "id": row_id,
        "kind": message.kind,
        "ref": message.ref or f"m{seq}",
        "destination_hash": store.vault.index.address_hash(message.address),
        "destination_enc": seal_text(key, _TABLE, "destination", row_id, message.address),
        "body_enc": seal_text(key, _TABLE, "body", row_id, message.text),
        "options_enc": extra,
        "payload_enc": (
            seal_bytes(key, _TABLE, "payload", row_id, message.payload)
            if message.payload is not None
            else None
        ),
        "language": message.language,
        "platform": platform_of(message.address),
        "data_key_id": key_id,
        "status": HELD if message.held else PENDING,
        "attempts": 0,
        "not_before": now,
        "created_at": now,
        "updated_at": now,
        "seq": seq,
        "priority": message.priority,
        "op": op,
    }


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
