"""State of the fake Telegram world: bots, chats, messages, updates, files and limits.

``WorldState`` holds everything; ``world.TelegramWorld`` adds the test-side API
(simulated people, inspection, waiting), ``methods.py`` and
``messages.py`` implement the Bot API methods and ``server.py`` serves them
over HTTP.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from tests.fakes.telegram.objects import (
    JSON,
    MB,
    ApiError,
    FakeChat,
    FakeUser,
    RecordedRequest,
    StoredFile,
    StoredMessage,
    as_chat,
    bad_request,
    forbidden,
)

T = TypeVar("T")

#: Update types a bot gets when it did not ask for others (like the real Bot API).
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)

Membership = Literal["member", "blocked", "kicked", "left"]


class Notifier:
    """Wakes coroutines waiting for a condition on shared state; no polling loops."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Event] = set()

    def notify(self) -> None:
        for event in self._waiters:
            event.set()

    async def wait_for(self, check: Callable[[], T | None], timeout: float) -> T:  # noqa: ASYNC109
        """Returns the first non-None result of ``check``; raises TimeoutError."""
        event = asyncio.Event()
        self._waiters.add(event)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    event.clear()
                    result = check()
                    if result is not None:
                        return result
                    await event.wait()
        finally:
            self._waiters.discard(event)


@dataclass
class Limits:
    """Sizes the real Bot API enforces (change them to test the edges cheaply)."""

    message_length: int = 4096
    caption_length: int = 1024
    callback_data_bytes: int = 64
    document_upload: int = 50 * MB
    download: int = 20 * MB


class RateLimiter:
    """Telegram's published flood limits as strict sliding windows, off unless ``enabled``.

    Telegram does not publish how it counts; this is the strictest reading of what
    it does publish: a send (or edit) is refused with 429 and ``retry_after`` if it
    would make more than ``bot_limit`` sends by the bot in any ``bot_span`` seconds
    (30 in 1 s), ``group_limit`` to one group in any ``group_span`` (20 in 60 s), or
    ``chat_limit`` to one chat in any ``chat_span`` (about one a second: 3 in 3 s).
    Refused requests do not count. A window (t - span, t] holds at most ``limit``.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.enabled = False
        self.bot_limit, self.bot_span = 30, 1.0
        self.group_limit, self.group_span = 20, 60.0
        self.chat_limit, self.chat_span = 3, 3.0
        self._sent: dict[tuple[str, int], deque[float]] = {}

    def reset(self) -> None:
        self._sent.clear()

    def check(self, bot_id: int, chat: FakeChat) -> int | None:
        """Counts one send; returns None if allowed, else the seconds to wait."""
        if not self.enabled:
            return None
        now = self.clock()
        windows = [
            (("bot", bot_id), self.bot_limit, self.bot_span),
            (("chat", chat.id), self.chat_limit, self.chat_span),
        ]
        if chat.is_group or chat.type == "channel":
            windows.append((("group", chat.id), self.group_limit, self.group_span))
        wait = 0.0
        for key, limit, span in windows:
            times = self._sent.setdefault(key, deque())
            while times and times[0] <= now - span:
                times.popleft()
            if len(times) >= limit:
                wait = max(wait, times[-limit] + span - now)
        if wait > 0:
            return max(1, math.ceil(wait))
        for key, _, _ in windows:
            self._sent[key].append(now)
        return None


@dataclass
class ChatLog:
    next_message_id: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)


@dataclass
class FaultRule:
    method: str
    error: ApiError
    remaining: int
    bot_id: int | None
    after_effect: bool


@dataclass
class BotState:
    token: str
    user: FakeUser
    privacy_mode: bool
    updates: list[JSON] = field(default_factory=list)
    next_update_id: int = 100_000
    allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
    webhook: JSON = field(default_factory=dict)
    membership: dict[int, Membership] = field(default_factory=dict)
    logs: dict[int, ChatLog] = field(default_factory=dict)
    callback_queries: dict[str, JSON] = field(default_factory=dict)
    poll_generation: int = 0
    active_polls: int = 0
    poll_notifier: Notifier = field(default_factory=Notifier)

    @property
    def id(self) -> int:
        return self.user.id

    def log(self, chat_id: int) -> ChatLog:
        return self.logs.setdefault(chat_id, ChatLog())


class WorldState:
    """Everything the fake Telegram knows, and the helpers the Bot API methods share."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        date_clock: Callable[[], float] = time.time,
        rate_limits: bool = False,
    ) -> None:
        self.date_clock = date_clock
        self.limiter = RateLimiter(clock)
        self.limiter.enabled = rate_limits
        self.limits = Limits()
        self.bots: dict[int, BotState] = {}
        self.tokens: dict[str, int] = {}
        self.users: dict[int, FakeUser] = {}
        self.chats: dict[int, FakeChat] = {}
        self.migrated: dict[int, int] = {}
        self.deleted_chats: set[int] = set()
        self.files: dict[str, StoredFile] = {}
        self.file_paths: dict[str, StoredFile] = {}
        self.requests: list[RecordedRequest] = []
        self.callback_answers: dict[str, JSON] = {}
        self.count_429 = 0
        self.closing = False
        self.faults: list[FaultRule] = []
        self.message_notifier = Notifier()
        self.request_notifier = Notifier()
        self._ids = itertools.count(1)

    # --- configuration ---------------------------------------------------------------

    @property
    def rate_limits(self) -> bool:
        return self.limiter.enabled

    @rate_limits.setter
    def rate_limits(self, enabled: bool) -> None:
        self.limiter.enabled = enabled

    def add_bot(
        self,
        token: str,
        username: str = "sosbot_test_bot",
        *,
        first_name: str = "SOS Bot",
        privacy_mode: bool = True,
    ) -> int:
        """Registers a bot token; returns the bot's user id (the number before ':')."""
        prefix = token.split(":", 1)[0]
        bot_id = int(prefix) if prefix.isdigit() else 7_000_000_000 + next(self._ids)
        user = FakeUser(id=bot_id, first_name=first_name, username=username, is_bot=True)
        self.bots[bot_id] = BotState(token=token, user=user, privacy_mode=privacy_mode)
        self.tokens[token] = bot_id
        return bot_id

    def bot(self, bot: str | int | None = None) -> BotState:
        """A bot by token or id; None means the first registered bot."""
        if bot is None:
            if not self.bots:
                raise LookupError("no bot registered: call add_bot(token) first")
            return next(iter(self.bots.values()))
        bot_id = self.tokens.get(bot) if isinstance(bot, str) else bot
        if bot_id is None or bot_id not in self.bots:
            raise LookupError(f"unknown bot {bot!r}")
        return self.bots[bot_id]

    def new_user(
        self,
        first_name: str = "Alice",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> FakeUser:
        user = FakeUser(
            id=100_000_000 + next(self._ids),
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        self.users[user.id] = user
        return user

    def new_group(
        self, title: str = "Test group", *, supergroup: bool = False, bot: str | int | None = None
    ) -> FakeChat:
        """A group (or supergroup) that the bot is a member of."""
        if supergroup:
            chat = FakeChat.supergroup(-1_001_000_000_000 - next(self._ids), title)
        else:
            chat = FakeChat.group(-4_000_000_000 - next(self._ids), title)
        self.add_chat(chat, bot=bot)
        return chat

    def add_chat(self, chat: FakeChat | FakeUser, *, bot: str | int | None = None) -> FakeChat:
        """Makes a chat known: the bot is in the group, or the user has started the bot."""
        if isinstance(chat, FakeUser):
            self.users[chat.id] = chat
        known = as_chat(chat)
        self.chats[known.id] = known
        if known.type == "private":
            self.users.setdefault(known.id, FakeUser(known.id, known.first_name or "User"))
        self.bot(bot).membership[known.id] = "member"
        return known

    # --- helpers shared with the methods ---------------------------------------------

    def now(self) -> int:
        return int(self.date_clock())

    def new_file_ids(self, kind: str) -> tuple[str, str]:
        prefix = {"photo": "AgACAgQAAxkBAAI", "document": "BQACAgQAAxkBAAI"}.get(kind, "CAAC")
        return prefix + secrets.token_urlsafe(24), "AQAD" + secrets.token_urlsafe(9)

    def store_file(
        self,
        data: bytes,
        kind: Literal["photo", "document"],
        *,
        mime_type: str | None = None,
        file_name: str | None = None,
        size: tuple[int, int] | None = None,
    ) -> StoredFile:
        file_id, unique_id = self.new_file_ids(kind)
        stored = StoredFile(file_id, unique_id, data, kind, mime_type, file_name)
        if size is not None:
            stored.width, stored.height = size
        self.files[file_id] = stored
        return stored

    def photo_sizes(self, data: bytes, size: tuple[int, int]) -> list[JSON]:
        """PhotoSize objects like Telegram's: thumbnails up to the (capped) original size."""
        width, height = size
        longest = max(width, height, 1)
        sides = [side for side in (90, 320, 800) if side < longest] + [min(longest, 2560)]
        sizes: list[JSON] = []
        for side in sides:
            scale = side / longest
            scaled = (max(1, round(width * scale)), max(1, round(height * scale)))
            stored = self.store_file(data, "photo", mime_type="image/jpeg", size=scaled)
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": stored.size,
                    "width": scaled[0],
                    "height": scaled[1],
                }
            )
        return sizes

    def document_json(self, stored: StoredFile) -> JSON:
        data: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }
        if stored.file_name is not None:
            data["file_name"] = stored.file_name
        if stored.mime_type is not None:
            data["mime_type"] = stored.mime_type
        return data

    def add_message(
        self,
        bot: BotState,
        chat: FakeChat,
        sender: FakeUser,
        content: JSON,
    ) -> StoredMessage:
        """Stores a new message in the bot's view of a chat and wakes waiters."""
        log = bot.log(chat.id)
        message_id = log.next_message_id
        log.next_message_id += 1
        data: JSON = {
            "message_id": message_id,
            "from": sender.to_api(),
            "chat": chat.to_api(),
            "date": self.now(),
            **content,
        }
        stored = StoredMessage(
            chat_id=chat.id,
            message_id=message_id,
            bot_id=bot.id,
            from_bot=sender.id == bot.id,
            data=data,
        )
        log.messages[message_id] = stored
        self.message_notifier.notify()
        return stored

    def find_message(self, bot: BotState, chat_id: int, message_id: int) -> StoredMessage | None:
        stored = bot.log(chat_id).messages.get(message_id)
        return None if stored is None or stored.deleted else stored

    def enqueue(self, bot: BotState, kind: str, payload: JSON) -> None:
        if kind not in bot.allowed_updates:
            return
        bot.updates.append({"update_id": bot.next_update_id, kind: payload})
        bot.next_update_id += 1
        bot.poll_notifier.notify()

    def confirm(self, bot: BotState, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            del bot.updates[: max(0, len(bot.updates) + offset)]
        else:
            bot.updates[:] = [u for u in bot.updates if u["update_id"] >= offset]
        self.message_notifier.notify()

    def deliverable(self, bot: BotState) -> list[JSON]:
        bot.updates[:] = [u for u in bot.updates if _update_kind(u) in bot.allowed_updates]
        return list(bot.updates)

    def resolve_chat(self, bot: BotState, raw_chat_id: Any) -> FakeChat:
        """The target chat of a method call, with the real API's errors."""
        if raw_chat_id is None or raw_chat_id == "":
            raise bad_request("chat_id is empty")
        chat_id: int | None = None
        if isinstance(raw_chat_id, int) and not isinstance(raw_chat_id, bool):
            chat_id = raw_chat_id
        elif isinstance(raw_chat_id, str) and raw_chat_id.lstrip("-").isdigit():
            chat_id = int(raw_chat_id)
        if chat_id is None:
            raise bad_request("chat not found")
        if chat_id in self.migrated:
            raise bad_request(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self.migrated[chat_id]},
            )
        known = self.chats.get(chat_id)
        if known is None and chat_id in self.users:  # a known person who never wrote
            known = FakeChat.private(self.users[chat_id])
        if known is None or chat_id in self.deleted_chats:
            raise bad_request("chat not found")
        chat = known
        state = bot.membership.get(chat_id)
        kind = "supergroup" if chat.type in ("supergroup", "channel") else "group"
        if chat.type == "private":
            if state == "blocked":
                raise forbidden("bot was blocked by the user")
            if state is None:
                raise forbidden("bot can't initiate conversation with a user")
        elif state == "kicked":
            raise forbidden(f"bot was kicked from the {kind} chat")
        elif state != "member":
            raise forbidden(f"bot is not a member of the {kind} chat")
        return chat

    def take_fault(self, bot: BotState, method: str) -> FaultRule | None:
        for rule in self.faults:
            if rule.method == method.lower() and rule.bot_id in (None, bot.id):
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self.faults.remove(rule)
                return rule
        return None

    def change_membership(
        self, bot: BotState, chat: FakeChat, new_state: Membership, by: FakeUser | None
    ) -> None:
        old_state = bot.membership.get(chat.id)
        bot.membership[chat.id] = new_state
        actor = by or self.users.get(chat.id) or bot.user
        self.enqueue(
            bot,
            "my_chat_member",
            {
                "chat": chat.to_api(),
                "from": actor.to_api(),
                "date": self.now(),
                "old_chat_member": _member_json(bot.user, old_state or "left", chat),
                "new_chat_member": _member_json(bot.user, new_state, chat),
            },
        )


def _update_kind(update: JSON) -> str:
    return next(key for key in update if key != "update_id")


def _member_json(user: FakeUser, state: str, chat: FakeChat) -> JSON:
    # A blocked private bot shows as "kicked"; removal from a basic group as "left".
    status = {"blocked": "kicked"}.get(state, state)
    if status == "kicked" and chat.type == "group":
        status = "left"
    data: JSON = {"status": status, "user": user.to_api()}
    if status == "kicked":
        data["until_date"] = 0
    return data
