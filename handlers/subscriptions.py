"""A member group chooses what it receives (issue 16): ``/subscribe
region=Americas group=land language=es``, ``/unsubscribe …`` (or ``all``),
``/subscriptions`` (declared in handlers/command_table.py).

Like ``/mute``, anyone in a registered member group may change what the
group receives; the choice widens the audience of appeals targeted at that
region, working group or language (handlers/audience.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.commands import BadArgument
from handlers.i18n import LANGUAGES
from handlers.turn import Turn
from storage.errors import NotFound
from storage.repos.subscriptions import KEYS

PAIRS = "region=…|group=…|language=…"
"""How the usage lines show the targets."""
ALL = "all"


def parse_pairs(text: str) -> list[tuple[str, str]] | None:
    """``region=Latin_America group=land`` → pairs; None if anything does not fit."""
    pairs = []
    for word in text.split():
        key, sep, value = word.partition("=")
        key = key.lower()
        value = value.replace("_", " ").strip()
        if not sep or key not in KEYS or not value or len(value) > 64:
            return None
        if key == "language" and value.lower() not in LANGUAGES:
            return None
        pairs.append((key, value))
    return pairs or None


def listing(turn: Turn, pairs: list[tuple[str, str]]) -> str:
    if not pairs:
        return turn.t("This group has no subscriptions: it receives what its profile matches.")
    shown = ", ".join(f"{key}={value}" for key, value in pairs)
    return turn.t("This group also receives appeals for: {targets}", targets=shown)


async def subscribe(turn: Turn, args: Mapping[str, Any]) -> None:
    pairs = parse_pairs(args["targets"])
    if pairs is None:
        raise BadArgument(args["targets"])
    try:
        now = await turn.services.db.subscriptions.subscribe(
            str(turn.chat), str(turn.msg.sender), pairs
        )
    except NotFound:
        await turn.say(turn.t("This is not a registered member group."))
        return
    await turn.say(listing(turn, now))


async def unsubscribe(turn: Turn, args: Mapping[str, Any]) -> None:
    text = args["targets"].strip()
    pairs = None if text.lower() == ALL else parse_pairs(text)
    if pairs is None and text.lower() != ALL:
        raise BadArgument(text)
    db = turn.services.db
    try:
        await db.subscriptions.unsubscribe(str(turn.chat), str(turn.msg.sender), pairs)
        now = await db.subscriptions.of(str(turn.chat))
    except NotFound:
        await turn.say(turn.t("This is not a registered member group."))
        return
    await turn.say(listing(turn, now))


async def subscriptions(turn: Turn, args: Mapping[str, Any]) -> None:
    try:
        now = await turn.services.db.subscriptions.of(str(turn.chat))
    except NotFound:
        await turn.say(turn.t("This is not a registered member group."))
        return
    await turn.say(listing(turn, now))
