"""Telling the advisory rooms: one loop for every notice, card and report.

Every message is queued in the outbox inside the current turn's unit of
work (``services.post``); the dispatcher delivers it after the commit and
retries a room that cannot be reached for now. A room whose platform is
not running here is skipped. The same helper reaches the escalation list,
whose entries are people.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from handlers.i18n import render
from handlers.messages import Address
from handlers.outgoing import Kind
from handlers.services import Services

File = tuple[str, bytes, str, str]
"""(file name, content, MIME type, caption) of a file sent after a text."""


async def each_room(
    services: Services,
    act: Callable[[Address], Awaitable[object]],
    to: Sequence[Address] | None = None,
) -> int:
    """Run ``act`` for every advisory room (or every address of ``to``) whose
    platform runs here; how many rooms that was."""
    reached = 0
    for room in services.settings.advisory_rooms if to is None else to:
        if not services.hub.serves(room.platform):
            continue
        await act(room)
        reached += 1
    return reached


async def tell_rooms(
    services: Services,
    text: str,
    *,
    files: Sequence[File] = (),
    to: Sequence[Address] | None = None,
    kind: str = Kind.NOTICE,
) -> int:
    """The same text (and files) to every advisory room, or to ``to``."""

    async def send(room: Address) -> None:
        await services.post.send_text(room, text, kind=kind)
        for name, data, mime, caption in files:
            await services.post.send_file(room, name, data, mime, caption)

    return await each_room(services, send, to)


async def notice(services: Services, message: str, /, **params: Any) -> int:
    """A short notice (no report content), in the network's default language."""
    return await tell_rooms(services, render(services.settings.default_language, message, **params))
