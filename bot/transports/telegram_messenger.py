"""Sending to Telegram: ``TelegramMessenger`` (bot/transports/telegram.py receives).

Plain text only (never a parse mode, so user text cannot become markup),
texts above Telegram's 4096 characters split, opaque server-side tokens on
buttons (the option key never travels to Telegram), and every Bot API
refusal mapped to the messenger errors the outbox understands.
"""

from __future__ import annotations

import asyncio
import logging
import os
import warnings

# Opt in to python-telegram-bot's timedelta durations now (PTB 22.2+): without
# it, constructing a RetryAfter emits a deprecation warning on every 429.
os.environ.setdefault("PTB_TIMEDELTA", "1")
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

import httpx
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
)
from telegram.ext import Application

from bot.transports.buttons import button_tokens
from handlers.messages import Address, Option, Platform, Sent
from handlers.messenger import (
    DeliveryUncertain,
    DestinationGone,
    RateLimited,
    TransientSendError,
)

if TYPE_CHECKING:
    from bot.broadcast.windows import Flight
    from handlers.services import Services

log = logging.getLogger(__name__)

MAX_TEXT = 4096
SEND_ATTEMPTS = 5


GONE_PHRASES = ("chat not found", "user is deactivated", "bot was kicked", "have no rights to send")


SendMode = Literal["retry", "once", "no_repeat"]
"""``retry``: ordinary sends, retried here. ``once``: the first request of an outbox
send (``txn_id``): one attempt, the dispatcher took its token and owns retries.
``no_repeat``: the further parts of an outbox send: a 429 is waited out (nothing was
delivered), but a request that may have taken effect is never repeated."""

# httpx failures before the request left: repeating them cannot duplicate a message.
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class FloodGate(Protocol):
    """Flood control shared with the broadcast dispatcher (bot/broadcast/limits.py)."""

    async def wait_to_send(self, chat_id: int) -> Flight:
        """Until a request to ``chat_id`` may leave within the platform's windows; it is
        counted from then on, and its answer's moment given to ``answered``."""
        ...

    def answered(self, flight: Flight) -> None:
        """The request's answer came, or it failed."""
        ...

    def refused(self, chat_id: int, retry_after: float) -> None:
        """Telegram answered 429 for ``chat_id``: slow down."""
        ...


def file_url_for(base_url: str) -> str:
    """python-telegram-bot does not derive the file URL: ``…/bot`` → ``…/file/bot``."""
    if base_url.endswith("/bot"):
        return base_url[: -len("bot")] + "file/bot"
    return base_url.rstrip("/") + "/file/bot"


def retry_seconds(exc: RetryAfter) -> float:
    """``retry_after`` as seconds, without PTB's int/timedelta deprecation warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        delay = exc.retry_after
    return delay.total_seconds() if isinstance(delay, timedelta) else float(delay)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split at line breaks (or spaces) so that every part fits."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut <= 0:
            cut = text.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    parts.append(text)
    return [p for p in parts if p] or [""]


class TelegramMessenger:
    def __init__(
        self, application: Application[Any, Any, Any, Any, Any, Any], services: Services
    ) -> None:
        self.app = application
        self.services = services
        self.gate: FloodGate | None = None  # set by the dispatcher (bot/broadcast)

    async def _call(
        self, chat: Address, send: Any, mode: SendMode = "retry", *, limited: bool = True
    ) -> Any:
        """Run one Bot API call with Telegram's errors turned into ours.

        ``limited``: a message or an edit, within the flood windows (a deletion is not).
        """
        chat_id = int(chat.id)
        for attempt in range(SEND_ATTEMPTS):
            # The dispatcher's lane cleared an outbox send's first request already.
            cleared = not limited or (mode == "once" and attempt == 0)
            try:
                return await self._request(chat_id, send, cleared)
            except RetryAfter as exc:
                seconds = retry_seconds(exc)
                if mode == "once":  # the dispatcher slows its gate down itself
                    raise RateLimited(seconds, "telegram: 429") from exc
                if self.gate is not None:
                    self.gate.refused(chat_id, seconds)
                await asyncio.sleep(seconds)
            except ChatMigrated as exc:
                new = Address(Platform.TELEGRAM, str(exc.new_chat_id))
                await self.services.db.members.migrate_chat(str(chat), str(new))
                chat_id = exc.new_chat_id
            except Forbidden as exc:
                await self.services.db.accounts.mark_inactive(str(chat))
                raise DestinationGone("telegram: forbidden") from exc
            except BadRequest as exc:
                if any(phrase in exc.message.lower() for phrase in GONE_PHRASES):
                    await self.services.db.accounts.mark_inactive(str(chat))
                    raise DestinationGone("telegram: chat gone") from exc
                raise
            except NetworkError as exc:
                if mode != "retry" and not isinstance(exc.__cause__, NOT_SENT_ERRORS):
                    raise DeliveryUncertain("telegram: the answer was lost") from exc
                if mode == "once":
                    raise TransientSendError("telegram: not sent") from exc
                last = exc
                await asyncio.sleep(0)
                continue
        raise TransientSendError("telegram: gave up after retries") from (locals().get("last"))

    async def _request(self, chat_id: int, send: Any, cleared: bool) -> Any:
        """One request, within the flood windows (unless ``cleared`` already)."""
        if self.gate is None or cleared:
            return await send(chat_id)
        flight = await self.gate.wait_to_send(chat_id)
        try:
            return await send(chat_id)
        finally:
            self.gate.answered(flight)

    async def send_text(
        self, chat: Address, text: str, *, reply_to: str | None = None, txn_id: str | None = None
    ) -> Sent:
        first: Message | None = None
        reply: int | None = int(reply_to) if reply_to else None
        for index, part in enumerate(split_text(text)):
            message = await self._call(
                chat,
                lambda cid, part=part, reply=reply: self.app.bot.send_message(
                    cid, part, reply_to_message_id=reply
                ),
                _mode(txn_id, index),
            )
            first, reply = first or message, None  # only the first part is a reply
        assert first is not None
        return Sent(chat, str(first.message_id))

    async def ask(
        self, chat: Address, text: str, options: Sequence[Option], *, txn_id: str | None = None
    ) -> Sent:
        tokens = await button_tokens(self.services.db, str(chat), options)
        rows = [
            [InlineKeyboardButton(option.label, callback_data=token)]
            for option, token in zip(options, tokens, strict=True)
        ]
        parts = split_text(text)
        for index, part in enumerate(parts[:-1]):
            await self._call(
                chat,
                lambda cid, part=part: self.app.bot.send_message(cid, part),
                _mode(txn_id, index),
            )
        message = await self._call(
            chat,
            lambda cid: self.app.bot.send_message(
                cid, parts[-1], reply_markup=InlineKeyboardMarkup(rows)
            ),
            _mode(txn_id, len(parts) - 1),
        )
        return Sent(chat, str(message.message_id))

    async def send_file(
        self, chat: Address, filename: str, data: bytes, mime_type: str, caption: str = ""
    ) -> Sent:
        message = await self._call(
            chat,
            lambda cid: self.app.bot.send_document(
                cid, document=data, filename=filename, caption=caption[:1024] or None
            ),
        )
        return Sent(chat, str(message.message_id))

    async def edit_text(self, chat: Address, message_id: str, text: str) -> bool:
        try:
            await self._call(
                chat,
                lambda cid: self.app.bot.edit_message_text(text[:MAX_TEXT], cid, int(message_id)),
            )
        except BadRequest:
            return False
        return True

    async def delete_message(self, chat: Address, message_id: str) -> bool:
        try:
            return bool(
                await self._call(
                    chat,
                    lambda cid: self.app.bot.delete_message(cid, int(message_id)),
                    limited=False,
                )
            )
        except BadRequest:
            return False

    def mention(self, account: Address) -> str:
        return f"[{account.id}]"

    async def is_encrypted(self, chat: Address) -> bool:
        return False

    async def forget_person(self, account: Address) -> None:
        """A bot cannot leave or delete a private chat on Telegram; it keeps nothing of it."""


def _mode(txn_id: str | None, part: int) -> SendMode:
    if txn_id is None:
        return "retry"
    return "once" if part == 0 else "no_repeat"
