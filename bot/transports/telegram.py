"""Telegram through python-telegram-bot (long polling; webhook optional).

Updates become neutral ``IncomingMessage``s, one chat's in order, files
downloaded only where a handler takes them; sending is
``TelegramMessenger`` (bot/transports/telegram_messenger.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import time

# Opt in to python-telegram-bot's timedelta durations now (PTB 22.2+): without
# it, constructing a RetryAfter emits a deprecation warning on every 429.
os.environ.setdefault("PTB_TIMEDELTA", "1")
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from telegram import (
    CallbackQuery,
    Message,
    Update,
)
from telegram.error import (
    TelegramError,
)
from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler

from bot.transports.base import Deliver, FileGate, TransportStartError
from bot.transports.telegram_messenger import TelegramMessenger, file_url_for
from bot.transports.telegram_request import PollRecorder, telegram_start_problem
from handlers.commands import InputTooLong, split_command
from handlers.errors import where
from handlers.messages import (
    LOCATION_MIME,
    Address,
    Attachment,
    AttachmentKind,
    IncomingMessage,
    Platform,
)

if TYPE_CHECKING:
    from bot.config import Config
    from handlers.services import Services

log = logging.getLogger(__name__)

MAX_DOWNLOAD = 20_000_000  # the Bot API refuses getFile above 20 MB
SHUTDOWN_GRACE = 30.0  # seconds for in-flight updates to finish at stop
TOKEN_REJECTED = "the Telegram server rejected the bot token (see telegram.token_env)"


class TelegramStartError(RuntimeError):
    """Telegram cannot be used; the message never holds the token."""


class ConstantTimeSecret(str):
    """A secret string whose (in)equality is decided by ``hmac.compare_digest``.

    python-telegram-bot checks the webhook's secret header with
    ``header != secret``; because this class subclasses ``str`` and overrides
    ``__ne__``, Python calls *our* ``__ne__`` for that comparison, so the
    check does not stop at the first differing character.
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, str):
            return NotImplemented
        return hmac.compare_digest(self.encode(), other.encode())

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = str.__hash__


@dataclass(frozen=True)
class Webhook:
    """Where Telegram posts updates instead of long polling.

    The path and the secret Telegram sends back in a header are derived
    from the token (keyed, not guessable), so they survive restarts without
    another secret to keep; an update without the right header is refused.
    """

    host: str
    port: int
    path: str
    url: str
    secret: str = field(repr=False)

    @classmethod
    def derive(cls, public_url: str, listen: str, token: str) -> Webhook:
        digest = hmac.new(token.encode(), b"sosbot webhook", hashlib.sha256).hexdigest()
        host, _, port = listen.rpartition(":")
        path = f"telegram/{digest[:24]}"
        return cls(
            host or "127.0.0.1",
            int(port),
            path,
            f"{public_url.rstrip('/')}/{path}",
            ConstantTimeSecret(digest[24:]),
        )


class TelegramTransport:
    platform = Platform.TELEGRAM

    def __init__(
        self,
        token: str,
        services: Services,
        base_url: str = "",
        *,
        poll_timeout: float = 30.0,
        poll_interval: float = 0.0,
        webhook: Webhook | None = None,
    ) -> None:
        self.polls = PollRecorder()  # getUpdates' own connection, timed for monitoring
        builder = (
            ApplicationBuilder()
            .token(token)
            .concurrent_updates(True)
            .get_updates_request(self.polls)
        )
        if base_url:
            builder = builder.base_url(base_url).base_file_url(file_url_for(base_url))
        self.app = builder.build()
        self.services = services
        services.post.token_platforms.add(self.platform.value)
        self.messenger = TelegramMessenger(self.app, services)
        self.poll_timeout = poll_timeout
        self.poll_interval = poll_interval
        self.webhook = webhook
        self._deliver: Deliver | None = None
        self.takes_files: FileGate | None = None
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}  # per chat: updates holding or awaiting the lock
        self._inflight: set[asyncio.Task[Any]] = set()
        self._last_update: float | None = None
        self.app.add_handler(TypeHandler(Update, self._on_update))
        self.app.add_error_handler(self._on_error)

    @property
    def last_receive(self) -> float | None:
        """When a poll last succeeded (with a webhook: when the last update came)."""
        return self.polls.last_ok if self.webhook is None else self._last_update

    @classmethod
    def from_config(cls, config: Config, token: str, services: Services) -> TelegramTransport:
        section = config.telegram
        webhook = (
            Webhook.derive(section.webhook_url, section.webhook_listen, token)
            if section.webhook_url
            else None
        )
        return cls(token, services, section.base_url, webhook=webhook)

    async def check(self) -> str:
        try:
            async with self.app.bot:
                me = await self.app.bot.get_me()
        except TelegramError as exc:
            raise TransportStartError(telegram_start_problem(exc, self.app.bot.base_url)) from None
        return f"connected as @{me.username}"

    async def start(self, deliver: Deliver, takes_files: FileGate | None = None) -> None:
        self._deliver = deliver
        self.takes_files = takes_files
        try:
            await self.app.initialize()  # getMe: the first request, the one that fails
        except TelegramError as exc:
            raise TransportStartError(telegram_start_problem(exc, self.app.bot.base_url)) from None
        await self.app.start()
        assert self.app.updater is not None
        # Never drop pending updates: what arrived while the bot was down is answered.
        if self.webhook is not None:
            await self.app.updater.start_webhook(
                listen=self.webhook.host,
                port=self.webhook.port,
                url_path=self.webhook.path,
                webhook_url=self.webhook.url,
                secret_token=self.webhook.secret,
                drop_pending_updates=False,
                allowed_updates=Update.ALL_TYPES,
            )
            return
        await self.app.updater.start_polling(
            poll_interval=self.poll_interval,
            timeout=int(self.poll_timeout),
            drop_pending_updates=False,
            allowed_updates=Update.ALL_TYPES,
        )

    async def stop(self) -> None:
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        # No new updates now; let the ones being handled finish their turn.
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=SHUTDOWN_GRACE)
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Whatever escaped a handler: its type and where, never the update or a traceback
        (python-telegram-bot's default logs both, with the person's input)."""
        error = context.error
        if error is not None:
            log.error("telegram update failed: %s at %s", type(error).__name__, where(error))

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self._last_update = time.time()
        if self._deliver is None or update.effective_chat is None:
            return
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)
        try:
            await self._handle(update)
        finally:
            self._inflight.discard(task)

    async def _handle(self, update: Update) -> None:
        assert self._deliver is not None and update.effective_chat is not None
        # One chat's updates are handled in the order they came, from the first
        # await on (a button press must not overtake the text before it);
        # different chats in parallel.
        chat_id = update.effective_chat.id
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        self._waiting[chat_id] = self._waiting.get(chat_id, 0) + 1
        try:
            async with lock:
                if update.callback_query is not None:
                    msg = await self._from_callback(update.callback_query)
                elif update.effective_message is not None and update.effective_user is not None:
                    edited = (
                        update.edited_message is not None or update.edited_channel_post is not None
                    )
                    msg = await self._from_message(update.effective_message, edited)
                else:
                    return
                if msg is not None:
                    await self._deliver(msg, self.messenger)
        finally:
            # The last update of the chat in hand frees its lock: one lock per
            # chat ever seen would grow without end.
            self._waiting[chat_id] -= 1
            if not self._waiting[chat_id]:
                del self._waiting[chat_id], self._locks[chat_id]

    async def _from_callback(self, query: CallbackQuery) -> IncomingMessage | None:
        # The press is answered (the person's spinner stops) while its turn runs: the
        # turn does not wait for that round trip, and runs even if the answer fails.
        answering = asyncio.create_task(self._answer(query), name="answer-callback")
        self._inflight.add(answering)
        answering.add_done_callback(self._inflight.discard)
        message = query.message
        if message is None or query.data is None:
            return None
        chat = Address(Platform.TELEGRAM, str(message.chat.id))
        key = await self.services.db.tokens.resolve(query.data, str(chat))
        if key is None:
            return None  # expired or forged token: nothing to act on
        return IncomingMessage(
            chat=chat,
            sender=Address(Platform.TELEGRAM, str(query.from_user.id)),
            is_private=message.chat.type == "private",
            message_id=None,
            language_hint=query.from_user.language_code,
            choice=key,
        )

    async def _answer(self, query: CallbackQuery) -> None:
        try:
            await query.answer()
        except Exception as exc:  # the press is still acted on; the spinner times out
            log.warning("answering a button press failed: %s", type(exc).__name__)

    async def _from_message(self, message: Message, edited: bool) -> IncomingMessage | None:
        if message.migrate_to_chat_id is not None:
            await self.services.db.members.migrate_chat(
                f"telegram:{message.chat.id}", f"telegram:{message.migrate_to_chat_id}"
            )
            return None
        user = message.from_user
        if user is None or user.is_bot:
            return None
        try:
            call = split_command(message.text or "")
        except InputTooLong:
            call = None  # the router answers that it is too long
        if (
            call
            and call.addressed_to
            and call.addressed_to != (self.app.bot.username or "").lower()
        ):
            return None  # a command for another bot in the same group
        msg = IncomingMessage(
            chat=Address(Platform.TELEGRAM, str(message.chat.id)),
            sender=Address(Platform.TELEGRAM, str(user.id)),
            text=message.text or message.caption or "",
            is_private=message.chat.type == "private",
            message_id=str(message.message_id),
            reply_to=str(message.reply_to_message.message_id) if message.reply_to_message else None,
            language_hint=user.language_code,
            # An edit is never a second message: its files are not fetched again.
            attachments=() if edited else await self._attachments(message, fetch=False),
            edited=edited,
        )
        # Ask first, download after: the rate limit, then whether anything takes
        # files now (handlers/file_gate.py). Otherwise the files stay unfetched
        # and the handlers answer as usual ("too fast", "files belong to ...").
        if any(self._fetchable(a) for a in msg.attachments) and await self._takes_files(msg):
            msg = replace(msg, attachments=await self._attachments(message, fetch=True))
        return msg

    def _fetchable(self, attachment: Attachment) -> bool:
        """A file this transport would download: not fetched yet, within the limit."""
        limit = min(self.services.settings.max_attachment_bytes, MAX_DOWNLOAD)
        return not attachment.fetched and attachment.size <= limit

    async def _takes_files(self, msg: IncomingMessage) -> bool:
        if self.takes_files is None:  # no router to ask (a transport started bare)
            return msg.is_private
        return await self.takes_files(msg)

    async def _attachments(self, message: Message, fetch: bool) -> tuple[Attachment, ...]:
        """The message's files; downloaded only when ``fetch`` (after ``_takes_files``)."""
        if message.photo:
            photo = message.photo[-1]
            return (
                await self._download(
                    AttachmentKind.PHOTO,
                    photo.file_id,
                    photo.file_size,
                    "photo.jpg",
                    "image/jpeg",
                    fetch,
                ),
            )
        if message.document:
            doc = message.document
            return (
                await self._download(
                    AttachmentKind.DOCUMENT,
                    doc.file_id,
                    doc.file_size,
                    doc.file_name or "document",
                    doc.mime_type or "application/octet-stream",
                    fetch,
                ),
            )
        media = (
            (AttachmentKind.VOICE, message.voice, "voice.ogg", "audio/ogg"),
            (AttachmentKind.VOICE, message.audio, "audio", "audio/mpeg"),
            (AttachmentKind.VIDEO, message.video, "video.mp4", "video/mp4"),
            (AttachmentKind.VIDEO, message.video_note, "video-note.mp4", "video/mp4"),
        )
        for kind, item, name, mime in media:
            if item is not None:
                return (
                    await self._download(
                        kind,
                        item.file_id,
                        item.file_size,
                        getattr(item, "file_name", None) or name,
                        getattr(item, "mime_type", None) or mime,
                        fetch,
                    ),
                )
        if message.location is not None:
            point = json.dumps(
                {"lat": message.location.latitude, "lon": message.location.longitude}
            ).encode()
            return (
                Attachment(
                    AttachmentKind.LOCATION, "location.json", LOCATION_MIME, len(point), point
                ),
            )
        if any((message.sticker, message.animation)):
            return (Attachment(AttachmentKind.OTHER, "", "", 0, b""),)
        return ()

    async def _download(
        self,
        kind: AttachmentKind,
        file_id: str,
        size: int | None,
        name: str,
        mime: str,
        fetch: bool,
    ) -> Attachment:
        limit = min(self.services.settings.max_attachment_bytes, MAX_DOWNLOAD)
        if not fetch or (size is not None and size > limit):
            return Attachment(kind, name, mime, size or 0, b"", fetched=False)
        file = await self.app.bot.get_file(file_id)
        data = bytes(await file.download_as_bytearray())
        return Attachment(kind, name, mime, len(data), data)
