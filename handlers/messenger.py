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


class RateLimited(TransientSendError):
    """The platform refused the send for now (Telegram 429, Matrix ``M_LIMIT_EXCEEDED``).

    Nothing was delivered; the send may be tried again after ``retry_after`` seconds.
    """

    def __init__(self, retry_after: float, message: str = "rate limited") -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeliveryUncertain(TransientSendError):
    """The request may have taken effect (a timeout or a 5xx after it left).

    Sending again without an idempotency key could deliver the message twice.
    """


class Messenger(Protocol):
    """How handlers send. ``txn_id`` (optional) marks a send from the outbox:

    - it is an idempotency key: sends with the same ``txn_id`` deliver at
      most one message where the platform can deduplicate (Matrix: the
      transaction id of ``PUT /rooms/{room}/send/{type}/{txnId}``; the
      parts of a split text derive theirs from it, e.g. ``{txn_id}.{n}``);
    - the caller owns retries and rate limits: the transport makes one
      attempt where a repeat could duplicate, raises ``RateLimited`` instead
      of sleeping, ``DeliveryUncertain`` when the request may have taken
      effect, ``TransientSendError`` when it certainly did not, and
      ``DestinationGone`` as always.
    """

    async def send_text(
        self, chat: Address, text: str, *, reply_to: str | None = None, txn_id: str | None = None
    ) -> Sent:
        """Send plain text; long texts are split by the transport."""
        ...

    async def ask(
        self, chat: Address, text: str, options: Sequence[Option], *, txn_id: str | None = None
    ) -> Sent:
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

    async def forget_person(self, account: Address) -> None:
        """After /forget: leave the private chat with ``account`` where the
        platform allows, and drop what the transport keeps of the person."""
        ...
