"""The outbox: one row per (message, destination), drained by the dispatcher.

A row's life::

    pending ──claim──▶ (held by the dispatcher) ──start──▶ sending ──▶ sent
       ▲                                                     │    ├──▶ failed
       └──────────── retry later (nothing was delivered) ◀───┘    ├──▶ inactive
                                                                  └──▶ uncertain

``sending`` is written (and committed) before the request leaves, the result
after it returns. A row still ``sending`` when the process starts was in
flight at a crash: ``settle_in_flight`` turns it into ``uncertain`` (never
resent: the platform has no idempotency key) or back into ``pending`` where
a resend is deduplicated by the platform (Matrix transaction ids).

Enqueueing is idempotent (unique per kind, ref and destination) and can
happen inside the transaction of what caused it (``add_broadcast``).
Broadcast headers (``broadcasts``) record where progress and the final
report go; see ``storage.repos.broadcasts``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import NotFound
from storage.models import Broadcast
from storage.models import OutboxMessage as Row
from storage.records import OutboxItem, OutboxProblem
from storage.repos.base import open_bytes, open_json, open_text, rowcount
from storage.repos.broadcasts import BroadcastHeaders
from storage.repos.outbox_rows import (
    FAILED,
    FINISHED,
    HELD,
    INACTIVE,
    PENDING,
    PROBLEMS,
    SENDING,
    SENT,
    UNCERTAIN,
    Delivery,
    Destination,
    Message,
    Outcome,
    add_broadcast,
    add_deliveries,
    add_message,
    add_messages,
    platform_of,
)

__all__ = [
    "FAILED",
    "HELD",
    "INACTIVE",
    "PENDING",
    "SENDING",
    "SENT",
    "UNCERTAIN",
    "Delivery",
    "Message",
    "Outbox",
    "Outcome",
    "add_broadcast",
    "add_deliveries",
    "platform_of",
]

_TABLE = "outbox"
_CHUNK = 500
_OUTBOX: Table = Row.__table__  # type: ignore[assignment]

# The journal's statements, built once (SQLAlchemy caches their compiled form).
_MARK_SENDING = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)), _OUTBOX.c.status == PENDING)
    .values(status=SENDING, attempts=_OUTBOX.c.attempts + 1, updated_at=bindparam("b_now"))
    .returning(_OUTBOX.c.id)
)
_FINISH = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        error=bindparam("b_error"),
        remote_id=bindparam("b_remote"),
        sent_at=bindparam("b_sent"),
        claimed_until=None,
        payload_enc=None,
        updated_at=bindparam("b_now"),
    )
)
_RETRY = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("b_id"))
    .values(
        status=PENDING,
        error=bindparam("b_error"),
        not_before=bindparam("b_at"),
        claimed_until=None,
        updated_at=bindparam("b_now"),
    )
)
MAY_HAVE_ARRIVED = "no_answer"
"""The error of a row whose last attempt may have been delivered (a timeout, a crash)."""
AT_LEAST_ONCE = frozenset({"card", "alarm"})
"""Kinds that never give up retrying (a lost case card, or an SOS raised again on an
existing case, is a missed alert). Every message to one person or room (priority 0)
is also resent after a crash on every platform: at least once; broadcasts stay at
most once on Telegram."""
RELEASES = {"card": "confirm", "alarm": "confirm"}
"""A row of the first kind, once sent, releases the held rows of the second kind
with the same ref: the defender's "the group has been alerted" waits for the card
(or, for an SOS raised again on an existing case, for the alarm to the rooms)."""


_CLAIMS: dict[tuple[bool, bool, bool, bool], Any] = {}


def _claim_query(platform: bool, urgent_only: bool, exclude: bool, lease: bool) -> Any:
    """The claim's SELECT for one shape of call, built once (the dispatcher claims
    after every commit that queued something)."""
    shape = (platform, urgent_only, exclude, lease)
    query = _CLAIMS.get(shape)
    if query is None:
        c = _OUTBOX.c
        now: Any = bindparam("now")
        conditions = [
            c.status == PENDING,
            c.not_before <= now,
            (c.claimed_until.is_(None)) | (c.claimed_until <= now),
        ]
        if platform:
            conditions.append(c.platform == bindparam("platform"))
        if urgent_only:
            conditions.append(c.priority == 0)
        if exclude:
            conditions.append(c.id.not_in(bindparam("exclude", expanding=True)))
        query = (
            select(_OUTBOX)
            .where(*conditions)
            .order_by(c.priority, c.seq, c.created_at, c.id)
            .limit(bindparam("limit"))
        )
        if lease:  # a lease is a write: lock the rows (PostgreSQL refuses FOR UPDATE in a read)
            query = query.with_for_update(skip_locked=True)
        _CLAIMS[shape] = query
    return query


def _tokens(options: list[list[str]]) -> tuple[str, ...]:
    """The buttons' tokens stored with the options (all or none)."""
    tokens = tuple(str(o[2]) for o in options if len(o) > 2)
    return tokens if len(tokens) == len(options) else ()


class Outbox(BroadcastHeaders):
    # ------------------------------------------------------------- enqueueing
    async def post(self, message: Message) -> int:
        """Queue one message (in the current unit of work); returns its row id."""
        async with self._store.write(savepoint=False) as session:
            return await add_message(session, self._store, message)

    async def post_many(self, messages: Sequence[Message]) -> list[int]:
        """Queue messages with one statement (in the current unit of work); their row ids."""
        if not messages:
            return []
        async with self._store.write(savepoint=False) as session:
            return await add_messages(session, self._store, messages)

    async def enqueue(
        self, kind: str, ref: str, destinations: Sequence[Destination], body: str | None = None
    ) -> int:
        """Queue one text for each destination; returns how many were new."""
        deliveries = [Delivery(address, language, body or "") for address, language in destinations]
        async with self._store.write() as session:
            return await add_deliveries(session, self._store, kind, ref, deliveries)

    async def enqueue_deliveries(self, kind: str, ref: str, deliveries: Sequence[Delivery]) -> int:
        """Queue messages (with buttons, if any) without a broadcast report; returns new rows.

        For a notice to one person (case news, a check-in question): unique per
        (kind, ref, destination), so queueing it again after a crash adds nothing.
        """
        async with self._store.write() as session:
            return await add_deliveries(session, self._store, kind, ref, deliveries)

    async def enqueue_broadcast(
        self, kind: str, ref: str, deliveries: Sequence[Delivery], report_to: Sequence[str]
    ) -> int:
        """A broadcast with progress and a final report for ``report_to``; returns new rows.

        Prefer ``add_broadcast`` inside the transaction of what caused the
        broadcast (an appeal turning "sent") where there is one.
        """
        async with self._store.write() as session:
            return await add_broadcast(session, self._store, kind, ref, deliveries, report_to)

    # ------------------------------------------------------------- draining
    async def claim(
        self,
        limit: int = 20,
        lease: timedelta | None = timedelta(minutes=5),
        *,
        platform: str | None = None,
        urgent_only: bool = False,
        exclude: Collection[int] = (),
    ) -> list[OutboxItem]:
        """Take up to ``limit`` due messages (of one platform): messages to people and
        rooms first (priority 0), then broadcasts, each in queue order.

        With a ``lease`` the rows are leased (a write). Without one it is a plain
        read (the dispatcher: it holds what it took in memory, passes those ids as
        ``exclude``, and the "sending" mark is what guards against a double send),
        so draining costs no commit of its own.
        """
        now = self._store.now()
        query = _claim_query(platform is not None, urgent_only, bool(exclude), lease is not None)
        params: dict[str, Any] = {"now": now, "limit": limit}
        if platform is not None:
            params["platform"] = platform
        if exclude:
            params["exclude"] = list(exclude)
        opened = self._store.write() if lease is not None else self._store.read()
        async with opened as session:
            rows = (await session.execute(query, params)).all()
            if lease is not None and rows:
                await session.execute(
                    update(_OUTBOX)
                    .where(_OUTBOX.c.id.in_([row.id for row in rows]))
                    .values(claimed_until=now + lease, updated_at=now)
                )
            items = []
            for row in rows:
                attempts = row.attempts + 1  # this one: counted when it is marked sending
                key = await self._vault.key(session, row.data_key_id)
                extra = (
                    open_json(key, _TABLE, "options", row.id, row.options_enc)
                    if row.options_enc is not None
                    else []
                )
                options = extra if isinstance(extra, list) else []
                params = extra if isinstance(extra, dict) else {}
                address = open_text(key, _TABLE, "destination", row.id, row.destination_enc) or ""
                payload = (
                    open_bytes(key, _TABLE, "payload", row.id, row.payload_enc)
                    if row.payload_enc is not None
                    else None
                )
                items.append(
                    OutboxItem(
                        id=row.id,
                        kind=row.kind,
                        ref=row.ref,
                        address=address,
                        language=row.language,
                        body=open_text(key, _TABLE, "body", row.id, row.body_enc),
                        attempts=attempts,
                        options=tuple((str(o[0]), str(o[1])) for o in options),
                        tokens=_tokens(options),
                        platform=row.platform or platform_of(address),
                        op=row.op or "text",
                        params=tuple((str(k), str(v)) for k, v in sorted(params.items())),
                        payload=payload,
                        priority=row.priority,
                        last_error=row.error,
                    )
                )
            return items

    async def record(self, starting: Sequence[int], outcomes: Sequence[Outcome]) -> set[int]:
        """One transaction: the outcomes of finished sends, and ``starting`` marked sending.

        Returns the ids of ``starting`` now marked; a row that is no longer
        pending (erased by ``/forget``, or not ours) is left alone and must
        not be sent.
        """
        now = self._store.now()
        marked: set[int] = set()
        async with self._store.write(savepoint=False) as session:
            await self._apply(session, outcomes, now)
            for start in range(0, len(starting), _CHUNK):
                ids = list(starting[start : start + _CHUNK])
                result = await session.execute(_MARK_SENDING, {"ids": ids, "b_now": now})
                marked.update(result.scalars())
        return marked

    async def _apply(
        self, session: AsyncSession, outcomes: Sequence[Outcome], now: datetime
    ) -> None:
        finished: list[dict[str, Any]] = []
        retried: list[dict[str, Any]] = []
        for o in outcomes:
            error = o.error[:64] if o.error else None
            if o.status == PENDING:
                retried.append(
                    {"b_id": o.item_id, "b_error": error, "b_at": o.retry_at or now, "b_now": now}
                )
            else:
                finished.append(
                    {
                        "b_id": o.item_id,
                        "b_status": o.status,
                        "b_error": error,
                        "b_remote": o.remote_id,
                        "b_sent": now if o.status == SENT else None,
                        "b_now": now,
                    }
                )
        if finished:
            await session.execute(_FINISH, finished)
            sent = [
                o.item_id
                for o in outcomes
                if o.status == SENT and (o.kind is None or o.kind in RELEASES)
            ]
            await self._release_after(session, sent, now)
        if retried:
            await session.execute(_RETRY, retried)

    async def _release_after(
        self, session: AsyncSession, sent: Sequence[int], now: datetime
    ) -> None:
        """Held rows waiting for one of ``sent`` (see ``RELEASES``) become pending."""
        if not sent:
            return
        for first, then in RELEASES.items():
            refs: set[str] = set()
            for start in range(0, len(sent), _CHUNK):
                refs.update(
                    (
                        await session.execute(
                            select(Row.ref).where(
                                Row.id.in_(sent[start : start + _CHUNK]), Row.kind == first
                            )
                        )
                    ).scalars()
                )
            if not refs:
                continue
            released = await session.execute(
                update(_OUTBOX)
                .where(
                    _OUTBOX.c.kind == then,
                    _OUTBOX.c.ref.in_(sorted(refs)),
                    _OUTBOX.c.status == HELD,
                )
                .values(status=PENDING, not_before=now, updated_at=now)
                .returning(_OUTBOX.c.platform)
            )
            for platform in set(released.scalars()):
                self._store.notify_posted(platform or "")

    async def delivered(self, kind: str, ref: str) -> bool:
        """Whether any message of (kind, ref) was sent (e.g. a case card to some room)."""
        async with self._store.read() as session:
            found = await session.execute(
                select(Row.id).where(Row.kind == kind, Row.ref == ref, Row.status == SENT).limit(1)
            )
            return found.first() is not None

    async def remote_ids(self, row_ids: Sequence[int]) -> dict[int, str | None]:
        """The platform's message id of each sent row (None while unsent)."""
        async with self._store.read() as session:
            rows = await session.execute(
                select(Row.id, Row.remote_id).where(Row.id.in_(list(row_ids)))
            )
            return {int(i): r for i, r in rows}

    async def release_claims(self) -> int:
        """At start: nothing is in flight any more, so leases of the last run can go."""
        async with self._store.write() as session:
            result = await session.execute(
                update(Row)
                .where(Row.status == PENDING, Row.claimed_until.is_not(None))
                .values(claimed_until=None)
            )
            return rowcount(result)

    async def settle_in_flight(
        self, resend_platforms: Collection[str], resend_since: datetime
    ) -> dict[str, int]:
        """At start, before any send: decide the rows that were in flight at a crash.

        On ``resend_platforms`` (a resend is deduplicated by the platform), and
        for every message to one person or room (priority 0: at least once), a
        row marked sending at or after ``resend_since`` goes back to pending;
        every other one (a broadcast row on Telegram) becomes ``uncertain`` —
        it is never sent again.
        """
        now = self._store.now()
        sending = Row.status == SENDING
        resendable = (Row.platform.in_(list(resend_platforms)) | (Row.priority == 0)) & (
            Row.updated_at >= resend_since
        )
        async with self._store.write() as session:
            resent = await session.execute(
                update(Row)
                .where(sending, resendable)
                .values(
                    status=PENDING,
                    not_before=now,
                    claimed_until=None,
                    updated_at=now,
                    # Where the platform cannot deduplicate, the resend says it may repeat.
                    error=case(
                        (Row.platform.in_(list(resend_platforms)), Row.error),
                        else_=MAY_HAVE_ARRIVED,
                    ),
                )
            )
            uncertain = await session.execute(
                update(Row)
                .where(sending)
                .values(
                    status=UNCERTAIN, error="in_flight_at_stop", claimed_until=None, updated_at=now
                )
            )
            return {PENDING: rowcount(resent), UNCERTAIN: rowcount(uncertain)}

    async def recent_sends(
        self, platforms: Collection[str], since: datetime
    ) -> list[tuple[str, str | None, datetime]]:
        """(platform, destination, when) of every send that may have reached a
        platform since ``since``: rows finished (or settled as uncertain) since
        then, each with the time its outcome was written; the destination is
        None where ``/forget`` destroyed the row's key. For the dispatcher's
        flood windows at start.
        """
        reached = (SENT, UNCERTAIN, FAILED, INACTIVE, SENDING)
        async with self._store.read() as session:
            rows = (
                await session.execute(
                    select(
                        Row.id, Row.platform, Row.data_key_id, Row.destination_enc, Row.updated_at
                    )
                    .where(
                        Row.platform.in_(list(platforms)),
                        Row.status.in_(reached),
                        Row.updated_at >= since,
                    )
                    .order_by(Row.updated_at)
                )
            ).all()
            found: list[tuple[str, str | None, datetime]] = []
            for row_id, platform, key_id, destination, at in rows:
                address = None
                if key_id is not None:
                    key = await self._vault.key(session, key_id)
                    address = open_text(key, _TABLE, "destination", row_id, destination)
                found.append((str(platform), address, at))
            return found

    async def fill_platforms(self) -> int:
        """Rows queued before the platform column existed: fill it from the sealed address."""
        filled = 0
        async with self._store.write() as session:
            rows = (await session.execute(select(Row).where(Row.platform.is_(None)))).scalars()
            for row in rows:
                key = await self._vault.key(session, row.data_key_id)
                address = open_text(key, _TABLE, "destination", row.id, row.destination_enc)
                row.platform = platform_of(address or "")
                filled += 1
        return filled

    # ------------------------------------------------------ single messages
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

    async def _finish(self, item_id: int, **values: object) -> None:
        async with self._store.write() as session:
            result = await session.execute(
                update(Row)
                .where(Row.id == item_id)
                .values(claimed_until=None, updated_at=self._store.now(), **values)
            )
            if rowcount(result) == 0:
                raise NotFound("no such outbox message")

    # -------------------------------------------------------------- reading
    async def counts(self, kind: str, ref: str) -> dict[str, int]:
        """Messages of one broadcast by status (``pending``, ``sent``, …)."""
        async with self._store.read() as session:
            rows = await session.execute(
                select(Row.status, func.count())
                .where(Row.kind == kind, Row.ref == ref)
                .group_by(Row.status)
            )
            return {str(status): int(n) for status, n in rows}

    async def problems(self, kind: str, ref: str) -> list[OutboxProblem]:
        """The broadcast's messages that failed, found their destination gone, or are uncertain."""
        async with self._store.read() as session:
            rows = await session.execute(
                select(Row).where(Row.kind == kind, Row.ref == ref, Row.status.in_(PROBLEMS))
            )
            found = []
            for row in rows.scalars():
                key = await self._vault.key(session, row.data_key_id)
                address = open_text(key, _TABLE, "destination", row.id, row.destination_enc)
                found.append(OutboxProblem(address or "", row.status, row.error))
        return sorted(found, key=lambda p: (p.status, p.address))

    async def purge_finished_before(self, cutoff: datetime) -> int:
        """Delete finished rows (and finished broadcast headers) last touched before ``cutoff``."""
        async with self._store.write() as session:
            rows = (
                await session.execute(
                    select(Row.id, Row.data_key_id).where(
                        Row.status.in_(FINISHED), Row.updated_at < cutoff
                    )
                )
            ).all()
            headers = (
                await session.execute(
                    select(Broadcast.id, Broadcast.data_key_id).where(
                        Broadcast.state == "done", Broadcast.updated_at < cutoff
                    )
                )
            ).all()
            await session.execute(delete(Row).where(Row.id.in_([r.id for r in rows])))
            await session.execute(
                delete(Broadcast).where(Broadcast.id.in_([h.id for h in headers]))
            )
            keys = {r.data_key_id for r in rows} | {h.data_key_id for h in headers}
            still_used = set(
                (
                    await session.execute(select(Row.data_key_id).where(Row.data_key_id.in_(keys)))
                ).scalars()
            ) | set(
                (
                    await session.execute(
                        select(Broadcast.data_key_id).where(Broadcast.data_key_id.in_(keys))
                    )
                ).scalars()
            )
            await self._vault.destroy(session, keys - still_used)
            return len(rows)
