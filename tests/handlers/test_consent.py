"""Consent at any time: narrowing blocks a pending appeal; "ask me first" reviews."""

from __future__ import annotations

from handlers.messages import Address, Platform
from tests.handlers.test_appeals import ready_appeal, say, seed
from tests.handlers.test_intake import full_report
from tests.harness.bot import ALICE, BOB, TRIAGE, Harness, drain_outbox

ANA = Address(Platform.TELEGRAM, "7001")
STRANGER = Address(Platform.TELEGRAM, "9999")


def room(bot: Harness, needle: str) -> list[str]:
    return [o.text for o in bot.matrix.to(TRIAGE) if needle in o.text]


async def test_consent_is_shown_and_changed_with_buttons(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")  # public, anonymised
    replies = await bot.send(ANA, f"/consent {ref}")
    assert "Consent for" in replies[-1].text and "public appeal, anonymised" in replies[-1].text
    labels = [o.label for o in replies[-1].options]
    assert "✓ public appeal, anonymised" in labels and len(labels) == 5
    replies = await bot.press(ANA, "may be shared with trusted partners")
    assert replies[0].text == f"Consent for {ref} is now: may be shared with trusted partners."
    assert (await bot.db.cases.get(ref)).consent == "trusted_partners"
    assert room(bot, f"The defender narrowed the consent of {ref}")


async def test_narrowing_blocks_a_pending_appeal(bot: Harness) -> None:
    await seed(bot)
    ref = await full_report(bot, ANA, "en")
    appeal = await ready_appeal(bot, ref)
    await bot.send(ANA, f"/consent {ref}")
    await bot.press(ANA, "advisory group only")
    notice = room(bot, f"The defender narrowed the consent of {ref}")
    assert len(notice) == 1 and appeal in notice[0]
    answer = await say(bot, ALICE, f"/appeal send {appeal}")
    assert "no consent to a public appeal" in answer
    assert await drain_outbox(bot) == 0, "nothing was broadcast"
    assert (await bot.db.appeals.get(appeal)).state == "draft"


async def test_ask_me_first_sends_the_texts_for_review(bot: Harness) -> None:
    await seed(bot)
    ref = await full_report(bot, ANA, "en")
    await bot.send(ANA, f"/consent {ref}")
    await bot.press(ANA, "public appeal only after the defender approves its text")
    appeal = await ready_appeal(bot, ref)
    answer = await say(bot, ALICE, f"/appeal send {appeal}")
    assert "waits for the review" in answer
    await drain_outbox(bot)
    review = bot.telegram.last(ANA)
    assert "Free the defenders of the land collective." in review.text
    assert [o.label for o in review.options] == ["Yes, send it", "No"]
    # Sending again does not ask twice, and is still refused.
    assert "waits for the review" in await say(bot, ALICE, f"/appeal send {appeal}")
    assert await drain_outbox(bot) == 0

    # "No, because …": the reason reaches the room under the case reference.
    await bot.press(ANA, "No")
    assert room(bot, f"The defender of {ref} did not agree to the texts of {appeal}")
    await bot.send(ANA, "It names my village; please leave it out.")
    assert room(bot, "It names my village")
    assert "did not agree" in await say(bot, ALICE, f"/appeal send {appeal}")

    # New texts: a new review; "yes" lets the appeal go.
    await say(bot, ALICE, f"/appeal text {appeal} en Free the defenders of the collective.")
    await say(bot, ALICE, f"/appeal approve {appeal}")
    await say(bot, BOB, f"/appeal approve {appeal}", chat=BOB)
    assert "waits for the review" in await say(bot, ALICE, f"/appeal send {appeal}")
    await drain_outbox(bot)
    await bot.press(ANA, "Yes, send it")
    assert room(bot, f"The defender of {ref} agreed to the texts of {appeal}")
    assert "is being sent" in await say(bot, ALICE, f"/appeal send {appeal}")


async def test_consent_of_another_persons_case_is_refused(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    replies = await bot.send(STRANGER, f"/consent {ref}")
    assert replies[-1].text == f"You have no case {ref}. /status lists your cases."
    replies = await bot.send(STRANGER, choice=f"caseconsent:{ref}:public_named")
    assert (await bot.db.cases.get(ref)).consent == "public_anonymised"
