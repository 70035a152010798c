"""Matrix room events → neutral ``IncomingMessage``s.

Text (``m.text``, ``m.emote``) keeps its plain ``body`` only (a reply's
quoted fallback is stripped); ``formatted_body`` is never read. Images,
files, audio and video, encrypted or not, are downloaded (bounded by the
attachment limit) and decrypted into ``Attachment``s; ``m.location``
becomes a location attachment (its ``geo:`` URI as JSON); stickers become
``AttachmentKind.OTHER`` so the handlers can refuse them clearly.
``m.notice`` (other bots), edits and key-verification requests are not
messages to answer and give ``None``.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from aiohttp import ClientError
from nio import AsyncClient, MatrixRoom
from nio.crypto.attachments import decrypt_attachment
from nio.exceptions import EncryptionError

from bot.transports.base import FileGate
from bot.transports.matrix_http import MatrixApiError, TooLarge, download_limited
from bot.transports.matrix_state import SyncState
from handlers.messages import (
    LOCATION_MIME,
    Address,
    Attachment,
    AttachmentKind,
    IncomingMessage,
    Platform,
)

log = logging.getLogger(__name__)

TEXT_TYPES = ("m.text", "m.emote")
FILE_TYPES = {
    "m.image": AttachmentKind.PHOTO,
    "m.file": AttachmentKind.DOCUMENT,
    "m.audio": AttachmentKind.VOICE,
    "m.video": AttachmentKind.VIDEO,
}
GEO_URI = re.compile(r"^geo:(-?\d{1,3}(?:\.\d+)?),(-?\d{1,3}(?:\.\d+)?)")


def strip_reply_fallback(body: str) -> str:
    """Drop the "> <@user> quoted text" lines older clients put before a reply."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith("> "):
        return body
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    if index < len(lines) and lines[index] == "":
        return "\n".join(lines[index + 1 :])
    return body


def is_private(room: MatrixRoom, own_user_id: str, sender: str, state: SyncState) -> bool:
    """A room of exactly the bot and the sender, or one its inviter marked as direct.

    The inviter's "direct" mark alone does not make a room with other joined
    members private: what the bot says there, everyone joined reads.
    """
    members = set(room.users)
    if members == {own_user_id, sender}:
        return True
    joined = members - set(room.invited_users)
    return room.room_id in state.direct and joined <= {own_user_id, sender}


def location(content: dict[str, Any]) -> Attachment:
    """An ``m.location`` event's ``geo:`` URI as a location attachment (OTHER if unreadable)."""
    uri = content.get("geo_uri")
    match = GEO_URI.match(uri) if isinstance(uri, str) else None
    if match is None:
        return Attachment(AttachmentKind.OTHER, "", "", 0, b"")
    lat, lon = float(match.group(1)), float(match.group(2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return Attachment(AttachmentKind.OTHER, "", "", 0, b"")
    point = json.dumps({"lat": lat, "lon": lon}).encode()
    return Attachment(AttachmentKind.LOCATION, "location.json", LOCATION_MIME, len(point), point)


async def _private(msg: IncomingMessage) -> bool:
    """Without a router to ask (a transport started bare): files of private chats."""
    return msg.is_private


def _info(content: dict[str, Any]) -> dict[str, Any]:
    info = content.get("info")
    return info if isinstance(info, dict) else {}


class IncomingBuilder:
    def __init__(self, own_user_id: str, state: SyncState, max_attachment_bytes: int) -> None:
        self.own_user_id = own_user_id
        self.state = state
        self.max_attachment_bytes = max_attachment_bytes

    async def build(
        self,
        client: AsyncClient,
        room: MatrixRoom,
        event: Any,
        takes_files: FileGate | None = None,
    ) -> IncomingMessage | None:
        """The event as a neutral message. A file is downloaded only after
        ``takes_files`` said yes for the message without it (the rate limit,
        then whether anything takes files now); else it stays unfetched."""
        msg = await self._build(client, room, event, fetch=False)
        if msg is None or not any(not a.fetched for a in msg.attachments):
            return msg
        if not await (takes_files(msg) if takes_files is not None else _private(msg)):
            return msg
        return await self._build(client, room, event, fetch=True)

    async def _build(
        self, client: AsyncClient, room: MatrixRoom, event: Any, fetch: bool
    ) -> IncomingMessage | None:
        source: dict[str, Any] = event.source if isinstance(event.source, dict) else {}
        content = source.get("content")
        if not isinstance(content, dict):
            return None
        kind = source.get("type")
        relates = content.get("m.relates_to")
        relates = relates if isinstance(relates, dict) else {}
        if relates.get("rel_type") == "m.replace":
            return None  # an edit: the original was already handled
        in_reply = relates.get("m.in_reply_to")
        reply_to = in_reply.get("event_id") if isinstance(in_reply, dict) else None
        body = content.get("body")
        body = body if isinstance(body, str) else ""
        text = ""
        attachments: tuple[Attachment, ...] = ()
        if kind == "m.sticker":
            attachments = (Attachment(AttachmentKind.OTHER, "", "", 0, b""),)
        elif kind != "m.room.message":
            return None
        else:
            msgtype = content.get("msgtype")
            if msgtype in TEXT_TYPES:
                text = strip_reply_fallback(body) if reply_to else body
            elif msgtype in FILE_TYPES:
                attachment = await self._attachment(
                    client, FILE_TYPES[msgtype], content, body, fetch
                )
                attachments = (attachment,)
                filename = content.get("filename")
                if isinstance(filename, str) and filename and filename != body:
                    text = body  # a caption (spec v1.10: body is the caption when filename is set)
            elif msgtype == "m.location":
                attachments = (location(content),)
            else:
                return None  # m.notice, verification requests, unknown types
        sender = str(event.sender)
        return IncomingMessage(
            chat=Address(Platform.MATRIX, room.room_id),
            sender=Address(Platform.MATRIX, sender),
            text=text,
            is_private=is_private(room, self.own_user_id, sender, self.state),
            message_id=str(event.event_id),
            reply_to=str(reply_to) if reply_to else None,
            attachments=attachments,
            # A plaintext event injected into an encrypted room is not end-to-end encrypted.
            room_encrypted=bool(room.encrypted and getattr(event, "decrypted", False)),
        )

    async def _attachment(
        self,
        client: AsyncClient,
        kind: AttachmentKind,
        content: dict[str, Any],
        body: str,
        fetch: bool,
    ) -> Attachment:
        info = _info(content)
        filename = content.get("filename") if isinstance(content.get("filename"), str) else body
        filename = str(filename or ("photo" if kind is AttachmentKind.PHOTO else "document"))
        mime = info.get("mimetype")
        mime = mime if isinstance(mime, str) and mime else "application/octet-stream"
        declared = info.get("size")
        size = declared if isinstance(declared, int) and declared >= 0 else 0
        limit = self.max_attachment_bytes
        if size > limit:  # refused by the handler, never fetched
            return Attachment(kind, filename, mime, size, b"", fetched=False)
        file = content.get("file")
        url = file.get("url") if isinstance(file, dict) else content.get("url")
        if not isinstance(url, str):
            return Attachment(AttachmentKind.OTHER, filename, mime, size, b"")
        if not fetch:
            return Attachment(kind, filename, mime, size, b"", fetched=False)
        try:
            data = await download_limited(client, url, limit)
            if isinstance(file, dict):
                data = decrypt_attachment(
                    data, file["key"]["k"], file["hashes"]["sha256"], file["iv"]
                )
        except TooLarge:
            return Attachment(kind, filename, mime, max(size, limit + 1), b"")
        except (
            MatrixApiError,
            ClientError,
            TimeoutError,
            EncryptionError,
            KeyError,
            TypeError,
        ) as exc:
            # Not stored as an empty file: the handlers refuse OTHER with a clear message.
            log.warning("could not fetch a Matrix attachment: %s", type(exc).__name__)
            return Attachment(AttachmentKind.OTHER, filename, mime, size, b"")
        return Attachment(kind, filename, mime, len(data), data)
