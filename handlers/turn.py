"""One turn: an incoming message, who sent it, and how to answer in their language."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from handlers.i18n import render, render_plural
from handlers.messages import Address, IncomingMessage, Option
from handlers.messenger import Messenger
from handlers.outgoing import Queued
from handlers.services import Services
from storage import Account


@dataclass
class Turn:
    services: Services
    msg: IncomingMessage
    messenger: Messenger
    account: Account
    language: str

    @property
    def chat(self) -> Address:
        return self.msg.chat

    def t(self, message: str, /, **params: Any) -> str:
        return render(self.language, message, **params)

    def tn(self, singular: str, plural: str, n: int, /, **params: Any) -> str:
        return render_plural(self.language, singular, plural, n, **params)

    async def say(self, text: str) -> Queued:
        """Answer in this chat (queued in the turn's transaction, sent after it commits)."""
        return await self.services.post.send_text(self.chat, text, language=self.language)

    async def ask(self, text: str, options: Sequence[Option]) -> Queued:
        return await self.services.post.ask(self.chat, text, options, language=self.language)


_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")


def resolve_choice(msg: IncomingMessage, options: Sequence[Option]) -> str | None:
    """The key of the option the person chose: a pressed button, a number
    from a numbered list, or the option's word typed out."""
    keys = {option.key for option in options}
    if msg.choice is not None:
        return msg.choice if msg.choice in keys else None
    text = msg.text.strip()
    if not text:
        return None
    number = _NUMBER.match("".join(str(int(c)) if c.isdigit() else c for c in text))
    if number:
        index = int(number.group(1)) - 1
        return options[index].key if 0 <= index < len(options) else None
    folded = text.casefold()
    for option in options:
        if folded in (option.label.casefold(), option.key.split(":")[-1].casefold()):
            return option.key
    return None
