"""Small pieces the Matrix messenger and transport share: the signal fired
after every sync, and the splitting of long texts into events that fit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

MAX_BODY = 16_000  # JSON-escaped characters per event: encrypted, that stays far under 64 KiB

__all__ = ["MAX_BODY", "SyncSignal", "split_text"]


class SyncSignal:
    """Fired after every sync, so waiters can re-check what they wait for."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.ready = asyncio.Event()

    def fire(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def next(self) -> None:
        await self._event.wait()

    async def wait_until(self, predicate: Callable[[], bool], within: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._event.wait(), remaining)
            except TimeoutError:
                return predicate()
        return True


def _escaped_len(text: str) -> int:
    return len(json.dumps(text))


def split_text(text: str, limit: int = MAX_BODY) -> list[str]:
    """Split at line breaks (or spaces) so that every part's JSON fits ``limit``."""
    parts: list[str] = []
    while _escaped_len(text) > limit:
        low, high = 1, len(text)
        while low < high:  # the longest prefix that fits
            middle = (low + high + 1) // 2
            if _escaped_len(text[:middle]) <= limit:
                low = middle
            else:
                high = middle - 1
        cut = low
        for separator in ("\n", " "):
            found = text.rfind(separator, 0, cut)
            if found > cut // 2:
                cut = found
                break
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    parts.append(text)
    return [p for p in parts if p] or [""]
