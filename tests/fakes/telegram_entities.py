"""Message entities as Telegram computes them: UTF-16 offsets, links, auto-detection.

Shared by the parse-mode parsers in ``telegram_markup.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.fakes.telegram_types import JSON

_SPACES = " \t\r\n\0\v"
_LINK_SCHEMES = ("http", "https", "ftp", "tg", "ton", "tonsite")


class MarkupError(Exception):
    """The text does not parse; the message is TDLib's."""


@dataclass
class Entity:
    type: str
    offset: int
    length: int
    argument: str = ""

    def to_api(self) -> JSON:
        data: JSON = {"type": self.type, "offset": self.offset, "length": self.length}
        if self.type == "pre" and self.argument:
            data["language"] = self.argument
        elif self.type == "text_link":
            data["url"] = self.argument
        elif self.type == "text_mention":
            data["user"] = {"id": int(self.argument), "is_bot": False, "first_name": ""}
        elif self.type == "custom_emoji":
            data["custom_emoji_id"] = self.argument
        return data


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def char_width(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def ascii_lower(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text)


def is_space(char: str) -> bool:
    return char in _SPACES


class Cursor:
    """Index into a string that reads NUL past its end, like a C string."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)

    def at(self, index: int) -> str:
        return self.text[index] if index < self.n else "\0"

    def byte_offset(self, index: int) -> int:
        return len(self.text[:index].encode("utf-8", "surrogatepass"))


def _checked_link(url: str) -> str:
    """The URL Telegram would keep for a text link, or "" if it drops the entity."""
    url = url.strip()
    if not url or any(c.isspace() for c in url):
        return ""
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", url)
    if match:
        scheme = match.group(1).lower()
        if scheme in _LINK_SCHEMES:
            return url
        if scheme in ("mailto",):
            return url
        if "." not in url.split(":", 1)[0]:
            return ""
    if "." in url:
        return "http://" + url
    return ""


def link_entity(offset: int, length: int, url: str) -> Entity | None:
    match = re.fullmatch(r"tg://user\?id=(\d+)", url.strip())
    if match:
        return Entity("text_mention", offset, length, match.group(1))
    checked = _checked_link(url)
    return Entity("text_link", offset, length, checked) if checked else None


def sorted_entities(entities: list[Entity]) -> list[Entity]:
    return sorted(entities, key=lambda e: (e.offset, -e.length))


# --- entities Telegram adds by itself ------------------------------------------------

_AUTO_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("url", re.compile(r"(?<![\w@/.])(?:https?://|www\.|t\.me/)[^\s<>\"]*[^\s<>\".,;:!?)\]'}]")),
    ("email", re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    (
        "bot_command",
        re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])"),
    ),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}(?!\w)")),
]
_NO_AUTO_INSIDE = frozenset({"code", "pre", "text_link", "url", "email", "bot_command", "mention"})


def find_auto_entities(text: str, existing: list[JSON] | None = None) -> list[JSON]:
    """The entities Telegram detects by itself: bot commands, mentions, URLs, e-mails."""
    taken = [
        (e["offset"], e["offset"] + e["length"])
        for e in existing or []
        if e["type"] in _NO_AUTO_INSIDE
    ]
    found: list[JSON] = []
    for kind, pattern in _AUTO_PATTERNS:
        for match in pattern.finditer(text):
            start = utf16_len(text[: match.start()])
            end = start + utf16_len(match.group(0))
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            taken.append((start, end))
            found.append({"type": kind, "offset": start, "length": end - start})
    return found


def strip_text(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Trim surrounding whitespace like Telegram does, keeping entities aligned."""
    stripped = text.lstrip(" \t\r\n")
    shift = utf16_len(text) - utf16_len(stripped)
    stripped = stripped.rstrip(" \t\r\n")
    total = utf16_len(stripped)
    result: list[JSON] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, total)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result
