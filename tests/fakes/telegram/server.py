"""A fake Telegram Bot API server for tests, spoken to by the real python-telegram-bot.

    server = FakeTelegramServer()
    bot_id = server.add_bot("123456:TEST-TOKEN")
    await server.start()
    app = (
        ApplicationBuilder().token("123456:TEST-TOKEN")
        .base_url(server.base_url).base_file_url(server.base_file_url).build()
    )
    alice = server.new_user("Alice", language_code="es")
    server.user_sends(alice, alice, "/start")
    reply = await server.wait_for_message(alice.id)
    await server.stop()

Only what sosbot uses is there (see ``methods`` and ``messages``);
any ``parse_mode`` is refused. ``rate_limits=True`` turns on strict flood control
(``state.RateLimiter``: sliding windows, 429 with ``retry_after``).
Answers are the real Bot API's JSON (``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": N, "description": ..., "parameters": ...}``) with the real
HTTP status codes, error texts and limits. The state and the test-side API live in
``state.TelegramWorld``; the methods in ``methods``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.telegram.messages import MESSAGE_METHODS
from tests.fakes.telegram.methods import BOT_METHODS
from tests.fakes.telegram.objects import (
    JSON,
    MB,
    ApiError,
    FakeChat,
    FakeUser,
    Params,
    RecordedRequest,
    StoredMessage,
    UploadedFile,
    tiny_png,
)
from tests.fakes.telegram.world import TelegramWorld

__all__ = [
    "ApiError",
    "ChatOutage",
    "FakeChat",
    "FakeTelegramServer",
    "FakeUser",
    "RecordedRequest",
    "StoredMessage",
    "tiny_png",
]

logger = logging.getLogger(__name__)
METHODS = {**BOT_METHODS, **MESSAGE_METHODS}
NOT_FOUND = ApiError(404, "Not Found")
UNAUTHORIZED = ApiError(401, "Unauthorized")


@dataclass
class ChatOutage:
    """One chat the Bot API refuses for a span: every call addressed to it
    (``chat_id``) answers ``error`` and takes no effect, until ``over()`` is true."""

    chat_id: int
    error: ApiError
    over: Callable[[], bool]
    refused: int = 0

    def applies(self, params: Params) -> bool:
        return str(params.raw.get("chat_id", "")) == str(self.chat_id) and not self.over()


class FakeTelegramServer(TelegramWorld):
    """The fake Bot API over HTTP on 127.0.0.1 (a free port unless ``port`` is given)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
        date_clock: Callable[[], float] = time.time,
        rate_limits: bool = False,
    ) -> None:
        super().__init__(clock=clock, date_clock=date_clock, rate_limits=rate_limits)
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        #: Exceptions raised by the fake itself (answered as 500); tests should expect [].
        self.internal_errors: list[Exception] = []
        self.outages: list[ChatOutage] = []

    def fail_chat(
        self, chat_id: int, error_code: int, description: str, *, until: Callable[[], bool]
    ) -> ChatOutage:
        """Refuse every call to ``chat_id`` with this error until ``until()`` is true: a
        5xx (Telegram's side failing) or a 403 ("bot was kicked from the group chat")
        for a span of time, measured on whatever clock ``until`` reads (the bot's fake
        clock, in the fault tests)."""
        outage = ChatOutage(chat_id, ApiError(error_code, description), until)
        self.outages.append(outage)
        return outage

    # --- lifecycle -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)`` (PTB appends the token)."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)`` (PTB appends the token)."""
        return f"http://{self.host}:{self.port}/file/bot"

    async def start(self) -> None:
        # A little above the 50 MB document limit, so that bigger uploads get the real 413.
        app = web.Application(client_max_size=self.limits.document_upload + 2 * MB)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.closing = False

    async def stop(self) -> None:
        self.closing = True
        for bot in self.bots.values():
            bot.poll_notifier.notify()  # long polls answer [] at once
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegramServer:
        await self.start()
        return self

    async def __aexit__(self, *_exc_info: object) -> None:
        await self.stop()

    # --- HTTP ------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/file/bot"):
            return self._serve_file(path.removeprefix("/file/bot"))
        if not path.startswith("/bot"):
            return _error(NOT_FOUND)
        token, _, method_name = path.removeprefix("/bot").partition("/")
        bot_id = self.tokens.get(token)
        if bot_id is None:
            return _error(UNAUTHORIZED)
        bot = self.bots[bot_id]
        record = RecordedRequest(
            method=method_name, bot_id=bot_id, params={}, at=self.limiter.clock()
        )
        try:
            params = await _read_params(request)
        except ApiError as exc:
            return self._finish(record, exc)
        entry = METHODS.get(method_name.lower())
        if entry is not None:
            record.method = entry[0]
        if entry is None:
            record.params = params.logged()
            return self._finish(record, NOT_FOUND)
        outage = next((o for o in self.outages if o.applies(params)), None)
        if outage is not None:
            outage.refused += 1
            record.params = params.logged()
            return self._finish(record, outage.error)
        fault = self.take_fault(bot, record.method)
        try:
            if fault is not None and not fault.after_effect:
                raise fault.error
            result = await entry[1](self, bot, params)
            if fault is not None:
                raise fault.error
        except ApiError as exc:
            record.params = params.logged()
            return self._finish(record, exc)
        except Exception as exc:  # a bug in the fake: make it loud, not a silent 500
            logger.exception("FakeTelegramServer failed in %s", record.method)
            self.internal_errors.append(exc)
            record.params = params.logged()
            return self._finish(record, ApiError(500, "Internal Server Error"))
        record.params = params.logged()
        return self._finish(record, None, result)

    def _finish(
        self, record: RecordedRequest, error: ApiError | None, result: Any = None
    ) -> web.Response:
        if error is not None:
            record.status, record.error = error.code, error.description
            if error.code == 429:
                self.count_429 += 1
            response = _error(error)
        else:
            record.result = result
            response = _json(200, {"ok": True, "result": result})
        self.requests.append(record)
        self.request_notifier.notify()
        return response

    def _serve_file(self, rest: str) -> web.Response:
        token, _, file_path = rest.partition("/")
        if token not in self.tokens:
            return _error(UNAUTHORIZED)
        stored = self.file_paths.get(file_path)
        if stored is None:
            return _error(NOT_FOUND)
        content_type = stored.mime_type or "application/octet-stream"
        return web.Response(body=stored.data, content_type=content_type)


async def _read_params(request: web.Request) -> Params:
    raw: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.can_read_body:
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON") from None
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: JSON object expected")
            raw.update(body)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            try:
                form = await request.post()
            except web.HTTPRequestEntityTooLarge:
                raise ApiError(413, "Request Entity Too Large") from None
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    files[key] = UploadedFile(value.filename, value.content_type, data)
                else:
                    raw[key] = value
    return Params(raw, files)


def _json(status: int, body: JSON) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False),
        content_type="application/json",
    )


def _error(error: ApiError) -> web.Response:
    return _json(error.code, error.to_json())
