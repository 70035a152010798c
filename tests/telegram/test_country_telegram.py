"""The report's country question over the real python-telegram-bot stack
(fake Bot API server): buttons named in the defender's language, "Other"
with a typed name, and the case card showing the country (issue 14)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from handlers.i18n import render
from handlers.vocab import country_name
from tests.telegram.conftest import TelegramWorld, open_world
from tests.telegram.test_intake_telegram import LABELS, press, say, send_report, start_report


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[TelegramWorld]:
    async with open_world(
        tmp_path, '[casework]\nintake_countries = ["CO", "MX", "KE"]\n'
    ) as opened:
        yield opened


@pytest.mark.parametrize(
    ("language", "typed", "code", "english"),
    [("es", "Perú", "PE", "Peru"), ("ar", "كينيا", "KE", "Kenya")],
)
async def test_country_typed_after_other_reaches_the_summary_and_the_card(
    world: TelegramWorld, language: str, typed: str, code: str, english: str
) -> None:
    user = await start_report(world, language, "Armed men came to our office")
    labels = LABELS[language]
    asked = render(language, "In which country? Choose it below, or press Other to write it.")
    question = await world.server.wait_for_message(user.id, lambda m: m.text == asked)
    assert question.button_texts == [
        *(country_name(code, language) for code in ("CO", "MX", "KE")),
        render(language, "Other"),
        render(language, "Skip"),
    ]
    await press(world, user, render(language, "Other"))
    await say(world, user, typed)
    who = render(language, "Who is at risk? A person, an organisation or a community.")
    await world.server.wait_for_message(user.id, lambda m: m.text == who)
    await say(world, user, "Ana")
    await press(world, user, labels["days"])
    await press(world, user, labels["anon"])
    summary = await press(world, user, labels["skip"])
    assert country_name(code, language) in (summary.text or "")
    ref, card = await send_report(world, user, language)
    assert f"Country: {english} ({code})" in (card.text or "")  # the rooms' language: en
    assert (await world.app.services.db.casefile.get(ref)).tags == {"country": (code,)}
