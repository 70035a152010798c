"""The outbox's storage rules, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from storage import Database
from storage.repos.broadcasts import REPORT_KIND, report_ref
from storage.repos.outbox import (
    FAILED,
    INACTIVE,
    PENDING,
    SENDING,
    SENT,
    UNCERTAIN,
    Delivery,
    Outcome,
    add_broadcast,
)
from tests.storage.conftest import Clock, raw

GROUP_ES, GROUP_FR = "telegram:-1001234567890", "telegram:-1009876543210"
ROOM = "matrix:!members:example.org"
TRIAGE = "matrix:!triage:example.org"


def appeal(*addresses: str, text: str = "Firmen la carta urgente") -> list[Delivery]:
    return [Delivery(a, "es", text) for a in addresses]


async def test_a_broadcast_is_queued_with_its_cause_or_not_at_all(db: Database) -> None:
    store = db.outbox._store
    with pytest.raises(RuntimeError):
        async with store.write() as session:
            await add_broadcast(session, store, "appeal", "A-9TXW3B", appeal(GROUP_ES), [TRIAGE])
            raise RuntimeError("the appeal could not be marked sent")
    assert await db.outbox.counts("appeal", "A-9TXW3B") == {}
    assert await db.outbox.running() == []
    async with store.write() as session:
        await add_broadcast(session, store, "appeal", "A-9TXW3B", appeal(GROUP_ES), [TRIAGE])
    assert await db.outbox.counts("appeal", "A-9TXW3B") == {PENDING: 1}
    [info] = await db.outbox.running()
    assert (info.kind, info.ref, info.report_to, info.progress) == (
        "appeal",
        "A-9TXW3B",
        (TRIAGE,),
        {},
    )


async def test_enqueueing_again_adds_only_missing_destinations(db: Database) -> None:
    assert await db.outbox.enqueue_broadcast("appeal", "A-9TXW3B", appeal(GROUP_ES), [TRIAGE]) == 1
    again = appeal(GROUP_ES, GROUP_FR, GROUP_FR)
    assert await db.outbox.enqueue_broadcast("appeal", "A-9TXW3B", again, [TRIAGE]) == 1
    assert await db.outbox.enqueue_broadcast("appeal", "A-9TXW3B", again, [TRIAGE]) == 0
    assert await db.outbox.counts("appeal", "A-9TXW3B") == {PENDING: 2}
    assert len(await db.outbox.running()) == 1


async def test_each_platform_claims_its_own_with_buttons(db: Database) -> None:
    deliveries = [
        Delivery(GROUP_ES, "es", "Firmen", (("sign", "Firmar"),)),
        Delivery(ROOM, "en", "Sign"),
    ]
    await db.outbox.enqueue_broadcast("appeal", "A-9TXW3B", deliveries, [TRIAGE])
    [matrix] = await db.outbox.claim(10, platform="matrix")
    assert (matrix.address, matrix.body, matrix.options, matrix.platform) == (
        ROOM,
        "Sign",
        (),
        "matrix",
    )
    [telegram] = await db.outbox.claim(10, platform="telegram")
    assert telegram.options == (("sign", "Firmar"),) and telegram.platform == "telegram"
    assert await db.outbox.claim(10) == []  # both held


async def test_sending_is_marked_only_on_pending_rows(db: Database, clock: Clock) -> None:
    await db.outbox.enqueue_broadcast("appeal", "A-9TXW3B", appeal(GROUP_ES, GROUP_FR), [TRIAGE])
    es, fr = sorted(await db.outbox.claim(10), key=lambda i: i.address)
    assert await db.outbox.record([es.id, fr.id], []) == {es.id, fr.id}
    assert await db.outbox.record([es.id], []) == set()  # already sending: never twice
    retry_at = clock.now() + timedelta(seconds=30)
    await db.outbox.record(
        [],
        [Outcome(es.id, SENT, remote_id="77"), Outcome(fr.id, PENDING, "rate_limited", retry_at)],
    )
    assert await db.outbox.counts("appeal", "A-9TXW3B") == {SENT: 1, PENDING: 1}
    assert await db.outbox.claim(10) == []  # not due yet
    clock.advance(seconds=31)
    [again] = await db.outbox.claim(10)
    assert again.id == fr.id and again.attempts == 2


async def test_in_flight_rows_become_uncertain_or_are_resent_by_transaction(
    db: Database, clock: Clock
) -> None:
    await db.outbox.enqueue_broadcast("appeal", "A-9TXW3B", appeal(GROUP_ES, ROOM), [TRIAGE])
    items = await db.outbox.claim(10)
    await db.outbox.record([i.id for i in items], [])
    clock.advance(minutes=5)
    settled = await db.outbox.settle_in_flight(["matrix"], clock.now() - timedelta(hours=12))
    assert settled == {PENDING: 1, UNCERTAIN: 1}
    [resend] = await db.outbox.claim(10)
    assert resend.address == ROOM
    # A Matrix send marked too long ago: the server may have forgotten the transaction.
    await db.outbox.record([resend.id], [])
    clock.advance(hours=13)
    await db.outbox.settle_in_flight(["matrix"], clock.now() - timedelta(hours=12))
    assert await db.outbox.counts("appeal", "A-9TXW3B") == {UNCERTAIN: 2}


async def test_recent_sends_are_what_may_have_reached_a_platform(
    db: Database, clock: Clock
) -> None:
    """At start the dispatcher loads its flood windows from these (with the outcome's time)."""
    groups = [f"telegram:-100{n}" for n in range(5)]
    await db.outbox.enqueue_broadcast("appeal", "A-9TXW3B", appeal(*groups, ROOM), [TRIAGE])
    items = {i.address: i for i in await db.outbox.claim(10)}
    await db.outbox.record([i.id for i in items.values()], [])
    clock.advance(seconds=1)
    outcomes = [
        Outcome(items[groups[0]].id, SENT),
        Outcome(items[groups[1]].id, UNCERTAIN),
        Outcome(items[groups[2]].id, INACTIVE),
        Outcome(items[groups[3]].id, PENDING, "rate_limited", clock.now()),  # refused: no send
    ]
    await db.outbox.record([], outcomes)
    sent_at = clock.now()
    clock.advance(seconds=2)
    await db.outbox.settle_in_flight([], clock.now())  # groups[4] and the room were in flight
    recent = await db.outbox.recent_sends(["telegram"], clock.now() - timedelta(minutes=1))
    assert sorted(recent) == [
        *[("telegram", groups[n], sent_at) for n in range(3)],
        ("telegram", groups[4], clock.now()),  # in flight at a crash: counted as just now
    ]
    assert [at for *_, at in recent] == sorted(at for *_, at in recent)  # oldest first
    assert await db.outbox.recent_sends(["telegram"], clock.now()) == [
        ("telegram", groups[4], clock.now())
    ]
    assert [r[1] for r in await db.outbox.recent_sends(["matrix"], sent_at)] == [ROOM]


async def test_a_broadcast_finishes_once_with_its_report(db: Database) -> None:
    await db.outbox.enqueue_broadcast("appeal", "A-9TXW3B", appeal(GROUP_ES, GROUP_FR), [TRIAGE])
    report = [Delivery(TRIAGE, "en", "Appeal A-9TXW3B: sending finished.")]
    assert not await db.outbox.finish_broadcast("appeal", "A-9TXW3B", report)  # still pending
    es, fr = sorted(await db.outbox.claim(10), key=lambda i: i.address)
    await db.outbox.record([es.id, fr.id], [])
    assert not await db.outbox.finish_broadcast("appeal", "A-9TXW3B", report)  # in flight
    await db.outbox.record([], [Outcome(es.id, SENT), Outcome(fr.id, INACTIVE, "gone")])
    assert await db.outbox.finish_broadcast("appeal", "A-9TXW3B", report)
    assert not await db.outbox.finish_broadcast("appeal", "A-9TXW3B", report)
    assert await db.outbox.running() == []
    assert await db.outbox.counts(REPORT_KIND, report_ref("appeal", "A-9TXW3B")) == {PENDING: 1}
    [problem] = await db.outbox.problems("appeal", "A-9TXW3B")
    assert (problem.address, problem.status, problem.error) == (GROUP_FR, INACTIVE, "gone")


async def test_progress_messages_are_remembered(db: Database) -> None:
    await db.outbox.enqueue_broadcast("appeal", "A-9TXW3B", appeal(GROUP_ES), [TRIAGE])
    await db.outbox.set_progress("appeal", "A-9TXW3B", {TRIAGE: "$event"})
    info = await db.outbox.broadcast("appeal", "A-9TXW3B")
    assert info is not None and info.progress == {TRIAGE: "$event"}


async def test_purge_keeps_what_is_in_flight(db: Database, clock: Clock) -> None:
    deliveries = appeal(GROUP_ES, GROUP_FR, ROOM)
    await db.outbox.enqueue_broadcast("appeal", "A-9TXW3B", deliveries, [TRIAGE])
    items = {i.address: i for i in await db.outbox.claim(10)}
    await db.outbox.record([i.id for i in items.values()], [])
    await db.outbox.record(
        [], [Outcome(items[GROUP_ES].id, SENT), Outcome(items[GROUP_FR].id, FAILED, "http_400")]
    )
    await db.outbox.finish_broadcast("appeal", "A-9TXW3B", [])
    clock.advance(days=40)
    assert await db.outbox.purge_finished_before(clock.now() - timedelta(days=30)) == 2
    assert await db.outbox.counts("appeal", "A-9TXW3B") == {SENDING: 1}


async def test_rows_from_before_the_platform_column_get_it(db: Database, db_url: str) -> None:
    await db.outbox.enqueue("relay", "C-7K4QM2", [(ROOM, None)], body="are you safe?")
    async with raw(db_url) as conn:
        await conn.execute(text("UPDATE outbox SET platform = NULL"))
    assert await db.outbox.claim(10, platform="matrix") == []
    assert await db.outbox.fill_platforms() == 1
    assert len(await db.outbox.claim(10, platform="matrix")) == 1


async def test_nothing_of_a_broadcast_is_stored_in_clear(db: Database, db_url: str) -> None:
    deliveries = [Delivery(GROUP_ES, "es", "Firmen la carta", (("sign", "Firmar ahora"),))]
    await db.outbox.enqueue_broadcast("appeal", "A-9TXW3B", deliveries, [TRIAGE])
    await db.outbox.set_progress("appeal", "A-9TXW3B", {TRIAGE: "$progress-event"})
    async with raw(db_url) as conn:
        rows = (await conn.execute(text("SELECT * FROM outbox"))).all()
        rows += (await conn.execute(text("SELECT * FROM broadcasts"))).all()
    dump = repr(rows).encode()
    for secret in (b"Firmen", b"Firmar", b"1001234567890", b"triage", b"progress-event"):
        assert secret not in dump
