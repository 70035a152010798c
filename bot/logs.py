"""Logging, configured once by the CLI.

Our own log lines carry no message bodies, names, ids or secrets. HTTP
client libraries are held at WARNING: at INFO httpx logs request URLs, and
a Telegram Bot API URL contains the bot token.
"""

from __future__ import annotations

import logging
import re

NOISY = ("httpx", "httpcore", "aiohttp", "telegram", "apscheduler", "alembic")
# nio's warnings name rooms, users and devices ("no session found … for room
# !x", "undecryptable Megolm event from @user DEVICE"): errors only.
QUIET = ("nio",)
# Telegram tokens: "bot123:AA…" in API URLs, "123:AA…" bare (python-telegram-bot's
# InvalidToken message quotes the token).
_TOKEN = re.compile(r"(?:bot)?\d{3,}:[A-Za-z0-9_-]{20,}")
# SQL and the drivers: aiosqlite's debug lines carry every bound value.
SQL = ("sqlalchemy", "aiosqlite", "asyncpg")


def redact(text: str) -> str:
    """``text`` with anything shaped like a Telegram bot token masked."""
    return _TOKEN.sub("<redacted token>", text)


class RedactTokens(logging.Filter):
    """Belt and braces: a Telegram token that reaches a record is masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _TOKEN.search(message):
            record.msg = redact(message)
            record.args = None
        return True


def configure(verbose: bool = False, debug_sql: bool = False) -> None:
    """``verbose``: our own debug lines. ``debug_sql``: SQL statements too, never
    their values (engines run with ``hide_parameters``); the drivers stay quiet."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.ERROR)
    for name in SQL:
        logging.getLogger(name).setLevel(logging.WARNING)
    if debug_sql:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
