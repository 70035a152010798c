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
_TOKEN = re.compile(r"bot\d+:[A-Za-z0-9_-]{20,}")


class RedactTokens(logging.Filter):
    """Belt and braces: a Telegram token that reaches a record is masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _TOKEN.search(message):
            record.msg = _TOKEN.sub("bot<redacted>", message)
            record.args = None
        return True


def configure(verbose: bool = False) -> None:
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
