"""Button tokens for platforms whose buttons carry opaque callback data."""

from __future__ import annotations

from collections.abc import Sequence

from handlers.messages import Option
from handlers.outgoing import BUTTON_TOKEN_LIFETIME
from storage import Database


async def button_tokens(db: Database, chat: str, options: Sequence[Option]) -> list[str]:
    """The options' tokens: issued with the queued question (in its turn's
    transaction), or issued now for a question queued without them (a broadcast's)."""
    tokens = [option.token for option in options]
    if options and all(tokens):
        return [token for token in tokens if token]
    keys = [option.key for option in options]
    return await db.tokens.issue_many(chat, keys, BUTTON_TOKEN_LIFETIME)
