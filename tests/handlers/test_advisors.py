"""`/advisor add|remove|list`: the advisory group changed in chat, effective only
after a second advisor confirms, audited, kept across restarts (issue 18, item 8).

ALICE is an advisor on Matrix (in the triage room), BOB on Telegram (in his
private chat with the bot): the same command works on both platforms."""

from __future__ import annotations

import pytest

from handlers import roster
from handlers.messages import Address, Platform
from tests.harness.bot import ALICE, BOB, TRIAGE, Harness

CAROL = Address(Platform.TELEGRAM, "3003")
DAN = Address(Platform.MATRIX, "@dan:localhost")
REFUSED = "This command is for the advisory group."


async def actions(bot: Harness) -> list[str]:
    """The audit entries of the advisory group's roster (other commands audit too)."""
    return [e.action for e in await bot.db.audit.entries() if e.action.startswith("advisor.")]


async def test_a_stranger_is_refused_before_anything_is_looked_up(bot: Harness) -> None:
    replies = await bot.send(CAROL, "/advisor add telegram:3003")
    assert [r.text for r in replies] == [REFUSED]
    assert await bot.db.advisors.roster() == []
    assert not [a for a in await actions(bot) if a.startswith("advisor.")]


async def test_an_addition_needs_a_second_advisor(bot: Harness) -> None:
    proposed = await bot.send(ALICE, "/advisor add telegram:3003", chat=TRIAGE)
    assert proposed[-1].text == (
        "Proposed. Another advisor confirms with: /advisor add telegram:3003"
    )
    # Not yet in force: Carol is still refused.
    assert (await bot.send(CAROL, "/cases"))[-1].text == REFUSED
    repeated = await bot.send(ALICE, "/advisor add telegram:3003", chat=TRIAGE)
    assert repeated[-1].text == "A second advisor must confirm this change."
    assert (await bot.send(CAROL, "/cases"))[-1].text == REFUSED

    confirmed = await bot.send(BOB, "/advisor add 3003")  # Telegram, a bare id
    assert confirmed[-1].text == "telegram:3003 is now an advisor."
    assert (await bot.send(CAROL, "/cases"))[-1].text != REFUSED
    assert await actions(bot) == ["advisor.propose_add", "advisor.add"]
    listing = await bot.send(ALICE, "/advisor list", chat=TRIAGE)
    assert "telegram:3003" in listing[-1].text or "3003" in listing[-1].text

    # After a restart the config's list (Alice, Bob) gets the change applied again.
    bot.services.settings = bot.services.settings.__class__(
        advisory_rooms=(TRIAGE,), advisors=(ALICE, BOB)
    )
    await roster.load(bot.services)
    assert bot.services.settings.advisors == (ALICE, BOB, CAROL)


async def test_a_removal_needs_a_second_advisor_and_two_must_remain(bot: Harness) -> None:
    await bot.send(ALICE, "/advisor add @dan:localhost", chat=TRIAGE)
    await bot.send(BOB, "/advisor add matrix:@dan:localhost")
    assert bot.services.settings.is_advisor(DAN)

    proposed = await bot.send(DAN, "/advisor remove telegram:2002")
    assert proposed[-1].text.startswith("Proposed.")
    assert bot.services.settings.is_advisor(BOB)  # still, until confirmed
    done = await bot.send(ALICE, "/advisor remove 2002", chat=TRIAGE)
    assert done[-1].text == "telegram:2002 is no longer an advisor."
    assert (await bot.send(BOB, "/cases"))[-1].text == REFUSED

    # Two left: a removal is refused, so that every change can still be confirmed.
    refused = await bot.send(ALICE, "/advisor remove dan", chat=TRIAGE)
    assert "at least two advisors" in refused[-1].text
    assert bot.services.settings.advisors == (ALICE, DAN)
    await roster.load(bot.services)
    assert bot.services.settings.advisors == (ALICE, DAN)


async def test_bad_input_gets_the_usage_and_changes_nothing(bot: Harness) -> None:
    add_usage = "Usage: /advisor add telegram:ID|matrix:@user:server|NAME"
    remove_usage = "Usage: /advisor remove telegram:ID|matrix:@user:server|NAME"
    for text, usage in (
        ("/advisor add", add_usage),
        ("/advisor add two words", add_usage),
        ("/advisor remove nobody", remove_usage),  # not a current advisor's name
        ("/advisor", "Usage: /advisor add telegram:ID"),
        ("/advisor promote 3003", "Usage: /advisor add telegram:ID"),
    ):
        reply = (await bot.send(ALICE, text, chat=TRIAGE))[-1].text
        assert reply.startswith(usage), (text, reply)
    gone = await bot.send(ALICE, "/advisor remove telegram:3003", chat=TRIAGE)
    assert gone[-1].text == "telegram:3003 is not one of the advisors."
    already = await bot.send(ALICE, "/advisor add telegram:2002", chat=TRIAGE)
    assert already[-1].text == "telegram:2002 is already an advisor."
    assert await bot.db.advisors.roster() == []


async def test_a_confirmation_rolled_back_gives_no_rights(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The change, its audit entry and the reply are one unit of work; the rights
    in memory change only after it commits."""
    await bot.send(ALICE, "/advisor add telegram:3003", chat=TRIAGE)
    send_text = bot.services.post.send_text

    async def broken(chat: Address, text: str, **kwargs: object) -> object:
        if "is now an advisor" in text:  # after the change and its audit entry were written
            raise RuntimeError("the outbox is full")
        return await send_text(chat, text, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bot.services.post, "send_text", broken)
    failed = await bot.send(BOB, "/advisor add 3003")
    monkeypatch.setattr(bot.services.post, "send_text", send_text)
    assert [r.text for r in failed] == [
        "Something went wrong and nothing was saved. Please send it again."
    ]
    assert not bot.services.settings.is_advisor(CAROL)
    assert (await bot.send(CAROL, "/cases"))[-1].text == REFUSED
    assert [(e.address, e.state) for e in await bot.db.advisors.roster()] == [
        ("telegram:3003", "proposed_add")
    ]
    assert await actions(bot) == ["advisor.propose_add"]
    again = await bot.send(BOB, "/advisor add 3003")
    assert again[-1].text == "telegram:3003 is now an advisor."
    assert bot.services.settings.is_advisor(CAROL)
