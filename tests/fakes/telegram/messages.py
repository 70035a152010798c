"""Bot API methods that send, edit and delete messages (see ``methods``).

Only what sosbot calls: ``sendMessage``, ``sendDocument``, ``editMessageText`` and
``deleteMessage``. sosbot sends plain text only, so any ``parse_mode`` (or
formatting ``entities``) is refused outright: a message that would be formatted by
Telegram never passes these tests.
"""

from __future__ import annotations

import copy
import mimetypes
from typing import Any

from tests.fakes.telegram.methods import MethodTable, chat_id_param
from tests.fakes.telegram.objects import (
    JSON,
    ApiError,
    FakeChat,
    Params,
    StoredMessage,
    UploadedFile,
    bad_request,
    too_many_requests,
)
from tests.fakes.telegram.state import BotState, WorldState

MESSAGE_METHODS = MethodTable()
method = MESSAGE_METHODS.register

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
NO_FORMATTING = "sosbot sends plain text: parse_mode and entities are refused by the fake"


# --- shared validation ------------------------------------------------------------------


def _rate_limit(world: WorldState, bot: BotState, chat: FakeChat) -> None:
    retry_after = world.limiter.check(bot.id, chat)
    if retry_after is not None:
        raise too_many_requests(retry_after)


def _plain(p: Params, *fields: str) -> None:
    if any(p.has(name) for name in ("parse_mode", *fields)):
        raise bad_request(NO_FORMATTING)


def _text(world: WorldState, p: Params) -> str:
    _plain(p, "entities")
    text = (p.get_str("text") or "").strip()  # Telegram trims, as its clients do
    if not text:
        raise bad_request("message text is empty")
    if len(text) > world.limits.message_length:
        raise bad_request("message is too long")
    return text


def _caption(world: WorldState, p: Params) -> JSON:
    _plain(p, "caption_entities")
    caption = p.get_str("caption")
    if not caption:
        return {}
    if len(caption) > world.limits.caption_length:
        raise bad_request("message caption is too long")
    return {"caption": caption}


def _inline_keyboard(world: WorldState, p: Params) -> JSON | None:
    """The inline keyboard of ``reply_markup`` (the only markup sosbot sends)."""
    markup = p.get_json("reply_markup", "can't parse reply keyboard markup JSON object")
    if markup is None:
        return None
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        raise bad_request("can't parse reply keyboard markup JSON object")
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
        )
    for row in rows:
        for button in row:
            _check_button(world, button)
    return {"inline_keyboard": copy.deepcopy(rows)}


def _check_button(world: WorldState, button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    data = button.get("callback_data")
    size = len(data.encode("utf-8")) if isinstance(data, str) else -1
    if not 1 <= size <= world.limits.callback_data_bytes:
        raise bad_request("BUTTON_DATA_INVALID")


def _reply_to(world: WorldState, bot: BotState, chat: FakeChat, p: Params) -> JSON:
    params = p.get_json("reply_parameters", "can't parse reply parameters JSON object")
    if params is None and p.has("reply_to_message_id"):
        params = {"message_id": p.get_int("reply_to_message_id")}
    if not isinstance(params, dict) or params.get("message_id") is None:
        return {}
    replied = world.find_message(bot, chat.id, int(params["message_id"]))
    if replied is None:
        if params.get("allow_sending_without_reply"):
            return {}
        raise bad_request("message to be replied not found")
    return {"reply_to_message": {k: v for k, v in replied.data.items() if k != "reply_to_message"}}


def _send(world: WorldState, bot: BotState, chat: FakeChat, p: Params, content: JSON) -> JSON:
    inline = _inline_keyboard(world, p)
    content.update(_reply_to(world, bot, chat, p))
    if inline is not None:
        content["reply_markup"] = inline
    _rate_limit(world, bot, chat)
    return world.add_message(bot, chat, bot.user, content).data


def _target(
    world: WorldState, bot: BotState, p: Params, action: str
) -> tuple[FakeChat, StoredMessage]:
    """The chat and the stored message ``chat_id``/``message_id`` name, as Telegram
    refuses them for editing or deleting (``action``)."""
    chat = world.resolve_chat(bot, chat_id_param(p))
    message_id = p.get_int("message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    stored = world.find_message(bot, chat.id, message_id)
    if stored is None:
        raise bad_request(f"message to {action} not found")
    return chat, stored


def _editable(world: WorldState, bot: BotState, p: Params) -> tuple[FakeChat, StoredMessage]:
    chat, stored = _target(world, bot, p, "edit")
    if not stored.from_bot:
        raise bad_request("message can't be edited")
    return chat, stored


# --- the methods ------------------------------------------------------------------------


@method("sendMessage")
async def send_message(world: WorldState, bot: BotState, p: Params) -> Any:
    chat = world.resolve_chat(bot, chat_id_param(p))
    return _send(world, bot, chat, p, {"text": _text(world, p)})


@method("sendDocument")
async def send_document(world: WorldState, bot: BotState, p: Params) -> Any:
    chat = world.resolve_chat(bot, chat_id_param(p))
    document = p.get_file("document")
    if not isinstance(document, UploadedFile):  # sosbot always uploads
        raise bad_request("there is no document in the request")
    if len(document.data) > world.limits.document_upload:
        raise ApiError(413, "Request Entity Too Large")
    name = document.filename or "file"
    mime = mimetypes.guess_type(name)[0] or document.content_type or "application/octet-stream"
    stored = world.store_file(document.data, "document", mime_type=mime, file_name=name)
    content: JSON = {"document": world.document_json(stored), **_caption(world, p)}
    return _send(world, bot, chat, p, content)


@method("editMessageText")
async def edit_message_text(world: WorldState, bot: BotState, p: Params) -> Any:
    chat, stored = _editable(world, bot, p)
    if "text" not in stored.data:
        raise bad_request("there is no text in the message to edit")
    text = _text(world, p)
    inline = _inline_keyboard(world, p)
    if text == stored.text and inline == stored.reply_markup:
        raise bad_request(NOT_MODIFIED)
    _rate_limit(world, bot, chat)  # an edit counts against the flood limits like a send
    for key, value in {"text": text, "reply_markup": inline}.items():
        if value is None:
            stored.data.pop(key, None)
        else:
            stored.data[key] = value
    stored.data["edit_date"] = world.now()
    stored.edits += 1
    world.message_notifier.notify()
    return stored.data


@method("deleteMessage")
async def delete_message(world: WorldState, bot: BotState, p: Params) -> Any:
    chat, stored = _target(world, bot, p, "delete")
    if world.now() - stored.date > 48 * 3600 and (chat.type == "private" or not stored.from_bot):
        raise bad_request("message can't be deleted for everyone")
    stored.deleted = True
    world.message_notifier.notify()
    return True
