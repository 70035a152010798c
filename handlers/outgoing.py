"""Every message the bot sends is queued here, in the turn's transaction.

Handlers never call a transport or the hub to send: they call the
``Postman``, which writes an outbox row inside the current unit of work.
The row commits with everything else the turn decided (or not at all),
and the dispatcher (``bot/broadcast``) is woken for the destination's
platform right after the commit. The dispatcher applies the outbox's
rules to every message: marked ``sending`` and committed before the
request, an idempotency key per row (Matrix ``txn_id``), retries with
backoff, one chat's messages in order.

What a handler gets back is a ``Queued`` (the row id), not a platform
message id: that exists only once the message is sent
(``Outbox.remote_ids``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from handlers.messages import Address, Option
from storage import Database
from storage.repos.outbox import Message

BUTTON_TOKEN_LIFETIME = timedelta(days=30)
"""How long a button can be pressed (its opaque token resolves)."""


@dataclass(frozen=True)
class Queued:
    chat: Address
    row_id: int


class Kind:
    """Outbox kinds of single messages (broadcasts name their own)."""

    REPLY = "reply"
    CARD = "card"  # a case card: its delivery releases the defender's confirmation
    ALARM = "alarm"  # an SOS raised again on an existing case; ref "C-…/sos<n>"
    CONFIRM = "confirm"  # "the advisory group has been alerted": held until a card is sent
    NOTICE = "notice"  # a short notice to an advisory room
    RELAY = "relay"  # a defender's answer to the advisory rooms
    QUESTION = "question"  # the advisory group's message to a defender; ref "C-…/n"
    ALERT = "alert"  # escalation, digest, follow-up
    REFERRAL = "referral"  # a referral's summary to a partner; ref "R-…"
    FILE = "file"
    DELETE = "delete"
    LEAVE = "leave"  # after /forget: leave the private chat, behind what was queued before it


class Postman:
    def __init__(self, db: Database, default_language: str = "en") -> None:
        self.db = db
        self.default_language = default_language
        self.token_platforms: set[str] = set()
        """Platforms whose buttons carry an opaque token (Telegram, the playground):
        a question's tokens are issued in the turn's transaction, with its row,
        so sending it costs no write of its own."""

    async def send_text(
        self,
        chat: Address,
        text: str,
        *,
        kind: str = Kind.REPLY,
        ref: str | None = None,
        language: str | None = None,
        held: bool = False,
    ) -> Queued:
        """Queue a text; ``held`` waits for a release (see ``storage.repos.outbox.RELEASES``)."""
        message = Message(str(chat), text, kind, ref, language, held=held)
        return Queued(chat, await self.db.outbox.post(message))

    async def send_texts(self, texts: Sequence[tuple[Address, str, str | None]]) -> None:
        """Queue replies ``(chat, text, language)`` with one statement (a batch of
        signatures confirms each signer)."""
        await self.db.outbox.post_many(
            [Message(str(chat), text, language=language) for chat, text, language in texts]
        )

    async def ask(
        self,
        chat: Address,
        text: str,
        options: Sequence[Option],
        *,
        kind: str = Kind.REPLY,
        language: str | None = None,
    ) -> Queued:
        """Queue a question with choices (buttons, or a numbered list)."""
        pairs = tuple((o.key, o.label) for o in options)
        tokens: tuple[str, ...] = ()
        if chat.platform.value in self.token_platforms:
            keys = [o.key for o in options]
            issued = await self.db.tokens.issue_many(str(chat), keys, BUTTON_TOKEN_LIFETIME)
            tokens = tuple(issued)
        message = Message(
            str(chat), text, kind, None, language, op="ask", options=pairs, tokens=tokens
        )
        return Queued(chat, await self.db.outbox.post(message))

    async def send_file(
        self, chat: Address, filename: str, data: bytes, mime_type: str, caption: str = ""
    ) -> Queued:
        """Queue a file; its bytes are sealed in the row until it is sent."""
        params = (("mime", mime_type), ("name", filename))
        message = Message(str(chat), caption, Kind.FILE, op="file", params=params, payload=data)
        return Queued(chat, await self.db.outbox.post(message))

    async def delete_messages(self, chat: Address, message_ids: Sequence[str]) -> Queued:
        """Queue the deletion of messages the bot or the person sent in ``chat``
        (one row: the chat's rate limit counts it once)."""
        params = (("message_ids", ",".join(message_ids)),)
        message = Message(str(chat), "", Kind.DELETE, op="delete", params=params)
        return Queued(chat, await self.db.outbox.post(message))

    async def leave(self, chat: Address, person: Address) -> Queued:
        """Queue leaving the private ``chat`` with ``person`` (after /forget).

        Queued in ``chat`` behind the messages before it: a chat's rows go out
        in order, so the person is told first and the room is left after
        (Matrix leaves and forgets the direct room; elsewhere nothing)."""
        params = (("person", str(person)),)
        message = Message(str(chat), "", Kind.LEAVE, op="leave", params=params)
        return Queued(chat, await self.db.outbox.post(message))
