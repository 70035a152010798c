"""Telegram through python-telegram-bot (long polling; webhook optional).

Updates become neutral ``IncomingMessage``s; ``TelegramMessenger`` sends
plain text only (never a parse mode, so user text cannot become markup),
splits texts above Telegram's 4096 characters, and puts opaque server-side
tokens on buttons (the option key never travels to Telegram).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import time
import warnings

# Opt in to python-telegram-bot's timedelta durations now (PTB 22.2+): without
# it, constructing a RetryAfter emits a deprecation warning on every 429.
os.environ.setdefault("PTB_TIMEDELTA", "1")
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

import httpx
from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.transports.base import Deliver, FileGate, TransportStartError
from bot.transports.buttons import button_tokens
from bot.transports.telegram_request import PollRecorder, telegram_start_problem
from handlers.commands import InputTooLong, split_command
from handlers.errors import where
from handlers.messages import (
    LOCATION_MIME,
    Address,
    Attachment,
    AttachmentKind,
    IncomingMessage,
    Option,
    Platform,
    Sent,
)
from handlers.messenger import (
    DeliveryUncertain,
    DestinationGone,
    RateLimited,
    TransientSendError,
)

if TYPE_CHECKING:
    from bot.broadcast.windows import Flight
    from bot.config import Config
    from handlers.services import Services

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_DOWNLOAD = 20_000_000  # the Bot API refuses getFile above 20 MB
SEND_ATTEMPTS = 5
SHUTDOWN_GRACE = 30.0  # seconds for in-flight updates to finish at stop
TOKEN_REJECTED = "the Telegram server rejected the bot token (see telegram.token_env)"


class TelegramStartError(RuntimeError):
    """Telegram cannot be used; the message never holds the token."""


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
        await query.answer()
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
