"""Files of a case as the advisory rooms receive them (issue 15, items 3 and 6).

- Photos and documents go where the report's content may go (an encrypted
  room, or any room if the configuration allows content in unencrypted ones).
- Voice notes, videos and locations go ONLY to end-to-end encrypted rooms,
  whatever the configuration: a voice or a face identifies a person, a
  location places them. An unencrypted room is told only that one was added.
- A location is shown as coordinates with a map link (OpenStreetMap: a
  public, key-less address), never sent as a file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from handlers import rooms
from handlers.i18n import N_, render
from handlers.messages import LOCATION_MIME, Address
from handlers.outgoing import Kind
from handlers.services import Services
from storage.records import AttachmentInfo

MAP_LINK = "https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=16/{lat}/{lon}"


def is_location(info: AttachmentInfo) -> bool:
    return info.mime_type == LOCATION_MIME


def is_media(info: AttachmentInfo) -> bool:
    """Voice, audio and video: they identify a person by voice or face."""
    return info.mime_type.startswith(("audio/", "video/"))


def location_text(language: str, ref: str, data: bytes) -> str:
    point = json.loads(data)
    lat, lon = float(point["lat"]), float(point["lon"])
    return render(
        language,
        "Location shared on {ref}: {lat}, {lon}\n{link}",
        ref=ref,
        lat=f"{lat:.5f}",
        lon=f"{lon:.5f}",
        link=MAP_LINK.format(lat=f"{lat:.5f}", lon=f"{lon:.5f}"),
    )


async def send_to_room(
    services: Services,
    room: Address,
    ref: str,
    infos: Sequence[AttachmentInfo],
    content: bool | None = None,
) -> None:
    """Queue the files of ``ref`` that this room may receive; a short notice for the others.

    ``content`` overrides whether photos and documents may go there (by
    default: the room is encrypted, or the configuration allows content in
    unencrypted rooms, the rule of ``cards.content_allowed``).
    """
    encrypted = await services.hub.is_encrypted(room)
    if content is None:
        content = encrypted or services.settings.allow_content_in_unencrypted_rooms
    language = services.settings.default_language
    for info in infos:
        if is_location(info):
            text = (
                location_text(language, ref, await services.db.cases.attachment_data(info.id))
                if encrypted
                else render(language, N_("A location was shared on {ref}."), ref=ref)
            )
            await services.post.send_text(room, text, kind=Kind.NOTICE)
        elif is_media(info) and not encrypted:
            await services.post.send_text(
                room,
                render(
                    language,
                    N_(
                        "A voice note or video was added to {ref}. This room is not end-to-end "
                        "encrypted, so it is not shown here: read it with /case {ref} in a "
                        "private chat with the bot."
                    ),
                    ref=ref,
                ),
                kind=Kind.NOTICE,
            )
        elif content:
            data = await services.db.cases.attachment_data(info.id)
            await services.post.send_file(room, info.filename, data, info.mime_type, ref)


async def to_rooms(services: Services, ref: str, infos: Sequence[AttachmentInfo]) -> None:
    """Queue new files of ``ref`` for every advisory room (as allowed there)."""
    if not infos:
        return
    await rooms.each_room(services, lambda room: send_to_room(services, room, ref, infos))


async def to_chat(
    services: Services, chat: Address, ref: str, infos: Sequence[AttachmentInfo], private: bool
) -> None:
    """``/case`` sends the files it announces. In a private chat with an advisor
    photos and documents go like the report's text; voice, video and locations
    still only where the chat is end-to-end encrypted."""
    await send_to_room(services, chat, ref, infos, content=True if private else None)
