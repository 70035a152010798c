"""The messenger interface handlers answer through.

Each transport implements it for its platform. Handlers pass plain text
(never markup): the transport escapes it for the platform, so a name or a
report containing HTML or Markdown is shown literally.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from handlers.messages import Address, Option, Sent


class DestinationGone(Exception):
    """The chat or account can no longer be reached (blocked, removed, deleted).

    The caller marks the destination inactive instead of retrying.
    """


class TransientSendError(Exception):
    """A send failed for a reason that may pass (network, 5xx)."""


class Messenger(Protocol):
    async def send_text(self, chat: Address, text: str, *, reply_to: str | None = None) -> Sent:
        """Send plain text; long texts are split by the transport."""
        ...

    async def ask(self, chat: Address, text: str, options: Sequence[Option]) -> Sent:
        """Send a question with choices (buttons or a numbered list)."""
        ...

    async def send_file(
        self, chat: Address, filename: str, data: bytes, mime_type: str, caption: str = ""
    ) -> Sent:
        """Send a file (encrypted attachment in encrypted Matrix rooms)."""
        ...

    async def edit_text(self, chat: Address, message_id: str, text: str) -> bool:
        """Replace a message's text where the platform allows; False if it could not."""
        ...

    async def delete_message(self, chat: Address, message_id: str) -> bool:
        """Delete a message; False if it was already gone or cannot be deleted."""
        ...

    def mention(self, account: Address) -> str:
        """Text that mentions an account on this platform."""
        ...

    async def is_encrypted(self, chat: Address) -> bool:
        """Whether the chat is end-to-end encrypted."""
        ...
