"""Telling the advisory rooms: one loop for every notice, card and report.

Each room is tried on its own: a room whose platform is not running here is
skipped, and a room that cannot be reached is logged (the error type only,
never the text) while the other rooms still get their message. The same
helper reaches the escalation list, whose entries are people.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from handlers.i18n import render
from handlers.messages import Address
from handlers.messenger import DestinationGone, TransientSendError
from handlers.services import Services

log = logging.getLogger(__name__)

File = tuple[str, bytes, str, str]
"""(file name, content, MIME type, caption) of a file sent after a text."""


async def each_room(
    services: Services,
    act: Callable[[Address], Awaitable[object]],
    to: Sequence[Address] | None = None,
    what: str = "message",
) -> int:
    """Run ``act`` for every advisory room (or every address of ``to``);
    how many rooms it reached."""
    reached = 0
    for room in services.settings.advisory_rooms if to is None else to:
        if not services.hub.serves(room.platform):
            continue
        try:
            await act(room)
        except (DestinationGone, TransientSendError) as exc:
            log.error("%s not delivered to an advisory room: %s", what, type(exc).__name__)
            continue
        reached += 1
    return reached


async def tell_rooms(
    services: Services,
    text: str,
    *,
    files: Sequence[File] = (),
    to: Sequence[Address] | None = None,
    what: str = "notice",
) -> int:
    """The same text (and files) to every advisory room, or to ``to``."""

    async def send(room: Address) -> None:
        await services.hub.send_text(room, text)
        for name, data, mime, caption in files:
            await services.hub.send_file(room, name, data, mime, caption)

    return await each_room(services, send, to, what)


async def notice(services: Services, message: str, /, **params: Any) -> int:
    """A short notice (no report content), in the network's default language."""
    return await tell_rooms(services, render(services.settings.default_language, message, **params))
