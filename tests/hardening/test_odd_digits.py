"""Digits that are not decimal ("²", "①", "³", Arabic-Indic) never crash a turn."""

from __future__ import annotations

import pytest

from handlers.messages import Address, IncomingMessage, Option, Platform
from handlers.turn import resolve_choice
from tests.harness.bot import Harness

ANA = Address(Platform.TELEGRAM, "7101")
OPTIONS = [Option("x:a", "Alpha"), Option("x:b", "Beta"), Option("x:c", "Gamma")]


def typed(text: str) -> IncomingMessage:
    return IncomingMessage(chat=ANA, sender=ANA, text=text, is_private=True, message_id="1")


@pytest.mark.parametrize("text", ["500 m²", "①", "³", "²", "⑽", "1²", "Ⅻ"])
def test_non_decimal_digits_resolve_to_nothing(text: str) -> None:
    assert resolve_choice(typed(text), OPTIONS) is None


@pytest.mark.parametrize(
    ("text", "key"), [("٢", "x:b"), ("３", "x:c"), ("2.", "x:b"), ("1)", "x:a")]
)
def test_decimal_digits_of_any_script_still_choose(text: str, key: str) -> None:
    assert resolve_choice(typed(text), OPTIONS) == key


@pytest.mark.parametrize("text", ["500 m²", "①", "³"])
async def test_odd_digits_in_every_step_that_reads_them(bot: Harness, text: str) -> None:
    await bot.send(ANA, "/start")
    replies = await bot.send(ANA, text)  # the language question
    assert replies and all(o.chat == ANA for o in replies)
    await bot.send(ANA, "/report")
    replies = await bot.send(ANA, text)  # the first step takes it as text
    assert "Noted" in replies[-1].text
    await bot.press(ANA, "what:done")
    await bot.send(ANA, "Cauca")
    await bot.send(ANA, "me")
    replies = await bot.send(ANA, text)  # urgency: not an option
    assert "Please choose one of the options." in [o.text for o in replies]
    await bot.press(ANA, "urgency:days")
    await bot.press(ANA, "consent:advisory_only")
    replies = await bot.send(ANA, text)  # the contact step takes it as text
    assert "Please check your report" in replies[-1].text
    assert f"How to reach you: {text}" in replies[-1].text
