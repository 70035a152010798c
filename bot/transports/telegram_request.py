"""Telegram's start-up errors in one line, and the getUpdates request that says
when a poll last succeeded (for monitoring)."""

from __future__ import annotations

import time
from typing import Any

import httpx
from telegram.error import InvalidToken, TelegramError
from telegram.request import HTTPXRequest


class PollRecorder(HTTPXRequest):
    """PTB's request for getUpdates (one connection, as PTB builds it), remembering
    when a poll last succeeded: a quiet bot still polls, a stuck one does not."""

    def __init__(self) -> None:
        super().__init__(connection_pool_size=1)
        self.last_ok: float | None = None

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(*args, **kwargs)
        if code == 200:
            self.last_ok = time.time()
        return code, payload


def telegram_start_problem(exc: TelegramError, base_url: str) -> str:
    """One line naming the host, never the token (which sits in the URL's path)."""
    host = httpx.URL(base_url).host or base_url.split("/")[2]
    if isinstance(exc, InvalidToken):
        return f"Telegram at {host} refused the bot token (check telegram.token_env/token_file)"
    return f"cannot reach the Telegram Bot API at {host} ({type(exc).__name__})"
