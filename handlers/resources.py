"""``/resources``: short guidance and public contacts by topic (issue 15, item 5).

The content lives in ``locales/resources/<lang>.toml`` (read with the
standard library's ``tomllib``: no new dependency), which the network edits
without touching code; a test checks that every topic exists in every
language. A topic missing from a language falls back to English.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from handlers.i18n import LANGUAGES
from handlers.messages import Option
from handlers.turn import Turn

TOPICS = ("digital", "physical", "legal", "psychosocial", "relocation", "documenting")
PREFIX = "resources:"


@cache
def load(language: str) -> dict[str, dict[str, Any]]:
    """The topics of one language, as written in its file."""
    if language not in LANGUAGES:
        language = "en"
    path = resources.files("locales") / "resources" / f"{language}.toml"
    with path.open("rb") as handle:
        return tomllib.load(handle)


def topic(language: str, key: str) -> dict[str, Any]:
    return load(language).get(key) or load("en")[key]


def topic_text(language: str, key: str) -> str:
    entry = topic(language, key)
    lines = [str(entry["title"]), "", str(entry["guidance"]).strip()]
    contacts = [str(contact) for contact in entry.get("contacts", ())]
    if contacts:
        lines += ["", *(f"• {contact}" for contact in contacts)]
    return "\n".join(lines)


def options(language: str) -> list[Option]:
    return [Option(f"{PREFIX}{key}", str(topic(language, key)["title"])) for key in TOPICS]


async def run(turn: Turn, args: Mapping[str, Any]) -> None:
    key = args.get("topic")
    # Audited with the role word only: which person read which guidance is nobody's business.
    await turn.services.db.audit.append("defender", "resources.view", None, key)
    if key:
        await turn.say(topic_text(turn.language, key))
        return
    await turn.ask(turn.t("Which topic?"), options(turn.language))


async def on_choice(turn: Turn) -> bool:
    """A pressed topic button; False when the press is not for this module."""
    choice = turn.msg.choice or ""
    if not choice.startswith(PREFIX) or choice[len(PREFIX) :] not in TOPICS:
        return False
    await turn.say(topic_text(turn.language, choice[len(PREFIX) :]))
    return True
