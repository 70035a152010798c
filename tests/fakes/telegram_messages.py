"""Bot API methods that send, copy, edit and delete messages (see ``telegram_methods``)."""

from __future__ import annotations

import copy
import mimetypes
import re
from typing import Any

from tests.fakes.telegram_markup import format_text
from tests.fakes.telegram_methods import MethodTable, chat_id_param
from tests.fakes.telegram_state import BotState, WorldState
from tests.fakes.telegram_types import (
    JSON,
    ApiError,
    FakeChat,
    Params,
    StoredFile,
    StoredMessage,
    UploadedFile,
    bad_request,
    image_size,
    too_many_requests,
)

MESSAGE_METHODS = MethodTable()
method = MESSAGE_METHODS.register

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


# --- shared validation ------------------------------------------------------------------


def _rate_limit(world: WorldState, bot: BotState, chat: FakeChat) -> None:
    retry_after = world.limiter.check(bot.id, chat)
    if retry_after is not None:
        raise too_many_requests(retry_after)


def _text(world: WorldState, p: Params) -> tuple[str, list[JSON]]:
    text = p.get_str("text")
    if text is None:
        raise bad_request("message text is empty")
    entities = p.get_json("entities", "can't parse entities JSON object")
    plain, parsed = format_text(text, p.get_str("parse_mode"), entities)
    if not plain:
        raise bad_request("message text is empty")
    if len(plain) > world.limits.message_length:
        raise bad_request("message is too long")
    return plain, parsed


def _caption(world: WorldState, p: Params) -> JSON:
    caption = p.get_str("caption")
    if not caption:
        return {}
    entities = p.get_json("caption_entities", "can't parse entities JSON object")
    plain, parsed = format_text(caption, p.get_str("parse_mode"), entities)
    if len(plain) > world.limits.caption_length:
        raise bad_request("message caption is too long")
    content: JSON = {"caption": plain} if plain else {}
    if parsed:
        content["caption_entities"] = parsed
    return content


def _reply_markup(world: WorldState, p: Params) -> tuple[JSON | None, JSON | None]:
    """(inline keyboard shown on the message, other reply markup) from ``reply_markup``."""
    markup = p.get_json("reply_markup", "can't parse reply keyboard markup JSON object")
    if markup is None:
        return None, None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        if not any(k in markup for k in ("keyboard", "remove_keyboard", "force_reply")):
            raise bad_request('can\'t find field "keyboard"')
        return None, markup
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
        )
    for row in rows:
        for button in row:
            _check_button(world, button)
    return {"inline_keyboard": copy.deepcopy(rows)}, None


def _check_button(world: WorldState, button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    if not any(key in button for key in BUTTON_ACTIONS):
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        size = len(data.encode("utf-8")) if isinstance(data, str) else -1
        if not 1 <= size <= world.limits.callback_data_bytes:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not re.match(r"(https?|tg)://\S+$", url):
            raise bad_request("BUTTON_URL_INVALID")


def _reply_to(world: WorldState, bot: BotState, chat: FakeChat, p: Params) -> JSON:
    params = p.get_json("reply_parameters", "can't parse reply parameters JSON object")
    if params is None and p.has("reply_to_message_id"):
        params = {"message_id": p.get_int("reply_to_message_id")}
        if p.get_bool("allow_sending_without_reply"):
            params["allow_sending_without_reply"] = True
    if not isinstance(params, dict) or params.get("message_id") is None:
        return {}
    replied = world.find_message(bot, chat.id, int(params["message_id"]))
    if replied is None:
        if params.get("allow_sending_without_reply"):
            return {}
        raise bad_request("message to be replied not found")
    return {"reply_to_message": {k: v for k, v in replied.data.items() if k != "reply_to_message"}}


def _send(
    world: WorldState,
    bot: BotState,
    chat: FakeChat,
    p: Params,
    content: JSON,
    raw_text: str | None,
) -> JSON:
    inline, other = _reply_markup(world, p)
    content.update(_reply_to(world, bot, chat, p))
    if inline is not None:
        content["reply_markup"] = inline
    _rate_limit(world, bot, chat)
    stored = world.add_message(
        bot,
        chat,
        bot.user,
        content,
        parse_mode=p.get_str("parse_mode"),
        raw_text=raw_text,
        reply_keyboard=other,
    )
    return stored.data


def _editable(world: WorldState, bot: BotState, p: Params) -> StoredMessage:
    if p.has("inline_message_id"):
        raise bad_request("inline messages are not supported by the fake server")
    chat = world.resolve_chat(bot, chat_id_param(p))
    message_id = p.get_int("message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    stored = world.find_message(bot, chat.id, message_id)
    if stored is None:
        raise bad_request("message to edit not found")
    if not stored.from_bot:
        raise bad_request("message can't be edited")
    return stored


def _apply_edit(world: WorldState, stored: StoredMessage, changes: JSON) -> JSON:
    for key, value in changes.items():
        if value is None or value == []:
            stored.data.pop(key, None)
        else:
            stored.data[key] = value
    stored.data["edit_date"] = world.now()
    stored.edits += 1
    world.message_notifier.notify()
    return stored.data


# --- sending and editing ----------------------------------------------------------------


@method("sendMessage")
async def send_message(world: WorldState, bot: BotState, p: Params) -> Any:
    chat = world.resolve_chat(bot, chat_id_param(p))
    plain, entities = _text(world, p)
    content: JSON = {"text": plain}
    if entities:
        content["entities"] = entities
    return _send(world, bot, chat, p, content, p.get_str("text"))


def _upload_or_existing(
    world: WorldState, p: Params, field: str, what: str
) -> UploadedFile | StoredFile:
    value = p.get_file(field)
    if value is None or value == "":
        raise bad_request(f"there is no {what} in the request")
    if isinstance(value, UploadedFile):
        return value
    if value in world.files:
        stored = world.files[value]
        if stored.kind != what:
            raise bad_request(
                f"can't use file of type {stored.kind.capitalize()} as {what.capitalize()}"
            )
        return stored
    if re.match(r"https?://", value):
        raise bad_request("failed to get HTTP URL content")
    raise bad_request("wrong file identifier/HTTP URL specified")


@method("sendPhoto")
async def send_photo(world: WorldState, bot: BotState, p: Params) -> Any:
    chat = world.resolve_chat(bot, chat_id_param(p))
    photo = _upload_or_existing(world, p, "photo", "photo")
    if isinstance(photo, UploadedFile):
        if len(photo.data) > world.limits.photo_upload:
            raise bad_request("PHOTO_SAVE_FILE_INVALID")
        size = image_size(photo.data)
        if size is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        width, height = size
        if width + height > 10_000 or max(width, height) > 20 * max(min(width, height), 1):
            raise bad_request("PHOTO_INVALID_DIMENSIONS")
        data = photo.data
    else:
        data, size = photo.data, (photo.width or 800, photo.height or 600)
    content: JSON = {"photo": world.photo_sizes(data, size), **_caption(world, p)}
    return _send(world, bot, chat, p, content, p.get_str("caption"))


@method("sendDocument")
async def send_document(world: WorldState, bot: BotState, p: Params) -> Any:
    chat = world.resolve_chat(bot, chat_id_param(p))
    document = _upload_or_existing(world, p, "document", "document")
    if isinstance(document, UploadedFile):
        if len(document.data) > world.limits.document_upload:
            raise ApiError(413, "Request Entity Too Large")
        name = document.filename or "file"
        mime = mimetypes.guess_type(name)[0] or document.content_type or "application/octet-stream"
        stored = world.store_file(document.data, "document", mime_type=mime, file_name=name)
    else:
        stored = document
    content: JSON = {"document": world.document_json(stored), **_caption(world, p)}
    return _send(world, bot, chat, p, content, p.get_str("caption"))


@method("copyMessage")
async def copy_message(world: WorldState, bot: BotState, p: Params) -> Any:
    source = _source_message(world, bot, p)
    chat = world.resolve_chat(bot, chat_id_param(p))
    keys = ("text", "entities", "photo", "document")
    content: JSON = {k: copy.deepcopy(v) for k, v in source.data.items() if k in keys}
    if p.has("caption"):
        content.update(_caption(world, p))
    else:
        content.update({k: v for k, v in source.data.items() if k.startswith("caption")})
    stored = _send(world, bot, chat, p, content, source.raw_text)
    return {"message_id": stored["message_id"]}


@method("forwardMessage")
async def forward_message(world: WorldState, bot: BotState, p: Params) -> Any:
    source = _source_message(world, bot, p)
    chat = world.resolve_chat(bot, chat_id_param(p))
    keep = ("text", "entities", "photo", "document", "caption", "caption_entities")
    content: JSON = {k: copy.deepcopy(v) for k, v in source.data.items() if k in keep}
    content["forward_origin"] = {
        "type": "user",
        "sender_user": source.data["from"],
        "date": source.data["date"],
    }
    return _send(world, bot, chat, p, content, source.raw_text)


def _source_message(world: WorldState, bot: BotState, p: Params) -> StoredMessage:
    from_chat = world.resolve_chat(bot, chat_id_param(p, "from_chat_id"), for_sending=False)
    message_id = p.get_int("message_id")
    stored = world.find_message(bot, from_chat.id, message_id or 0)
    if stored is None:
        raise bad_request("message to copy not found")
    return stored


@method("editMessageText")
async def edit_message_text(world: WorldState, bot: BotState, p: Params) -> Any:
    stored = _editable(world, bot, p)
    if "text" not in stored.data:
        raise bad_request("there is no text in the message to edit")
    plain, entities = _text(world, p)
    inline, _ = _reply_markup(world, p)
    if (
        plain == stored.text
        and entities == stored.data.get("entities", [])
        and inline == stored.reply_markup
    ):
        raise bad_request(NOT_MODIFIED)
    stored.raw_text, stored.parse_mode = p.get_str("text"), p.get_str("parse_mode")
    _rate_limit(world, bot, world.chats.get(stored.chat_id) or FakeChat(stored.chat_id, "private"))
    return _apply_edit(world, stored, {"text": plain, "entities": entities, "reply_markup": inline})


@method("editMessageCaption")
async def edit_message_caption(world: WorldState, bot: BotState, p: Params) -> Any:
    stored = _editable(world, bot, p)
    if "text" in stored.data:
        raise bad_request("there is no caption in the message to edit")
    caption = _caption(world, p)
    inline, _ = _reply_markup(world, p)
    old = {k: v for k, v in stored.data.items() if k in ("caption", "caption_entities")}
    if caption == old and inline == stored.reply_markup:
        raise bad_request(NOT_MODIFIED)
    stored.raw_text, stored.parse_mode = p.get_str("caption"), p.get_str("parse_mode")
    changes: JSON = {"caption": None, "caption_entities": None, **caption, "reply_markup": inline}
    return _apply_edit(world, stored, changes)


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(world: WorldState, bot: BotState, p: Params) -> Any:
    stored = _editable(world, bot, p)
    inline, _ = _reply_markup(world, p)
    if inline == stored.reply_markup:
        raise bad_request(NOT_MODIFIED)
    return _apply_edit(world, stored, {"reply_markup": inline})


def _delete(world: WorldState, bot: BotState, chat: FakeChat, message_id: int) -> bool:
    stored = world.find_message(bot, chat.id, message_id)
    if stored is None:
        return False
    if world.now() - stored.date > 48 * 3600 and (chat.type == "private" or not stored.from_bot):
        raise bad_request("message can't be deleted for everyone")
    stored.deleted = True
    world.message_notifier.notify()
    return True


@method("deleteMessage")
async def delete_message(world: WorldState, bot: BotState, p: Params) -> Any:
    chat = world.resolve_chat(bot, chat_id_param(p))
    message_id = p.get_int("message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    if not _delete(world, bot, chat, message_id):
        raise bad_request("message to delete not found")
    return True


@method("deleteMessages")
async def delete_messages(world: WorldState, bot: BotState, p: Params) -> Any:
    chat = world.resolve_chat(bot, chat_id_param(p))
    ids = p.get_json("message_ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
        raise bad_request("message identifiers are not specified")
    for message_id in ids:
        _delete(world, bot, chat, int(message_id))
    return True
