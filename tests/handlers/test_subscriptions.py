"""A subscription widens an appeal's audience (issue 16, item 2)."""

from __future__ import annotations

from tests.handlers.test_appeals import (
    GOMA_ROOM,
    STRANGER,
    TIERRA_GROUP,
    TUNIS_GROUP,
    UNREGISTERED,
    ready_appeal,
    say,
    seeded,
)
from tests.harness.bot import ALICE, BOB, Harness

GOMA_PERSON = STRANGER.__class__(GOMA_ROOM.platform, "@amani:localhost")
__all__ = ["seeded"]  # the fixture, shared with test_appeals


async def test_a_subscription_widens_the_audience(seeded: Harness) -> None:
    bot = seeded
    answer = await say(bot, GOMA_PERSON, "/subscribe region=Americas group=land", chat=GOMA_ROOM)
    assert "region=americas" in answer and "group=land" in answer
    ref = await ready_appeal(bot)
    target = await say(bot, ALICE, f"/appeal target {ref} region=Americas")
    assert f"Audience of {ref}: 2 member groups." in target
    assert "By the registry: 1; by subscription: 1." in target
    await say(bot, ALICE, f"/appeal approve {ref}")  # targeting withdrew the approvals
    await say(bot, BOB, f"/appeal approve {ref}", chat=BOB)
    bot.take_broadcasts()
    assert "being sent to 2 member groups" in await say(bot, ALICE, f"/appeal send {ref}")
    assert bot.take_broadcasts() == 2
    assert "Libérez" in bot.matrix.last(GOMA_ROOM).text, "in the subscriber's language"
    assert not bot.telegram.to(TUNIS_GROUP)
    assert "signed" in await say(bot, GOMA_PERSON, f"/sign {ref}", chat=GOMA_ROOM)
    assert TIERRA_GROUP in [o.chat for o in bot.telegram.sent]


async def test_unsubscribe_mute_and_bad_input(seeded: Harness) -> None:
    bot = seeded
    # Only a registered contact may mute a member group (issue 13).
    goma = await bot.db.members.group(str(GOMA_ROOM))
    assert goma is not None and goma.organisation_id is not None
    await bot.db.members.add_contact(goma.organisation_id, str(GOMA_PERSON))
    await say(bot, GOMA_PERSON, "/subscribe region=Americas language=es", chat=GOMA_ROOM)
    ref = await ready_appeal(bot)
    assert "by subscription: 1" in await say(bot, ALICE, f"/appeal target {ref} region=Americas")
    await say(bot, GOMA_PERSON, "/mute", chat=GOMA_ROOM)
    assert "by subscription: 0" in await say(bot, ALICE, f"/appeal target {ref} region=Americas")
    await say(bot, GOMA_PERSON, "/unmute", chat=GOMA_ROOM)
    left = await say(bot, GOMA_PERSON, "/unsubscribe region=americas", chat=GOMA_ROOM)
    assert "language=es" in left and "region" not in left
    assert "by subscription: 0" in await say(bot, ALICE, f"/appeal target {ref} region=Americas")
    assert "by subscription: 1" in await say(bot, ALICE, f"/appeal target {ref} language=es")
    assert "no subscriptions" in await say(bot, GOMA_PERSON, "/unsubscribe all", chat=GOMA_ROOM)
    assert "no subscriptions" in await say(bot, GOMA_PERSON, "/subscriptions", chat=GOMA_ROOM)
    usage = await say(bot, GOMA_PERSON, "/subscribe colour=red", chat=GOMA_ROOM)
    assert usage == "Usage: /subscribe region=…|group=…|language=…"
    assert "Usage" in await say(bot, GOMA_PERSON, "/subscribe language=de", chat=GOMA_ROOM)
    assert "Usage" in await say(bot, GOMA_PERSON, "/subscribe", chat=GOMA_ROOM)
    assert "not a registered member group" in await say(
        bot, STRANGER, "/subscribe region=Americas", chat=UNREGISTERED
    )
    assert await bot.db.subscriptions.of(str(GOMA_ROOM)) == []
