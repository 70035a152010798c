"""Where content may be written (SPEC §4, docs/security.md).

Content — report texts, places, people at risk, notes, history, member
organisations' names, appeal drafts — goes only to chats that are end-to-end
encrypted, unless the operator set ``allow_content_in_unencrypted_rooms``.
The rule covers every place the bot writes, private chats with advisors
included: a Telegram chat with the bot is not end-to-end encrypted.
"""

from __future__ import annotations

from handlers import cards
from handlers.turn import Turn


async def content_here(turn: Turn) -> bool:
    """Whether the chat this turn came from may receive content."""
    return await cards.content_allowed(turn.services, turn.msg.chat)


def withheld(turn: Turn) -> str:
    """The one line said instead of content in a chat that is not encrypted."""
    return turn.t(
        "This chat is not end-to-end encrypted, so the content is not shown here. "
        "Use the encrypted triage room or an encrypted Matrix chat with the bot."
    )
