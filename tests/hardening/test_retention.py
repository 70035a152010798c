"""Retention: each purge at its own deadline; expired button tokens and
finished outbox rows purged too."""

from __future__ import annotations

from datetime import timedelta

from handlers.deadlines import FINISHED_OUTBOX_KEPT
from handlers.messages import Address, Platform
from tests.handlers.test_intake import full_report
from tests.harness.bot import ALICE, TRIAGE, Harness

ANA = Address(Platform.TELEGRAM, "7701")
MINUTE = timedelta(minutes=1)


STEP = timedelta(minutes=10)


async def walk(bot: Harness, span: timedelta) -> None:
    """Let ``span`` pass as it does for a running bot: in short steps, each
    running what has come due (``advance`` alone would jump in one go)."""
    end = bot.clock.now() + span
    while bot.clock.now() < end:
        await bot.advance(min(STEP, end - bot.clock.now()))


async def test_a_draft_is_erased_at_its_limit_not_up_to_a_day_later(bot: Harness) -> None:
    await bot.send(ANA, "/report")
    await bot.send(ANA, "a draft left behind")
    account = await bot.db.accounts.find(str(ANA))
    assert account is not None
    lifetime = bot.services.settings.draft_lifetime
    await bot.advance(timedelta(hours=1))  # the first purge runs now
    await bot.advance(lifetime - timedelta(hours=1) - STEP)
    assert await bot.db.conversations.load(account.id) is not None
    await walk(bot, 2 * STEP)
    assert await bot.db.conversations.load(account.id) is None


async def test_a_closed_case_is_purged_at_its_limit(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    await bot.send(ALICE, f"/close {ref} outcome=resolved resolved", chat=TRIAGE)
    retention = bot.services.settings.closed_case_retention
    await bot.advance(retention - timedelta(hours=23))  # a purge runs here
    assert ref in {case.ref for case in await bot.db.cases.list_cases("all")}
    await walk(bot, timedelta(hours=23) + STEP)
    assert ref not in {case.ref for case in await bot.db.cases.list_cases("all")}


async def test_expired_tokens_and_finished_outbox_rows_are_purged(bot: Harness) -> None:
    await bot.db.tokens.issue(str(ANA), "lang:es", timedelta(hours=1))
    await bot.db.outbox.enqueue("notice", "N-1", [(str(ANA), "en")], "hello")
    [item] = await bot.db.outbox.claim(10)
    await bot.db.outbox.mark_sent(item.id, "1")
    assert await count(bot, "callback_tokens") == 1 and await count(bot, "outbox") == 1
    await bot.advance(timedelta(days=40))
    assert await count(bot, "callback_tokens") == 0
    # The daily digest queues a row a day (in the outbox since issue 12): only
    # the rows finished more than FINISHED_OUTBOX_KEPT ago are gone.
    assert await count(bot, "outbox", f"id = {item.id}") == 0
    assert await count(bot, "outbox") <= FINISHED_OUTBOX_KEPT.days + 1


async def count(bot: Harness, table: str, where: str = "1 = 1") -> int:
    from sqlalchemy import text

    async with bot.db._store.read() as session:
        query = text(f"SELECT count(*) FROM {table} WHERE {where}")
        return int((await session.execute(query)).scalar_one())
