"""Bot API methods of the fake server other than sending and editing messages.

Only the methods sosbot (and python-telegram-bot on its behalf) calls: ``getMe``,
``getUpdates``, ``setWebhook``, ``deleteWebhook``, ``answerCallbackQuery`` and
``getFile``; any other method answers 404 like an unknown one. Each method is
``async (world, bot, params) -> result`` and raises ``ApiError`` with the real Bot
API's codes and descriptions. The message methods are in ``messages``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from tests.fakes.telegram.objects import (
    JSON,
    ApiError,
    Params,
    bad_request,
)
from tests.fakes.telegram.state import DEFAULT_UPDATE_TYPES, BotState, WorldState

Handler = Callable[[WorldState, BotState, Params], Awaitable[Any]]


class MethodTable(dict[str, tuple[str, Handler]]):
    """Bot API methods by lower-case name (the real API ignores the case of names)."""

    def register(self, name: str) -> Callable[[Handler], Handler]:
        def decorator(handler: Handler) -> Handler:
            self[name.lower()] = (name, handler)
            return handler

        return decorator


BOT_METHODS = MethodTable()
method = BOT_METHODS.register


def chat_id_param(p: Params, name: str = "chat_id") -> Any:
    value = p.raw.get(name)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    p.decoded[name] = value
    return value


# --- getting updates and bot settings ---------------------------------------------------


@method("getMe")
async def get_me(world: WorldState, bot: BotState, p: Params) -> Any:
    return {
        **bot.user.to_api(),
        "can_join_groups": True,
        "can_read_all_group_messages": not bot.privacy_mode,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@method("getUpdates")
async def get_updates(world: WorldState, bot: BotState, p: Params) -> Any:
    if bot.webhook.get("url"):
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook "
            "to delete the webhook first",
        )
    limit = min(max(p.get_int("limit") or 100, 1), 100)
    timeout = max(p.get_float("timeout") or 0.0, 0.0)
    allowed = p.get_json("allowed_updates")
    if isinstance(allowed, list):
        bot.allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES
    world.confirm(bot, p.get_int("offset"))
    bot.poll_generation += 1
    generation = bot.poll_generation
    bot.poll_notifier.notify()  # an older long poll still waiting is terminated

    def ready() -> list[JSON] | str | None:
        if bot.poll_generation != generation:
            return "conflict"
        updates = world.deliverable(bot)
        if updates or world.closing:
            return updates[:limit]
        return None

    result: list[JSON] | str | None = ready()
    if result is None and timeout > 0:
        bot.active_polls += 1
        world.message_notifier.notify()
        try:
            result = await bot.poll_notifier.wait_for(ready, timeout)
        except TimeoutError:
            result = []
        finally:
            bot.active_polls -= 1
    if result == "conflict":
        raise ApiError(
            409,
            "Conflict: terminated by other getUpdates request; make sure that only one bot "
            "instance is running",
        )
    return result or []


@method("setWebhook")
async def set_webhook(world: WorldState, bot: BotState, p: Params) -> Any:
    url = p.get_str("url") or ""
    if url and not re.match(r"https://[^/\s:]+(:(443|80|88|8443))?(/\S*)?$", url):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    if p.get_bool("drop_pending_updates"):
        bot.updates.clear()
    allowed = p.get_json("allowed_updates")
    if isinstance(allowed, list):
        bot.allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES
    bot.webhook = {"url": url}
    if url:
        bot.webhook["max_connections"] = p.get_int("max_connections") or 40
        if isinstance(allowed, list):
            bot.webhook["allowed_updates"] = allowed
    return True


@method("deleteWebhook")
async def delete_webhook(world: WorldState, bot: BotState, p: Params) -> Any:
    if p.get_bool("drop_pending_updates"):
        bot.updates.clear()
    bot.webhook = {}
    return True


@method("answerCallbackQuery")
async def answer_callback_query(world: WorldState, bot: BotState, p: Params) -> Any:
    query_id = p.get_str("callback_query_id") or ""
    if query_id not in bot.callback_queries or query_id in world.callback_answers:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    if len(p.get_str("text") or "") > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    world.callback_answers[query_id] = {
        "text": p.get_str("text"),
        "show_alert": p.get_bool("show_alert"),
        "url": p.get_str("url"),
    }
    return True


# --- files ------------------------------------------------------------------------------


@method("getFile")
async def get_file(world: WorldState, bot: BotState, p: Params) -> Any:
    file_id = p.get_str("file_id") or ""
    stored = world.files.get(file_id)
    if stored is None:
        raise bad_request("invalid file_id")
    if stored.size > world.limits.download:
        raise bad_request("file is too big")
    if stored.file_path is None:
        folder = "photos" if stored.kind == "photo" else "documents"
        extension = ".jpg" if stored.kind == "photo" else _extension(stored.file_name)
        stored.file_path = f"{folder}/file_{len(world.file_paths)}{extension}"
        world.file_paths[stored.file_path] = stored
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
        "file_path": stored.file_path,
    }


def _extension(file_name: str | None) -> str:
    match = re.search(r"\.[A-Za-z0-9]{1,8}$", file_name or "")
    return match.group(0).lower() if match else ""
