"""/resources: every topic in every language, from the editable files."""

from __future__ import annotations

import re

import pytest

from handlers import resources
from handlers.command_table import COMMANDS
from handlers.i18n import LANGUAGES
from handlers.messages import Address, Platform
from tests.harness.bot import Harness

ANA = Address(Platform.TELEGRAM, "7001")
HELPLINES = ("accessnow.org", "frontlinedefenders.org", "protectdefenders.eu")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_topic_exists_in_every_language(language: str) -> None:
    content = resources.load(language)
    assert set(content) == set(resources.TOPICS), f"{language}: topics differ"
    for key in resources.TOPICS:
        entry = content[key]
        assert entry["title"].strip() and entry["guidance"].strip(), (language, key)
        assert entry["contacts"], (language, key)
        for contact in entry["contacts"]:
            # Public web addresses only: no phone numbers, no e-mail, no plain http.
            urls = re.findall(r"\S+://\S+", contact)
            assert urls and all(url.startswith("https://") for url in urls), contact
            assert "@" not in contact and not re.search(r"\+?\d[\d ]{6,}", contact), contact
    named = " ".join(c for entry in content.values() for c in entry["contacts"])
    for helpline in HELPLINES:
        assert helpline in named, f"{language}: {helpline} missing"


def test_translations_differ_from_english() -> None:
    english = resources.load("en")
    for language in ("es", "fr", "ar"):
        for key in resources.TOPICS:
            assert resources.load(language)[key]["guidance"] != english[key]["guidance"]


async def test_topics_as_buttons_and_by_name(bot: Harness) -> None:
    await bot.send(ANA, "/start", hint="fr")
    await bot.press(ANA, "lang:fr")
    replies = await bot.send(ANA, "/resources")
    labels = [o.label for o in replies[-1].options]
    assert labels == [resources.load("fr")[k]["title"] for k in resources.TOPICS]
    replies = await bot.press(ANA, "Sécurité numérique")
    assert "https://www.accessnow.org/help/" in replies[-1].text
    assert replies[-1].text.startswith("Sécurité numérique")
    replies = await bot.send(ANA, "/resources relocation")
    assert "https://protectdefenders.eu/" in replies[-1].text
    replies = await bot.send(ANA, "/resources weather")
    usage = next(c.spec for c in COMMANDS if c.spec.name == "resources").usage()
    assert usage in replies[-1].text and len(replies) == 1
