"""The neutral shapes that cross between transports and handlers.

A transport turns a platform update into an ``IncomingMessage`` and answers
through the ``Messenger`` interface (handlers/messenger.py). Nothing here
knows about Telegram or Matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Platform(StrEnum):
    TELEGRAM = "telegram"
    MATRIX = "matrix"
    WEB = "web"


@dataclass(frozen=True)
class Address:
    """A chat or an account on one platform, written ``platform:id``."""

    platform: Platform
    id: str

    def __str__(self) -> str:
        return f"{self.platform.value}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> Address:
        platform, sep, ident = text.partition(":")
        if not sep or not ident:
            raise ValueError(f"expected platform:id, got {text!r}")
        try:
            return cls(Platform(platform.strip().lower()), ident.strip())
        except ValueError:
            raise ValueError(f"unknown platform {platform!r}") from None


class AttachmentKind(StrEnum):
    PHOTO = "photo"
    DOCUMENT = "document"
    VOICE = "voice"  # voice notes and audio: forwarded only to encrypted rooms
    VIDEO = "video"  # videos and video notes: forwarded only to encrypted rooms
    LOCATION = "location"  # a shared point, as ``LOCATION_MIME`` JSON {"lat", "lon"}
    OTHER = "other"  # stickers, animations, what failed to download: refused clearly


LOCATION_MIME = "application/vnd.sosbot.location+json"


@dataclass(frozen=True)
class Attachment:
    kind: AttachmentKind
    filename: str
    mime_type: str
    size: int
    data: bytes = field(repr=False)
    fetched: bool = True
    """False when the transport did not download the file (a group, a file over
    the limit, or no step takes it now: handlers/file_gate.py); ``data`` is empty."""


@dataclass(frozen=True)
class IncomingMessage:
    """One thing a person did: a message, a file, or a button press.

    ``choice`` is set when the person pressed a button: it is the pressed
    ``Option.key``, which the transport resolved from the opaque token it
    put on the button. Typed answers to a numbered list ("2", or the
    option's word) arrive as text; handlers resolve them against the
    question they asked. ``room_encrypted`` says whether the chat is
    end-to-end encrypted.
    """

    chat: Address
    sender: Address
    text: str = ""
    is_private: bool = True
    message_id: str | None = None
    reply_to: str | None = None
    language_hint: str | None = None
    attachments: tuple[Attachment, ...] = ()
    choice: str | None = None
    room_encrypted: bool = False
    edited: bool = False
    """The person edited an earlier message (Telegram ``edited_message``, Matrix
    ``m.replace``): never handled as a new message (see ``Router.deliver``)."""


@dataclass(frozen=True)
class Option:
    """One choice offered to a person: a button on Telegram, a numbered line on Matrix."""

    key: str
    label: str
    token: str | None = None
    """The button's opaque token, when it was issued with the queued message."""


@dataclass(frozen=True)
class Sent:
    """What a transport reports back after sending: the platform's message id."""

    chat: Address
    message_id: str
