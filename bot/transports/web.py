"""A local web chat: the third transport, for ``sosbot demo``.

aiohttp serves one small page (``bot/web/``: no build step, nothing from a
CDN) on 127.0.0.1, with one WebSocket per open page. The page shows several
chats side by side and lets the person choose who they are in each; what
they send goes through the same router as Telegram and Matrix, one event at
a time in arrival order (clock moves included).

Like Telegram, a button carries an opaque server-side token (storage's
callback tokens), never the option key. The page sets every text with
``textContent``, so user text never becomes markup. The chat history lives
in this process's memory only: a reloaded page gets it again, and none of it
is written to disk. Requests must name 127.0.0.1 or localhost as their host
and WebSockets must come from the page's own origin, so neither another web
site open in the same browser nor a rebound DNS name can read the chats.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import secrets
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from importlib import resources
from typing import Any

from aiohttp import WSMsgType, web

from bot.transports.base import Deliver, FileGate
from bot.transports.buttons import button_tokens
from handlers.messages import (
    Address,
    Attachment,
    AttachmentKind,
    IncomingMessage,
    Option,
    Platform,
    Sent,
)
from handlers.messenger import DestinationGone
from handlers.services import Services

log = logging.getLogger(__name__)

MAX_HISTORY = 5000  # messages kept for reloaded pages
SHUTDOWN_GRACE = 10.0  # seconds for a turn in flight to finish at stop
MAX_FRAME = 16 * 1024 * 1024  # a WebSocket frame: a 10 MB file, base64-encoded
ADVANCE_STEPS = {15: timedelta(minutes=15), 60: timedelta(hours=1), 1440: timedelta(days=1)}
INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
ASSETS = {
    "/": ("index.html", "text/html"),
    "/app.js": ("app.js", "text/javascript"),
    "/style.css": ("style.css", "text/css"),
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

Advance = Callable[[timedelta], Awaitable[object]]


@dataclass(frozen=True)
class Persona:
    """Someone the person at the page can be: ``web:<id>`` is their account and private chat."""

    id: str
    name: str
    role: str
    language: str


@dataclass(frozen=True)
class Pane:
    """One chat on the page. ``chat`` is None for the private chat of the chosen persona."""

    title: str
    senders: tuple[str, ...]
    chat: str | None = None
    language: str = "en"


@dataclass(frozen=True)
class Layout:
    personas: tuple[Persona, ...]
    panes: tuple[Pane, ...]

    def persona(self, ident: str) -> Persona | None:
        return next((p for p in self.personas if p.id == ident), None)

    def group_chats(self) -> set[str]:
        return {f"web:{pane.chat}" for pane in self.panes if pane.chat}


@dataclass
class WebMessage:
    id: str
    chat: str
    sender: str | None  # a persona id; None for the bot
    text: str
    time: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    file: dict[str, str] | None = None
    reply_to: str | None = None
    edited: bool = False


class WebChats:
    """The chats' history, in memory, and the pages that watch it."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.messages: dict[str, WebMessage] = {}
        self.files: dict[str, tuple[str, str, bytes]] = {}
        self.sockets: set[web.WebSocketResponse] = set()
        self._next_id = 1

    def add(self, chat: str, sender: str | None, text: str, **extra: Any) -> WebMessage:
        message = WebMessage(
            str(self._next_id), chat, sender, text, self.services.clock.now().isoformat(), **extra
        )
        self._next_id += 1
        self.messages[message.id] = message
        while len(self.messages) > MAX_HISTORY:
            del self.messages[next(iter(self.messages))]
        return message

    async def broadcast(self, event: dict[str, Any]) -> None:
        for socket in list(self.sockets):
            try:
                await socket.send_json(event)
            except (ConnectionError, RuntimeError):
                self.sockets.discard(socket)  # the page went away; it reconnects for itself

    async def publish(self, message: WebMessage) -> None:
        await self.broadcast({"type": "message", "message": asdict(message)})


class WebMessenger:
    """Sends into the page's chats. A ``txn_id`` is honoured as an idempotency key."""

    def __init__(self, chats: WebChats) -> None:
        self.chats = chats
        self._sent: dict[str, Sent] = {}

    @staticmethod
    def _check(chat: Address) -> str:
        if chat.platform is not Platform.WEB:
            raise DestinationGone(f"not a web chat: {chat.platform}")
        return str(chat)

    async def _post(
        self, chat: Address, text: str, txn_id: str | None = None, **extra: Any
    ) -> Sent:
        message = self.chats.add(self._check(chat), None, text, **extra)
        await self.chats.publish(message)
        sent = Sent(chat, message.id)
        if txn_id is not None:
            self._sent[txn_id] = sent
        return sent

    async def send_text(
        self, chat: Address, text: str, *, reply_to: str | None = None, txn_id: str | None = None
    ) -> Sent:
        if txn_id in self._sent:
            return self._sent[txn_id]  # the same outbox message again: delivered once
        return await self._post(chat, text, txn_id, reply_to=reply_to)

    async def ask(
        self, chat: Address, text: str, options: Sequence[Option], *, txn_id: str | None = None
    ) -> Sent:
        if txn_id in self._sent:
            return self._sent[txn_id]
        tokens = await button_tokens(self.chats.services.db, self._check(chat), options)
        buttons = [
            {"token": token, "label": option.label}
            for option, token in zip(options, tokens, strict=True)
        ]
        return await self._post(chat, text, txn_id, buttons=buttons)

    async def send_file(
        self, chat: Address, filename: str, data: bytes, mime_type: str, caption: str = ""
    ) -> Sent:
        token = secrets.token_urlsafe(16)
        self.chats.files[token] = (filename, mime_type, data)
        file = {"name": filename, "url": f"/files/{token}", "size": str(len(data))}
        if mime_type in INLINE_IMAGES:
            file["image"] = "yes"
        return await self._post(chat, caption, file=file)

    async def edit_text(self, chat: Address, message_id: str, text: str) -> bool:
        message = self.chats.messages.get(message_id)
        if message is None or message.chat != self._check(chat):
            return False
        # As on Telegram, an edited text loses its buttons.
        message.text, message.buttons, message.edited = text, [], True
        await self.chats.publish(message)
        return True

    async def delete_message(self, chat: Address, message_id: str) -> bool:
        message = self.chats.messages.get(message_id)
        if message is None or message.chat != self._check(chat):
            return False
        del self.chats.messages[message_id]
        await self.chats.broadcast({"type": "delete", "id": message_id})
        return True

    def mention(self, account: Address) -> str:
        return f"@{account.id}"

    async def is_encrypted(self, chat: Address) -> bool:
        return False  # a local page; the demo config allows content in its rooms

    async def forget_person(self, account: Address) -> None:
        """The playground keeps nothing of a person outside the database."""


class WebTransport:
    platform = Platform.WEB

    def __init__(
        self, services: Services, layout: Layout, host: str = "127.0.0.1", port: int = 8080
    ) -> None:
        self.services = services
        services.post.token_platforms.add(self.platform.value)
        self.layout = layout
        self.host = host
        self.port = port
        self.chats = WebChats(services)
        self.messenger = WebMessenger(self.chats)
        self.advance: Advance | None = None
        """Moves the fake clock and runs what came due (the app's scheduler sets it)."""
        self._deliver: Deliver | None = None
        self._lock = asyncio.Lock()
        self._runner: web.AppRunner | None = None
        self._assets = {
            path: ((resources.files("bot") / "web" / name).read_bytes(), kind)
            for path, (name, kind) in ASSETS.items()
        }

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    async def check(self) -> str:
        return f"a local page on {self.host}:{self.port}"

    async def start(self, deliver: Deliver, takes_files: FileGate | None = None) -> None:
        # The page sends no files: nothing to download, nothing to ask.
        self._deliver = deliver
        app = web.Application(middlewares=[self._guard], client_max_size=MAX_FRAME)
        for path in ASSETS:
            app.router.add_get(path, self._asset)
        app.router.add_get("/ws", self._socket)
        app.router.add_get("/files/{token}", self._file)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]  # the real one when asked for port 0

    async def stop(self) -> None:
        for socket in list(self.chats.sockets):
            await socket.close(code=1001, message=b"sosbot demo stopped")
        self.chats.sockets.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- HTTP ---------------------------------------------------------------

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.host not in (f"127.0.0.1:{self.port}", f"localhost:{self.port}"):
            raise web.HTTPMisdirectedRequest(text="this page answers on 127.0.0.1 only")
        response = await handler(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    async def _asset(self, request: web.Request) -> web.Response:
        body, kind = self._assets[request.path]
        return web.Response(body=body, content_type=kind, charset="utf-8")

    async def _file(self, request: web.Request) -> web.Response:
        found = self.chats.files.get(request.match_info["token"])
        if found is None:
            raise web.HTTPNotFound()
        name, mime, data = found
        if mime in INLINE_IMAGES:
            return web.Response(body=data, content_type=mime)
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "file"
        return web.Response(
            body=data,
            content_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{safe}"'},
        )

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        if request.headers.get("Origin") != f"http://{request.host}":
            raise web.HTTPForbidden(text="cross-origin WebSocket refused")
        socket = web.WebSocketResponse(max_msg_size=MAX_FRAME, heartbeat=30)
        await socket.prepare(request)
        hello = self._hello()  # with no await before joining: every later message follows it
        self.chats.sockets.add(socket)
        try:
            await socket.send_json(hello)
            async for frame in socket:
                if frame.type is not WSMsgType.TEXT:
                    continue
                try:
                    event = frame.json()
                except ValueError:
                    continue
                if isinstance(event, dict):
                    await self._on_event(socket, event)
        finally:
            self.chats.sockets.discard(socket)
        return socket

    def _hello(self) -> dict[str, Any]:
        return {
            "type": "hello",
            "personas": [asdict(p) for p in self.layout.personas],
            "panes": [asdict(p) for p in self.layout.panes],
            "messages": [asdict(m) for m in self.chats.messages.values()],
            "now": self.services.clock.now().isoformat(),
            "clock": self.advance is not None,
        }

    # -- what the page sends ------------------------------------------------

    async def _on_event(self, socket: web.WebSocketResponse, event: dict[str, Any]) -> None:
        kind = event.get("type")
        try:
            async with self._lock:
                if kind == "advance":
                    await self._advance(event)
                elif kind in ("send", "press"):
                    msg = await self._incoming(event)
                    if msg is not None and self._deliver is not None:
                        await self._deliver(msg, self.messenger)
        except Exception as exc:
            # The type and place only: an exception's text may quote a message.
            where = traceback.extract_tb(exc.__traceback__)[-1]
            log.error(
                "web event failed: %s at %s:%s", type(exc).__name__, where.filename, where.lineno
            )
            with contextlib.suppress(ConnectionError, RuntimeError):
                await socket.send_json({"type": "error", "text": "That failed; see the terminal."})

    async def _advance(self, event: dict[str, Any]) -> None:
        minutes = event.get("minutes")
        step = ADVANCE_STEPS.get(minutes) if isinstance(minutes, int) else None
        if step is None or self.advance is None:
            return
        await self.advance(step)
        await self.chats.broadcast({"type": "clock", "now": self.services.clock.now().isoformat()})

    async def _incoming(self, event: dict[str, Any]) -> IncomingMessage | None:
        persona = self.layout.persona(str(event.get("sender", "")))
        chat = str(event.get("chat", ""))
        if persona is None:
            return None
        sender = f"web:{persona.id}"
        if chat != sender and chat not in self.layout.group_chats():
            return None
        common: dict[str, Any] = {
            "chat": Address.parse(chat),
            "sender": Address.parse(sender),
            "is_private": chat == sender,
            "language_hint": persona.language,
        }
        if event["type"] == "press":
            key = await self.services.db.tokens.resolve(str(event.get("token", "")), chat)
            return None if key is None else IncomingMessage(**common, choice=key)
        text = str(event.get("text", ""))
        attachments = _attachment(event.get("file"))
        if not text.strip() and not attachments:
            return None
        reply_to = event.get("reply_to")
        if not (isinstance(reply_to, str) and reply_to in self.chats.messages):
            reply_to = None
        extra: dict[str, Any] = {"reply_to": reply_to}
        if attachments:
            extra["file"] = {"name": attachments[0].filename, "size": str(attachments[0].size)}
        shown = self.chats.add(chat, persona.id, text, **extra)
        await self.chats.publish(shown)
        return IncomingMessage(
            **common, text=text, message_id=shown.id, reply_to=reply_to, attachments=attachments
        )


def _attachment(file: object) -> tuple[Attachment, ...]:
    """A file the page sent: ``{"name", "mime", "data" (base64)}``."""
    if not isinstance(file, dict):
        return ()
    try:
        data = base64.b64decode(str(file.get("data", "")), validate=True)
    except (binascii.Error, ValueError):
        return ()
    mime = str(file.get("mime") or "application/octet-stream")
    kind = AttachmentKind.PHOTO if mime in INLINE_IMAGES else AttachmentKind.DOCUMENT
    if mime.startswith(("audio/", "video/")):
        kind = AttachmentKind.OTHER
    name = str(file.get("name") or "file")[:200]
    return (Attachment(kind, name, mime, len(data), data),)
