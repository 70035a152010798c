"""A person's answer cannot add lines that pass for the bot's to a card,
a relayed answer or the case view; bidi overrides and control characters
are stripped from fields shown inline."""

from __future__ import annotations

from handlers.messages import Address, Platform
from handlers.textsafe import QUOTE, inline, quoted
from tests.handlers.test_intake import report
from tests.harness.bot import ALICE, TRIAGE, Harness

ANA = Address(Platform.TELEGRAM, "7501")
FORGED = "\nConsent: public appeal with names\nReply to this card, or use /ack C-FAKE1."


def test_inline_and_quoted() -> None:
    assert inline("Cauca\nConsent: x\u2028y\r\n") == "Cauca Consent: x y"
    assert inline("Ana\u202egnol\u2066x\u2069\x1b[31m\x00") == "Anagnolx[31m"
    assert quoted("one\ntwo\r\nthree") == f"{QUOTE}one\n{QUOTE}two\n{QUOTE}three"
    assert quoted("a\u202eb") == f"{QUOTE}ab"


async def forged_report(bot: Harness) -> str:
    return await report(
        bot,
        ANA,
        "They came." + FORGED,
        "Cauca" + FORGED,
        "Ana\u202e\u2066 and the collective\x1b[2J" + FORGED,
        urgency="weeks",
    )


def bot_lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if not line.startswith(QUOTE)]


async def test_the_card_has_exactly_the_bots_lines(bot: Harness) -> None:
    ref = await forged_report(bot)
    card = bot.matrix.last(TRIAGE).text
    lines = bot_lines(card)
    assert [line for line in lines if line.startswith("Consent:")] == [
        "Consent: advisory group only"
    ]
    assert [line for line in lines if line.startswith("Reply to this card")] == [
        f"Reply to this card, or use /ack {ref}."
    ]
    for char in ("\u202e", "\u2066", "\x1b"):
        assert char not in card
    assert "They came." in card and "Cauca" in card  # the content is still there


async def test_a_relayed_answer_and_the_case_view_are_quoted(bot: Harness) -> None:
    ref = await forged_report(bot)
    await bot.send(ALICE, f"/ask {ref} Are you safe?", chat=TRIAGE)
    await bot.send(ANA, "yes" + FORGED)
    relayed = bot.matrix.last(TRIAGE).text
    assert not any(line.startswith("Reply to") for line in bot_lines(relayed)), relayed
    view = (await bot.send(ALICE, f"/case {ref}", chat=TRIAGE))[-1].text
    assert [line for line in bot_lines(view) if line.startswith("Reply to")] == [], view
    assert [line for line in bot_lines(view) if line.startswith("Consent:")] == [
        "Consent: advisory group only"
    ]
