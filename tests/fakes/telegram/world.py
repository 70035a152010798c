"""The test-side API of the fake Telegram: simulated people, inspection and waiting."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable

from tests.fakes.telegram.objects import (
    JSON,
    ApiError,
    FakeChat,
    FakeUser,
    RecordedRequest,
    StoredMessage,
    as_chat,
    image_size,
)
from tests.fakes.telegram.state import BotState, FaultRule, Membership, WorldState


class TelegramWorld(WorldState):
    """The fake Telegram as tests drive it (``FakeTelegramServer`` adds HTTP)."""

    # --- simulated people ------------------------------------------------------------

    def user_sends(
        self,
        user: FakeUser,
        chat: FakeChat | FakeUser,
        text: str,
        *,
        bot: str | int | None = None,
        reply_to: int | None = None,
    ) -> StoredMessage:
        """``user`` writes ``text`` in ``chat`` (pass the user for their private chat)."""
        state = self.bot(bot)
        content: JSON = {"text": text}
        content.update(_command_entity(text))
        return self._user_message(state, user, as_chat(chat), content, reply_to, text)

    def user_edits(
        self,
        user: FakeUser,
        chat: FakeChat | FakeUser,
        message_id: int,
        text: str,
        *,
        bot: str | int | None = None,
    ) -> StoredMessage:
        """``user`` edits their earlier text message; the bot gets an edited_message."""
        state = self.bot(bot)
        chat = as_chat(chat)
        stored = self.find_message(state, chat.id, message_id)
        if stored is None or stored.data["from"]["id"] != user.id or "text" not in stored.data:
            raise LookupError(f"{user.id} has no text message {message_id} in chat {chat.id}")
        stored.data["text"] = text
        stored.data.pop("entities", None)
        stored.data.update(_command_entity(text))
        stored.data["edit_date"] = self.now()
        stored.edits += 1
        if state.membership.get(chat.id) == "member" and chat.id not in self.deleted_chats:
            if not (chat.is_group and state.privacy_mode and not _meant_for(state, text, None)):
                self.enqueue(state, "edited_message", dict(stored.data))
        self.message_notifier.notify()
        return stored

    def user_sends_photo(
        self,
        user: FakeUser,
        chat: FakeChat | FakeUser,
        data: bytes,
        *,
        caption: str | None = None,
        size: tuple[int, int] | None = None,
        bot: str | int | None = None,
        reply_to: int | None = None,
    ) -> StoredMessage:
        """``user`` sends a photo; its sizes come from the image header, ``size`` or 800x600."""
        state = self.bot(bot)
        dimensions = image_size(data) or size or (800, 600)
        content: JSON = {"photo": self.photo_sizes(data, dimensions)}
        self._add_caption(content, caption)
        return self._user_message(state, user, as_chat(chat), content, reply_to, caption)

    def user_sends_document(
        self,
        user: FakeUser,
        chat: FakeChat | FakeUser,
        data: bytes,
        *,
        file_name: str = "document.pdf",
        mime_type: str | None = None,
        caption: str | None = None,
        bot: str | int | None = None,
        reply_to: int | None = None,
    ) -> StoredMessage:
        state = self.bot(bot)
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        stored = self.store_file(data, "document", mime_type=mime, file_name=file_name)
        content: JSON = {"document": self.document_json(stored)}
        self._add_caption(content, caption)
        return self._user_message(state, user, as_chat(chat), content, reply_to, caption)

    def press_button(
        self,
        user: FakeUser,
        chat: FakeChat | FakeUser,
        message_id: int,
        callback_data: str | None = None,
        *,
        text: str | None = None,
        bot: str | int | None = None,
    ) -> str:
        """``user`` presses an inline button (by callback_data or by label); returns the
        callback query id. Fails if the message has no such button, as a client would."""
        state = self.bot(bot)
        chat = as_chat(chat)
        stored = self.find_message(state, chat.id, message_id)
        if stored is None or not stored.from_bot:
            raise LookupError(f"no bot message {message_id} in chat {chat.id}")
        button = next(
            (
                b
                for b in stored.buttons
                if "callback_data" in b
                and (callback_data is None or b["callback_data"] == callback_data)
                and (text is None or b.get("text") == text)
            ),
            None,
        )
        if button is None:
            raise LookupError(
                f"message {message_id} has no button data={callback_data!r} text={text!r}: "
                f"{stored.buttons}"
            )
        query_id = str(4_000_000_000_000_000 + next(self._ids))
        query: JSON = {
            "id": query_id,
            "from": user.to_api(),
            "message": dict(stored.data),
            "chat_instance": str(abs(hash((state.id, chat.id))) % 10**18),
            "data": button["callback_data"],
        }
        state.callback_queries[query_id] = query
        self.enqueue(state, "callback_query", query)
        return query_id

    def migrate_group(self, old_chat_id: int, *, by: FakeUser | None = None) -> int:
        """Upgrades a basic group to a supergroup; returns the new chat id."""
        old = self.chats.get(old_chat_id)
        if old is None or old.type != "group":
            raise LookupError(f"{old_chat_id} is not a known basic group")
        new = FakeChat.supergroup(-1_001_000_000_000 - next(self._ids), old.title or "")
        self.chats[new.id] = new
        self.migrated[old.id] = new.id
        actor = by or FakeUser(id=100_000_000 + next(self._ids), first_name="Group admin")
        for state in self.bots.values():
            membership = state.membership.get(old.id)
            if membership is None:
                continue
            state.membership[new.id] = membership
            if membership != "member":
                continue
            old_msg = self.add_message(state, old, actor, {"migrate_to_chat_id": new.id})
            self.enqueue(state, "message", old_msg.data)
            new_msg = self.add_message(state, new, actor, {"migrate_from_chat_id": old.id})
            self.enqueue(state, "message", new_msg.data)
        return new.id

    def block(
        self, chat_id: int, *, bot: str | int | None = None, by: FakeUser | None = None
    ) -> None:
        """The user blocks the bot (private chat) or the bot is removed from the group."""
        state = self.bot(bot)
        chat = self.chats.get(chat_id) or FakeChat(chat_id, "private")
        self.chats.setdefault(chat_id, chat)
        new_state: Membership = "blocked" if chat.type == "private" else "kicked"
        self.change_membership(state, chat, new_state, by)

    def delete_chat(self, chat_id: int) -> None:
        """The chat (or the user's account) is gone: every call answers "chat not found"."""
        self.deleted_chats.add(chat_id)

    def _add_caption(self, content: JSON, caption: str | None) -> None:
        if caption:
            content["caption"] = caption

    def _user_message(
        self,
        bot: BotState,
        user: FakeUser,
        chat: FakeChat,
        content: JSON,
        reply_to: int | None,
        text: str | None,
    ) -> StoredMessage:
        if chat.id in self.migrated:
            raise LookupError(f"group {chat.id} was migrated to {self.migrated[chat.id]}")
        self.users.setdefault(user.id, user)
        self.chats.setdefault(chat.id, chat)
        membership = bot.membership.get(chat.id)
        if chat.type == "private" and membership in (None, "blocked"):
            if membership == "blocked":  # writing to a blocked bot unblocks it
                self.change_membership(bot, chat, "member", user)
            bot.membership[chat.id] = "member"
        elif chat.is_group and membership is None:
            bot.membership[chat.id] = "member"
        replied: StoredMessage | None = None
        if reply_to is not None:
            replied = self.find_message(bot, chat.id, reply_to)
            if replied is None:
                raise LookupError(f"no message {reply_to} in chat {chat.id} to reply to")
            content["reply_to_message"] = _without_reply(replied.data)
        stored = self.add_message(bot, chat, user, content)
        if chat.id in self.deleted_chats or bot.membership.get(chat.id) != "member":
            return stored
        if chat.is_group and bot.privacy_mode and not _meant_for(bot, text, replied):
            return stored
        self.enqueue(bot, "message", stored.data)
        return stored

    # --- inspection ------------------------------------------------------------------

    def history(
        self, chat_id: int, *, bot: str | int | None = None, include_deleted: bool = False
    ) -> list[StoredMessage]:
        """All messages of the chat (people's and the bot's), oldest first."""
        log = self.bot(bot).logs.get(chat_id)
        messages = list(log.messages.values()) if log else []
        return [m for m in messages if include_deleted or not m.deleted]

    def messages_to(self, chat_id: int, *, bot: str | int | None = None) -> list[StoredMessage]:
        """The bot's messages still present in the chat, oldest first."""
        return [m for m in self.history(chat_id, bot=bot) if m.from_bot]

    def message(
        self, chat_id: int, message_id: int, *, bot: str | int | None = None
    ) -> StoredMessage | None:
        log = self.bot(bot).logs.get(chat_id)
        return log.messages.get(message_id) if log else None

    def pending_updates(self, *, bot: str | int | None = None) -> list[JSON]:
        """Updates not yet confirmed by the bot (delivered or not)."""
        return list(self.bot(bot).updates)

    def requests_for(self, method: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method.lower() == method.lower()]

    def file_bytes(self, file_id: str) -> bytes:
        return self.files[file_id].data

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str,
        parameters: JSON | None = None,
        count: int = 1,
        *,
        bot: str | int | None = None,
        after_effect: bool = False,
    ) -> None:
        """The next ``count`` calls of ``method`` answer this error. With ``after_effect``
        the call takes effect first (e.g. the message is sent but the answer is a 502)."""
        bot_id = self.bot(bot).id if bot is not None else None
        error = ApiError(error_code, description, parameters)
        self.faults.append(FaultRule(method.lower(), error, count, bot_id, after_effect))

    # --- waiting ---------------------------------------------------------------------

    async def wait_for_message(
        self,
        chat_id: int,
        predicate: Callable[[StoredMessage], bool] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109
        *,
        bot: str | int | None = None,
        after: int = 0,
    ) -> StoredMessage:
        """The first bot message in the chat (already sent or still to come) with
        message_id > ``after`` that matches ``predicate``."""

        def check() -> StoredMessage | None:
            for stored in self.messages_to(chat_id, bot=bot):
                if stored.message_id > after and (predicate is None or predicate(stored)):
                    return stored
            return None

        try:
            return await self.message_notifier.wait_for(check, timeout)
        except TimeoutError:
            present = [
                (m.message_id, m.text or m.caption) for m in self.messages_to(chat_id, bot=bot)
            ]
            raise TimeoutError(
                f"no matching bot message in chat {chat_id} within {timeout}s; present: {present}"
            ) from None

    async def wait_for_request(
        self,
        method: str,
        predicate: Callable[[RecordedRequest], bool] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> RecordedRequest:
        """The first recorded call of ``method`` (past or future) matching ``predicate``."""

        def check() -> RecordedRequest | None:
            for request in self.requests_for(method):
                if predicate is None or predicate(request):
                    return request
            return None

        try:
            return await self.request_notifier.wait_for(check, timeout)
        except TimeoutError:
            raise TimeoutError(f"no matching {method} call within {timeout}s") from None

    async def wait_for_callback_answer(
        self,
        query_id: str,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> JSON:
        request = await self.wait_for_request(
            "answerCallbackQuery",
            lambda r: r.ok and str(r.params.get("callback_query_id")) == query_id,
            timeout,
        )
        return request.params

    async def wait_until_polling(
        self,
        *,
        bot: str | int | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> None:
        """Waits until the bot is in a long poll (getUpdates waiting for updates)."""
        state = self.bot(bot)
        await self._wait_for_bot(
            lambda: bool(state.active_polls),
            timeout,
            lambda: f"bot {state.id} did not long-poll within {timeout}s",
        )

    async def wait_until_confirmed(
        self,
        *,
        bot: str | int | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> None:
        """Waits until the bot has confirmed (polled past) every queued update."""
        state = self.bot(bot)
        await self._wait_for_bot(
            lambda: not state.updates,
            timeout,
            lambda: f"{len(state.updates)} updates still unconfirmed",
        )

    async def _wait_for_bot(
        self,
        done: Callable[[], bool],
        timeout: float,  # noqa: ASYNC109
        failure: Callable[[], str],
    ) -> None:
        """Until ``done()``, woken by every change the server makes; ``TimeoutError``
        saying ``failure()`` after ``timeout`` seconds."""
        try:
            await self.message_notifier.wait_for(lambda: True if done() else None, timeout)
        except TimeoutError:
            raise TimeoutError(failure()) from None


def _command_entity(text: str) -> JSON:
    """A leading /command is a ``bot_command`` entity, as Telegram's clients mark it
    (python-telegram-bot's CommandHandler looks for it); sosbot reads the text only."""
    word = text.split(maxsplit=1)[0] if text.startswith("/") else ""
    if len(word) < 2:
        return {}
    return {"entities": [{"type": "bot_command", "offset": 0, "length": len(word)}]}


def _without_reply(data: JSON) -> JSON:
    return {k: v for k, v in data.items() if k != "reply_to_message"}


def _meant_for(bot: BotState, text: str | None, replied: StoredMessage | None) -> bool:
    """Privacy mode: a bot in a group gets commands (to it or to no bot in particular),
    and replies to its own messages."""
    if replied is not None and replied.from_bot:
        return True
    if not text or not text.startswith("/"):
        return False
    word = text.split(maxsplit=1)[0]
    if "@" not in word:
        return True
    return word.split("@", 1)[1].lower() == (bot.user.username or "").lower()
