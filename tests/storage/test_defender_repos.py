"""Check-ins, consent changes, reviews and reopening: on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from storage import Database, NotFound
from storage.records import Checkin, CheckinState
from tests.storage.conftest import Clock, raw
from tests.storage.test_repositories import ANA, new_case

HOURS = timedelta(hours=6)


async def reporter_and_case(db: Database) -> tuple[int, str]:
    """Ana's account id and a case she reported."""
    account = await db.accounts.get_or_create(ANA)
    return account.id, await new_case(db, reporter=account.id)


async def start_series(
    db: Database, account_id: int, ref: str, *, proposed_by: str = "defender", days: int = 1
) -> tuple[Checkin, list[int]]:
    """A check-in series every six hours with half an hour's grace, for ``days``."""
    return await db.checkins.start(
        account_id,
        ref,
        proposed_by=proposed_by,
        interval=HOURS,
        length=timedelta(days=days),
        grace=timedelta(minutes=30),
    )


async def test_a_checkin_series_lives_and_replaces_the_old_one(db: Database, clock: Clock) -> None:
    account_id, ref = await reporter_and_case(db)
    first, replaced = await start_series(db, account_id, ref, days=3)
    assert replaced == [] and first.state == CheckinState.WORD and first.case_ref == ref
    active = await db.checkins.activate(first.id, "Sunflower")
    assert active.state == CheckinState.ACTIVE and active.has_duress_word
    assert await db.checkins.is_duress(first.id, "  sunflower ")
    assert not await db.checkins.is_duress(first.id, "sun flower")
    asked = await db.checkins.asked(first.id)
    assert asked.asked_at is not None
    assert await db.checkins.missed(first.id) is True
    assert await db.checkins.missed(first.id) is False, "one alert per miss"
    before = await db.checkins.answered(first.id)
    assert before.missed_at is not None
    after = await db.checkins.get(first.id)
    assert after is not None and after.asked_at is None and after.last_answer_at is not None
    second, replaced = await start_series(db, account_id, ref, proposed_by="advisor")
    assert replaced == [first.id] and second.state == CheckinState.PROPOSED
    assert [c.id for c in await db.checkins.live_of(account_id)] == [second.id]


async def test_the_duress_word_is_not_in_the_database(db_url: str, db: Database) -> None:
    account_id, ref = await reporter_and_case(db)
    series, _ = await start_series(db, account_id, ref)
    await db.checkins.activate(series.id, "marigold")
    async with raw(db_url) as conn:
        rows = (await conn.execute(text("SELECT duress_hash FROM checkins"))).scalars().all()
    assert len(rows) == 1 and rows[0] and "marigold" not in rows[0] and len(rows[0]) == 64


async def test_forget_erases_checkins(db: Database) -> None:
    account_id, ref = await reporter_and_case(db)
    await start_series(db, account_id, ref)
    await db.cases.forget_reporter(account_id)
    assert await db.checkins.live_of(account_id) == []


async def test_consent_changes_and_reviews_are_case_events(db: Database) -> None:
    account_id, ref = await reporter_and_case(db)
    assert await db.cases.set_consent(ref, account_id, "ask_first") == "advisory_only"
    assert (await db.cases.get(ref)).consent == "ask_first"
    with pytest.raises(NotFound):
        await db.cases.set_consent(ref, account_id + 1, "public_named")
    with pytest.raises(ValueError):
        await db.cases.set_consent(ref, account_id, "everyone")
    await db.cases.record_review(ref, account_id, "A-7K4QM2", "0123456789abcdef", approved=True)
    kinds = [(e.kind, e.value) for e in await db.cases.history(ref)]
    assert ("consent", "ask_first") in kinds
    assert ("review", "yes:A-7K4QM2:0123456789abcdef") in kinds


async def test_a_closed_case_reopens_within_the_period_only(db: Database, clock: Clock) -> None:
    account_id, ref = await reporter_and_case(db)
    await db.cases.close(ref, "matrix:@alice:example.org", "done")
    since = clock.now() - timedelta(days=30)
    with pytest.raises(NotFound):
        await db.cases.reopen(ref, account_id + 1, since)
    assert await db.cases.reopen(ref, account_id, since) is True
    assert (await db.cases.get(ref)).state == "triage"
    assert await db.cases.reopen(ref, account_id, since) is False, "already open"
    await db.cases.close(ref, "matrix:@alice:example.org", "done again")
    clock.advance(days=31)
    assert await db.cases.reopen(ref, account_id, clock.now() - timedelta(days=30)) is False
