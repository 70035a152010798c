"""Helpers of the casework tests."""

from __future__ import annotations

from handlers.messages import Address
from tests.handlers.test_intake import ANSWERS, ref_in
from tests.harness.bot import Harness


async def report(bot: Harness, who: Address, consent: str = "public_anonymised") -> str:
    """A whole report in English through the defender's conversation; its reference."""
    what, where, at_risk = ANSWERS["en"]
    await bot.send(who, "/start", hint="en")
    await bot.press(who, "lang:en")
    await bot.send(who, "/report")
    await bot.send(who, what)
    await bot.press(who, "what:done")
    await bot.send(who, where)
    await bot.send(who, at_risk)
    await bot.press(who, "urgency:days")
    await bot.press(who, f"consent:{consent}")
    await bot.press(who, "contact:skip")
    replies = await bot.press(who, "summary:confirm")
    receipt = next(o for o in replies if o.chat == who and "C-" in o.text)
    return ref_in(receipt.text)
