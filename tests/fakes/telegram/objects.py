"""Plain data types of the fake Telegram Bot API (see ``server.py``).

Everything here is JSON in the shape the real Bot API uses, wrapped in small dataclasses
so that tests can build people and chats and inspect what the bot sent.
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

JSON = dict[str, Any]
T = TypeVar("T")
N = TypeVar("N", int, float)
ChatType = Literal["private", "group", "supergroup", "channel"]

MB = 1024 * 1024


class ApiError(Exception):
    """An error answer of the Bot API: ``{"ok": false, "error_code": ..., ...}``."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.parameters = parameters

    def to_json(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(description: str, parameters: JSON | None = None) -> ApiError:
    return ApiError(400, f"Bad Request: {description}", parameters)


def forbidden(description: str) -> ApiError:
    return ApiError(403, f"Forbidden: {description}")


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


@dataclass(frozen=True)
class FakeUser:
    """A Telegram account. ``language_code`` is the client's language hint (e.g. "es")."""

    id: int
    first_name: str = "Test"
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_api(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name is not None:
            data["last_name"] = self.last_name
        if self.username is not None:
            data["username"] = self.username
        if self.language_code is not None:
            data["language_code"] = self.language_code
        return data


@dataclass(frozen=True)
class FakeChat:
    """A chat. For a private chat ``id`` is the user's id (use ``FakeChat.private(user)``)."""

    id: int
    type: ChatType
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None

    @classmethod
    def private(cls, user: FakeUser) -> FakeChat:
        return cls(
            id=user.id,
            type="private",
            username=user.username,
            first_name=user.first_name,
            last_name=user.last_name,
        )

    @classmethod
    def group(cls, id: int, title: str = "Test group") -> FakeChat:
        return cls(id=id, type="group", title=title)

    @classmethod
    def supergroup(
        cls, id: int, title: str = "Test supergroup", username: str | None = None
    ) -> FakeChat:
        return cls(id=id, type="supergroup", title=title, username=username)

    @property
    def is_group(self) -> bool:
        return self.type in ("group", "supergroup")

    def to_api(self) -> JSON:
        data: JSON = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


def as_chat(chat: FakeChat | FakeUser) -> FakeChat:
    return FakeChat.private(chat) if isinstance(chat, FakeUser) else chat


@dataclass
class UploadedFile:
    """One multipart file part of a request."""

    filename: str | None
    content_type: str | None
    data: bytes

    def summary(self) -> JSON:
        return {"filename": self.filename, "mime_type": self.content_type, "size": len(self.data)}


@dataclass
class StoredFile:
    """A file known to the fake server (uploaded by the bot or sent by a simulated person)."""

    file_id: str
    file_unique_id: str
    data: bytes
    kind: Literal["photo", "document"]
    mime_type: str | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None
    file_path: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


class _Field(Generic[T]):
    """A field of the stored Bot API message, None where the message has none."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, message: StoredMessage, owner: type | None = None) -> T | None:
        value: T | None = message.data.get(self.name)
        return value


@dataclass
class StoredMessage:
    """A message as the bot ``bot_id`` sees it in chat ``chat_id``.

    ``data`` is the Bot API ``Message`` object (kept up to date on edits).
    """

    chat_id: int
    message_id: int
    bot_id: int
    from_bot: bool
    data: JSON
    deleted: bool = False
    edits: int = 0

    text = _Field[str]()
    caption = _Field[str]()
    reply_markup = _Field[JSON]()
    document = _Field[JSON]()
    photo = _Field[list[JSON]]()

    @property
    def entities(self) -> list[JSON]:
        return list(self.data.get("entities") or self.data.get("caption_entities") or [])

    @property
    def date(self) -> int:
        return int(self.data["date"])

    @property
    def buttons(self) -> list[JSON]:
        """All inline keyboard buttons, row by row, flattened."""
        markup = self.reply_markup or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]

    @property
    def button_texts(self) -> list[str]:
        return [str(button.get("text")) for button in self.buttons]

    @property
    def callback_data(self) -> list[str]:
        return [str(b["callback_data"]) for b in self.buttons if "callback_data" in b]

    def button(self, label: str) -> JSON:
        """The inline button whose text or callback_data is ``label``."""
        for candidate in self.buttons:
            if label in (candidate.get("text"), candidate.get("callback_data")):
                return candidate
        raise LookupError(f"no button {label!r} in message {self.message_id}: {self.button_texts}")


@dataclass
class RecordedRequest:
    """One Bot API call as the fake received it, and how it answered.

    ``params`` holds decoded values (ints, dicts for JSON fields, strings for text); file
    parts are replaced by ``{"filename", "mime_type", "size"}`` summaries.
    """

    method: str
    bot_id: int | None
    params: JSON
    status: int = 200
    result: Any = None
    error: str | None = None
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return self.status == 200


_TEXT_FIELDS = frozenset("text caption callback_query_id file_id url secret_token".split())


class Params:
    """Request parameters from JSON, form-encoded or multipart bodies.

    Form and multipart values arrive as strings (PTB JSON-encodes non-string values), JSON
    bodies as native values; the getters convert like the real Bot API does.
    """

    def __init__(self, raw: dict[str, Any], files: dict[str, UploadedFile]) -> None:
        self.raw = raw
        self.files = files
        self.decoded: JSON = {}

    def has(self, name: str) -> bool:
        value = self.raw.get(name)
        return name in self.files or (value is not None and value != "")

    def get_str(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif not isinstance(value, str):
            value = str(value) if isinstance(value, int | float) else json.dumps(value)
        self.decoded[name] = value
        return value

    def get_int(self, name: str) -> int | None:
        return self._number(name, lambda v: int(v.strip()) if isinstance(v, str) else int(v))

    def get_float(self, name: str) -> float | None:
        return self._number(name, float)

    def _number(self, name: str, convert: Callable[[Any], N]) -> N | None:
        """The parameter as a number (absent or empty: None; unreadable: 400)."""
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        try:
            number = convert(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None
        self.decoded[name] = number
        return number

    def get_bool(self, name: str) -> bool:
        value = self.raw.get(name)
        result = value is True or (isinstance(value, str) and value.lower() in ("true", "1"))
        result = result or (isinstance(value, int) and not isinstance(value, bool) and value != 0)
        if value is not None:
            self.decoded[name] = result
        return result

    def get_json(self, name: str, error: str | None = None) -> Any:
        value = self.raw.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                value = json.loads(value)
            except ValueError:
                raise bad_request(error or f"can't parse {name} JSON object") from None
        if value is not None:
            self.decoded[name] = value
        return value

    def get_file(self, name: str) -> UploadedFile | str | None:
        """An uploaded part, an ``attach://`` reference, or a file_id/URL string."""
        if name in self.files:
            self.decoded[name] = self.files[name].summary()
            return self.files[name]
        value = self.get_str(name)
        if value and value.startswith("attach://"):
            attached = self.files.get(value.removeprefix("attach://"))
            if attached is None:
                raise bad_request(f"file {value} not found in the request")
            self.decoded[name] = attached.summary()
            return attached
        return value

    def logged(self) -> JSON:
        """The parameters for the request log: what the method decoded, and a best-effort
        JSON decoding of form values it did not read (text fields stay strings)."""
        out: JSON = {}
        for key, value in self.raw.items():
            out[key] = value
            if isinstance(value, str) and key not in _TEXT_FIELDS:
                try:
                    decoded = json.loads(value)
                except ValueError:
                    continue
                if not isinstance(decoded, str):
                    out[key] = decoded
        for key, upload in self.files.items():
            out[key] = upload.summary()
        out.update(self.decoded)
        return out


# --- images -----------------------------------------------------------------------------


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG image (what the tests send), None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return None


def tiny_png(width: int = 2, height: int = 2) -> bytes:
    """A valid grey PNG image of the given size, for photo tests."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
